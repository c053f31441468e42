"""What the FAISS stores share: one index made by ``faiss.index_factory`` holding its labels itself (an
IDMap2, or IVF's own ids), search in inner-product terms, one thread for a few questions, and saves that
link the last whole file and write only the change beside it."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import numpy as np

from index.stores.base import VectorStore, f32, i64

# A save after small updates writes only the change: the last whole file is hard-linked into the new
# version and the vectors added and labels removed since go beside it (vectors.delta.npz), while they are
# at most this share of the store; then the whole file is written again.
DELTA_SHARE = 0.1
EMPTY = "IDMap2,Flat"  # what an empty store without an index (IVF before its first vectors) saves


class StoreConfig:
    """Base of the frozen per-kind config dataclasses: read back from a store description."""

    @classmethod
    def from_description(cls, description: dict):
        return cls(**{field.name: description[field.name] for field in fields(cls) if field.name in description})


class FaissStore(VectorStore):
    """One FAISS index from ``factory()``; subclasses (flat.py, ivf.py, hnsw.py) say which and tune it."""

    config_type: type = StoreConfig
    metric = "INNER_PRODUCT"  # faiss.METRIC_<metric>
    keeps_deltas = True  # a save after a small change writes only the change (DELTA_SHARE)

    def __init__(self, dimension: int, config=None):
        self.dimension = int(dimension)
        self.config = config if config is not None else self.config_type()
        self.index = self._empty()
        self._forget_base()

    @property
    def policy(self) -> str:
        """The URI kind that asks for this store (``faiss:<kind>``)."""
        return self.kind

    # ---- what a kind decides ----------------------------------------------------------------

    def factory(self) -> str:
        """The ``faiss.index_factory`` description of this store's index."""
        raise NotImplementedError

    def _empty(self):
        import faiss

        return faiss.index_factory(self.dimension, self.factory(), getattr(faiss, f"METRIC_{self.metric}"))

    def labels(self) -> np.ndarray:
        """Every label the store holds."""
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def _add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        if len(labels):
            self.index.add_with_ids(vectors, labels)

    def _remove(self, labels: np.ndarray) -> None:
        import faiss

        self.index.remove_ids(faiss.IDSelectorBatch(labels))

    def _search_parameters(self, k: int, allowed: np.ndarray | None = None):
        import faiss

        return None if allowed is None else faiss.SearchParameters(sel=selector(allowed))

    def _described(self) -> dict:
        return {}

    def _adopt(self, index):
        """The loaded FAISS index as this store holds it (an index of format 2: rows are labels)."""
        import faiss

        if isinstance(index, faiss.IndexIDMap2):
            return index
        return faiss.IndexIDMap2(index) if index.ntotal == 0 else _wrap_rows(index)

    def _save_beside(self, directory: Path) -> None:
        pass

    def _load_beside(self, directory: Path, description: dict) -> None:
        pass

    # ---- what was saved: a whole file, and the change since (see DELTA_SHARE) ------------------

    def _forget_base(self) -> None:
        """The next save writes the whole file (the state no longer derives from the saved one)."""
        self.base: Path | None = None  # the whole file this store is (base + delta) of
        self.staged: Path | None = None  # the file the last save wrote or linked, until published
        self.added_labels = np.zeros(0, np.int64)
        self.added_vectors = np.zeros((0, self.dimension), np.float32)
        self.removed_labels = np.zeros(0, np.int64)

    def _note_added(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        if self.base is not None:
            self.added_labels = np.concatenate([self.added_labels, labels])
            self.added_vectors = np.concatenate([self.added_vectors, vectors])

    def _note_removed(self, labels: np.ndarray) -> None:
        if self.base is None:
            return
        added = np.isin(self.added_labels, labels)
        if added.any():  # added since the base and removed again: the base never held them
            again = self.added_labels[added]
            self.added_labels, self.added_vectors = self.added_labels[~added], self.added_vectors[~added]
            labels = labels[~np.isin(labels, again)]
        self.removed_labels = np.concatenate([self.removed_labels, labels])

    # ---- the interface -----------------------------------------------------------------------

    def _checked(self, labels, vectors) -> tuple[np.ndarray, np.ndarray]:
        labels, vectors = i64(labels), f32(vectors, self.dimension)
        if len(labels) != len(vectors):
            raise ValueError("labels and vectors differ in number")
        return labels, vectors

    def add(self, labels, vectors) -> None:
        labels, vectors = self._checked(labels, vectors)
        self._note_added(labels, vectors)
        self._add(labels, vectors)

    def remove(self, labels) -> None:
        labels = i64(labels)
        if len(labels) == 0:
            return
        self._note_removed(labels)
        self._remove(labels)

    def search(self, queries, k: int, allowed=None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        queries = f32(queries, self.dimension)
        k = max(1, min(int(k), self.count()))
        allowed = None if allowed is None else self._searchable(np.unique(i64(allowed)))
        if self.count() == 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        with threads(1 if len(queries) <= 4 else 0):
            scores, labels = self._search(queries, k if allowed is None else min(k, len(allowed)), allowed)
        if self.index.metric_type == faiss.METRIC_L2:  # squared distance → inner product (unit stored vectors)
            scores = (np.square(queries).sum(1, keepdims=True) + 1.0 - scores) / 2
        return scores.astype(np.float32), labels

    def _searchable(self, allowed: np.ndarray) -> np.ndarray:
        """The allowed labels a search may return (HNSW leaves out the ones it hides)."""
        return allowed

    def _search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None):
        """The FAISS search, ``allowed`` in a selector among this kind's parameters."""
        return self.index.search(queries, k, params=self._search_parameters(k, allowed))

    def get(self, labels) -> np.ndarray:
        labels = i64(labels)
        if len(labels) == 0:
            return np.zeros((0, self.dimension), np.float32)
        return np.asarray(self.index.reconstruct_batch(labels), dtype=np.float32).reshape(len(labels), self.dimension)

    def count(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    def describe(self) -> dict:
        from index.stores.auto import EXACT_BELOW  # every FAISS description has carried it: kept as it was

        description = {"store": "faiss", "kind": self.kind, "policy": self.policy, "exact_below": EXACT_BELOW}
        return description | self._described()

    def save(self, directory: Path) -> dict:
        import faiss

        directory = Path(directory)
        target = directory / "vectors.faiss"
        change = len(self.added_labels) + len(self.removed_labels)
        if (
            self.keeps_deltas
            and self.base is not None
            and self.base.exists()
            and change <= DELTA_SHARE * max(1, self.count())
        ):
            try:  # the whole file is the base's: the same bytes, not written again
                os.link(self.base, target)
            except OSError:  # a file system without hard links
                shutil.copyfile(self.base, target)
            if change:
                np.savez(
                    directory / "vectors.delta.npz",
                    added_labels=self.added_labels,
                    added_vectors=self.added_vectors,
                    removed_labels=self.removed_labels,
                )
        else:
            index = self.index
            if index is None:
                index = faiss.index_factory(self.dimension, EMPTY, faiss.METRIC_INNER_PRODUCT)
            faiss.write_index(index, str(target))
            self._forget_base()
        self._save_beside(directory)
        self.staged = target
        return self.describe()

    def published(self, directory: Path) -> None:
        if self.keeps_deltas and self.staged is not None:
            self.base, self.staged = Path(directory) / self.staged.name, None

    @classmethod
    def load(cls, directory: Path, description: dict) -> FaissStore:
        import faiss

        directory = Path(directory)
        index = faiss.read_index(str(directory / "vectors.faiss"))
        store = cls(index.d, cls.config_type.from_description(description))
        store.index = store._adopt(index)
        store._load_beside(directory, description)
        delta = directory / "vectors.delta.npz"
        if delta.exists():  # the change since the whole file: applied, and kept for the next save
            with np.load(delta) as change:
                removed, added = change["removed_labels"], change["added_labels"]
                vectors = change["added_vectors"]
            if store.index is not None and len(removed):
                store._remove(i64(removed))
            store._add(added, vectors)
            store.added_labels, store.added_vectors, store.removed_labels = added, vectors, removed
        if store.keeps_deltas:
            store.base = directory / "vectors.faiss"
        return store


def selector(labels: np.ndarray):
    """The labels as a FAISS selector for searches: a hash set behind a Bloom filter (IDSelectorArray scans
    its whole array for each vector tested). Under an IDMap it is translated to the map's rows by FAISS."""
    import faiss

    return faiss.IDSelectorBatch(i64(labels))


def breadth(setting: int, total: int, allowed: int) -> int:
    """An approximate search's breadth (IVF lists read, HNSW candidates kept) under a filter keeping
    ``allowed`` of ``total`` vectors: widened by the share left out, so that it meets about as many allowed
    vectors as an unfiltered search meets vectors (FAISS only skips the others; it does not look further)."""
    return int(np.ceil(setting * max(total, allowed) / max(1, allowed)))


@contextmanager
def threads(count: int):
    """One OpenMP thread for a question or a few: on a busy 2-core machine two threads wait on each other
    (measured: exact search of one question over 100k vectors, 8.6 ms with one thread, 40 ms with two)."""
    import faiss

    if count <= 0:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _wrap_rows(index):
    import faiss

    wrapped = faiss.index_factory(index.d, EMPTY, faiss.METRIC_INNER_PRODUCT)
    wrapped.add_with_ids(index.reconstruct_n(0, index.ntotal), np.arange(index.ntotal, dtype=np.int64))
    return wrapped
