"""The default ``faiss`` store: exact search while the store is small, IVF once it is not.

A policy over the kind classes, not a kind itself: it holds one FlatStore or IVFStore and, when an add
takes the store across ``exact_below``, replaces it with a store of the other kind filled with every
vector (IVF retrains on growth by itself, ivf.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.stores.base import VectorStore, f32, i64
from index.stores.faiss_base import FaissStore
from index.stores.flat import FlatStore
from index.stores.ivf import IVFStore

# Exact search (recall 1) up to where it costs what IVF costs: bench/README.md, "Vector store".
EXACT_BELOW = 10_000


class AutoStore(VectorStore):
    """FlatStore below ``exact_below`` vectors, IVFStore at and above; the rest is the current store's."""

    policy = "auto"

    def __init__(self, dimension: int, exact_below: int = EXACT_BELOW, current: FaissStore | None = None):
        self.dimension = int(dimension)
        self.exact_below = int(exact_below)
        self.current: FaissStore = current if current is not None else FlatStore(self.dimension)
        self.configs = {type(self.current): self.current.config}  # kept when the store changes kind

    def kind_for(self, total: int) -> type[FaissStore]:
        return IVFStore if total >= self.exact_below else FlatStore

    @property
    def kind(self) -> str:
        return self.current.kind

    @property
    def config(self):
        return self.current.config

    @config.setter
    def config(self, config) -> None:
        self.current.config = config

    def add(self, labels, vectors) -> None:
        labels, vectors = i64(labels), f32(vectors, self.dimension)
        if len(labels) != len(vectors):
            raise ValueError("labels and vectors differ in number")
        wanted = self.kind_for(self.current.count() + len(labels))
        if type(self.current) is not wanted:  # a new store of the other kind, with every vector
            old = self.current.labels()
            old_vectors = self.current.get(old) if len(old) else np.zeros((0, self.dimension), np.float32)
            labels, vectors = np.concatenate([old, labels]), np.concatenate([old_vectors, vectors])
            self.configs[type(self.current)] = self.current.config
            self.current = wanted(self.dimension, self.configs.get(wanted))
        self.current.add(labels, vectors)

    def remove(self, labels) -> None:
        self.current.remove(labels)

    def search(self, queries, k: int, allowed=None) -> tuple[np.ndarray, np.ndarray]:
        return self.current.search(queries, k, allowed)

    def get(self, labels) -> np.ndarray:
        return self.current.get(labels)

    def labels(self) -> np.ndarray:
        return self.current.labels()

    def count(self) -> int:
        return self.current.count()

    def describe(self) -> dict:
        return self.current.describe() | {"policy": self.policy, "exact_below": self.exact_below}

    def save(self, directory: Path) -> dict:
        self.current.save(directory)
        return self.describe()

    def published(self, directory: Path) -> None:
        self.current.published(directory)

    def close(self) -> None:
        self.current.close()
