"""Stage 3b, sentence scores: each candidate scored by its best sentence's cosine to the question."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.search.candidates import Candidate


@dataclass(frozen=True)
class SentenceConfig:
    enabled: bool = True  # rescore candidates by their best-matching sentence


def add_sentence_scores(index, candidates: dict[int, Candidate], query_vector: np.ndarray, enabled: bool) -> None:
    """Score each candidate by its best sentence (headings included: a matching heading says the section
    fits), keeping every sentence's cosine for choosing the highlight later (even when not ``enabled``)."""
    sentences = index.sentences
    for candidate in candidates.values():
        rows = sentences.rows_of(candidate.chunk)
        if rows.stop > rows.start:
            candidate.sentence_scores = sentences.vectors[rows].astype(np.float32) @ query_vector
            candidate.sentence = float(candidate.sentence_scores.max()) if enabled else 0.0
