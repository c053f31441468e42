"""Stage 3a over an index kept in Milvus: the keyword side is Milvus's own full-text search (BM25 over its
jieba analyzer), asked for every term of the question in one request; groups, coverage and the documents a
question names are scored as the embedded keyword side scores them (``keyword_scores.py``)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from index.search.candidates import Candidate, RowFilter
from index.search.keyword_scores import KeywordConfig, KeywordScorer, term_tokens
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
            best = self.term_scores(terms, count, allowed_rows)
            found = {label for scores in best for label in scores}
            totals = self._totals(groups, terms, best, found)
            for label in sorted(found, key=lambda label: (-totals[label], label))[:count]:
                if totals[label] > 0:
                    candidates.setdefault(label, Candidate(label, dense=math.nan))
        rows = np.fromiter(candidates, np.int64, len(candidates))
        at_rows = self.term_scores(terms, len(rows), rows)
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

    def term_scores(self, terms: list[str], limit: int, rows: np.ndarray | None) -> list[dict[int, float]]:
        """Each term's BM25 as the embedded keyword side scores it (``term_postings``): a word the collection
        holds as a token, by itself; any other term, summed over its tokens. Milvus's analyzer cuts every query
        text in jieba's search mode, so a word comes back scored with its parts too (数据安全: 数据, 安全 and
        数据安全) — parts the question's other words already count. The parts are asked in the same request and
        their scores taken off. (Limited to ``limit`` passages, a part missing from its list takes nothing
        off: the candidates' own scores are asked with ``rows`` and are complete.)"""
        parts: dict[str, Counter[str]] = {}
        waiting = list(terms)
        while waiting:  # every term, its parts, and theirs
            term = waiting.pop()
            if term not in parts:
                parts[term] = Counter(term_tokens(term))
                waiting += [part for part in parts[term] if part != term]
        asked = list(parts)
        raw = dict(zip(asked, self.index.full_text(asked, limit, rows), strict=True))
        vocabulary = self.index.keyword.vocabulary
        alone: dict[str, dict[int, float]] = {}

        def by_itself(token: str) -> dict[int, float]:
            if token not in alone:
                scores = dict(raw[token])
                for part, times in parts[token].items():
                    if part != token:
                        for label, score in by_itself(part).items():
                            scores[label] = scores.get(label, 0.0) - times * score
                alone[token] = {label: score for label, score in scores.items() if score > 1e-6}
            return alone[token]

        return [by_itself(term) if term in vocabulary and term in parts[term] else raw[term] for term in terms]

    @staticmethod
    def _totals(groups, terms, scores, labels) -> dict[int, float]:
        position = {term: i for i, term in enumerate(terms)}
        return {
            label: sum(max(scores[position[term]].get(label, 0.0) for term in group.terms) for group in groups)
            for label in labels
        }
