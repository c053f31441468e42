"""Corpus folder → PassageIndex on disk, in one step (ingest, chunk, embed, save)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from index.encoder import Encoder
from index.passage_index import PassageIndex, SentenceTable
from ingest.chunking import chunk_document
from ingest.documents import Chunk, Document
from ingest.pipeline import load_corpus
from ingest.sentences import sentence_spans


@dataclass(frozen=True)
class BuildSettings:
    max_tokens: int = 256  # chunk size in model tokens
    overlap_tokens: int = 32
    # Embed "title › section" in front of each chunk (the cited text stays the exact source text).
    context: bool = False
    # Index title and section path words with each chunk's keywords.
    keyword_context: bool = True

    def to_dict(self) -> dict:
        return {"splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter", **asdict(self)}


@dataclass
class BuildReport:
    index_dir: Path
    documents: int
    chunks: int
    problems: list[str] = field(default_factory=list)


class EmptyCorpus(RuntimeError):
    pass


def chunk_documents(documents: list[Document], encoder: Encoder, settings: BuildSettings) -> list[Chunk]:
    chunks: list[Chunk] = []
    for document in documents:
        chunks += chunk_document(document, encoder.count_tokens, settings.max_tokens, settings.overlap_tokens)
    return chunks


def embedding_text(chunk: Chunk, context: bool) -> str:
    if not context:
        return chunk.text
    return " › ".join([chunk.title, *chunk.section]) + "\n" + chunk.text


def sentence_rows(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chunk_ids, starts, ends = [], [], []
    for number, chunk in enumerate(chunks):
        for start, end in sentence_spans(chunk.text, base=chunk.start) or [(chunk.start, chunk.end)]:
            chunk_ids.append(number)
            starts.append(start)
            ends.append(end)
    return np.array(chunk_ids, np.int32), np.array(starts, np.int32), np.array(ends, np.int32)


def embed_chunks(
    documents: list[Document], chunks: list[Chunk], encoder: Encoder, settings: BuildSettings, progress: bool
) -> tuple[np.ndarray, SentenceTable]:
    """Chunk and sentence embeddings in one pass (one progress bar)."""
    chunk_of, starts, ends = sentence_rows(chunks)
    by_id = {doc.doc_id: doc for doc in documents}
    sentence_texts = [by_id[chunks[c].doc_id].text[s:e] for c, s, e in zip(chunk_of, starts, ends, strict=True)]
    texts = [embedding_text(chunk, settings.context) for chunk in chunks] + sentence_texts
    vectors = encoder.encode_passages(texts, progress=progress)
    sentences = SentenceTable(chunk_of, starts, ends, vectors[len(chunks) :].astype(np.float16))
    return vectors[: len(chunks)], sentences


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    settings: BuildSettings = BuildSettings(),
    progress: bool = True,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> BuildReport:
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise EmptyCorpus(f"Corpus folder {corpus_dir} does not exist or is not a folder.")
    documents, errors = load_corpus(corpus_dir)
    problems = [str(error) for error in errors]
    for problem in problems:
        log(f"skipped: {problem}")
    if not documents:
        raise EmptyCorpus(f"No readable documents in {corpus_dir}; the existing index (if any) is unchanged.")
    chunks = chunk_documents(documents, encoder, settings)
    log(f"{len(documents)} documents → {len(chunks)} chunks; embedding with {encoder.name} …")
    chunk_vectors, sentences = embed_chunks(documents, chunks, encoder, settings, progress)
    index = PassageIndex.create(documents, chunks, chunk_vectors, sentences, encoder.info, settings.to_dict())
    index.save(index_dir)
    log(f"Index saved to {index_dir}.")
    return BuildReport(Path(index_dir), len(documents), len(chunks), problems)
