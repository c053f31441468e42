"""Stage 6, highlight: the sentence of each hit that answers, by cosine and the question's words."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from index.script import fold, is_traditional
from index.search.candidates import Candidate
from index.translate import TermGroup


@dataclass(frozen=True)
class HighlightConfig:
    # Weight of question words when choosing the sentence to highlight (tuned on held-out questions: the
    # highlight holds the evidence for .80 of English hits instead of .74; README).
    term_bonus: float = 0.2


def highlight_row(
    index, candidate: Candidate, groups: list[TermGroup], config: HighlightConfig, headings: Collection[int]
) -> int:
    """The sentence to highlight: the best one that is not a heading (``headings``: where the document's
    headings start), by cosine plus a bonus for each question word (group) it contains, since
    cross-lingual cosine alone often picks a neighbour."""
    scores = candidate.sentence_scores
    if scores is None:
        return -1
    sentences = index.sentences
    rows = sentences.rows_of(candidate.chunk)
    chunk = index.chunks[candidate.chunk]
    traditional = is_traditional(chunk.text)
    best_row, best_value = rows.start + int(np.argmax(scores)), -math.inf
    for i, row in enumerate(range(rows.start, rows.stop)):
        start, end = int(sentences.start[row]), int(sentences.end[row])
        if start in headings:
            continue
        value = float(scores[i])
        if groups and config.term_bonus:
            # The chunk's own text (exactly the document's text at its offsets), folded as the terms are.
            sentence = fold(chunk.text[start - chunk.start : end - chunk.start], traditional).lower()
            found = sum(any(term in sentence for term in group.terms) for group in groups)
            value += config.term_bonus * found / len(groups)
        if value > best_value:
            best_row, best_value = row, value
    return best_row


def sentence_text(index, candidate: Candidate) -> str:
    """The candidate's highlighted sentence (its whole text when it has none)."""
    chunk = index.chunks[candidate.chunk]
    if candidate.sentence_row < 0:
        return chunk.text
    sentences = index.sentences
    start, end = int(sentences.start[candidate.sentence_row]), int(sentences.end[candidate.sentence_row])
    return chunk.text[start - chunk.start : end - chunk.start]
