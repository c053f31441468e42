"""Searcher: a question in, ranked citable Hits out — the one API the CLI, the app and the eval harness call.

``Searcher.answer`` is a chain of named stages, each a module of this package with its own small config:
question (checked, folded, the documents it names) → candidates (dense) → keyword and sentence scores
→ fusion → collapse (copies become "also in") → highlight → relevance (evidence and "answerable") → hits.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from index import second_encoder
from index.answer_calibration import (
    QUESTION_HITS,
    Background,
    background_questions,
    load_calibration,
    measure_background,
)
from index.answerability import Evidence, QuestionTerms, evidence, question_terms
from index.encoder import Encoder
from index.hits import Hit
from index.passage_index import PassageIndex
from index.script import fold
from index.search import relevance
from index.search.assemble import make_hit
from index.search.candidates import RowFilter, dense_candidates
from index.search.collapse import Shingles, collapse
from index.search.config import DEFAULT_CONFIG, SearchConfig
from index.search.fusion import fuse
from index.search.highlight import highlight_row, sentence_text
from index.search.keyword_scores import term_tokens
from index.search.question import (
    BadQuestion,
    document_references,
    to_simplified,
    validate_question,
    without_document_kinds,
)
from index.search.sentence_scores import add_sentence_scores


@dataclass
class Answer:
    question: str  # as searched (whitespace folded; folded to Simplified script and mainland words)
    hits: list[Hit]
    answerable: bool  # False: nothing in the corpus answers the question, say so plainly
    relevance: float | None  # the best hit's calibrated relevance (None: no calibration for this model)
    query_terms: list[str]  # the Chinese/English terms matched on the keyword side, to mark in passages


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


class Searcher:
    def __init__(self, index: PassageIndex, encoder: Encoder, config: SearchConfig = DEFAULT_CONFIG):
        index.check_model(encoder.info)
        self.index = index
        self.encoder = encoder
        self.config = config
        self.keyword = index.keyword_scorer()
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
        # Shingles of a chunk are computed once, when it is first a candidate (bounded: an unbounded cache
        # grows with every distinct candidate a long-running process sees).
        self.chunk_shingles = functools.lru_cache(maxsize=32768)(lambda i: Shingles(self.chunk_texts[i]))
        # What hits need of a document besides its text (date, url, source, where headings start), kept
        # once read: a collapsed group cites every document holding a copy, and decoding each
        # document again for its date cost more than the rest of a question.
        self.document_info = functools.cache(index.document_info)
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
        count = config.candidates.count
        allowed = None if documents is None else RowFilter.of_documents(self.index, documents)
        query_vector = self.encoder.encode_queries([text])[0]
        candidates = dense_candidates(self.index, query_vector, count, allowed)
        literal = to_simplified(written) if self.fold is fold else None
        term_groups = self.keyword.groups(text, config.keyword, literal)
        self.keyword.add_scores(candidates, term_groups, config.keyword, count, query_vector, allowed)
        self.index.prefetch(candidates)  # an index in Milvus reads the candidates' records in two requests
        if config.keyword.enabled and config.keyword.document_references:  # scores candidates only: all allowed
            self.keyword.add_document_scores(candidates, document_references(text))
        add_sentence_scores(self.index, candidates, query_vector, config.sentence.enabled)
        ranked = fuse(candidates, config.fusion, config.sentence.enabled, config.keyword.enabled)
        groups = collapse(ranked, self.chunk_texts, k, config.collapse, self.chunk_shingles)
        for group in groups:
            headings = self.document_info(self.index.chunks[group[0].chunk].doc_id).headings
            group[0].sentence_row = highlight_row(self.index, group[0], term_groups, config.highlight, headings)
        terms = self.question_terms(text)
        hits = self.hits(text, groups, terms)
        answerable, question_relevance = relevance.judge(
            [hit.evidence for hit in hits], terms, self.calibration, self.background, self.thresholds
        )
        marked = sorted({term for group in term_groups for term in group.terms}, key=len, reverse=True)
        return Answer(text, hits, answerable, question_relevance, marked)

    def hits(self, text: str, groups: list[list], terms: QuestionTerms) -> list[Hit]:
        """Each group as a hit with its evidence; the second encoder reads the hits the judgement rests on
        (the first QUESTION_HITS: a few ms)."""
        second: list[float | None] = second_encoder.similarities(
            text, [sentence_text(self.index, group[0]) for group in groups[:QUESTION_HITS]]
        )
        second += [None] * (len(groups) - len(second))
        hits = []
        for rank, group in enumerate(groups, 1):
            best = group[0]
            chunk_text = self.index.chunks[best.chunk].text
            found = evidence(terms, self.fold(chunk_text), max(best.dense, best.sentence), second[rank - 1])
            score = self.calibration.relevance(found, self.background)
            hits.append(make_hit(self.index, rank, group, found, score, self.document_info))
        return hits

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
        """What unrelated questions score in this index (``index.answer_calibration.Background``)."""

        def ask(question: str) -> list[Evidence]:
            return [hit.evidence for hit in self.search(question, k=QUESTION_HITS) if hit.evidence is not None]

        # The questions encoded in one batch first, by both encoders: one at a time, encoding was most of the
        # measurement (their caches then serve each question's own search).
        folded = [self.fold(validate_question(question)) for _, question in background_questions()]
        self.encoder.encode_queries(folded)
        second_encoder.vectors(folded)
        # Its own questions must not wait for (or start) the measurement of a missing background: a build's
        # new searcher has none, and measured it a second time inside this one.
        outer, self._measuring = self._measuring, threading.get_ident()
        try:
            return measure_background(ask)
        finally:
            self._measuring = outer

    def question_terms(self, text: str) -> QuestionTerms:
        """What the relevance of each hit is judged on: the question's words and their weight here."""
        keyword = self.index.keyword
        text = without_document_kinds(text)  # a kind of document names where to look, not what a passage holds
        return question_terms(text, self.index.translator, keyword.frequency, len(self.index.chunks), term_tokens)

    def refreshed(self) -> Searcher:
        """This searcher, or, when a build has changed its index since it was read (an index in Milvus changes
        under running processes), a new one over the index as it is now, with the same encoder."""
        if not self.index.stale():
            return self
        return Searcher(type(self.index).load(self.index.directory), self.encoder, self.config)

    def with_config(self, config: SearchConfig) -> Searcher:
        return Searcher(self.index, self.encoder, replace(config))


def open_searcher(index_dir: Path, model: str | None = None, backend: str | None = None) -> Searcher:
    """Load the index and the model that built it (or the one asked for, which must match); ``backend``
    chooses the encoder backend (None: the measured default)."""
    from index.passage_index import read_manifest

    directory = Path(index_dir)
    built_with = read_manifest(directory)["model"]["name"]
    encoder = Encoder(model or built_with, backend=backend)
    return Searcher(PassageIndex.load(directory, encoder.info), encoder)
