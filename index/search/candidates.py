"""Stage 2, candidates: the passages nearest the question in the dense index (the keyword stage adds its own)."""

from __future__ import annotations

from collections.abc import Collection
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


@dataclass(frozen=True)
class RowFilter:
    """The chunk rows a search keeps to (the app's document filter): each retriever searches inside them, so
    a filtered search finds the best of the chosen documents, however far down they rank."""

    rows: np.ndarray  # ascending

    @classmethod
    def of_documents(cls, index, documents: Collection[str]) -> RowFilter:
        return cls(index.documents.chunk_rows(documents))

    def mask(self, n: int) -> np.ndarray:
        """The filter as a boolean mask over ``n`` rows."""
        mask = np.zeros(n, bool)
        mask[self.rows] = True
        return mask


def dense_candidates(
    index, query_vector: np.ndarray, count: int, allowed: RowFilter | None = None
) -> dict[int, Candidate]:
    scores, ids = index.dense_search(query_vector[None, :], count, None if allowed is None else allowed.rows)
    return {int(i): Candidate(int(i), dense=float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
