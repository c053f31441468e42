"""Searcher: a question in, ranked citable Hits out — the one API the CLI, the app
and the eval harness all call."""

from __future__ import annotations

from index.encoder import Encoder
from index.hits import Hit
from index.passage_index import PassageIndex

MAX_QUESTION_CHARS = 2000


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


class Searcher:
    def __init__(self, index: PassageIndex, encoder: Encoder):
        index.check_model(encoder.info)
        self.index = index
        self.encoder = encoder

    def search(self, question: str, k: int = 10) -> list[Hit]:
        text = validate_question(question)
        if k < 1:
            raise BadQuestion("k must be at least 1.")
        query_vector = self.encoder.encode_queries([text])
        scores, ids = self.index.dense_search(query_vector, k)
        return [
            self.make_hit(rank, int(i), float(s))
            for rank, (i, s) in enumerate(zip(ids[0], scores[0], strict=True), 1)
            if i >= 0
        ]

    def make_hit(self, rank: int, chunk_index: int, score: float) -> Hit:
        chunk = self.index.chunks[chunk_index]
        document = self.index.documents[chunk.doc_id]
        return Hit(
            rank=rank,
            score=score,
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
        )


def open_searcher(index_dir=None, model: str | None = None) -> Searcher:
    """Load the index and the model that built it (or the one asked for, which must match)."""
    import os

    from index import settings
    from index.passage_index import read_manifest

    directory = settings.index_dir(index_dir)
    built_with = read_manifest(directory)["model"]["name"]
    asked = model or os.environ.get(settings.ENV_MODEL)
    encoder = Encoder(asked or built_with)
    return Searcher(PassageIndex.load(directory, encoder.info), encoder)
