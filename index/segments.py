"""Segments: the immutable parts of an index on disk (the live view over them: ``index/live_view.py``).

An index is a list of segments beside one vector store. A full build writes one segment. An incremental
build writes one more segment holding only the added and changed documents, and marks the old copies of
changed and removed documents deleted in the new version's manifest: the work and the bytes written
follow the change, not the collection (the design of Lucene's and Milvus's segments). Deleted rows stay
on disk until a merge rewrites the segments they are in (``index/merge_policy.py``).

A segment holds some documents' chunks, the documents, their sentence table and their keyword index,
written once to a folder of its own and read back by row ranges.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.integrity import IndexDamaged, describe_files, reading
from index.keyword import KeywordIndex
from index.stored_arrays import NPY_HEADER_LOCK, StoredArray, load_npy
from ingest.documents import Chunk, Document, Paragraph

# Decoded chunks and documents a loaded segment keeps (least recently used go first). A question reads
# its ~200 candidates and every copy its collapsed hits cite; a document is read whole (all its text).
CHUNK_CACHE = 16384
DOCUMENT_CACHE = 256


def document_to_dict(document: Document) -> dict:
    return asdict(document)


def document_from_dict(data: dict) -> Document:
    paragraphs = [Paragraph(**{**p, "section": tuple(p["section"])}) for p in data["paragraphs"]]
    return Document(**{**data, "paragraphs": paragraphs})


@dataclass
class SentenceTable:
    """Every chunk's sentences: which chunk, where in the document, and their embeddings.

    Used to rescore candidates by their best-matching sentence and to highlight it. A loaded table reads
    its rows from disk when asked (the vectors are most of an index: ~870 MB at 100k passages), so a
    searching process holds only the rows its question is using.
    """

    # Columns are arrays in memory, or StoredArrays (read by row ranges) in a loaded table.
    chunk: np.ndarray  # int32, row -> chunk index (ascending)
    start: np.ndarray  # int32, offsets into the document text
    end: np.ndarray
    vectors: np.ndarray  # float16 (halves memory; scores are computed in float32)
    offsets: np.ndarray | None = None  # int64, chunk i's rows are offsets[i]:offsets[i + 1]

    FILES = ("chunk", "start", "end", "vectors", "offsets")

    def __len__(self) -> int:
        return len(self.chunk)

    def rows_of(self, chunk_index: int) -> slice:
        if self.offsets is not None and 0 <= chunk_index < len(self.offsets) - 1:
            return slice(int(self.offsets[chunk_index]), int(self.offsets[chunk_index + 1]))
        # The needle in the table's own dtype: a Python int makes numpy convert the whole int32 table to
        # int64 on every call (0.28 ms instead of 0.005 ms at 580k sentences; ~200 calls a question).
        needle = self.chunk.dtype.type(chunk_index)
        lo = int(np.searchsorted(self.chunk, needle, side="left"))
        hi = int(np.searchsorted(self.chunk, needle, side="right"))
        return slice(lo, hi)

    def with_offsets(self, chunks: int) -> SentenceTable:
        offsets = np.searchsorted(self.chunk, np.arange(chunks + 1, dtype=self.chunk.dtype)).astype(np.int64)
        return SentenceTable(self.chunk, self.start, self.end, self.vectors, offsets)

    def save(self, directory: Path, chunks: int) -> None:
        """One .npy file per column (``sentence_<column>.npy``), so each can be memory-mapped."""
        table = self.with_offsets(chunks)
        for name in self.FILES:
            np.save(directory / f"sentence_{name}.npy", np.ascontiguousarray(getattr(table, name)))

    @classmethod
    def load(cls, directory: Path) -> SentenceTable:
        """The columns of a saved table, read by row ranges when asked for (``StoredArray``); the chunk
        offsets, read for every candidate, memory-mapped."""
        columns = {name: StoredArray(directory / f"sentence_{name}.npy") for name in cls.FILES if name != "offsets"}
        # np.asarray drops numpy.memmap's subclass (whose Python-level hooks slow every slice), not the mapping
        with reading(directory / "sentence_offsets.npy"):
            offsets = load_npy(directory / "sentence_offsets.npy", mmap_mode="r")
        lengths = {name: len(column) for name, column in columns.items()}
        if len(set(lengths.values())) > 1 or (len(offsets) and offsets[-1] != lengths["chunk"]):
            raise IndexDamaged(directory / "sentence_vectors.npy", f"sentence columns disagree: {lengths}")
        return cls(**columns, offsets=offsets)


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
        with reading(self.path, f"line {i + 1} unreadable"):
            return self.decode(json.loads(os.pread(self._file.fileno(), end - start, start)))

    def __iter__(self) -> Iterator:
        with reading(self.path), open(self.path, encoding="utf-8") as lines:  # sequential: no seek per line
            for line in lines:
                yield self.decode(json.loads(line))

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()


class StoredChunks(Sequence[Chunk]):
    """A saved segment's chunks: ``chunks[i]``, ``len(chunks)``, slices and iteration, read from
    chunks.jsonl on demand."""

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
    source: object | None = None  # the RowVectors the labels belong to


class Segment:
    """Chunks, documents, sentences and a keyword index of some documents; immutable once saved.

    A segment's rows are its chunks, documents in doc_id order, each document's chunks together
    (``document_rows``)."""

    def __init__(
        self,
        name: str,
        chunks: Sequence[Chunk],
        documents: Mapping[str, Document],
        document_rows: dict[str, tuple[int, int]],
        sentences: SentenceTable,
        keyword: KeywordIndex,
        directory: Path | None = None,
        files: dict | None = None,
    ):
        self.name = name
        self.chunks = chunks
        self.documents = documents  # a dict in memory; read on demand from a saved segment
        self.document_rows = document_rows  # doc_id -> (first row, number of rows)
        self.sentences = sentences
        self.keyword = keyword
        self.directory = directory  # where it is saved (None: in memory only)
        self.files = files  # when saved: relative path -> [size, checksum] of each of its files

    def __len__(self) -> int:
        return len(self.chunks)

    @classmethod
    def from_parts(cls, parts: Iterable[DocumentPart]) -> Segment:
        parts = sorted(parts, key=lambda part: part.document.doc_id)
        chunks = [chunk for part in parts for chunk in part.chunks]
        sentence_chunk, rows, offset = [], {}, 0
        for part in parts:
            sentence_chunk.append(np.asarray(part.sentences.chunk, dtype=np.int64) + offset)
            rows[part.document.doc_id] = (offset, len(part.chunks))
            offset += len(part.chunks)
        dimension = next((p.sentences.vectors.shape[1] for p in parts if len(p.sentences.vectors)), 0)
        sentences = SentenceTable(
            np.concatenate(sentence_chunk).astype(np.int32) if parts else np.zeros(0, np.int32),
            np.concatenate([p.sentences.start for p in parts]).astype(np.int32) if parts else np.zeros(0, np.int32),
            np.concatenate([p.sentences.end for p in parts]).astype(np.int32) if parts else np.zeros(0, np.int32),
            np.concatenate([p.sentences.vectors for p in parts]).astype(np.float16)
            if parts
            else np.zeros((0, dimension), np.float16),
        ).with_offsets(len(chunks))
        keyword = KeywordIndex.from_tokens([tokens for part in parts for tokens in part.keyword_tokens])
        documents = {part.document.doc_id: part.document for part in parts}
        return cls(new_segment_name(), chunks, documents, rows, sentences, keyword)

    # ---- persistence -------------------------------------------------------------

    def save(self, segments_dir: Path) -> None:
        """Write this segment to ``segments_dir/<name>`` (once: a saved segment never changes). Written to a
        .partial folder and renamed, so a killed build leaves no half segment under its name."""
        target = segments_dir / self.name
        if target.exists():
            if self.files is None:  # saved before checksums were recorded: recorded from now on
                self.files = describe_files(target)
            return
        segments_dir.mkdir(parents=True, exist_ok=True)
        staging = segments_dir / f".{self.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        if self.directory is not None:  # saved elsewhere (an index saved to a new folder): copy it
            shutil.copytree(self.directory, staging)
        else:
            staging.mkdir()
            _write_lines(staging / "chunks.jsonl", (chunk.to_dict() for chunk in self.chunks))
            _write_lines(staging / "documents.jsonl", (document_to_dict(self.documents[d]) for d in self.document_rows))
            rows = [[doc_id, first, count] for doc_id, (first, count) in self.document_rows.items()]
            write_json(staging / "segment.json", {"chunks": len(self.chunks), "documents": rows})
            self.keyword.save(staging / "keyword")
            self.sentences.save(staging, len(self.chunks))
        fsync_tree(staging)
        self.files = describe_files(staging)  # read back from the page cache: what was written
        staging.rename(target)
        self.directory = target

    @classmethod
    def load(cls, segments_dir: Path, name: str, files: dict | None = None) -> Segment:
        """A saved segment; an unreadable file raises IndexDamaged naming it (``files``: its recorded sizes
        and checksums, checked by the caller)."""
        directory = segments_dir / name
        with reading(directory / "segment.json"):
            info = json.loads((directory / "segment.json").read_text(encoding="utf-8"))
            rows = {doc_id: (int(first), int(count)) for doc_id, first, count in info["documents"]}
            if sum(count for _, count in rows.values()) != info["chunks"]:
                raise ValueError("its document rows do not add up to its chunks")
        lines = {}
        kinds = (("chunks", Chunk.from_dict, CHUNK_CACHE), ("documents", document_from_dict, DOCUMENT_CACHE))
        for stem, decode, cache in kinds:
            with reading(directory / f"{stem}_offsets.npy"):
                offsets = _offsets(directory, stem)
                if len(offsets) < 1 or offsets[-1] != (directory / f"{stem}.jsonl").stat().st_size:
                    raise ValueError(f"its offsets do not end where {stem}.jsonl ends")
            with reading(directory / f"{stem}.jsonl"):
                lines[stem] = LineFile(directory / f"{stem}.jsonl", offsets, decode, cache)
        if len(lines["chunks"]) != info["chunks"] or len(lines["documents"]) != len(rows):
            raise IndexDamaged(directory / "segment.json", "its counts differ from the chunks and documents files")
        with reading(directory / "sentence_offsets.npy"):
            sentences = SentenceTable.load(directory)
        with reading(directory / "keyword"), NPY_HEADER_LOCK:  # bm25s reads .npy headers too
            keyword = KeywordIndex.load(directory / "keyword")
        return cls(name, StoredChunks(lines["chunks"]), StoredDocuments(list(rows), lines["documents"]), rows,
                   sentences, keyword, directory, files)  # fmt: skip


class StoredDocuments(Mapping[str, Document]):
    """A saved segment's documents: doc_id -> Document read from documents.jsonl on demand."""

    def __init__(self, ids: list[str], lines: LineFile):
        self.ids = ids
        self.position = {doc_id: i for i, doc_id in enumerate(ids)}
        self.lines = lines

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self.position:
            raise KeyError(doc_id)
        return self.lines.read(self.position[doc_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def new_segment_name() -> str:
    return f"s{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"


# ---- files -----------------------------------------------------------------------------------------


def _write_lines(path: Path, records) -> None:
    """One JSON object a line, and ``<stem>_offsets.npy``: where each line starts (and the file's end)."""
    offsets, position = [0], 0
    with open(path, "wb") as out:
        for record in records:
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            out.write(line)
            position += len(line)
            offsets.append(position)
    np.save(path.with_name(f"{path.stem}_offsets.npy"), np.array(offsets, dtype=np.int64))


def _offsets(directory: Path, stem: str) -> np.ndarray:
    return load_npy(directory / f"{stem}_offsets.npy", mmap_mode="r")


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
