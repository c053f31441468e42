"""HNSW graph over float16 vectors: the previous default, kept for indexes that were built with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.stores.base import i64
from index.stores.faiss_base import FaissStore, StoreConfig, breadth, selector

# HNSW over unit vectors with the L2 metric (the same ranking as inner product, and a better graph: on
# 100k synthetic passages with real questions, recall@10 .985 at efSearch 256 against .978 with the IP
# metric); efConstruction 200 and efSearch 512 reach recall@10 ≥ .99 at 100k in ~2 ms (bench/README.md).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 512
REBUILD_DELETED_SHARE = 0.2  # HNSW cannot delete: removed labels are filtered out until this share
CODES = {"fp16": "SQfp16", "sq8": "SQ8", "flat": "Flat"}  # storage → the factory's vector codes


@dataclass(frozen=True)
class HNSWConfig(StoreConfig):
    m: int = HNSW_M
    ef_construction: int = HNSW_EF_CONSTRUCTION
    ef_search: int = HNSW_EF_SEARCH
    storage: str = "fp16"  # fp16, sq8 or flat (float32)


class HNSWStore(FaissStore):
    """``IDMap2,HNSW{M},SQfp16`` with the L2 metric. A graph cannot lose nodes: removed labels are hidden
    from searches (``deleted``) and the graph is rebuilt past REBUILD_DELETED_SHARE."""

    kind = "hnsw"
    config_type = HNSWConfig
    metric = "L2"
    keeps_deltas = False  # the graph is written whole

    def __init__(self, dimension: int, config: HNSWConfig | None = None):
        self.deleted: set[int] = set()  # labels removed but still in the graph
        super().__init__(dimension, config)

    def factory(self) -> str:
        return f"IDMap2,HNSW{self.config.m},{CODES.get(self.config.storage, 'Flat')}"

    def _inner(self):
        return faiss_inner(self.index)

    def _empty(self):
        index = super()._empty()
        inner = faiss_inner(index)
        inner.hnsw.efConstruction = self.config.ef_construction
        inner.hnsw.efSearch = self.config.ef_search
        return index

    def _held(self) -> np.ndarray:
        """Every label in the graph, the deleted ones too."""
        return super().labels()

    def labels(self) -> np.ndarray:
        held = self._held()
        return held[~np.isin(held, i64(sorted(self.deleted)))] if self.deleted else held

    def _rebuild(self) -> None:
        """A new graph of the live vectors (without the deleted labels)."""
        labels = self.labels()
        vectors = self.get(labels) if len(labels) else np.zeros((0, self.dimension), np.float32)
        self.index, self.deleted = self._empty(), set()
        self._add(labels, vectors)
        self._forget_base()

    def add(self, labels, vectors) -> None:
        labels, vectors = self._checked(labels, vectors)
        if self.deleted & set(labels.tolist()):  # re-added after removal: drop the old vector first
            self._rebuild()
        super().add(labels, vectors)

    def _add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        if len(labels) == 0:
            return
        inner = self._inner()
        if not inner.is_trained:  # the fp16/sq8 codecs take their ranges from data
            inner.train(vectors)
        self.index.add_with_ids(vectors, labels)

    def _remove(self, labels: np.ndarray) -> None:
        present = set(self._held().tolist())
        self.deleted |= {int(label) for label in labels if int(label) in present}
        if len(self.deleted) > REBUILD_DELETED_SHARE * max(1, self.index.ntotal):
            self._rebuild()

    def count(self) -> int:
        return int(self.index.ntotal) - len(self.deleted)

    def _searchable(self, allowed: np.ndarray) -> np.ndarray:
        return allowed[~np.isin(allowed, i64(sorted(self.deleted)))] if self.deleted else allowed

    def _search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None):
        ef = max(self.config.ef_search, k)
        if allowed is None:
            return self.index.search(queries, k, params=self._search_parameters(ef))
        ef = breadth(ef, self.count(), len(allowed))
        if ef >= len(allowed):  # a walk that wide costs more than scoring every allowed vector (as Lucene does)
            return self._exact(queries, k, allowed)
        return self.index.search(queries, k, params=self._search_parameters(ef, allowed))

    def _search_parameters(self, ef: int, allowed: np.ndarray | None = None):
        import faiss

        params = {"efSearch": ef}
        if allowed is not None:  # already without the deleted labels (``_searchable``)
            params["sel"] = selector(allowed)
        elif self.deleted:
            params["sel"] = faiss.IDSelectorNot(selector(i64(sorted(self.deleted))))
        return faiss.SearchParametersHNSW(**params)  # keeps the selector alive with the parameters

    def _exact(self, queries: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Squared distances and labels of the k nearest allowed vectors, each vector scored (as stored)."""
        import faiss

        held = allowed[np.isin(allowed, self._held())]
        distances = np.full((len(queries), k), np.inf, np.float32)
        labels = np.full((len(queries), k), -1, np.int64)
        if len(held):
            found, rows = faiss.knn(queries, self.get(held), min(k, len(held)), metric=faiss.METRIC_L2)
            distances[:, : rows.shape[1]], labels[:, : rows.shape[1]] = found, np.where(rows >= 0, held[rows], -1)
        return distances, labels

    def _described(self) -> dict:
        config = self.config
        described = {"m": config.m, "ef_construction": config.ef_construction, "ef_search": config.ef_search}
        return described | {"storage": config.storage, "deleted": len(self.deleted)}

    def _save_beside(self, directory: Path) -> None:
        if self.deleted:
            np.save(directory / "vectors.deleted.npy", i64(sorted(self.deleted)))

    def _load_beside(self, directory: Path, description: dict) -> None:
        deleted = directory / "vectors.deleted.npy"
        self.deleted = set(np.load(deleted).tolist()) if deleted.exists() else set()
        self._inner().hnsw.efSearch = self.config.ef_search


def faiss_inner(index):
    import faiss

    return faiss.downcast_index(index.index)
