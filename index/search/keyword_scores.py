"""Stage 3a, keyword scores: BM25 over jieba tokens (English words through their Chinese translations),
each candidate's coverage of the question's words, and the documents a question names."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from index.keyword import keyword_tokens
from index.script import fold, question_word_groups
from index.search.candidates import Candidate, RowFilter
from index.search.question import CJK, LATIN_WORD, without_document_kinds
from index.translate import TermGroup


@dataclass(frozen=True)
class KeywordConfig:
    enabled: bool = True  # fuse BM25 over jieba tokens (coverage is measured either way)
    translate: bool = True  # English words → Chinese terms for the keyword side
    # Kinds of document and years a question names match document titles and dates, not passage text.
    document_references: bool = True
    # A question word held by more passages than both of these is "common": it scores candidates found by the
    # other words instead of bringing its own (Lucene's CommonTermsQuery). Smaller collections than 20,000
    # passages never have one, so their scores are unchanged.
    common_term_postings: int = 20_000
    common_term_share: float = 0.05


@functools.lru_cache(maxsize=4096)
def term_tokens(term: str) -> list[str]:
    return keyword_tokens(term)


class Scratch:
    """Two arrays over the collection for one question's keyword scoring, touched only at the rows of its
    tokens' postings and reset there after each use (allocated zeroed by the OS: untouched pages cost
    nothing). They replace sorting and searching merged postings, which cost more than the postings."""

    def __init__(self, n: int):
        self.values = np.zeros(n, np.float32)
        self.mark = np.zeros(n, bool)

    def union(self, lists: list[np.ndarray]) -> np.ndarray:
        """The rows in any of these lists, ascending, each once."""
        if len(lists) == 1:
            return lists[0]
        for rows in lists:
            self.mark[rows] = True
        union = np.flatnonzero(self.mark)
        self.mark[union] = False
        return union

    def take(self, rows: np.ndarray) -> np.ndarray:
        values = self.values[rows]
        self.values[rows] = 0
        return values


def _union_max(terms: list[tuple[np.ndarray, np.ndarray]], scratch: Scratch) -> tuple[np.ndarray, np.ndarray]:
    """Rows holding any of the terms, and each row's best term score (a group counts by its best term)."""
    if not terms:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if len(terms) == 1:
        return terms[0]
    rows = scratch.union([r for r, _ in terms])
    for term_rows, values in terms:
        scratch.values[term_rows] = np.maximum(scratch.values[term_rows], values)
    return rows, scratch.take(rows)


def _top_rows(rows: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the k best positive scores, best first; equal scores by row (rows are ascending), so
    the choice at the cut is deterministic. A partition first: a common token can hold most passages."""
    positive = scores > 0
    rows, scores = rows[positive], scores[positive]
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th best score
        keep = scores >= kth
        rows, scores = rows[keep], scores[keep]
    return rows[np.argsort(-scores, kind="stable")[:k]]


class KeywordScorer:
    """The keyword side over one index; it remembers which documents each reference names."""

    def __init__(self, index):
        self.index = index
        self._named: dict[str, dict[str, int]] = {}  # document reference -> documents it names

    def groups(self, text: str, config: KeywordConfig, literal: str | None = None) -> list[TermGroup]:
        """Chinese words each form a group of one; English words bring their Chinese translations.
        Words naming a kind of document are left out (see ``document_references``).

        With ``literal`` (the question in Simplified script, its words unfolded) a Chinese word's group also
        holds the form it takes in folded Traditional passages (建立|创建, 资料|数据: ``question_word_groups``)."""
        text = without_document_kinds(text) if config.document_references else text
        groups = [TermGroup(token, (token,)) for token in keyword_tokens(text) if CJK.search(token)]
        if literal is not None:
            literal = without_document_kinds(literal) if config.document_references else literal
            words = [token for token in keyword_tokens(literal) if CJK.search(token)]
            groups = [TermGroup(g[0], g) for g in question_word_groups(words, [g.source for g in groups])]
        if config.translate and LATIN_WORD.search(text):
            groups += self.index.translator.translate(text)
        else:  # numbers and Latin words (5G, APEC) as they are
            groups += [TermGroup(t, (t,)) for t in keyword_tokens(text) if not CJK.search(t)]
        return groups

    def add_scores(
        self,
        candidates: dict[int, Candidate],
        groups: list[TermGroup],
        config: KeywordConfig,
        count: int,
        query_vector: np.ndarray,
        allowed: RowFilter | None = None,
    ) -> None:
        """BM25 summed over groups (a group counts once, by its best term), and each candidate's coverage:
        the IDF-weighted share of the question's groups it contains (a feature of answerability).

        Sparse throughout: only the passages holding one of the question's tokens are touched (the tokens'
        postings), never an array over the whole collection. Sums and maxima are taken in the same order
        and dtypes as over dense arrays, so the scores are the same to the bit.

        In a large collection, a group held by more than ``config.common_term_postings`` passages (and
        ``config.common_term_share`` of them) is common: as in Lucene's CommonTermsQuery it brings no candidates
        of its own and only scores the others, looked up by binary search instead of read whole (at 1M
        passages a common word's postings are most of a question's time). When every group is common,
        the rarest one is read whole.

        ``allowed`` (the document filter's live rows) limits the candidates this adds to
        the best ``count`` among those rows; the statistics (IDF, coverage weights) stay the collection's."""
        if not groups:
            return
        n = len(self.index.chunks)
        frequencies = [max((self.term_frequency(term) for term in group.terms), default=0) for group in groups]
        common = [f > max(config.common_term_postings, config.common_term_share * n) for f in frequencies]
        if all(common):
            common[int(np.argmin(frequencies))] = False
        postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        scratch = Scratch(n)
        total = np.zeros(n, np.float32)  # summed over groups, at the rows of their postings only
        group_rows, group_weights, weights = [], [], 0.0
        for group, is_common in zip(groups, common, strict=True):
            if is_common:
                continue
            rows, best = _union_max([self.term_postings(term, postings, scratch) for term in group.terms], scratch)
            total[rows] += best
            weight = math.log((n + 1) / (int(np.count_nonzero(best > 0)) + 1)) + 1.0  # words found nowhere weigh most
            group_rows.append(rows[best > 0])
            group_weights.append(weight)
            weights += weight
        if config.enabled:
            hit_rows = scratch.union(group_rows) if group_rows else np.zeros(0, np.int64)
            if allowed is not None:
                hit_rows = hit_rows[allowed.mask(n)[hit_rows]]
            for i in _top_rows(hit_rows, total[hit_rows], count):
                candidates.setdefault(int(i), Candidate(int(i), dense=math.nan))
        rows = np.fromiter(candidates, np.int64, len(candidates))
        coverage = np.zeros(len(rows), np.float32)
        for matched_rows, weight in zip(group_rows, group_weights, strict=True):
            at = np.clip(np.searchsorted(matched_rows, rows), 0, max(0, len(matched_rows) - 1))
            matched = matched_rows[at] == rows if len(matched_rows) else np.zeros(len(rows), bool)
            coverage += weight * matched
        keyword = total[rows]
        for group, frequency, is_common in zip(groups, frequencies, common, strict=True):
            if not is_common:
                continue
            best = np.max([self.term_scores_at(term, rows) for term in group.terms], axis=0)
            keyword += best
            weight = math.log((n + 1) / (frequency + 1)) + 1.0
            coverage += weight * (best > 0)
            weights += weight
        coverage /= weights
        for j, candidate in enumerate(candidates.values()):
            candidate.keyword = float(keyword[j])
            candidate.coverage = float(coverage[j])
        missing = [i for i, c in candidates.items() if math.isnan(c.dense)]
        if missing:
            vectors = self.index.vectors.reconstruct_batch(np.array(missing, dtype=np.int64))
            for i, vector in zip(missing, vectors, strict=True):
                candidates[i].dense = float(vector @ query_vector)

    def term_tokens(self, term: str) -> list[str]:
        """The term itself if the corpus has it as a token, else its own tokens (a phrase)."""
        return [term] if term in self.index.keyword.vocabulary else term_tokens(term)

    def term_frequency(self, term: str) -> int:
        """Passages holding the term (for a phrase: holding its most frequent token, a bound from below)."""
        return max((self.index.keyword.frequency(token) for token in self.term_tokens(term)), default=0)

    def term_scores_at(self, term: str, rows: np.ndarray) -> np.ndarray:
        """The term's BM25 at these rows (a phrase: summed over its tokens), looked up, not read whole."""
        scores = np.zeros(len(rows), np.float32)
        for token in self.term_tokens(term):
            scores += self.index.keyword.scores_at(token, rows)
        return scores

    def add_document_scores(self, candidates: dict[int, Candidate], references: list[str]) -> None:
        """Each document reference (a kind of document or a year) adds, to the candidates from documents
        whose title names it (or whose date is in that year), the BM25 weight of one occurrence: its
        inverse document frequency over passages."""
        chunks = self.index.chunks
        for reference in references:
            named = self.documents_named(reference)
            if not named:
                continue
            passages = sum(named.values())
            bonus = math.log(1 + (len(chunks) - passages + 0.5) / (passages + 0.5))
            for i, candidate in candidates.items():
                if chunks[i].doc_id in named:
                    candidate.keyword += bonus

    def documents_named(self, reference: str) -> dict[str, int]:
        """Documents whose title contains ``reference`` or whose date starts with it -> their passages.
        Read from the manifest, so a large index does not load every document."""
        if reference not in self._named:
            entries = self.index.manifest["documents"]
            self._named[reference] = {
                doc_id: entry["chunks"]
                for doc_id, entry in entries.items()
                if reference in fold(entry["title"])
                or (reference.isdigit() and (entry["date"] or "").startswith(reference))
            }
        return self._named[reference]

    def term_postings(self, term: str, cache: dict, scratch: Scratch) -> tuple[np.ndarray, np.ndarray]:
        """(rows, BM25) of one term: the term itself if the corpus has it as a token, else the sum over its
        own tokens (a phrase from the dictionary), added in token order as a dense sum would be."""
        keyword = self.index.keyword
        tokens = self.term_tokens(term)
        for token in tokens:
            if token not in cache:
                cache[token] = keyword.postings(token)
        lists = [cache[token] for token in tokens]
        if len(lists) == 1:
            return lists[0]
        if not lists:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows = scratch.union([r for r, _ in lists])
        for token_rows, token_values in lists:
            scratch.values[token_rows] += token_values
        return rows, scratch.take(rows)
