"""Searcher: a question in, ranked citable Hits out — the one API the CLI, the app
and the eval harness all call.

A question is answered in five steps:
1. candidates from the dense index (FAISS) and from the keyword index (BM25 over
   jieba tokens; English questions also through their Chinese translations);
2. each candidate scored three ways: whole-chunk cosine, best-sentence cosine,
   and keyword score, fused by reciprocal rank;
3. duplicates collapsed: the same text in several documents is one hit with
   "also in" citations;
4. the best sentence of each hit located, for highlighting;
5. a calibrated relevance for each hit, and a plain "answerable" judgement.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from index import lexicon, second_encoder
from index.answerability import (
    QUESTION_HITS,
    Background,
    Evidence,
    QuestionTerms,
    background_questions,
    evidence,
    load_calibration,
    measure_background,
    question_terms,
)
from index.encoder import Encoder
from index.hits import Hit
from index.keyword import keyword_tokens
from index.passage_index import PassageIndex
from index.script import fold, is_traditional, question_word_groups
from index.translate import TermGroup

MAX_QUESTION_CHARS = 2000
COPY_WINDOW = 3
# A question word held by more passages than both of these is "common" in keyword scoring: it scores
# candidates found by the other words instead of bringing its own (Lucene's CommonTermsQuery). Smaller
# collections than 20,000 passages never have one, so their scores are unchanged.
COMMON_TERM_POSTINGS = 20_000
COMMON_TERM_SHARE = 0.05
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# A question may say which document to look in: by its kind ("按白皮书的说法", "the 2019 concept paper") or its
# year. In passage text kind words mark passages *about* a document (news of its release) rather than ones
# that answer from it, so they are matched against document titles only, and years also against dates.
# The kinds are data (index/lexicon/document_kinds.tsv); without the file no word is treated as a kind.


@functools.cache
def document_kinds() -> tuple[re.Pattern | None, tuple[tuple[re.Pattern, str], ...]]:
    """(the Chinese kind words as one pattern, longest first; (English pattern, Chinese kind) pairs)."""
    rows = lexicon.table("document_kinds.tsv")
    chinese = sorted({row[0] for row in rows if row[0]}, key=len, reverse=True)
    english = tuple(
        (re.compile(rf"\b(?:{row[1]})\b", re.IGNORECASE), row[0]) for row in rows if len(row) > 1 and row[1]
    )
    return (re.compile("|".join(map(re.escape, chinese))) if chinese else None), english


YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


@functools.lru_cache(maxsize=256)  # the keyword side and the document references both ask, once a question
def document_kind_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where the question names a kind of document, as whole words: 报告 in 工作报告, not in 报告会."""
    import jieba

    kinds, _ = document_kinds()
    if kinds is None:
        return ()
    bounds, position = {0}, 0
    for token in jieba.lcut(text):
        position += len(token)
        bounds.add(position)
    return tuple(m.span() for m in kinds.finditer(text) if m.start() in bounds and m.end() in bounds)


def without_document_kinds(text: str) -> str:
    """The question without the kinds of document it names (Chinese words and English phrases)."""
    for start, end in reversed(document_kind_spans(text)):
        text = f"{text[:start]} {text[end:]}"
    for pattern, _ in document_kinds()[1]:
        text = pattern.sub(" ", text)
    return text


def document_references(text: str) -> list[str]:
    """The kinds of document (in Chinese) and the years a question names."""
    kinds = [text[start:end] for start, end in document_kind_spans(text)]
    kinds += [kind for pattern, kind in document_kinds()[1] if pattern.search(text)]
    return list(dict.fromkeys(kinds + YEAR.findall(text)))


class BadQuestion(ValueError):
    pass


def validate_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadQuestion(f"The question must be text, not {type(question).__name__}.")
    text = " ".join(question.split())
    if not text:
        raise BadQuestion("The question is empty: type a question in Chinese or English.")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"The question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}.")
    return text


@dataclass(frozen=True)
class SearchConfig:
    """One named way of searching; the eval harness compares these side by side."""

    name: str = "full"
    keyword: bool = True  # fuse BM25 over jieba tokens
    translate: bool = True  # English words → Chinese terms for the keyword side
    sentence: bool = True  # rescore candidates by their best-matching sentence
    collapse: bool = True  # the same passage in several documents becomes one hit
    candidates: int = 100  # from each retriever
    # Fusion: tuned on data/eval/heldout_qa.jsonl, checked on the dev set (README, "Retrieval design").
    rrf_k: int = 20
    dense_weight: float = 0.5
    sentence_weight: float = 1.0
    keyword_weight: float = 1.25
    # Kinds of document and years a question names match document titles and dates, not passage text.
    document_references: bool = True
    duplicate_overlap: float = 0.5  # share of shingles two passages share to count as one
    # Weight of question words when choosing the sentence to highlight (tuned on held-out questions:
    # the highlight holds the evidence for .80 of English hits instead of .74; README).
    highlight_term_bonus: float = 0.2


CONFIGS = {
    "dense": SearchConfig("dense", keyword=False, translate=False, sentence=False, collapse=False),
    "dense+collapse": SearchConfig("dense+collapse", keyword=False, translate=False, sentence=False),
    "dense+sentence": SearchConfig("dense+sentence", keyword=False, translate=False),
    "hybrid": SearchConfig("hybrid", translate=False, document_references=False),
    "hybrid+translate": SearchConfig("hybrid+translate", document_references=False),
    "full": SearchConfig("full"),
}
DEFAULT_CONFIG = CONFIGS["full"]


@functools.cache
def traditional_to_simplified():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese: how questions were compared with an index built without folding."""
    return traditional_to_simplified().convert(text) if CJK.search(text) else text


def shingles(text: str, size: int = 4) -> set[str]:
    squeezed = "".join(text.split())
    return {squeezed[i : i + size] for i in range(max(1, len(squeezed) - size + 1))}


class Shingles:
    """A passage's shingles (``shingles(text)``) as sorted integer keys: four 16-bit characters packed in
    one uint64, so the keys are exactly the 4-grams, built and intersected in numpy, and small to cache.
    Texts with characters beyond 16 bits, or shorter than a shingle, keep the set of strings."""

    __slots__ = ("keys", "sketch", "strings")

    SKETCH_BITS = 8192

    def __init__(self, text: str, size: int = 4):
        self.strings: set[str] | None = None
        self.keys: np.ndarray | None = None
        squeezed = "".join(text.split())
        if size == 4 and len(squeezed) >= size:
            codes = np.frombuffer(squeezed.encode("utf-32-le"), np.uint32)
            if int(codes.max()) < 1 << 16:
                c = codes.astype(np.uint64)
                keys = np.sort((c[:-3] << 48) | (c[1:-2] << 32) | (c[2:-1] << 16) | c[3:])
                self.keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]  # np.unique's hashing is slower
        # The sketch: one bit per key, hashed into SKETCH_BITS. Two passages' shared shingles each set a
        # shared bit, so the popcount of the AND is at least their intersection (``is_copy``).
        self.sketch: np.ndarray | None = None
        if self.keys is not None:
            bits = np.zeros(self.SKETCH_BITS, bool)
            bits[(self.keys * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - 13)] = True
            self.sketch = np.packbits(bits).view(np.uint64)
        else:
            self.strings = shingles(text, size)

    def __len__(self) -> int:
        return len(self.keys) if self.keys is not None else len(self.strings)

    def as_set(self) -> set[str]:
        if self.strings is None:  # the keys spelled back as 4-character strings
            self.strings = {
                "".join(chr((int(key) >> shift) & 0xFFFF) for shift in (48, 32, 16, 0)) for key in self.keys
            }
        return self.strings


def overlap(a: set[str] | Shingles, b: set[str] | Shingles) -> float:
    if isinstance(a, Shingles) and isinstance(b, Shingles):
        if a.keys is not None and b.keys is not None:
            small, large = (a.keys, b.keys) if len(a.keys) <= len(b.keys) else (b.keys, a.keys)
            at = np.searchsorted(large, small)
            at[at == len(large)] = 0
            return int(np.count_nonzero(large[at] == small)) / max(1, len(small))
        a, b = a.as_set(), b.as_set()
    return len(a & b) / max(1, min(len(a), len(b)))


def is_copy(a: set[str] | Shingles, b: set[str] | Shingles, threshold: float) -> bool:
    """``overlap(a, b) >= threshold``, most pairs decided by the sketches alone: their shared bits bound
    the shared shingles from above, so a bound under the threshold is a sure "no" (exact, not approximate;
    the intersection is computed only when the bound allows a copy)."""
    if isinstance(a, Shingles) and isinstance(b, Shingles) and a.sketch is not None and b.sketch is not None:
        bound = int(np.bitwise_count(a.sketch & b.sketch).sum())
        if bound / max(1, min(len(a), len(b))) < threshold:
            return False
    return overlap(a, b) >= threshold


def ranks_of(scores: dict[int, float]) -> dict[int, int]:
    ordered = sorted(scores, key=lambda key: -scores[key])
    return {key: rank for rank, key in enumerate(ordered, 1)}


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


def fuse(candidates: dict[int, Candidate], config: SearchConfig) -> list[Candidate]:
    """Reciprocal rank fusion of the dense, sentence and keyword rankings (weights from the config)."""
    lists = [(config.dense_weight, {i: c.dense for i, c in candidates.items()})]
    if config.sentence:
        lists.append((config.sentence_weight, {i: c.sentence for i, c in candidates.items()}))
    if config.keyword:
        lists.append((config.keyword_weight, {i: c.keyword for i, c in candidates.items() if c.keyword > 0}))
    for weight, scores in lists:
        for i, rank in ranks_of(scores).items():
            candidates[i].fused += weight / (config.rrf_k + rank)
    return sorted(candidates.values(), key=lambda c: (-c.fused, -c.dense))


def collapse(
    ranked: list[Candidate], texts: Sequence[str], k: int, config: SearchConfig, shingles_of=None
) -> list[list[Candidate]]:
    """The first k distinct passages, in order; a later near-copy of a kept passage (the same text in
    another document) joins its group and becomes an "also in" citation.

    Copies of one text score alike and rank close together, so once k passages are kept only the next
    COPY_WINDOW × k candidates are searched for copies (comparing every candidate cost ~25 ms a question).
    """
    groups: list[list[Candidate]] = []
    kept: list[set[str]] = []
    full_at = None
    for position, candidate in enumerate(ranked):
        if full_at is not None and position > full_at + COPY_WINDOW * k:
            break
        if not config.collapse:
            groups.append([candidate])
            if len(groups) >= k:
                break
            continue
        own = shingles_of(candidate.chunk) if shingles_of else shingles(texts[candidate.chunk])
        match = next((g for g, other in enumerate(kept) if is_copy(own, other, config.duplicate_overlap)), None)
        if match is not None:
            groups[match].append(candidate)
        elif len(groups) < k:
            groups.append([candidate])
            kept.append(own)
            if len(groups) == k:
                full_at = position
    return groups[:k]


@dataclass
class Answer:
    question: str  # as searched (whitespace folded; folded to Simplified script and mainland words)
    hits: list[Hit]
    answerable: bool  # False: nothing in the corpus answers the question, say so plainly
    relevance: float | None  # the best hit's calibrated relevance (None: no calibration for this model)
    query_terms: list[str]  # the Chinese/English terms matched on the keyword side, to mark in passages


@dataclass(frozen=True)
class DocumentInfo:
    date: str
    url: str
    source: str
    headings: frozenset[int]  # where the document's heading paragraphs start (never highlighted)


class ChunkTexts(Sequence[str]):
    """``texts[i]`` is chunk i's text, read from the index when asked for (``collapse`` takes texts)."""

    def __init__(self, chunks: Sequence):
        self.chunks = chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [chunk.text for chunk in self.chunks[i]]
        return self.chunks[i].text


@functools.lru_cache(maxsize=4096)
def _term_tokens(term: str) -> list[str]:
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


class Searcher:
    def __init__(self, index: PassageIndex, encoder: Encoder, config: SearchConfig = DEFAULT_CONFIG):
        index.check_model(encoder.info)
        self.index = index
        self.encoder = encoder
        self.config = config
        self.calibration = load_calibration(encoder.name, getattr(index, "directory", None))
        self.background = Background.from_dict(index.manifest.get("background"))
        self.thresholds = self.calibration.thresholds_in(self.background)
        # An index saved before backgrounds were recorded is measured on its first question (a few seconds).
        self._background_pending = self.background is None
        self._background_lock = threading.Lock()
        self._measuring: int | None = None
        # Chunk texts and documents stay in the index (read on demand from a loaded one): nothing here is
        # proportional to the collection.
        self.chunk_texts = ChunkTexts(index.chunks)
        self._named: dict[str, dict[str, int]] = {}  # document reference -> documents it names
        # Shingles of a chunk are computed once, when it is first a candidate (bounded: an unbounded cache
        # grows with every distinct candidate a long-running process sees).
        self.chunk_shingles = functools.lru_cache(maxsize=32768)(lambda i: Shingles(self.chunk_texts[i]))
        # What hits need of a document besides its text (date, url, source, where headings start), kept
        # once read: a collapsed group cites every document holding a copy, and decoding each
        # document again for its date cost more than the rest of a question.
        self.document_info = functools.cache(self._document_info)
        # Questions are compared with passages in the form the index folded them to (index/script.py); an index
        # built before folding holds passages as written, and Traditional questions were converted to Simplified.
        build = index.manifest.get("build") or {}
        self.fold = fold if build.get("fold") else to_simplified

    def search(
        self, question: str, k: int = 10, config: SearchConfig | None = None, documents: Collection[str] | None = None
    ) -> list[Hit]:
        return self.answer(question, k, config, documents).hits

    def answer(
        self, question: str, k: int = 10, config: SearchConfig | None = None, documents: Collection[str] | None = None
    ) -> Answer:
        """Ranked hits, each with a calibrated relevance, and whether the corpus answers at all.

        ``documents`` limits the hits to those document ids (the app's document filter)."""
        config = config or self.config
        written = validate_question(question)
        text = self.fold(written)
        if self._background_pending and self._measuring != threading.get_ident():
            self.measure_missing_background()
        if k < 1:
            raise BadQuestion("k must be at least 1.")
        if documents is not None:
            # Look deeper, since most candidates may belong to other documents.
            config = replace(config, candidates=config.candidates * 10)
        query_vector = self.encoder.encode_queries([text])[0]
        candidates = self.dense_candidates(query_vector, config)
        literal = to_simplified(written) if self.fold is fold else None
        term_groups = self.keyword_groups(text, config, literal)
        self.add_keyword_scores(candidates, term_groups, config, query_vector)
        if config.keyword and config.document_references:
            self.add_document_scores(candidates, document_references(text))
        if documents is not None:
            allowed = set(documents)
            candidates = {i: c for i, c in candidates.items() if self.index.chunks[i].doc_id in allowed}
        self.add_sentence_scores(candidates, query_vector, config.sentence)
        ranked = fuse(candidates, config)
        groups = collapse(ranked, self.chunk_texts, k, config, self.chunk_shingles)
        for group in groups:
            group[0].sentence_row = self.highlight_row(group[0], term_groups, config)
        terms = self.question_terms(text)
        # The second encoder reads the hits the judgement rests on (the first QUESTION_HITS): a few ms.
        second: list[float | None] = second_encoder.similarities(
            text, [self.sentence_text(group[0]) for group in groups[:QUESTION_HITS]]
        )
        second += [None] * (len(groups) - len(second))
        hits = [self.make_hit(rank, group, terms, second[rank - 1]) for rank, group in enumerate(groups, 1)]
        relevance = self.calibration.question_relevance([h.evidence for h in hits], self.background)
        threshold = self.thresholds.get("en" if terms.english else "zh")
        answerable = (
            bool(hits) and terms.has_subject and (relevance is None or threshold is None or relevance >= threshold)
        )
        marked = sorted({term for group in term_groups for term in group.terms}, key=len, reverse=True)
        return Answer(text, hits, answerable, relevance, marked)

    def measure_missing_background(self) -> None:
        """Measure the background of an index saved without one, once, whichever thread asks first."""
        with self._background_lock:  # other threads wait for it: their answers need it too
            if self._background_pending:
                self._measuring = threading.get_ident()  # its own questions do not wait for themselves
                try:
                    self.background = self.measure_background()
                    self.thresholds = self.calibration.thresholds_in(self.background)
                finally:
                    self._background_pending, self._measuring = False, None

    def warm(self) -> None:
        """Load now what a first question would otherwise wait for (a second or two): the word segmenter and
        its part-of-speech model, the script converter, the English dictionary, the second encoder, and the
        background of an index that has none recorded."""
        import jieba.posseg

        from index.translate import dictionary

        list(jieba.posseg.cut("预热"))
        dictionary()
        second_encoder.similarities("warm up", ["预热"])
        for question in ("數據安全 data security", "谁在哪座城市发布的？"):
            self.search(question, k=QUESTION_HITS)

    def measure_background(self) -> Background | None:
        """What unrelated questions score in this index (``index.answerability.Background``)."""

        def ask(question: str) -> list[Evidence]:
            return [hit.evidence for hit in self.search(question, k=QUESTION_HITS) if hit.evidence is not None]

        # The questions encoded in one batch first: one at a time, encoding was half of the measurement (the
        # encoder's cache then serves each question's own search).
        folded = [self.fold(validate_question(question)) for _, question in background_questions()]
        self.encoder.encode_queries(folded)
        return measure_background(ask)

    def question_terms(self, text: str) -> QuestionTerms:
        """What the relevance of each hit is judged on: the question's words and their weight here."""
        keyword = self.index.keyword
        text = without_document_kinds(text)  # a kind of document names where to look, not what a passage holds
        return question_terms(text, self.index.translator, keyword.frequency, len(self.index.chunks), _term_tokens)

    # ---- retrieval ------------------------------------------------------------------

    def dense_candidates(self, query_vector: np.ndarray, config: SearchConfig) -> dict[int, Candidate]:
        scores, ids = self.index.dense_search(query_vector[None, :], config.candidates)
        return {int(i): Candidate(int(i), dense=float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}

    def keyword_groups(self, text: str, config: SearchConfig, literal: str | None = None) -> list[TermGroup]:
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

    def add_keyword_scores(
        self, candidates: dict[int, Candidate], groups: list[TermGroup], config: SearchConfig, query_vector: np.ndarray
    ) -> None:
        """BM25 summed over groups (a group counts once, by its best term), and each candidate's coverage:
        the IDF-weighted share of the question's groups it contains (a feature of answerability).

        Sparse throughout: only the passages holding one of the question's tokens are touched (the tokens'
        postings), never an array over the whole collection. Sums and maxima are taken in the same order
        and dtypes as over dense arrays, so the scores are the same to the bit.

        In a large collection, a group held by more than ``COMMON_TERM_POSTINGS`` passages (and
        ``COMMON_TERM_SHARE`` of them) is common: as in Lucene's CommonTermsQuery it brings no candidates
        of its own and only scores the others, looked up by binary search instead of read whole (at 1M
        passages a common word's postings are most of a question's time). When every group is common,
        the rarest one is read whole."""
        if not groups:
            return
        n = len(self.index.chunks)
        frequencies = [max((self.term_frequency(term) for term in group.terms), default=0) for group in groups]
        common = [f > max(COMMON_TERM_POSTINGS, COMMON_TERM_SHARE * n) for f in frequencies]
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
        if config.keyword:
            hit_rows = scratch.union(group_rows) if group_rows else np.zeros(0, np.int64)
            for i in _top_rows(hit_rows, total[hit_rows], config.candidates):
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
        return [term] if term in self.index.keyword.vocabulary else _term_tokens(term)

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
            entries = self.index.manifest.get("documents", {})
            if any("date" not in entry for entry in entries.values()):  # indexes saved before dates were listed
                entries = {
                    doc.doc_id: {**entries.get(doc.doc_id, {}), "title": doc.title, "date": doc.date}
                    for doc in self.index.documents.values()
                }
            self._named[reference] = {
                doc_id: entry.get("chunks", 1)
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

    def add_sentence_scores(self, candidates: dict[int, Candidate], query_vector: np.ndarray, enabled: bool):
        """Score each candidate by its best sentence (headings included: a matching heading says the
        section fits), keeping every sentence's cosine for choosing the highlight later."""
        sentences = self.index.sentences
        for candidate in candidates.values():
            rows = sentences.rows_of(candidate.chunk)
            if rows.stop > rows.start:
                candidate.sentence_scores = sentences.vectors[rows].astype(np.float32) @ query_vector
                candidate.sentence = float(candidate.sentence_scores.max()) if enabled else 0.0

    def highlight_row(self, candidate: Candidate, groups: list[TermGroup], config: SearchConfig) -> int:
        """The sentence to highlight: the best one that is not a heading, by cosine plus a bonus for each
        question word (group) it contains, since cross-lingual cosine alone often picks a neighbour."""
        scores = candidate.sentence_scores
        if scores is None:
            return -1
        sentences = self.index.sentences
        rows = sentences.rows_of(candidate.chunk)
        chunk = self.index.chunks[candidate.chunk]
        headings = self.document_info(chunk.doc_id).headings
        traditional = is_traditional(chunk.text)
        best_row, best_value = rows.start + int(np.argmax(scores)), -math.inf
        for i, row in enumerate(range(rows.start, rows.stop)):
            start, end = int(sentences.start[row]), int(sentences.end[row])
            if start in headings:
                continue
            value = float(scores[i])
            if groups and config.highlight_term_bonus:
                # The chunk's own text (exactly the document's text at its offsets), folded as the terms are.
                sentence = fold(chunk.text[start - chunk.start : end - chunk.start], traditional).lower()
                found = sum(any(term in sentence for term in group.terms) for group in groups)
                value += config.highlight_term_bonus * found / len(groups)
            if value > best_value:
                best_row, best_value = row, value
        return best_row

    def _document_info(self, doc_id: str) -> DocumentInfo:
        document = self.index.documents[doc_id]
        headings = frozenset(p.start for p in document.paragraphs if p.is_heading)
        return DocumentInfo(document.date, document.url, document.source, headings)

    # ---- results --------------------------------------------------------------------

    def sentence_text(self, candidate: Candidate) -> str:
        """The candidate's highlighted sentence (its whole text when it has none)."""
        chunk = self.index.chunks[candidate.chunk]
        if candidate.sentence_row < 0:
            return chunk.text
        sentences = self.index.sentences
        start, end = int(sentences.start[candidate.sentence_row]), int(sentences.end[candidate.sentence_row])
        return chunk.text[start - chunk.start : end - chunk.start]

    def make_hit(
        self,
        rank: int,
        group: list[Candidate],
        terms: QuestionTerms,
        second: float | None,
    ) -> Hit:
        best = group[0]
        chunk = self.index.chunks[best.chunk]
        document = self.document_info(chunk.doc_id)
        sentences = self.index.sentences
        row = best.sentence_row
        similarity = max(best.dense, best.sentence)
        found = evidence(terms, self.fold(chunk.text), similarity, second)
        also_in = []
        seen = {chunk.doc_id}
        for other in group[1:]:
            copy = self.index.chunks[other.chunk]
            if copy.doc_id in seen:
                continue
            seen.add(copy.doc_id)
            also_in.append(
                {
                    "doc": copy.doc_id,
                    "title": copy.title,
                    "section": " › ".join(copy.section),
                    "paragraph": copy.paragraph_start,
                    "page": copy.page_start or None,
                    "start": copy.start,
                    "end": copy.end,
                    "date": self.document_info(copy.doc_id).date,
                }
            )
        return Hit(
            rank=rank,
            score=best.fused if best.fused else best.dense,
            chunk_id=chunk.chunk_id,
            doc=chunk.doc_id,
            title=chunk.title,
            section=chunk.section,
            paragraph=chunk.paragraph_start,
            paragraph_end=chunk.paragraph_end,
            text=chunk.text,
            start=chunk.start,
            end=chunk.end,
            date=document.date,
            url=document.url,
            source=document.source,
            also_in=also_in,
            sentence_start=int(sentences.start[row]) if row >= 0 else chunk.start,
            sentence_end=int(sentences.end[row]) if row >= 0 else chunk.end,
            similarity=similarity,
            coverage=found.coverage,
            relevance=self.calibration.relevance(found, self.background),
            page=chunk.page_start or None,
            page_end=chunk.page_end or None,
            evidence=found,
        )

    def with_config(self, config: SearchConfig) -> Searcher:
        return Searcher(self.index, self.encoder, replace(config))


def open_searcher(index_dir=None, model: str | None = None, backend: str | None = None) -> Searcher:
    """Load the index and the model that built it (or the one asked for, which must match); ``backend``
    chooses the encoder backend (default $CITELENS_BACKEND, else the measured default)."""
    import os

    from index import settings
    from index.passage_index import read_manifest

    directory = settings.index_dir(index_dir)
    built_with = read_manifest(directory)["model"]["name"]
    asked = model or os.environ.get(settings.ENV_MODEL)
    encoder = Encoder(asked or built_with, backend=backend)
    return Searcher(PassageIndex.load(directory, encoder.info), encoder)
