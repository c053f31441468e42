"""PassageIndex: segments (chunks, documents, sentences, keyword index: ``index/segments.py``) beside one
vector store (FAISS or Milvus), and the manifest that says what built them — saved and loaded as one unit.

On disk an index folder holds ``segments/`` (segment folders, written once), version folders (manifest,
vector store, vector labels, translation tables) and a ``CURRENT`` file naming the live version. A save
writes the new segments and a complete new version, then swaps ``CURRENT`` with an atomic rename, so a
build killed at any point leaves the previous index usable; versions and segments the live version does
not use are removed after the swap.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Collection
from pathlib import Path

import numpy as np

from index import integrity
from index.integrity import IndexDamaged, reading
from index.models import ModelInfo
from index.segments import (
    DocumentPart,
    LiveChunks,
    LiveDocuments,
    LiveKeywords,
    LiveRows,
    LiveSentences,
    Segment,
    SentenceTable,
    StoredChunks,
    fsync_tree,
    write_json,
)
from index.stored_arrays import load_npy
from index.stores import VectorStore, create_store, load_store, same_store_kind
from index.translate import QueryTranslator

# 4: segments (index/segments.py) with deletions in the manifest; vector labels by live row.
FORMAT_VERSION = 4
CURRENT = "CURRENT"
SEGMENTS = "segments"
# When an update merges segments (a rewrite of their live documents; no re-embedding), as Lucene's log merge
# policy does. Deleted rows cost disk and a little keyword IDF accuracy; many segments cost a lookup each per
# question token; a merge holds its segments' sentences and keyword tokens in memory, so it is bounded.
MERGE_DELETED_SHARE = 0.25  # a segment whose deleted rows pass this share of its rows is rewritten
MERGE_FACTOR = 8  # this many segments of one size tier are merged into one of the next tier
TIER_BASE_ROWS = 1000  # tier t holds segments of TIER_BASE_ROWS * MERGE_FACTOR**t rows and up
MAX_MERGED_ROWS = 100_000  # no merge writes a larger segment (~1 GB of sentence vectors and tokens in memory)


class IndexNotFound(RuntimeError):
    pass


class IndexMismatch(RuntimeError):
    """The index was built with another model than the one asked for."""


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
        segments: list[Segment],
        deleted: list[frozenset[str]],  # per segment: its documents deleted since it was written
        vectors: RowVectors,  # the vector store by live row: row i = chunks[i]
        translator: QueryTranslator,
    ):
        self.manifest = manifest
        self.segments = segments
        self.deleted = deleted
        self.live = LiveRows(segments, deleted)
        self.chunks = LiveChunks(self.live)
        self.documents = LiveDocuments(self.live)
        self.sentences = LiveSentences(self.live)
        self.keyword = LiveKeywords(self.live)
        self.vectors = vectors
        self.translator = translator
        self.directory: Path | None = None  # where it was loaded from (None: built in memory)
        if len(vectors.labels) != len(self.chunks):
            raise ValueError(f"{len(vectors.labels)} vector labels for {len(self.chunks)} chunks")

    @classmethod
    def create(
        cls,
        parts: list[DocumentPart],
        model: ModelInfo,
        build_settings: dict,
        corpus_dir: Path | None = None,
        vector_store: str | None = None,
    ) -> PassageIndex:
        """A new index of these parts, in one segment.

        When the parts come from one existing vector store of the kind asked for, that store is updated in
        place (vectors of documents not among the parts removed, new ones added); otherwise a new store is
        filled (``vector_store`` is a URI, default $CITELENS_VECTOR_STORE or FAISS)."""
        segment = Segment.from_parts(parts)
        by_id = {part.document.doc_id: part for part in parts}
        vectors = _assemble_vectors([by_id[doc_id] for doc_id in segment.document_rows], model.dimension, vector_store)
        translator = QueryTranslator.build(segment.keyword.vocabulary)
        manifest = {
            "model": model.to_dict(),
            "build": build_settings,
            "corpus": str(Path(corpus_dir).resolve()) if corpus_dir else None,
            "documents": {part.document.doc_id: _document_entry(part, segment.name) for part in parts},
        }
        return cls(_stamped(manifest, [segment], [frozenset()], vectors), [segment], [frozenset()], vectors, translator)

    def update(
        self,
        parts: list[DocumentPart],
        removed: Collection[str],
        corpus_dir: Path | None = None,
        vector_store: str | None = None,
    ) -> PassageIndex:
        """This index without the documents in ``removed`` and with ``parts`` (a changed document is in
        both): one new segment for the parts, the old copies marked deleted, the vector store updated in
        place. The work follows the change, not the collection, until deleted rows or segments pile up and
        a merge rewrites segments (``merge_candidates``)."""
        removed = set(removed) & set(self.documents)
        if not _same_store_kind(self.vectors.store, vector_store):  # another store asked for: one new index
            kept = [part for doc_id, part in self.parts().items() if doc_id not in removed]
            return PassageIndex.create(kept + list(parts), self.model, self.manifest["build"], corpus_dir, vector_store)
        deleted = [set(gone) for gone in self.deleted]
        keep = np.ones(len(self.chunks), bool)
        for doc_id in removed:
            s = self.documents.segment_of[doc_id]
            deleted[s].add(doc_id)
            first, count = self.segments[s].document_rows[doc_id]
            live = self.live.to_live[s][first : first + count]
            keep[live] = False
        store = self.vectors.store
        store.remove(self.vectors.labels[~keep])
        labels = [self.vectors.labels[keep]]
        segments = list(self.segments)
        entries = {doc_id: entry for doc_id, entry in self.manifest["documents"].items() if doc_id not in removed}
        translator = self.translator
        if parts:
            segment = Segment.from_parts(parts)
            by_id = {part.document.doc_id: part for part in parts}
            next_label = self.vectors.next_label()
            for doc_id in segment.document_rows:
                part = by_id[doc_id]
                new = np.arange(next_label, next_label + len(part.chunks), dtype=np.int64)
                next_label += len(new)
                if len(new):
                    store.add(new, np.asarray(part.vectors, dtype=np.float32))
                labels.append(new)
                entries[doc_id] = _document_entry(part, segment.name)
            segments.append(segment)
            deleted.append(set())
            translator = translator.extended(segment.keyword.vocabulary)  # the new words' translations
        frozen = [frozenset(gone) for gone in deleted]
        vectors = RowVectors(store, np.concatenate(labels))
        manifest = {**self.manifest, "documents": entries}
        if corpus_dir:
            manifest["corpus"] = str(Path(corpus_dir).resolve())
        index = PassageIndex(_stamped(manifest, segments, frozen, vectors), segments, frozen, vectors, translator)
        return index.merged()

    def merged(self) -> PassageIndex:
        """This index with segments merged where the policy asks (see ``update``), else itself: a segment
        with more than ``MERGE_DELETED_SHARE`` of its rows deleted is rewritten (with the others of its kind,
        up to ``MAX_MERGED_ROWS``), and ``MERGE_FACTOR`` segments of one size tier become one, so an index
        holds a few segments per tier and each row is rewritten once per tier, not once per update."""
        group = merge_candidates([len(segment) for segment in self.segments], [len(r) for r in self.live.local])
        return self.merge(group).merged() if group else self

    def merge(self, which) -> PassageIndex:
        """Segments ``which`` rewritten as one new segment of their live documents (placed last; none when
        they hold no live document). Vectors are not touched: they stay in the store under their labels."""
        which = sorted(set(which))
        parts = [part for s in which for part in self._segment_parts(s)]
        by_id = {part.document.doc_id: part for part in parts}
        others = [s for s in range(len(self.segments)) if s not in which]
        segments = [self.segments[s] for s in others]
        deleted = [self.deleted[s] for s in others]
        bases = self.live.bases
        labels = [self.vectors.labels[bases[s] : bases[s + 1]] for s in others]
        entries = dict(self.manifest["documents"])
        if parts:
            merged = Segment.from_parts(parts)
            segments.append(merged)
            deleted.append(frozenset())
            labels += [np.asarray(by_id[doc_id].labels, dtype=np.int64) for doc_id in merged.document_rows]
            entries |= {doc_id: {**entries[doc_id], "segment": merged.name} for doc_id in by_id}
        vectors = RowVectors(self.vectors.store, np.concatenate(labels) if labels else np.zeros(0, np.int64))
        translator = QueryTranslator.build(LiveKeywords(LiveRows(segments, deleted)).vocabulary)
        manifest = _stamped({**self.manifest, "documents": entries}, segments, deleted, vectors)
        return PassageIndex(manifest, segments, deleted, vectors, translator)

    def spill(self, directory: Path) -> PassageIndex:
        """This index with its segments that are still in memory written to ``directory`` and read back
        from there (a build's batch leaves memory). Nothing is made live: ``save`` does that."""
        segments = []
        for segment in self.segments:
            if not isinstance(segment.chunks, StoredChunks):
                segment.save(Path(directory) / SEGMENTS)
                segment = Segment.load(Path(directory) / SEGMENTS, segment.name, segment.files)
            segments.append(segment)
        return PassageIndex(self.manifest, segments, self.deleted, self.vectors, self.translator)

    def parts(self) -> dict[str, DocumentPart]:
        """This index split back into per-document parts (no re-embedding), for rebuilds and merges.

        Their vectors stay in the store (fetched only if the next index does not reuse the store)."""
        return {part.document.doc_id: part for s in range(len(self.segments)) for part in self._segment_parts(s)}

    def part(self, doc_id: str) -> DocumentPart:
        """One live document's part."""
        s = self.documents.segment_of[doc_id]
        return next(part for part in self._segment_parts(s, {doc_id}) if part.document.doc_id == doc_id)

    def _segment_parts(self, s: int, only: Collection[str] | None = None) -> list[DocumentPart]:
        segment, table = self.segments[s], self.segments[s].sentences
        tokens = segment.keyword.tokens
        parts = []
        for doc_id, (first, count) in segment.document_rows.items():
            if doc_id in self.deleted[s] or (only is not None and doc_id not in only):
                continue
            live = int(self.live.to_live[s][first]) if count else 0
            labels = self.vectors.labels[live : live + count]
            rows = slice(int(table.offsets[first]), int(table.offsets[first + count]))
            parts.append(
                DocumentPart(
                    segment.documents[doc_id],
                    list(segment.chunks[first : first + count]),
                    StoredVectors(self.vectors.store, labels),
                    SentenceTable(table.chunk[rows] - first, table.start[rows], table.end[rows], table.vectors[rows]),
                    tokens[first : first + count],
                    labels,
                    self.vectors,
                )
            )
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
        """Write new segments and a new version folder, then atomically point CURRENT at the version."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for segment in self.segments:
            segment.save(directory / SEGMENTS)
        version = f"v{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        staging = directory / f".{version}.partial"
        staging.mkdir()
        self.manifest["vector_index"] = self.vectors.store.save(staging)
        np.save(staging / "vector_labels.npy", self.vectors.labels)
        write_json(staging / "translation.json", self.translator.to_dict())
        for entry, segment in zip(self.manifest["segments"], self.segments, strict=True):
            entry["files"] = segment.files  # recorded when the segment was written (or first re-saved)
        # A hard-linked vector file keeps the digest this process computed for it (the build verified it).
        self.manifest["files"] = integrity.describe_files(staging, cached=True)
        self.manifest["checksum"] = integrity.manifest_checksum(self.manifest)
        write_json(staging / "manifest.json", self.manifest)
        fsync_tree(staging)
        staging.rename(directory / version)
        pointer = directory / f".{CURRENT}.{version}"
        pointer.write_text(version + "\n", encoding="utf-8")
        os.replace(pointer, directory / CURRENT)
        _prune(directory, keep=version, segments={segment.name for segment in self.segments})
        self.vectors.store.published(directory / version)
        return directory / version

    @classmethod
    def load(cls, directory: Path, model: ModelInfo | None = None, drop: Collection[str] = ()) -> PassageIndex:
        """The live version. Every file's size is checked first (and its checksum in a small index); any
        damage is an ``IndexDamaged`` naming the file. ``drop``: segments left out, their documents with
        them (a build over damaged segments indexes those documents again)."""
        for attempt in range(2):
            version_dir = live_version(directory)
            try:
                index = cls._load(Path(directory), version_dir, drop)
                break
            except (IndexDamaged, IndexNotFound):
                # A build switched versions and removed this one while it was read: read the new one.
                if attempt or _pointer(Path(directory)) == version_dir.name:
                    raise
        if model is not None:
            index.check_model(model)
        return index

    @classmethod
    def _load(cls, directory: Path, version_dir: Path, drop: Collection[str]) -> PassageIndex:
        manifest_path = version_dir / "manifest.json"
        with reading(manifest_path):
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not an index manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"{directory} has index format {manifest.get('format_version')}, this CiteLens reads "
                f"{FORMAT_VERSION}; rebuild it with: python -m index build --index {directory}"
            )
        integrity.check_manifest(manifest, manifest_path)
        with reading(manifest_path, "unexpected content"):
            entries = [entry for entry in manifest["segments"] if entry["name"] not in drop]
            full = integrity.recorded_bytes(manifest) <= integrity.FULL_CHECK_AT_LOAD_BYTES
        integrity.check_files(version_dir, manifest.get("files"), full)
        for entry in entries:
            integrity.check_files(directory / SEGMENTS / entry["name"], entry.get("files"), full)
        segments = [Segment.load(directory / SEGMENTS, entry["name"], entry.get("files")) for entry in entries]
        deleted = [frozenset(entry["deleted"]) for entry in entries]
        description = manifest.get("vector_index")
        with reading(version_dir / "vectors.faiss"):
            store = load_store(version_dir, description if isinstance(description, dict) else None)
        with reading(version_dir / "vector_labels.npy"):
            labels = load_npy(version_dir / "vector_labels.npy")
        if drop:
            with reading(manifest_path, "does not match the vector labels"):
                manifest, labels = _without_segments(manifest, labels, set(drop), store)
        with reading(version_dir / "translation.json"):
            translation = QueryTranslator.from_dict(
                json.loads((version_dir / "translation.json").read_text(encoding="utf-8"))
            )
        with reading(version_dir / "vector_labels.npy", "does not match the segments"):
            index = cls(manifest, segments, deleted, RowVectors(store, labels), translation)
        index.directory = directory
        return index


def _pointer(directory: Path) -> str:
    try:
        return (directory / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _without_segments(manifest: dict, labels: np.ndarray, drop: set[str], store: VectorStore):
    """The manifest and vector labels without these segments and their documents (removed from the store);
    each segment's live rows are its documents' chunks in the manifest, segment after segment."""
    live = {entry["name"]: 0 for entry in manifest["segments"]}
    for entry in manifest["documents"].values():
        live[entry["segment"]] += entry["chunks"]
    if sum(live.values()) != len(labels):
        raise ValueError(f"{len(labels)} vector labels for {sum(live.values())} chunks in the manifest")
    kept, gone, first = [], [], 0
    for entry in manifest["segments"]:
        rows = labels[first : first + live[entry["name"]]]
        (gone if entry["name"] in drop else kept).append(rows)
        first += live[entry["name"]]
    if gone:
        store.remove(np.concatenate(gone))
    documents = {doc_id: e for doc_id, e in manifest["documents"].items() if e["segment"] not in drop}
    segments = [entry for entry in manifest["segments"] if entry["name"] not in drop]
    out = {**manifest, "documents": documents, "segments": segments}
    return out, np.concatenate(kept) if kept else np.zeros(0, np.int64)


def merge_candidates(rows: list[int], live: list[int]) -> list[int]:
    """Which segments the next merge rewrites (none: no merge is due), from each segment's rows on disk and
    live rows: the most worn ones (deleted share over ``MERGE_DELETED_SHARE``), else ``MERGE_FACTOR``
    segments of the lowest full size tier; never more than ``MAX_MERGED_ROWS`` live rows but for one worn
    segment alone."""
    worn = [s for s in range(len(rows)) if rows[s] and rows[s] - live[s] > MERGE_DELETED_SHARE * rows[s]]
    if worn:
        group, total = [], 0
        for s in sorted(worn, key=lambda s: live[s]):
            if group and total + live[s] > MAX_MERGED_ROWS:
                break
            group.append(s)
            total += live[s]
        return group
    tiers: dict[int, list[int]] = {}
    for s, count in enumerate(live):
        tier = int(math.log(count / TIER_BASE_ROWS, MERGE_FACTOR)) if count > TIER_BASE_ROWS else 0
        tiers.setdefault(tier, []).append(s)
    for tier in sorted(tiers):
        group = sorted(tiers[tier], key=lambda s: live[s])[:MERGE_FACTOR]
        if len(group) == MERGE_FACTOR and sum(live[s] for s in group) <= MAX_MERGED_ROWS:
            return sorted(group)
    return []


def _document_entry(part: DocumentPart, segment: str) -> dict:
    document = part.document
    return {
        "title": document.title,
        "content_hash": document.content_hash,
        "date": document.date,
        "paragraphs": len(document.paragraphs),
        "chunks": len(part.chunks),
        "segment": segment,
    }


def _stamped(manifest: dict, segments: list[Segment], deleted: list[frozenset[str]], vectors: RowVectors) -> dict:
    """The manifest with what every version states afresh: format, time, segments, counts, store."""
    live = LiveRows(segments, deleted)
    return {
        **manifest,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "vector_index": vectors.store.describe(),
        "keyword_index": "bm25s over jieba search-mode tokens, one index a segment",
        "segments": [
            {"name": segment.name, "chunks": len(segment), "deleted": sorted(gone)}
            for segment, gone in zip(segments, deleted, strict=True)
        ],
        "counts": {
            "documents": len(manifest["documents"]),
            "chunks": len(live),
            "sentences": len(LiveSentences(live)),
            "segments": len(segments),
            "deleted_chunks": live.rows - len(live),
        },
    }


def _same_store_kind(store: VectorStore, uri: str | None) -> bool:
    """Whether ``store`` is the kind of store the URI asks for (so it can be updated in place)."""
    return same_store_kind(store, uri)


def _assemble_vectors(parts: list[DocumentPart], dimension: int, uri: str | None) -> RowVectors:
    """The parts' vectors by row: in the one existing store they all come from when it is of the kind
    asked for (updated in place), else in a new store."""
    sources = {id(part.source): part.source for part in parts if part.source is not None}
    source = next(iter(sources.values())) if len(sources) == 1 else None
    if source is None or not _same_store_kind(source.store, uri):  # a new store, filled from every part
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
        if any(directory.glob("v*/manifest.json")):  # versions but no pointer: the pointer was lost
            raise IndexDamaged(pointer, "missing")
        raise IndexNotFound(
            f"No index at {directory}. Build one with: python -m index build --corpus DIR --index {directory}"
        )
    with reading(pointer):
        name = pointer.read_text(encoding="utf-8").strip()
    if not name.startswith("v") or "/" in name or "\\" in name:
        raise IndexDamaged(pointer, "it does not name a version")
    version_dir = directory / name
    if not version_dir.is_dir():
        raise IndexDamaged(pointer, f"it names {name}, which is missing")
    if not (version_dir / "manifest.json").exists():
        raise IndexDamaged(version_dir / "manifest.json", "missing")
    return version_dir


def read_manifest(directory: Path) -> dict:
    path = live_version(directory) / "manifest.json"
    with reading(path):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("model"), dict):
            raise ValueError("not an index manifest")
    integrity.check_manifest(manifest, path)
    return manifest


def _prune(directory: Path, keep: str, segments: set[str]) -> None:
    """Remove older versions, segments the live version does not use, and leftovers of killed builds
    (never the live ones). A process still searching an older version keeps its open files."""
    for path in directory.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith("v") or path.name.endswith(".partial")):
            shutil.rmtree(path, ignore_errors=True)
    for path in (directory / SEGMENTS).iterdir() if (directory / SEGMENTS).is_dir() else ():
        if path.is_dir() and path.name not in segments:
            shutil.rmtree(path, ignore_errors=True)
