"""Vector stores behind one interface: FAISS embedded in the index folder (the default), Milvus to scale out.

A store holds unit-length float32 vectors under int64 *labels* and answers inner-product (cosine) top-k
questions. Labels are stable across incremental builds, so adding, changing or removing a document
touches only that document's vectors (PassageIndex maps labels to chunk rows).

Which store is chosen by one URI (``--vector-store`` / $CITELENS_VECTOR_STORE):

- ``faiss`` (default): in process, saved with the index. Exact search (IndexFlatIP) below
  ``EXACT_BELOW`` vectors, where it is fast enough; above it an inverted file (IVF) over float16
  vectors, whose ``nprobe`` was tuned for recall@10 ≥ .98 against exact search at 1M (bench/README.md).
  ``faiss:flat``, ``faiss:ivf`` and ``faiss:hnsw`` force one kind (HNSW: the previous default, kept for
  indexes that were built with it).
- ``milvus:PATH.db`` or ``PATH.db``: a local milvus-lite file (tests, single users).
- ``http://host:19530`` (or ``https://…``, ``milvus://host:port``): a Milvus server or cluster; the
  collection is named by ``?collection=NAME`` (default ``citelens``), the token comes from $MILVUS_TOKEN.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

# Measured on the 2-core machine (one question, one thread, real questions, load average 8.6-10.7):
# exact search p50 0.26 ms at 5k vectors, 1.1 ms at 10k, 18 ms at 20k, 30 ms at 50k; IVF (nprobe 160)
# 0.52, 0.90, 0.84, 1.19 ms at recall@10 1.0, 1.0, .993, .995, built in 1.3, 3.5, 15, 39 s. Exact search
# (recall 1) is kept up to where the two cost the same.
EXACT_BELOW = 10_000
# HNSW over unit vectors with the L2 metric (the same ranking as inner product, and a better graph: on
# 100k synthetic passages with real questions, recall@10 .985 at efSearch 256 against .978 with the IP
# metric); efConstruction 200 and efSearch 512 reach recall@10 ≥ .99 at 100k in ~2 ms (bench/README.md).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 512
REBUILD_DELETED_SHARE = 0.2  # HNSW cannot delete: removed labels are filtered out until this share
# IVF (float16 codes, L2 metric over unit vectors, flat coarse quantizer): trains and fills 1M vectors in
# minutes instead of HNSW's 11, removes in place, and 768 bytes a vector plus its label. nprobe is the
# one search parameter, measured for recall@10 ≥ .98 at 1M passages (bench/README.md).
IVF_NPROBE = 160
IVF_RETRAIN_GROWTH = 4  # lists trained for n vectors are retrained (a rebuild) once the store holds 4·n
IVF_TRAIN_PER_LIST = 40  # k-means sample: FAISS warns below 39 points a list
# A save after small updates writes only the change: the last whole file is hard-linked into the new
# version and the vectors added and labels removed since go beside it (vectors.delta.npz), while they are
# at most this share of the store; then the whole file is written again.
DELTA_SHARE = 0.1


def ivf_lists(count: int) -> int:
    """The power of two nearest 4·√count (FAISS's guideline is 4–16·√n), with enough training points a list."""
    lists = 2 ** round(np.log2(max(1.0, 4 * np.sqrt(max(count, 1)))))
    return int(max(1, min(lists, count // IVF_TRAIN_PER_LIST)))


class VectorStore:
    """add / remove / search / get by label; save and load beside the index (or describe where it lives)."""

    kind = "?"
    dimension: int

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        raise NotImplementedError

    def remove(self, labels: np.ndarray) -> None:
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, labels), each queries × k; missing results are label -1."""
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


def _f32(vectors: np.ndarray, dimension: int) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dimension))


def _i64(labels) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(labels, dtype=np.int64).reshape(-1))


# ---- FAISS ------------------------------------------------------------------------------------


class FaissStore(VectorStore):
    """Exact IndexFlatIP for small collections, IVF (float16 codes) above ``exact_below``; HNSW on request."""

    def __init__(
        self,
        dimension: int,
        kind: str = "auto",
        exact_below: int = EXACT_BELOW,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = HNSW_EF_SEARCH,
        storage: str = "fp16",
        nprobe: int = IVF_NPROBE,
    ):
        if kind not in ("auto", "flat", "ivf", "hnsw"):
            raise ValueError(f"unknown FAISS store kind '{kind}' (auto, flat, ivf or hnsw)")
        self.dimension = int(dimension)
        self.policy = kind
        self.exact_below = int(exact_below)
        self.m, self.ef_construction, self.ef_search, self.storage = m, ef_construction, ef_search, storage
        self.nprobe = int(nprobe)
        self.trained_for = 0  # IVF only: the collection size its lists were trained for
        self.deleted: set[int] = set()  # HNSW only: labels removed but still in the graph
        self.kind = kind if kind in ("ivf", "hnsw") else "flat"
        self.index = self._empty(self.kind)
        self._forget_base()

    # what was saved: a whole file, and the change since (see DELTA_SHARE)

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

    # the FAISS objects

    def _empty(self, kind: str):
        import faiss

        if kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        if kind == "ivf":  # untrained until the first vectors arrive (the number of lists depends on them)
            return None
        if self.storage == "fp16":
            inner = faiss.IndexHNSWSQ(self.dimension, faiss.ScalarQuantizer.QT_fp16, self.m, faiss.METRIC_L2)
        elif self.storage == "sq8":
            inner = faiss.IndexHNSWSQ(self.dimension, faiss.ScalarQuantizer.QT_8bit, self.m, faiss.METRIC_L2)
        else:
            inner = faiss.IndexHNSWFlat(self.dimension, self.m, faiss.METRIC_L2)
        inner.hnsw.efConstruction = self.ef_construction
        inner.hnsw.efSearch = self.ef_search
        return faiss.IndexIDMap2(inner)

    def _ivf(self, vectors: np.ndarray):
        """A trained, empty IVF for a collection like ``vectors``: labels are its own ids (no IDMap), and a
        hash-table direct map gives ``get`` and in-place removal by label."""
        import faiss

        lists = ivf_lists(len(vectors))
        quantizer = faiss.IndexFlatL2(self.dimension)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dimension, lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_L2
        )
        sample = vectors
        if len(vectors) > IVF_TRAIN_PER_LIST * lists:
            rows = np.random.default_rng(0).choice(len(vectors), IVF_TRAIN_PER_LIST * lists, replace=False)
            sample = vectors[np.sort(rows)]
        index.train(sample)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self.trained_for = len(vectors)
        return index

    def _inner(self):
        import faiss

        return faiss.downcast_index(self.index.index)

    def _labels(self) -> np.ndarray:
        import faiss

        if self.kind == "ivf":
            if self.index is None:
                return np.zeros(0, np.int64)
            invlists = self.index.invlists
            return np.concatenate(
                [np.zeros(0, np.int64)]
                + [
                    faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                    for i in range(self.index.nlist)
                    if invlists.list_size(i)
                ]
            )
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def _wanted_kind(self, total: int) -> str:
        if self.policy != "auto":
            return self.policy
        return "ivf" if total >= self.exact_below else "flat"

    def _rebuild(self, kind: str) -> None:
        """Rebuild as ``kind`` from the live vectors (drops HNSW's deleted labels)."""
        labels = np.array([label for label in self._labels() if int(label) not in self.deleted], dtype=np.int64)
        vectors = self.get(labels) if len(labels) else np.zeros((0, self.dimension), np.float32)
        self.kind, self.index, self.deleted = kind, self._empty(kind), set()
        self._add(labels, vectors)
        self._forget_base()

    def _add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        if len(labels) == 0:
            return
        if self.kind == "ivf":
            if self.index is None:
                self.index = self._ivf(vectors)
            self.index.add_with_ids(vectors, labels)
            return
        inner = self._inner()
        if self.kind == "hnsw" and not inner.is_trained:  # the fp16/sq8 codecs take their ranges from data
            inner.train(vectors)
        self.index.add_with_ids(vectors, labels)

    # the interface

    def add(self, labels, vectors) -> None:
        labels, vectors = _i64(labels), _f32(vectors, self.dimension)
        if len(labels) != len(vectors):
            raise ValueError("labels and vectors differ in number")
        if self.deleted & set(labels.tolist()):  # re-added after removal: drop the old vector first
            self._rebuild(self.kind)
        total = self.count() + len(labels)
        wanted = self._wanted_kind(total)
        # IVF lists trained for a much smaller collection grow long (slow) and fit it less well: train again
        retrain = wanted == "ivf" and self.kind == "ivf" and total > IVF_RETRAIN_GROWTH * max(1, self.trained_for)
        if wanted != self.kind or retrain:
            old = self._labels()
            old_vectors = self.get(old) if len(old) else np.zeros((0, self.dimension), np.float32)
            self.kind, self.index, self.deleted = wanted, self._empty(wanted), set()
            self._forget_base()
            labels = np.concatenate([old, labels])
            vectors = np.concatenate([old_vectors, vectors])
        else:
            self._note_added(labels, vectors)
        self._add(labels, vectors)

    def remove(self, labels) -> None:
        import faiss

        labels = _i64(labels)
        if len(labels) == 0:
            return
        self._note_removed(labels)
        if self.kind == "flat":
            self.index.remove_ids(faiss.IDSelectorBatch(labels))
            return
        if self.kind == "ivf":
            if self.index is not None:  # the hash-table direct map removes only through an IDSelectorArray
                self.index.remove_ids(faiss.IDSelectorArray(len(labels), faiss.swig_ptr(labels)))
            return
        present = set(self._labels().tolist())
        self.deleted |= {int(label) for label in labels if int(label) in present}
        if len(self.deleted) > REBUILD_DELETED_SHARE * max(1, self.index.ntotal):
            self._rebuild(self._wanted_kind(self.count()))

    def search(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        queries = _f32(queries, self.dimension)
        k = max(1, min(int(k), self.count()))
        if self.count() == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        params = None
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF()
            params.nprobe = self.nprobe
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(self.ef_search, k)
            if self.deleted:
                selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(_i64(sorted(self.deleted))))
                params.sel = selector
        with _threads(1 if len(queries) <= 4 else 0):
            scores, labels = self.index.search(queries, k, params=params)
        if self.index.metric_type == faiss.METRIC_L2:  # squared distance → inner product (unit stored vectors)
            scores = (np.square(queries).sum(1, keepdims=True) + 1.0 - scores) / 2
        return scores.astype(np.float32), labels

    def get(self, labels) -> np.ndarray:
        labels = _i64(labels)
        if len(labels) == 0:
            return np.zeros((0, self.dimension), np.float32)
        return np.asarray(self.index.reconstruct_batch(labels), dtype=np.float32).reshape(len(labels), self.dimension)

    def count(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal) - len(self.deleted)

    def describe(self) -> dict:
        description = {"store": "faiss", "kind": self.kind, "policy": self.policy, "exact_below": self.exact_below}
        if self.kind == "hnsw":
            description |= {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}
            description |= {"storage": self.storage, "deleted": len(self.deleted)}
        if self.kind == "ivf":
            lists = self.index.nlist if self.index is not None else 0
            description |= {"lists": lists, "nprobe": self.nprobe, "trained_for": self.trained_for, "storage": "fp16"}
        return description

    def save(self, directory: Path) -> dict:
        import faiss

        directory = Path(directory)
        target = directory / "vectors.faiss"
        change = len(self.added_labels) + len(self.removed_labels)
        if (
            self.base is not None
            and self.base.exists()
            and self.kind in ("flat", "ivf")
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
            index = self.index if self.index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
            faiss.write_index(index, str(target))
            self._forget_base()
        if self.deleted:
            np.save(directory / "vectors.deleted.npy", _i64(sorted(self.deleted)))
        self.staged = target
        return self.describe()

    def published(self, directory: Path) -> None:
        if self.kind in ("flat", "ivf") and self.staged is not None:
            self.base, self.staged = Path(directory) / self.staged.name, None

    @classmethod
    def load(cls, directory: Path, description: dict) -> FaissStore:
        import faiss

        directory = Path(directory)
        index = faiss.read_index(str(directory / "vectors.faiss"))
        kind = description.get("kind", "flat")
        dimension = index.d
        if kind == "ivf":  # an empty IVF store is saved as an empty flat index
            index = index if isinstance(index, faiss.IndexIVF) else None
        elif not isinstance(index, faiss.IndexIDMap2):  # an index of format 2 (rows are labels)
            index = faiss.IndexIDMap2(index) if index.ntotal == 0 else _wrap_rows(index)
        store = cls(
            dimension,
            description.get("policy", "auto"),
            description.get("exact_below", EXACT_BELOW),
            description.get("m", HNSW_M),
            description.get("ef_construction", HNSW_EF_CONSTRUCTION),
            description.get("ef_search", HNSW_EF_SEARCH),
            description.get("storage", "fp16"),
            description.get("nprobe", IVF_NPROBE),
        )
        store.kind = kind
        store.index = index
        store.trained_for = int(description.get("trained_for", 0))
        deleted = directory / "vectors.deleted.npy"
        store.deleted = set(np.load(deleted).tolist()) if deleted.exists() else set()
        delta = directory / "vectors.delta.npz"
        if delta.exists():  # the change since the whole file: applied, and kept for the next save
            with np.load(delta) as change:
                removed, added = change["removed_labels"], change["added_labels"]
                vectors = change["added_vectors"]
            if store.index is not None and len(removed):
                store.index.remove_ids(faiss.IDSelectorArray(len(removed), faiss.swig_ptr(removed)))
            store._add(added, vectors)
            store.added_labels, store.added_vectors, store.removed_labels = added, vectors, removed
        if store.kind in ("flat", "ivf"):
            store.base = directory / "vectors.faiss"
        if store.kind == "hnsw":
            store._inner().hnsw.efSearch = store.ef_search
        return store


@contextmanager
def _threads(count: int):
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

    wrapped = faiss.IndexIDMap2(faiss.IndexFlatIP(index.d))
    wrapped.add_with_ids(index.reconstruct_n(0, index.ntotal), np.arange(index.ntotal, dtype=np.int64))
    return wrapped


# ---- Milvus -----------------------------------------------------------------------------------


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
        self.client = MilvusClient(self.address, token=token)
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
        labels, vectors = _i64(labels), _f32(vectors, self.dimension)
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
        labels = _i64(labels)
        for first in range(0, len(labels), self.BATCH):
            self.client.delete(self.collection, ids=[int(label) for label in labels[first : first + self.BATCH]])
        self._count = None

    def search(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _f32(queries, self.dimension)
        k = max(1, int(k))
        results = self.client.search(
            self.collection, data=list(queries), limit=k, search_params={"metric_type": "IP"}, output_fields=["id"]
        )
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        labels = np.full((len(queries), k), -1, dtype=np.int64)
        for row, hits in enumerate(results):
            for column, hit in enumerate(list(hits)[:k]):
                scores[row, column] = float(hit["distance"])
                labels[row, column] = int(hit["id"])
        return scores, labels

    def get(self, labels) -> np.ndarray:
        labels = _i64(labels)
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


# ---- choosing -----------------------------------------------------------------------------------


def create_store(uri: str | None, dimension: int) -> VectorStore:
    """A new, empty store for the URI (see the module docstring)."""
    from index import settings

    uri = settings.vector_store_uri(uri)
    if is_milvus(uri):
        return MilvusStore(uri, dimension)
    kind = uri.partition(":")[2] or "auto"
    if not uri.startswith("faiss"):
        raise ValueError(f"Unknown vector store '{uri}': use faiss, faiss:flat, faiss:hnsw, milvus:PATH.db or http://…")
    return FaissStore(dimension, kind)


def load_store(directory: Path, description: dict | None) -> VectorStore:
    """The store an index version describes (format-2 indexes: a plain FAISS file)."""
    description = description or {"store": "faiss", "kind": "flat", "policy": "auto"}
    if description.get("store") == "milvus":
        return MilvusStore.load(description)
    return FaissStore.load(directory, description)
