"""Corpus folder → PassageIndex on disk, in one step (ingest, chunk, embed, save)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from index.encoder import Encoder
from index.passage_index import PassageIndex
from ingest.chunking import chunk_document
from ingest.documents import Chunk, Document
from ingest.pipeline import load_corpus


@dataclass(frozen=True)
class ChunkerSettings:
    max_tokens: int = 256
    overlap_tokens: int = 32

    def to_dict(self) -> dict:
        return {
            "splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter",
            "max_tokens": self.max_tokens,
            "overlap_tokens": self.overlap_tokens,
        }


@dataclass
class BuildReport:
    index_dir: Path
    documents: int
    chunks: int
    problems: list[str] = field(default_factory=list)


class EmptyCorpus(RuntimeError):
    pass


def chunk_documents(documents: list[Document], encoder: Encoder, chunker: ChunkerSettings) -> list[Chunk]:
    chunks: list[Chunk] = []
    for document in documents:
        chunks += chunk_document(document, encoder.count_tokens, chunker.max_tokens, chunker.overlap_tokens)
    return chunks


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    chunker: ChunkerSettings = ChunkerSettings(),
    batch_size: int = 32,
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
    chunks = chunk_documents(documents, encoder, chunker)
    log(f"{len(documents)} documents → {len(chunks)} chunks; embedding with {encoder.name} …")
    embeddings = encoder.encode_passages([c.text for c in chunks], batch_size=batch_size, progress=progress)
    index = PassageIndex.create(documents, chunks, embeddings, encoder.info, chunker.to_dict())
    index.save(index_dir)
    log(f"Index saved to {index_dir}.")
    return BuildReport(Path(index_dir), len(documents), len(chunks), problems)
