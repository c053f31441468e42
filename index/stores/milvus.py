"""A Milvus collection as the vector store: a milvus-lite file or a Milvus server (see base.py's URIs)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from index.stores.base import VectorStore, f32, i64, parse_milvus_uri

# pymilvus pings an idle connection every 10 s; milvus-lite's gRPC server (like any grpc-python server by default)
# answers pings without calls with GOAWAY "too_many_pings" and the connection is lost. Every 5 minutes, only
# while calls are open, is what such a server permits; a dead connection still fails the next call.
KEEPALIVE = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}


def milvus_client(address: str, token: str = ""):
    from pymilvus import MilvusClient

    return MilvusClient(address, token=token, grpc_options=KEEPALIVE)


class MilvusStore(VectorStore):
    """A Milvus collection (id INT64 primary key = label, vector FLOAT_VECTOR), metric IP.

    The vectors live in Milvus, not in the index folder: the folder records the URI and the
    collection. A full build writes a new collection and drops the old one once the new index
    version is live; an incremental build updates the collection in place.
    """

    kind = "milvus"
    BATCH = 2000

    def __init__(self, uri: str, dimension: int, collection: str | None = None, create: bool = True):
        from pymilvus import DataType, MilvusClient

        self.uri, self.dimension = uri, int(dimension)
        self.address, options = parse_milvus_uri(uri)
        self.base = options.get("collection", "citelens")
        self.index_type = options.get("index", "AUTOINDEX" if not self.local else "FLAT")
        token = os.environ.get("MILVUS_TOKEN", "") if not self.local else ""
        if self.local:
            Path(self.address).parent.mkdir(parents=True, exist_ok=True)
        self.client = milvus_client(self.address, token)
        self.collection = collection or f"{self.base}_{uuid.uuid4().hex[:8]}"
        self.superseded: list[str] = []
        if create and not self.client.has_collection(self.collection):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
            index_params = self.client.prepare_index_params()
            index_params.add_index("vector", index_type=self.index_type, metric_type="IP")
            self.client.create_collection(self.collection, schema=schema, index_params=index_params)
            self.superseded = [
                name
                for name in self.client.list_collections()
                if name.startswith(f"{self.base}_") and name != self.collection
            ]
        elif self.client.has_collection(self.collection):
            # Another process (a search after a build) sees the collection released: load it to search.
            self.client.load_collection(self.collection)
        self._count: int | None = None

    @property
    def local(self) -> bool:
        return not self.address.startswith(("http://", "https://", "tcp://", "unix:"))

    def add(self, labels, vectors) -> None:
        labels, vectors = i64(labels), f32(vectors, self.dimension)
        for first in range(0, len(labels), self.BATCH):
            rows = [
                {"id": int(label), "vector": vector}
                for label, vector in zip(
                    labels[first : first + self.BATCH], vectors[first : first + self.BATCH], strict=True
                )
            ]
            self.client.upsert(self.collection, rows)
        self._count = None

    def remove(self, labels) -> None:
        labels = i64(labels)
        for first in range(0, len(labels), self.BATCH):
            self.client.delete(self.collection, ids=[int(label) for label in labels[first : first + self.BATCH]])
        self._count = None

    def search(self, queries, k: int, allowed=None) -> tuple[np.ndarray, np.ndarray]:
        queries = f32(queries, self.dimension)
        k = max(1, int(k))
        if allowed is not None and len(allowed) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        results = self.client.search(
            self.collection,
            data=list(queries),
            filter="" if allowed is None else id_filter(i64(allowed)),
            limit=k,
            search_params={"metric_type": "IP"},
            output_fields=["id"],
        )
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        labels = np.full((len(queries), k), -1, dtype=np.int64)
        for row, hits in enumerate(results):
            for column, hit in enumerate(list(hits)[:k]):
                scores[row, column] = float(hit["distance"])
                labels[row, column] = int(hit["id"])
        return scores, labels

    def get(self, labels) -> np.ndarray:
        labels = i64(labels)
        found: dict[int, np.ndarray] = {}
        for first in range(0, len(labels), self.BATCH):
            batch = [int(label) for label in labels[first : first + self.BATCH]]
            for record in self.client.get(self.collection, ids=batch, output_fields=["vector"]):
                found[int(record["id"])] = np.asarray(record["vector"], dtype=np.float32)
        missing = [int(label) for label in labels if int(label) not in found]
        if missing:
            raise KeyError(f"labels not in Milvus collection {self.collection}: {missing[:5]}")
        return np.stack([found[int(label)] for label in labels]) if len(labels) else np.zeros((0, self.dimension))

    def count(self) -> int:
        if self._count is None:
            result = self.client.query(self.collection, filter="", output_fields=["count(*)"])
            self._count = int(result[0]["count(*)"])
        return self._count

    def describe(self) -> dict:
        return {"store": "milvus", "uri": self.uri, "collection": self.collection, "index": self.index_type}

    def save(self, directory: Path) -> dict:
        self.client.flush(self.collection)
        return self.describe()

    def published(self, directory: Path) -> None:
        for name in self.superseded:  # collections of earlier full builds
            if self.client.has_collection(name):
                self.client.drop_collection(name)
        self.superseded = []

    def drop(self) -> None:
        self.client.drop_collection(self.collection)

    def close(self) -> None:
        self.client.close()

    @classmethod
    def load(cls, description: dict, uri: str | None = None) -> MilvusStore:
        store = cls(uri or description["uri"], 0, description["collection"], create=False)
        if not store.client.has_collection(store.collection):
            raise FileNotFoundError(f"Milvus collection {store.collection} is missing at {store.address}")
        info = store.client.describe_collection(store.collection)
        store.dimension = next(int(f["params"]["dim"]) for f in info["fields"] if f["name"] == "vector")
        return store


def id_filter(labels: np.ndarray) -> str:
    """A Milvus filter expression on the id field holding these labels: runs of consecutive labels (a
    document's chunks have them) as ranges, so its length follows the documents, not their chunks."""
    labels = np.unique(labels)
    if len(labels) == 0:
        return "id in []"
    starts = np.flatnonzero(np.diff(labels, prepend=labels[0] - 2) != 1)
    ends = np.append(starts[1:], len(labels)) - 1
    single = [str(labels[a]) for a, b in zip(starts, ends, strict=True) if a == b]
    ranges = [f"(id >= {labels[a]} and id <= {labels[b]})" for a, b in zip(starts, ends, strict=True) if a < b]
    return " or ".join(ranges + ([f"id in [{', '.join(single)}]"] if single else []))
