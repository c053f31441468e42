"""PassageIndex: the vector store (FAISS or Milvus), the keyword index, chunk and document metadata,
and the manifest that says what built them — saved and loaded as one unit.

On disk an index folder holds version folders and a ``CURRENT`` file naming the
live one. A save writes a complete new version, then swaps ``CURRENT`` with an
atomic rename, so a build killed at any point leaves the previous index usable.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.encoder import ModelInfo
from index.keyword import KeywordIndex
from index.translate import QueryTranslator
from index.vector_store import FaissStore, MilvusStore, VectorStore, create_store, is_milvus, load_store
from ingest.documents import Chunk, Document, Paragraph

# 3: sentence table, chunk and document offsets as .npy files read memory-mapped; documents.jsonl.
FORMAT_VERSION = 3
CURRENT = "CURRENT"
# Decoded chunks and documents a loaded index keeps (least recently used go first). A question reads its
# ~200 candidates and every copy its collapsed hits cite; a document is read whole (all its text).
CHUNK_CACHE = 16384
DOCUMENT_CACHE = 256


class IndexNotFound(RuntimeError):
    pass


class IndexMismatch(RuntimeError):
    """The index was built with another model than the one asked for."""


def document_to_dict(document: Document) -> dict:
    return asdict(document)


def document_from_dict(data: dict) -> Document:
    paragraphs = [Paragraph(**{**p, "section": tuple(p["section"])}) for p in data["paragraphs"]]
    return Document(**{**data, "paragraphs": paragraphs})


@dataclass
class SentenceTable:
    """Every chunk's sentences: which chunk, where in the document, and their embeddings.

    Used to rescore candidates by their best-matching sentence and to highlight it. A loaded table is
    memory-mapped (the vectors are most of an index: ~870 MB at 100k passages), so a searching process
    holds only the pages its questions touch.
    """

    chunk: np.ndarray  # int32, row -> chunk index (ascending)
    start: np.ndarray  # int32, offsets into the document text
    end: np.ndarray
    vectors: np.ndarray  # float16 (halves memory; scores are computed in float32)
    offsets: np.ndarray | None = None  # int64, chunk i's rows are offsets[i]:offsets[i + 1]

    FILES = ("chunk", "start", "end", "vectors", "offsets")

    def rows_of(self, chunk_index: int) -> slice:
        if self.offsets is not None and 0 <= chunk_index < len(self.offsets) - 1:
            return slice(int(self.offsets[chunk_index]), int(self.offsets[chunk_index + 1]))
        # The needle in the table's own dtype: a Python int makes numpy convert the whole int32 table to
        # int64 on every call (0.28 ms instead of 0.005 ms at 580k sentences; ~200 calls a question).
        needle = self.chunk.dtype.type(chunk_index)
        lo = int(np.searchsorted(self.chunk, needle, side="left"))
        hi = int(np.searchsorted(self.chunk, needle, side="right"))
        return slice(lo, hi)

    def save(self, directory: Path, chunks: int) -> None:
        """One .npy file per column (``sentence_<column>.npy``), so each can be memory-mapped."""
        offsets = np.searchsorted(self.chunk, np.arange(chunks + 1, dtype=self.chunk.dtype)).astype(np.int64)
        columns = {"chunk": self.chunk, "start": self.start, "end": self.end, "vectors": self.vectors}
        for name, array in {**columns, "offsets": offsets}.items():
            np.save(directory / f"sentence_{name}.npy", np.ascontiguousarray(array))

    @classmethod
    def load(cls, directory: Path) -> SentenceTable:
        # np.asarray drops numpy.memmap's subclass (whose Python-level hooks slow every slice) but keeps
        # the mapping: the arrays still read from the file.
        columns = {name: np.asarray(np.load(directory / f"sentence_{name}.npy", mmap_mode="r")) for name in cls.FILES}
        return cls(**columns)


class LineFile:
    """A JSON-lines file read by line number through an offsets array (line i is bytes
    offsets[i]:offsets[i + 1]), with the most recently read lines cached: a searching process reads the
    few chunks and documents its answers show, instead of holding every one as Python objects."""

    def __init__(self, path: Path, offsets: np.ndarray, decode, cache: int):
        self.path, self.offsets, self.decode = path, offsets, decode
        self._file = open(path, "rb")  # noqa: SIM115 (kept open for the index's lifetime; reads use pread)
        self.read = functools.lru_cache(maxsize=cache)(self._read)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _read(self, i: int):
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.decode(json.loads(os.pread(self._file.fileno(), end - start, start)))

    def __iter__(self) -> Iterator:
        with open(self.path, encoding="utf-8") as lines:  # sequential: no seek per line
            for line in lines:
                yield self.decode(json.loads(line))

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()


class StoredChunks(Sequence[Chunk]):
    """``index.chunks`` of a loaded index: ``chunks[i]``, ``len(chunks)``, slices and iteration, read
    from chunks.jsonl on demand."""

    def __init__(self, lines: LineFile):
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.lines.read(j) for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"chunk {i} out of range")
        return self.lines.read(i)

    def __iter__(self) -> Iterator[Chunk]:
        return iter(self.lines)


class StoredDocuments(Mapping[str, Document]):
    """``index.documents`` of a loaded index: a mapping doc_id -> Document read from documents.jsonl on
    demand (a few are cached)."""

    def __init__(self, ids: list[str], lines: LineFile):
        self.ids = ids
        self.position = {doc_id: i for i, doc_id in enumerate(ids)}
        self.lines = lines

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self.position:
            raise KeyError(doc_id)
        return self.lines.read(self.position[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.position

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def values(self):  # one sequential pass over the file instead of a read per document
        return list(self.lines)

    def items(self):
        return list(zip(self.ids, self.lines, strict=True))


@dataclass
class DocumentPart:
    """One document's share of an index: its chunks, their vectors, sentences and keyword tokens."""

    document: Document
    chunks: list[Chunk]
    vectors: np.ndarray  # float32 (chunks × dimension); a StoredVectors for parts of an existing index
    sentences: SentenceTable  # chunk numbers local to this part
    keyword_tokens: list[list[str]]
    # Parts taken from an existing index: their labels in its vector store, and that store (by row).
    labels: np.ndarray | None = None
    source: RowVectors | None = None


class StoredVectors:
    """A part's vectors, still in the vector store: fetched only if the store is not reused."""

    def __init__(self, store: VectorStore, labels: np.ndarray):
        self.store, self.labels = store, labels

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.labels), self.store.dimension)

    def __array__(self, dtype=None, copy=None):
        vectors = self.store.get(self.labels)
        return vectors if dtype is None else vectors.astype(dtype)


class RowVectors:
    """The vector store seen by chunk row (row i = chunks[i]), as the rest of CiteLens uses it.

    The store keys vectors by stable labels (so incremental builds touch only what changed); this maps
    labels to rows and back. It also answers the FAISS calls older code makes (``ntotal``,
    ``reconstruct_batch``, ``reconstruct_n``, ``search``).
    """

    def __init__(self, store: VectorStore, labels: np.ndarray):
        self.store = store
        self.labels = np.ascontiguousarray(labels, dtype=np.int64)
        self.identity = bool(np.array_equal(self.labels, np.arange(len(self.labels))))
        if not self.identity:
            self._order = np.argsort(self.labels, kind="stable")
            self._sorted = self.labels[self._order]

    @property
    def ntotal(self) -> int:
        return len(self.labels)

    @property
    def d(self) -> int:
        return self.store.dimension

    def rows(self, labels: np.ndarray) -> np.ndarray:
        """Rows of these labels; -1 for labels this index does not hold."""
        labels = np.asarray(labels, dtype=np.int64)
        if self.identity:
            return np.where((labels >= 0) & (labels < len(self.labels)), labels, -1)
        if len(self._sorted) == 0:
            return np.full(labels.shape, -1, dtype=np.int64)
        at = np.clip(np.searchsorted(self._sorted, labels), 0, len(self._sorted) - 1)
        return np.where(self._sorted[at] == labels, self._order[at], -1)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, labels = self.store.search(queries, k)
        return scores, self.rows(labels)

    def reconstruct_batch(self, rows) -> np.ndarray:
        return self.store.get(self.labels[np.asarray(rows, dtype=np.int64)])

    def reconstruct_n(self, first: int, n: int) -> np.ndarray:
        return self.store.get(self.labels[first : first + n])

    def reconstruct(self, row: int) -> np.ndarray:
        return self.store.get(self.labels[row : row + 1])[0]

    def next_label(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


class PassageIndex:
    def __init__(
        self,
        manifest: dict,
        chunks: Sequence[Chunk],  # a list, or StoredChunks read on demand
        documents: Mapping[str, Document],  # a dict, or StoredDocuments read on demand
        vectors: RowVectors,  # the vector store by chunk row: row i = chunks[i]
        keyword: KeywordIndex,
        sentences: SentenceTable,
        translator: QueryTranslator,
    ):
        self.manifest = manifest
        self.chunks = chunks
        self.documents = documents
        self.vectors = vectors
        self.keyword = keyword
        self.sentences = sentences
        self.translator = translator

    @classmethod
    def create(
        cls,
        parts: list[DocumentPart],
        model: ModelInfo,
        build_settings: dict,
        corpus_dir: Path | None = None,
        vector_store: str | None = None,
    ) -> PassageIndex:
        """Assemble an index from per-document parts (new ones, and ones reused from a previous index).

        When the reused parts come from one existing vector store of the kind asked for, that store is
        updated in place: the vectors of removed and changed documents are removed, new ones added, so
        the work is proportional to the change. Otherwise a new store is filled (``vector_store`` is a
        URI, default $CITELENS_VECTOR_STORE or FAISS).
        """
        parts = sorted(parts, key=lambda part: part.document.doc_id)
        chunks = [chunk for part in parts for chunk in part.chunks]
        vectors = _assemble_vectors(parts, model.dimension, vector_store)
        sentence_chunk, offset = [], 0
        for part in parts:
            sentence_chunk.append(part.sentences.chunk + offset)
            offset += len(part.chunks)
        sentences = SentenceTable(
            np.concatenate(sentence_chunk).astype(np.int32),
            np.concatenate([p.sentences.start for p in parts]).astype(np.int32),
            np.concatenate([p.sentences.end for p in parts]).astype(np.int32),
            np.concatenate([p.sentences.vectors for p in parts]).astype(np.float16),
        )
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": model.to_dict(),
            "build": build_settings,
            "corpus": str(Path(corpus_dir).resolve()) if corpus_dir else None,
            "vector_index": vectors.store.describe(),
            "keyword_index": "bm25s over jieba search-mode tokens",
            "counts": {"documents": len(parts), "chunks": len(chunks), "sentences": len(sentences.chunk)},
            "documents": {
                part.document.doc_id: {
                    "title": part.document.title,
                    "content_hash": part.document.content_hash,
                    "date": part.document.date,
                    "paragraphs": len(part.document.paragraphs),
                    "chunks": len(part.chunks),
                }
                for part in parts
            },
        }
        keyword = KeywordIndex.from_tokens([tokens for part in parts for tokens in part.keyword_tokens])
        translator = QueryTranslator.build(keyword.vocabulary)
        documents = {part.document.doc_id: part.document for part in parts}
        return cls(manifest, chunks, documents, vectors, keyword, sentences, translator)

    def parts(self) -> dict[str, DocumentPart]:
        """This index split back into per-document parts (no re-embedding), for incremental builds.

        Their vectors stay in the store (fetched only if the next index does not reuse the store).
        """
        parts: dict[str, DocumentPart] = {}
        chunks = list(self.chunks)  # one sequential read of a stored index
        tokens = self.keyword.tokens
        first = 0
        while first < len(chunks):
            doc_id = chunks[first].doc_id
            last = first
            while last < len(chunks) and chunks[last].doc_id == doc_id:
                last += 1
            rows = slice(self.sentences.rows_of(first).start, self.sentences.rows_of(last - 1).stop)
            parts[doc_id] = DocumentPart(
                self.documents[doc_id],
                chunks[first:last],
                StoredVectors(self.vectors.store, self.vectors.labels[first:last]),
                SentenceTable(
                    self.sentences.chunk[rows] - first,
                    self.sentences.start[rows],
                    self.sentences.end[rows],
                    self.sentences.vectors[rows],
                ),
                tokens[first:last],
                self.vectors.labels[first:last],
                self.vectors,
            )
            first = last
        return parts

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
        """(scores, chunk rows) of the k nearest chunks per query; rows are -1 where fewer were found."""
        k = min(k, len(self.chunks))
        if k < 1:
            empty = np.zeros((len(query_vectors), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        return self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    @property
    def vector_store(self) -> VectorStore:
        return self.vectors.store

    # ---- persistence -------------------------------------------------------------

    def save(self, directory: Path) -> Path:
        """Write a new version folder, then atomically point CURRENT at it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        version = f"v{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        staging = directory / f".{version}.partial"
        staging.mkdir()
        self.manifest["vector_index"] = self.vectors.store.save(staging)
        np.save(staging / "vector_labels.npy", self.vectors.labels)
        _write_json(staging / "manifest.json", self.manifest)
        _write_lines(staging / "chunks.jsonl", (chunk.to_dict() for chunk in self.chunks))
        documents = (document_to_dict(d) for d in self.documents.values())
        ids = _write_lines(staging / "documents.jsonl", documents, key="doc_id")
        _write_json(staging / "document_ids.json", ids)
        self.keyword.save(staging / "keyword")
        self.sentences.save(staging, len(self.chunks))
        _write_json(staging / "translation.json", self.translator.to_dict())
        _fsync_tree(staging)
        staging.rename(directory / version)
        pointer = directory / f".{CURRENT}.{version}"
        pointer.write_text(version + "\n", encoding="utf-8")
        os.replace(pointer, directory / CURRENT)
        _prune_versions(directory, keep=version)
        self.vectors.store.published()
        return directory / version

    @classmethod
    def load(cls, directory: Path, model: ModelInfo | None = None) -> PassageIndex:
        version_dir = live_version(directory)
        manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"{directory} has index format {manifest.get('format_version')}, this CiteLens reads "
                f"{FORMAT_VERSION}; rebuild it with: python -m index build --index {directory}"
            )
        chunks = StoredChunks(
            LineFile(version_dir / "chunks.jsonl", _offsets(version_dir, "chunks"), Chunk.from_dict, CHUNK_CACHE)
        )
        ids = json.loads((version_dir / "document_ids.json").read_text(encoding="utf-8"))
        documents = LineFile(
            version_dir / "documents.jsonl", _offsets(version_dir, "documents"), document_from_dict, DOCUMENT_CACHE
        )
        index = cls(
            manifest,
            chunks,
            StoredDocuments(ids, documents),
            _load_vectors(version_dir, manifest, len(chunks)),
            KeywordIndex.load(version_dir / "keyword"),
            SentenceTable.load(version_dir),
            QueryTranslator.from_dict(json.loads((version_dir / "translation.json").read_text(encoding="utf-8"))),
        )
        if model is not None:
            index.check_model(model)
        return index


def _load_vectors(version_dir: Path, manifest: dict, rows: int) -> RowVectors:
    description = manifest.get("vector_index")
    store = load_store(version_dir, description if isinstance(description, dict) else None)
    labels_file = version_dir / "vector_labels.npy"
    labels = np.load(labels_file) if labels_file.exists() else np.arange(rows, dtype=np.int64)
    return RowVectors(store, labels)


def _reusable_store(parts: list[DocumentPart], uri: str | None) -> RowVectors | None:
    """The one existing store all reused parts come from, when it is of the kind asked for."""
    from index import settings

    sources = {id(part.source): part.source for part in parts if part.source is not None}
    if len(sources) != 1:
        return None
    source = next(iter(sources.values()))
    wanted = settings.vector_store_uri(uri)
    store = source.store
    if is_milvus(wanted):
        from index.vector_store import parse_milvus_uri

        same = isinstance(store, MilvusStore) and parse_milvus_uri(wanted)[0] == store.address
        return source if same else None
    policy = wanted.partition(":")[2] or "auto"
    return source if isinstance(store, FaissStore) and store.policy == policy else None


def _assemble_vectors(parts: list[DocumentPart], dimension: int, uri: str | None) -> RowVectors:
    source = _reusable_store(parts, uri)
    if source is None:  # a new store, filled from every part
        store = create_store(uri, dimension)
        labels = np.arange(sum(len(part.chunks) for part in parts), dtype=np.int64)
        if len(labels):
            store.add(labels, np.concatenate([np.asarray(part.vectors, dtype=np.float32) for part in parts]))
        return RowVectors(store, labels)
    store = source.store
    kept = [part.labels for part in parts if part.source is source]
    kept_labels = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    store.remove(np.setdiff1d(source.labels, kept_labels))
    next_label = source.next_label()
    labels = []
    for part in parts:
        if part.source is source:
            labels.append(np.asarray(part.labels, dtype=np.int64))
            continue
        new = np.arange(next_label, next_label + len(part.chunks), dtype=np.int64)
        next_label += len(new)
        if len(new):
            store.add(new, np.asarray(part.vectors, dtype=np.float32))
        labels.append(new)
    return RowVectors(store, np.concatenate(labels) if labels else np.zeros(0, np.int64))


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


def _write_lines(path: Path, records, key: str | None = None) -> list:
    """One JSON object a line, and ``<stem>_offsets.npy``: where each line starts (and the file's end)."""
    offsets, keys, position = [0], [], 0
    with open(path, "wb") as out:
        for record in records:
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            out.write(line)
            position += len(line)
            offsets.append(position)
            if key is not None:
                keys.append(record[key])
    np.save(path.with_name(f"{path.stem}_offsets.npy"), np.array(offsets, dtype=np.int64))
    return keys


def _offsets(version_dir: Path, stem: str) -> np.ndarray:
    return np.asarray(np.load(version_dir / f"{stem}_offsets.npy", mmap_mode="r"))


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
