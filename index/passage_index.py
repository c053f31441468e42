"""PassageIndex: the FAISS vectors, the keyword index, chunk and document metadata,
and the manifest that says what built them — saved and loaded as one unit.

On disk an index folder holds version folders and a ``CURRENT`` file naming the
live one. A save writes a complete new version, then swaps ``CURRENT`` with an
atomic rename, so a build killed at any point leaves the previous index usable.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np

from index.encoder import ModelInfo
from index.keyword import KeywordIndex
from ingest.documents import Chunk, Document, Paragraph

FORMAT_VERSION = 1
CURRENT = "CURRENT"


class IndexNotFound(RuntimeError):
    pass


class IndexMismatch(RuntimeError):
    """The index was built with another model than the one asked for."""


def document_to_dict(document: Document) -> dict:
    return asdict(document)


def document_from_dict(data: dict) -> Document:
    paragraphs = [Paragraph(**{**p, "section": tuple(p["section"])}) for p in data["paragraphs"]]
    return Document(**{**data, "paragraphs": paragraphs})


class PassageIndex:
    def __init__(
        self,
        manifest: dict,
        chunks: list[Chunk],
        documents: dict[str, Document],
        vectors,  # faiss.Index over the chunk embeddings, row i = chunks[i]
        keyword: KeywordIndex,
    ):
        self.manifest = manifest
        self.chunks = chunks
        self.documents = documents
        self.vectors = vectors
        self.keyword = keyword

    @classmethod
    def create(
        cls,
        documents: list[Document],
        chunks: list[Chunk],
        embeddings: np.ndarray,
        model: ModelInfo,
        chunker: dict,
    ) -> PassageIndex:
        import faiss

        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        vectors = faiss.IndexFlatIP(model.dimension)
        vectors.add(np.ascontiguousarray(embeddings, dtype=np.float32))
        chunk_counts: dict[str, int] = {}
        for chunk in chunks:
            chunk_counts[chunk.doc_id] = chunk_counts.get(chunk.doc_id, 0) + 1
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": model.to_dict(),
            "chunker": chunker,
            "vector_index": "faiss.IndexFlatIP",
            "keyword_index": "bm25s over jieba search-mode tokens",
            "counts": {"documents": len(documents), "chunks": len(chunks)},
            "documents": {
                doc.doc_id: {
                    "title": doc.title,
                    "content_hash": doc.content_hash,
                    "paragraphs": len(doc.paragraphs),
                    "chunks": chunk_counts.get(doc.doc_id, 0),
                }
                for doc in documents
            },
        }
        keyword = KeywordIndex.build([chunk.text for chunk in chunks])
        return cls(manifest, chunks, {doc.doc_id: doc for doc in documents}, vectors, keyword)

    @property
    def model(self) -> ModelInfo:
        return ModelInfo(**self.manifest["model"])

    def check_model(self, model: ModelInfo) -> None:
        built = self.model
        if (built.name, built.dimension) != (model.name, model.dimension):
            raise IndexMismatch(
                f"This index was built with model '{built.name}' (dimension {built.dimension}), "
                f"but the model in use is '{model.name}' (dimension {model.dimension}). "
                f"Search with --model '{built.name}', or rebuild: python -m index build --model '{model.name}'."
            )

    def dense_search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.chunks))
        scores, ids = self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)
        return scores, ids

    # ---- persistence -------------------------------------------------------------

    def save(self, directory: Path) -> Path:
        """Write a new version folder, then atomically point CURRENT at it."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        version = f"v{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        staging = directory / f".{version}.partial"
        staging.mkdir()
        _write_json(staging / "manifest.json", self.manifest)
        with open(staging / "chunks.jsonl", "w", encoding="utf-8") as out:
            for chunk in self.chunks:
                out.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        _write_json(staging / "documents.json", [document_to_dict(d) for d in self.documents.values()])
        faiss.write_index(self.vectors, str(staging / "vectors.faiss"))
        self.keyword.save(staging / "keyword")
        _fsync_tree(staging)
        staging.rename(directory / version)
        pointer = directory / f".{CURRENT}.{version}"
        pointer.write_text(version + "\n", encoding="utf-8")
        os.replace(pointer, directory / CURRENT)
        _prune_versions(directory, keep=version)
        return directory / version

    @classmethod
    def load(cls, directory: Path, model: ModelInfo | None = None) -> PassageIndex:
        import faiss

        version_dir = live_version(directory)
        manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"{directory} has index format {manifest.get('format_version')}, this CiteLens reads "
                f"{FORMAT_VERSION}; rebuild it with: python -m index build --index {directory}"
            )
        with open(version_dir / "chunks.jsonl", encoding="utf-8") as lines:
            chunks = [Chunk.from_dict(json.loads(line)) for line in lines]
        documents = [
            document_from_dict(d) for d in json.loads((version_dir / "documents.json").read_text(encoding="utf-8"))
        ]
        index = cls(
            manifest,
            chunks,
            {doc.doc_id: doc for doc in documents},
            faiss.read_index(str(version_dir / "vectors.faiss")),
            KeywordIndex.load(version_dir / "keyword"),
        )
        if model is not None:
            index.check_model(model)
        return index


def live_version(directory: Path) -> Path:
    directory = Path(directory)
    pointer = directory / CURRENT
    if not pointer.exists():
        raise IndexNotFound(
            f"No index at {directory}. Build one with: python -m index build --corpus DIR --index {directory}"
        )
    version_dir = directory / pointer.read_text(encoding="utf-8").strip()
    if not (version_dir / "manifest.json").exists():
        raise IndexNotFound(f"{pointer} names {version_dir.name}, which is missing; rebuild the index.")
    return version_dir


def read_manifest(directory: Path) -> dict:
    return json.loads((live_version(directory) / "manifest.json").read_text(encoding="utf-8"))


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _prune_versions(directory: Path, keep: str) -> None:
    """Remove older versions and leftovers of killed builds (never the live one)."""
    for path in directory.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("v") or path.name.endswith(".partial")):
            shutil.rmtree(path, ignore_errors=True)
