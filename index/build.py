"""Corpus folder → PassageIndex on disk, in one step (ingest, chunk, embed, save)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from index.encoder import Encoder, ProgressCallback
from index.keyword import keyword_tokens
from index.passage_index import IndexMismatch, IndexNotFound, PassageIndex
from index.segments import DocumentPart, SentenceTable
from ingest.chunking import chunk_document
from ingest.documents import Chunk, Document
from ingest.pipeline import load_corpus
from ingest.sentences import sentence_spans


@dataclass(frozen=True)
class BuildSettings:
    max_tokens: int = 480  # chunk size in model tokens (measured: see README; 512 minus prompt and specials)
    overlap_tokens: int = 64
    # Embed "title › section" in front of each chunk (the cited text stays the exact source text; sentences
    # are embedded without it). Measured on dev + held-out questions together and left off: README.
    context: bool = False
    # Index title and section path words with each chunk's keywords.
    keyword_context: bool = True
    # A section intro of at most this many tokens joins its first subsection's chunk (0: never; README).
    intro_tokens: int = 120

    def to_dict(self) -> dict:
        return {"splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter", **asdict(self)}


@dataclass
class BuildReport:
    index_dir: Path
    documents: int
    chunks: int
    problems: list[str] = field(default_factory=list)
    embedded: int = 0  # documents (re-)embedded by this build
    removed: list[str] = field(default_factory=list)


class EmptyCorpus(RuntimeError):
    pass


def embedding_text(chunk: Chunk, context: bool) -> str:
    if not context:
        return chunk.text
    return " › ".join([chunk.title, *chunk.section]) + "\n" + chunk.text


def keyword_text(chunk: Chunk, context: bool) -> str:
    # Titles and section paths are keyword fields too: questions name the document or part they mean.
    return " ".join([chunk.title, *chunk.section, chunk.text]) if context else chunk.text


def sentence_rows(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chunk_ids, starts, ends = [], [], []
    for number, chunk in enumerate(chunks):
        for start, end in sentence_spans(chunk.text, base=chunk.start) or [(chunk.start, chunk.end)]:
            chunk_ids.append(number)
            starts.append(start)
            ends.append(end)
    return np.array(chunk_ids, np.int32), np.array(starts, np.int32), np.array(ends, np.int32)


def make_parts(
    documents: list[Document], encoder: Encoder, settings: BuildSettings, progress: bool | ProgressCallback
) -> list[DocumentPart]:
    """Chunk, embed (chunks and their sentences, one progress bar) and tokenize new documents."""
    chunked = [
        (
            doc,
            chunk_document(
                doc, encoder.count_tokens, settings.max_tokens, settings.overlap_tokens, settings.intro_tokens
            ),
        )
        for doc in documents
    ]
    texts: list[str] = []
    layout = []
    for doc, chunks in chunked:
        chunk_of, starts, ends = sentence_rows(chunks)
        layout.append((len(texts), chunk_of, starts, ends))
        texts += [embedding_text(chunk, settings.context) for chunk in chunks]
        texts += [doc.text[s:e] for s, e in zip(starts, ends, strict=True)]
    vectors = encoder.encode_passages(texts, progress=progress) if texts else np.zeros((0, encoder.dimension))
    parts = []
    for (doc, chunks), (first, chunk_of, starts, ends) in zip(chunked, layout, strict=True):
        n = len(chunks)
        sentence_vectors = vectors[first + n : first + n + len(chunk_of)].astype(np.float16)
        parts.append(
            DocumentPart(
                doc,
                chunks,
                vectors[first : first + n],
                SentenceTable(chunk_of, starts, ends, sentence_vectors),
                [keyword_tokens(keyword_text(chunk, settings.keyword_context)) for chunk in chunks],
            )
        )
    return parts


def previous_index(index_dir: Path, encoder: Encoder, settings: BuildSettings) -> PassageIndex | None:
    """The existing index, when it was built the same way (same model, same settings) and can be updated."""
    try:
        previous = PassageIndex.load(index_dir)
    except (IndexNotFound, IndexMismatch, OSError, ValueError, KeyError):
        return None
    if previous.model != encoder.info or previous.manifest.get("build") != settings.to_dict():
        return None
    return previous


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    settings: BuildSettings = BuildSettings(),
    progress: bool | ProgressCallback = True,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    incremental: bool = True,
    vector_store: str | None = None,
) -> BuildReport:
    """Build, or update: documents whose content hash is unchanged keep their chunks and vectors.

    ``vector_store`` is a store URI (default $CITELENS_VECTOR_STORE, else FAISS in the index folder)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise EmptyCorpus(f"Corpus folder {corpus_dir} does not exist or is not a folder.")
    documents, errors = load_corpus(corpus_dir)
    problems = [str(error) for error in errors]
    for problem in problems:
        log(f"skipped: {problem}")
    if not documents:
        raise EmptyCorpus(f"No readable documents in {corpus_dir}; the existing index (if any) is unchanged.")
    previous = previous_index(index_dir, encoder, settings) if incremental else None
    known = previous.manifest["documents"] if previous else {}
    kept = {doc.doc_id for doc in documents if known.get(doc.doc_id, {}).get("content_hash") == doc.content_hash}
    changed = [doc for doc in documents if doc.doc_id not in kept]
    removed = sorted(set(known) - {doc.doc_id for doc in documents})
    log(
        f"{len(documents)} documents: {len(changed)} to embed, {len(kept)} unchanged, {len(removed)} removed; "
        f"model {encoder.name}"
    )
    parts = make_parts(changed, encoder, settings, progress)
    if previous is None:
        index = PassageIndex.create(parts, encoder.info, settings.to_dict(), corpus_dir, vector_store)
    else:  # a new segment for the changed documents; the old copies of changed and removed ones deleted
        index = previous.update(parts, set(known) - kept, corpus_dir, vector_store)
    index.save(index_dir)
    log(f"Index saved to {index_dir}: {len(index.chunks)} chunks.")
    return BuildReport(Path(index_dir), len(documents), len(index.chunks), problems, len(changed), removed)
