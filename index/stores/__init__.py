"""Vector stores behind one interface (base.py): FAISS kinds built from ``index_factory`` strings (flat.py,
ivf.py, hnsw.py; what they share: faiss_base.py), the default size policy over them (auto.py), and Milvus
(milvus.py). Here: the URI or a saved description turned into a store."""

from __future__ import annotations

from pathlib import Path

from index.stores.auto import EXACT_BELOW, AutoStore
from index.stores.base import VectorStore, faiss_policy, is_milvus, parse_milvus_uri
from index.stores.faiss_base import FaissStore
from index.stores.flat import FlatStore
from index.stores.hnsw import HNSWStore
from index.stores.ivf import IVFStore
from index.stores.milvus import MilvusStore

FAISS_KINDS: dict[str, type[FaissStore]] = {store.kind: store for store in (FlatStore, IVFStore, HNSWStore)}

__all__ = [
    "EXACT_BELOW",
    "FAISS_KINDS",
    "AutoStore",
    "FaissStore",
    "FlatStore",
    "HNSWStore",
    "IVFStore",
    "MilvusStore",
    "VectorStore",
    "create_store",
    "is_milvus",
    "load_store",
    "parse_milvus_uri",
    "same_store_kind",
]


def create_store(uri: str | None, dimension: int) -> VectorStore:
    """A new, empty store for the URI (see base.py)."""
    from index import settings

    uri = settings.vector_store_uri(uri)
    if is_milvus(uri):
        return MilvusStore(uri, dimension)
    policy = faiss_policy(uri)
    if policy == "auto":
        return AutoStore(dimension)
    if policy not in FAISS_KINDS:
        raise ValueError(f"unknown FAISS store kind '{policy}' (auto, flat, ivf or hnsw)")
    return FAISS_KINDS[policy](dimension)


def load_store(directory: Path, description: dict | None) -> VectorStore:
    """The store an index version describes (format-2 indexes: a plain FAISS file)."""
    description = description or {"store": "faiss", "kind": "flat", "policy": "auto"}
    if description.get("store") == "milvus":
        return MilvusStore.load(description)
    store = FAISS_KINDS[description.get("kind", "flat")].load(directory, description)
    if description.get("policy", "auto") == "auto":
        return AutoStore(store.dimension, description.get("exact_below", EXACT_BELOW), store)
    return store


def same_store_kind(store: VectorStore, uri: str | None) -> bool:
    """Whether ``store`` is the kind of store the URI asks for (so it can be updated in place)."""
    from index import settings

    wanted = settings.vector_store_uri(uri)
    if is_milvus(wanted):
        return isinstance(store, MilvusStore) and parse_milvus_uri(wanted)[0] == store.address
    return isinstance(store, (AutoStore, FaissStore)) and store.policy == (wanted.partition(":")[2] or "auto")
