"""PassageIndex: segments (chunks, documents, sentences, keyword index: ``index/segments.py``) beside one
vector store (FAISS or Milvus), and the manifest that says what built them — saved and loaded as one unit
(the folder's layout: ``index/versions.py``)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import numpy as np

from index import integrity
from index.integrity import reading
from index.live_view import LiveChunks, LiveDocuments, LiveKeywords, LiveRows, LiveSentences
from index.merge_policy import DEFAULT_MERGE_POLICY, MergePolicy, merge_candidates
from index.models import ModelInfo
from index.segments import DocumentPart, Segment, SentenceTable, StoredChunks, write_json
from index.stored_arrays import load_npy
from index.stores import VectorStore, create_store, is_milvus, load_store, same_store_kind
from index.translate import QueryTranslator
from index.versions import (
    SEGMENTS,
    check_model,
    checked_version,
    document_entry,
    live_version,
    new_version,
    publish,
    read_live,
    stamped,
    without_segments,
)


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
    labels to rows and back.
    """

    def __init__(self, store: VectorStore, labels: np.ndarray):
        self.store = store
        self.labels = np.ascontiguousarray(labels, dtype=np.int64)
        self.identity = bool(np.array_equal(self.labels, np.arange(len(self.labels))))
        if not self.identity:
            self._order = np.argsort(self.labels, kind="stable")
            self._sorted = self.labels[self._order]

    def rows(self, labels: np.ndarray) -> np.ndarray:
        """Rows of these labels; -1 for labels this index does not hold."""
        labels = np.asarray(labels, dtype=np.int64)
        if self.identity:
            return np.where((labels >= 0) & (labels < len(self.labels)), labels, -1)
        if len(self._sorted) == 0:
            return np.full(labels.shape, -1, dtype=np.int64)
        at = np.clip(np.searchsorted(self._sorted, labels), 0, len(self._sorted) - 1)
        return np.where(self._sorted[at] == labels, self._order[at], -1)

    def search(self, queries: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest, by row; ``rows``: the rows searched (their labels filter the store's search)."""
        scores, labels = self.store.search(queries, k, None if rows is None else self.labels[rows])
        return scores, self.rows(labels)

    def reconstruct_batch(self, rows) -> np.ndarray:
        return self.store.get(self.labels[np.asarray(rows, dtype=np.int64)])

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
        filled (``vector_store`` is a URI, default $CITELENS_VECTOR_STORE or FAISS). A Milvus URI makes an
        index kept wholly in Milvus (``index.milvus_index``)."""
        from index import settings

        if is_milvus(settings.vector_store_uri(vector_store)):
            from index.milvus_index import MilvusPassageIndex

            return MilvusPassageIndex.create(parts, model, build_settings, corpus_dir, vector_store)
        segment = Segment.from_parts(parts)
        by_id = {part.document.doc_id: part for part in parts}
        vectors = _assemble_vectors([by_id[doc_id] for doc_id in segment.document_rows], model.dimension, vector_store)
        translator = QueryTranslator.build(segment.keyword.vocabulary)
        manifest = {
            "model": model.to_dict(),
            "build": build_settings,
            "corpus": str(Path(corpus_dir).resolve()) if corpus_dir else None,
            "documents": {part.document.doc_id: document_entry(part, segment.name) for part in parts},
        }
        return cls(stamped(manifest, [segment], [frozenset()], vectors), [segment], [frozenset()], vectors, translator)

    def update(
        self,
        parts: list[DocumentPart],
        removed: Collection[str],
        corpus_dir: Path | None = None,
        vector_store: str | None = None,
        merge_policy: MergePolicy = DEFAULT_MERGE_POLICY,
    ) -> PassageIndex:
        """This index without the documents in ``removed`` and with ``parts`` (a changed document is in
        both): one new segment for the parts, the old copies marked deleted, the vector store updated in
        place. The work follows the change, not the collection, until deleted rows or segments pile up and
        a merge rewrites segments (``merge_policy``: ``index.merge_policy``)."""
        removed = set(removed) & set(self.documents)
        if not same_store_kind(self.vectors.store, vector_store):  # another store asked for: one new index
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
                entries[doc_id] = document_entry(part, segment.name)
            segments.append(segment)
            deleted.append(set())
            translator = translator.extended(segment.keyword.vocabulary)  # the new words' translations
        frozen = [frozenset(gone) for gone in deleted]
        vectors = RowVectors(store, np.concatenate(labels))
        manifest = {**self.manifest, "documents": entries}
        if corpus_dir:
            manifest["corpus"] = str(Path(corpus_dir).resolve())
        index = PassageIndex(stamped(manifest, segments, frozen, vectors), segments, frozen, vectors, translator)
        return index.merged(merge_policy)

    def merged(self, policy: MergePolicy = DEFAULT_MERGE_POLICY) -> PassageIndex:
        """This index with segments merged where the policy asks (see ``update``), else itself: a segment
        with more than ``policy.deleted_share`` of its rows deleted is rewritten (with the others of its kind,
        up to ``policy.max_merged_rows``), and ``policy.factor`` segments of one size tier become one, so an
        index holds a few segments per tier and each row is rewritten once per tier, not once per update."""
        sizes = [len(segment) for segment in self.segments]
        group = merge_candidates(sizes, [len(r) for r in self.live.local], policy)
        return self.merge(group).merged(policy) if group else self

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
        manifest = stamped({**self.manifest, "documents": entries}, segments, deleted, vectors)
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
        check_model(self.manifest["model"], model)

    def dense_search(
        self, query_vectors: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk rows) of the k nearest chunks per query, among ``rows`` if given (live chunk rows);
        rows are -1 where fewer were found."""
        k = min(k, len(self.chunks) if rows is None else len(rows))
        if k < 1:
            empty = np.zeros((len(query_vectors), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        return self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k, rows)

    def keyword_scorer(self):
        from index.search.keyword_scores import KeywordScorer

        return KeywordScorer(self)

    def document_info(self, doc_id: str):
        from index.search.assemble import document_info

        return document_info(self, doc_id)

    def stale(self) -> bool:
        """False: the version it loaded stays whole while it is read (a process reopens the folder to see a
        newer one)."""
        return False

    def prefetch(self, rows) -> None:
        """Nothing: a loaded index reads its records from disk when asked (the Milvus index reads ahead)."""

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
        staging = new_version(directory)
        self.manifest["vector_index"] = self.vectors.store.save(staging)
        np.save(staging / "vector_labels.npy", self.vectors.labels)
        write_json(staging / "translation.json", self.translator.to_dict())
        for entry, segment in zip(self.manifest["segments"], self.segments, strict=True):
            entry["files"] = segment.files  # recorded when the segment was written (or first re-saved)
        version = publish(staging, self.manifest, segments={segment.name for segment in self.segments})
        self.vectors.store.published(version)
        return version

    @classmethod
    def load(
        cls,
        directory: Path,
        model: ModelInfo | None = None,
        drop: Collection[str] = (),
        full_check_bytes: int = integrity.FULL_CHECK_AT_LOAD_BYTES,
    ) -> PassageIndex:
        """The live version. Every file's size is checked first (and its checksum when the index holds at
        most ``full_check_bytes``); any damage is an ``IndexDamaged`` naming the file. ``drop``: segments
        left out, their documents with them (a build over damaged segments indexes those documents again)."""
        directory = Path(directory)
        from index.milvus_index import MilvusPassageIndex, read_pointer

        if read_pointer(directory):  # the folder points at an index kept in Milvus
            return MilvusPassageIndex.load(directory, model)
        index = read_live(directory, lambda version_dir: cls._load(directory, version_dir, drop, full_check_bytes))
        if model is not None:
            index.check_model(model)
        return index

    @classmethod
    def _load(cls, directory: Path, version_dir: Path, drop: Collection[str], full_check_bytes: int) -> PassageIndex:
        manifest, entries = checked_version(directory, version_dir, drop, full_check_bytes)
        segments = [Segment.load(directory / SEGMENTS, entry["name"], entry.get("files")) for entry in entries]
        deleted = [frozenset(entry["deleted"]) for entry in entries]
        with reading(version_dir / "vectors.faiss"):
            store = load_store(version_dir, manifest["vector_index"])
        with reading(version_dir / "vector_labels.npy"):
            labels = load_npy(version_dir / "vector_labels.npy")
        if drop:
            with reading(version_dir / "manifest.json", "does not match the vector labels"):
                manifest, labels = without_segments(manifest, labels, set(drop), store)
        with reading(version_dir / "translation.json"):
            translation = QueryTranslator.from_dict(
                json.loads((version_dir / "translation.json").read_text(encoding="utf-8"))
            )
        with reading(version_dir / "vector_labels.npy", "does not match the segments"):
            index = cls(manifest, segments, deleted, RowVectors(store, labels), translation)
        index.directory = directory
        return index


def _assemble_vectors(parts: list[DocumentPart], dimension: int, uri: str | None) -> RowVectors:
    """The parts' vectors by row: in the one existing store they all come from when it is of the kind
    asked for (updated in place), else in a new store."""
    sources = {id(part.source): part.source for part in parts if part.source is not None}
    source = next(iter(sources.values())) if len(sources) == 1 else None
    if source is None or not same_store_kind(source.store, uri):  # a new store, filled from every part
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


def read_manifest(directory: Path) -> dict:
    from index.milvus_index import read_milvus_manifest, read_pointer

    if pointer := read_pointer(directory):
        return read_milvus_manifest(pointer)
    path = live_version(directory) / "manifest.json"
    with reading(path):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("model"), dict):
            raise ValueError("not an index manifest")
    integrity.check_manifest(manifest, path)
    return manifest
