"""Stage 2, candidates: the passages nearest the question in the dense index (the keyword stage adds its own)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CandidatesConfig:
    count: int = 100  # from each retriever


@dataclass
class Candidate:
    chunk: int
    dense: float = 0.0
    sentence: float = 0.0
    sentence_row: int = -1
    keyword: float = 0.0
    coverage: float = 0.0
    fused: float = 0.0
    sentence_scores: np.ndarray | None = None  # cosine of each of the chunk's sentences


def dense_candidates(index, query_vector: np.ndarray, count: int) -> dict[int, Candidate]:
    scores, ids = index.dense_search(query_vector[None, :], count)
    return {int(i): Candidate(int(i), dense=float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
