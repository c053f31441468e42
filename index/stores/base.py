"""The vector-store interface, the label and array helpers every store uses, and the store URIs.

A store holds unit-length float32 vectors under int64 *labels* and answers inner-product (cosine) top-k
questions. Labels are stable across incremental builds, so adding, changing or removing a document
touches only that document's vectors (PassageIndex maps labels to chunk rows).

Which store is chosen by one URI (``--vector-store`` / $CITELENS_VECTOR_STORE; ``index/stores/__init__.py``
turns it into a store):

- ``faiss`` (default): in process, saved with the index. Exact search (``flat.py``) below
  ``EXACT_BELOW`` vectors, where it is fast enough; above it an inverted file over float16 vectors
  (``ivf.py``), whose ``nprobe`` was tuned for recall@10 ≥ .98 against exact search at 1M
  (bench/README.md); ``auto.py`` is that policy. ``faiss:flat``, ``faiss:ivf`` and ``faiss:hnsw`` force
  one kind (HNSW, ``hnsw.py``: the previous default, kept for indexes that were built with it).
- ``milvus:PATH.db`` or ``PATH.db``: a local milvus-lite file (tests, single users) (``milvus.py``).
- ``http://host:19530`` (or ``https://…``, ``milvus://host:port``): a Milvus server or cluster; the
  collection is named by ``?collection=NAME`` (default ``citelens``), the token comes from $MILVUS_TOKEN.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np


class VectorStore:
    """add / remove / search / get by label; save and load beside the index (or describe where it lives)."""

    kind = "?"
    dimension: int

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        raise NotImplementedError

    def remove(self, labels: np.ndarray) -> None:
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, labels), each queries × k; missing results are label -1. ``allowed``: the labels results
        are taken from (a filter searched inside the store, not applied to its top k; None: every label)."""
        raise NotImplementedError

    def get(self, labels: np.ndarray) -> np.ndarray:
        """The stored vectors of these labels, in their order (float32)."""
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def save(self, directory: Path) -> dict:
        """Write what must be written into ``directory``; the returned description goes into the manifest."""
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

    def published(self, directory: Path) -> None:
        """Called once the index version saved in ``directory`` is live (a hook for stores that keep
        track of what they have written)."""

    def close(self) -> None:
        pass


def f32(vectors: np.ndarray, dimension: int) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dimension))


def i64(labels) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(labels, dtype=np.int64).reshape(-1))


# ---- URIs ---------------------------------------------------------------------------------------


def parse_milvus_uri(uri: str) -> tuple[str, dict[str, str]]:
    """``milvus:./x.db`` / ``x.db`` → local file; ``milvus://h:p`` → ``http://h:p``; ``?collection=…`` options."""
    text = uri.strip()
    if text.startswith("milvus:") and not text.startswith("milvus://"):
        text = text[len("milvus:") :]
    if text.startswith("milvus://"):
        text = "http://" + text[len("milvus://") :]
    address, _, query = text.partition("?")
    options = {key: values[-1] for key, values in parse_qs(query).items()}
    if not urlparse(address).scheme:  # a file path
        address = str(Path(address).expanduser().resolve())
    return address, options


def is_milvus(uri: str) -> bool:
    text = uri.strip().lower()
    return text.startswith(("milvus:", "http://", "https://")) or text.partition("?")[0].endswith(".db")


def faiss_policy(uri: str) -> str:
    """The FAISS part of a URI: ``faiss`` → ``auto`` (by size), ``faiss:flat`` → ``flat``, …"""
    if not uri.startswith("faiss"):
        raise ValueError(f"Unknown vector store '{uri}': use faiss, faiss:flat, faiss:hnsw, milvus:PATH.db or http://…")
    return uri.partition(":")[2] or "auto"
