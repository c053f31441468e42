"""Stage 3a over an index kept in Milvus: the keyword side is Milvus's own full-text search (BM25 over its
jieba analyzer), asked for every term of the question in one request; groups, coverage and the documents a
question names are scored as the embedded keyword side scores them (``keyword_scores.py``)."""

from __future__ import annotations

import math

import numpy as np

from index.search.candidates import Candidate, RowFilter
from index.search.keyword_scores import KeywordConfig, KeywordScorer
from index.translate import TermGroup


class MilvusKeywordScorer(KeywordScorer):
    def add_scores(
        self,
        candidates: dict[int, Candidate],
        groups: list[TermGroup],
        config: KeywordConfig,
        count: int,
        query_vector: np.ndarray,
        allowed: RowFilter | None = None,
    ) -> None:
        """As ``KeywordScorer.add_scores``: a group scores by its best term, BM25 summed over groups; the best
        ``count`` passages by that sum join the candidates (``config.enabled``); each candidate's coverage is
        the IDF-weighted share of the groups it holds.

        Two requests: each term's best ``count`` passages (the keyword candidates), then every term's score
        at every candidate. Milvus answers each term from its inverted index, so a common word costs what
        Milvus makes it cost (no common-term split is needed)."""
        if not groups:
            return
        index = self.index
        terms = list(dict.fromkeys(term for group in groups for term in group.terms))
        if config.enabled:
            allowed_rows = None if allowed is None else allowed.rows
            best = index.full_text(terms, count, allowed_rows)
            found = {label for scores in best for label in scores}
            totals = self._totals(groups, terms, best, found)
            for label in sorted(found, key=lambda label: (-totals[label], label))[:count]:
                if totals[label] > 0:
                    candidates.setdefault(label, Candidate(label, dense=math.nan))
        rows = np.fromiter(candidates, np.int64, len(candidates))
        at_rows = index.full_text(terms, len(rows), rows)
        n = len(index.chunks)
        weights = [math.log((n + 1) / (max(map(self.term_frequency, g.terms)) + 1)) + 1.0 for g in groups]
        position = {term: i for i, term in enumerate(terms)}
        for label, candidate in candidates.items():
            keyword = coverage = 0.0
            for group, weight in zip(groups, weights, strict=True):
                score = max(at_rows[position[term]].get(label, 0.0) for term in group.terms)
                keyword += score
                coverage += weight * (score > 0)
            candidate.keyword = keyword
            candidate.coverage = coverage / sum(weights)
        missing = [label for label, candidate in candidates.items() if math.isnan(candidate.dense)]
        if missing:
            vectors = index.vectors.get(missing)  # the chunks' store, by label
            for label, vector in zip(missing, vectors, strict=True):
                candidates[label].dense = float(vector @ query_vector)

    @staticmethod
    def _totals(groups, terms, scores, labels) -> dict[int, float]:
        position = {term: i for i, term in enumerate(terms)}
        return {
            label: sum(max(scores[position[term]].get(label, 0.0) for term in group.terms) for group in groups)
            for label in labels
        }
