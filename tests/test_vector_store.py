"""Vector stores: one contract run over every store (FAISS flat, IVF, HNSW, the default size policy, and
Milvus on milvus-lite, not mocked), as txtai tests its ANN backends; then what is particular to each."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from index.stores import (
    FAISS_KINDS,
    AutoStore,
    FlatStore,
    HNSWStore,
    IVFStore,
    MilvusStore,
    create_store,
    is_milvus,
    load_store,
    parse_milvus_uri,
    same_store_kind,
)
from index.stores.faiss_base import FaissStore
from index.stores.ivf import IVF_NPROBE


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, dim: int = 48, clusters: int = 40, seed: int = 0, spread: float = 0.6) -> np.ndarray:
    """Unit vectors in clusters, like text embeddings (which are neither uniform nor isolated points);
    the clusters are the same for every seed, the points differ."""
    centers = np.random.default_rng(1234).standard_normal((clusters, dim))
    rng = np.random.default_rng(seed)
    return unit(centers[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim)))


def recall_at_10(store, queries: np.ndarray, vectors: np.ndarray, labels: np.ndarray | None = None) -> float:
    labels = np.arange(len(vectors)) if labels is None else labels
    exact = labels[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    _, found = store.search(queries, 10)
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)]))


@pytest.fixture
def milvus_lite(tmp_path):
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as error:  # fail, do not skip: the Milvus path must be tested
        pytest.fail(f"milvus-lite is not installed ({error}); pip install pymilvus milvus-lite (requirements.txt)")
    return f"milvus:{tmp_path / 'store.db'}"


# ---- the contract: the same assertions for every store ---------------------------------------------

# URI → (exact search?, tolerance of stored vectors: float16 codes for IVF and HNSW)
STORES = {"faiss:flat": (True, 1e-6), "faiss:ivf": (False, 1e-3), "faiss:hnsw": (False, 1e-3)}
STORES |= {"faiss": (True, 1e-6), "milvus": (True, 1e-6)}


@pytest.fixture(params=list(STORES))
def kind(request, tmp_path):
    uri = f"milvus:{tmp_path / 'store.db'}" if request.param == "milvus" else request.param
    if request.param == "milvus":
        request.getfixturevalue("milvus_lite")
    return uri, *STORES[request.param]


def saved(store, folder: Path) -> dict:
    folder.mkdir(parents=True)
    description = store.save(folder)
    store.published(folder)
    return description


# One document's labels (some removed), three quarters of the labels (HNSW walks its graph with the
# selector), two scattered labels (fewer than k), and labels the store never held.
FILTERS = (
    np.arange(1020, 1060),
    np.arange(1000, 3000)[np.arange(2000) % 4 != 0],
    np.array([2500, 1020]),
    np.arange(9000, 9010),
)


def assert_filtered_search(store, queries, vectors, allowed, held, exact: bool) -> None:
    """Only allowed labels the store holds, best first, with their inner products; exact stores return
    exactly the brute-force top k among them, approximate ones nearly (recall@10 ≥ .97)."""
    kept = np.intersect1d(allowed, held)
    scores, found = store.search(queries, 10, allowed)
    assert set(found[found >= 0].ravel().tolist()) <= set(kept.tolist())
    best = kept[np.argsort(-(queries @ vectors[kept - 1000].T), axis=1)[:, :10]]
    assert ((found >= 0).sum(1) == best.shape[1]).all()  # as many as there are, up to k
    if exact:
        assert np.array_equal(found[:, : best.shape[1]], best)
    else:
        assert (
            np.mean([len(set(f) & set(b)) / len(b) if len(b) else 1 for f, b in zip(found, best, strict=True)]) >= 0.97
        )
    mine = found[:, : best.shape[1]]
    assert np.allclose(scores[:, : best.shape[1]], np.einsum("qd,qkd->qk", queries, vectors[mine - 1000]), atol=1e-3)


def test_every_store_keeps_the_contract(kind, tmp_path):
    uri, exact, tolerance = kind
    dim = 32
    vectors, queries = clustered(2000, dim=dim), clustered(50, dim=dim, seed=1)
    labels = np.arange(1000, 3000)
    store = create_store(uri, dim)
    assert store.count() == 0 and not (store.search(queries[:2], 5)[1] >= 0).any()

    store.add(labels, vectors)
    assert store.count() == 2000 and store.dimension == dim
    # top-k by inner product: each vector finds itself first, scores are the inner products, best first
    scores, found = store.search(vectors[:20], 10)
    assert found[:, 0].tolist() == labels[:20].tolist() and np.allclose(scores[:, 0], 1.0, atol=1e-3)
    scores, found = store.search(queries, 10)
    expected = np.einsum("qd,qkd->qk", queries, vectors[found - 1000])
    assert np.allclose(scores, expected, atol=1e-3) and (np.diff(scores, axis=1) <= 1e-6).all()
    assert recall_at_10(store, queries, vectors, labels) >= (1.0 if exact else 0.97)
    # vectors back by label, in the order asked
    assert np.allclose(store.get(np.array([2999, 1000, 1500])), vectors[[1999, 0, 500]], atol=tolerance)

    # removed labels are never returned again, and can come back
    store.remove(np.arange(1000, 1040))
    assert store.count() == 1960
    assert not set(store.search(vectors[:40], 50)[1].ravel().tolist()) & set(range(1000, 1040))
    # a filter is searched inside the store: the best of the allowed labels it holds (removed ones never,
    # though HNSW still has them in its graph)
    for allowed in FILTERS:
        assert_filtered_search(store, queries, vectors, allowed, np.arange(1040, 3000), exact)
    assert not (store.search(queries[:2], 5, np.zeros(0, np.int64))[1] >= 0).any()
    store.add(np.arange(1000, 1005), vectors[:5])
    assert store.count() == 1965 and store.search(vectors[3:4], 1)[1][0, 0] == 1003

    # saved, then loaded as a fresh object: the same answers and the same description
    description = saved(store, tmp_path / "v1")
    before = store.search(queries, 10)
    store.close()
    loaded = load_store(tmp_path / "v1", description)
    assert type(loaded) is type(store) and loaded.describe() == description and loaded.count() == 1965
    after = loaded.search(queries, 10)
    assert np.array_equal(after[1], before[1]) and np.allclose(after[0], before[0], atol=1e-6)
    held = np.concatenate([np.arange(1000, 1005), np.arange(1040, 3000)])
    assert_filtered_search(loaded, queries, vectors, np.arange(1000, 1100), held, exact)

    # a small change saved after the load (a delta for the FAISS kinds that keep one) loads as it was left
    loaded.add(np.arange(5000, 5010), clustered(10, dim=dim, seed=2))
    loaded.remove(np.array([1100, 1101, 5003]))
    changed = loaded.search(queries, 10)
    description = saved(loaded, tmp_path / "v2")
    loaded.close()
    again = load_store(tmp_path / "v2", description)
    assert again.describe() == description and again.count() == 1972
    assert np.array_equal(again.search(queries, 10)[1], changed[1])
    assert not {1100, 1101, 5003} & set(again.search(vectors[100:102], 50)[1].ravel().tolist())
    again.close()


# ---- what is particular to each store ------------------------------------------------------------------


def test_each_faiss_kind_is_built_from_its_factory_string():
    import faiss

    flat, ivf, hnsw = FlatStore(16), IVFStore(16), HNSWStore(16)
    assert (flat.factory(), ivf.factory(64), hnsw.factory()) == ("IDMap2,Flat", "IVF64,SQfp16", "IDMap2,HNSW32,SQfp16")
    assert isinstance(flat.index, faiss.IndexIDMap2) and flat.index.metric_type == faiss.METRIC_INNER_PRODUCT
    assert isinstance(faiss.downcast_index(flat.index.index), faiss.IndexFlat)
    inner = faiss.downcast_index(hnsw.index.index)
    assert isinstance(inner, faiss.IndexHNSWSQ) and inner.metric_type == faiss.METRIC_L2
    assert (inner.hnsw.efConstruction, inner.hnsw.efSearch) == (200, 512)
    assert ivf.index is None  # untrained until the first vectors: the number of lists depends on them
    ivf.add(np.arange(400), clustered(400, dim=16))
    assert isinstance(ivf.index, faiss.IndexIVFScalarQuantizer) and ivf.index.metric_type == faiss.METRIC_L2
    assert ivf.index.sq.qtype == faiss.ScalarQuantizer.QT_fp16 and ivf.index.nlist == 10
    assert {"flat": FlatStore, "ivf": IVFStore, "hnsw": HNSWStore} == FAISS_KINDS


def test_hnsw_recall_against_exact_search_on_a_small_set():
    vectors = clustered(6000)
    queries = clustered(200, seed=1)
    store = HNSWStore(vectors.shape[1])
    store.add(np.arange(len(vectors)), vectors)
    assert recall_at_10(store, queries, vectors) >= 0.98


def test_ivf_recall_against_exact_search_probing_a_fraction_of_the_lists():
    # Loose clusters: with tight ones every list holds a whole cluster and a few lists find everything;
    # these need a third of the lists, as real questions over 1M passages need 160 of 4,096 (bench/README.md).
    vectors = clustered(20_000, clusters=400, spread=1.25)
    queries = clustered(200, clusters=400, seed=1, spread=1.25)
    store = IVFStore(vectors.shape[1])
    store.add(np.arange(len(vectors)), vectors)
    lists = store.describe()["lists"]
    assert lists == 500 and lists // 3 >= IVF_NPROBE == store.config.nprobe  # most lists are not read
    assert recall_at_10(store, queries, vectors) >= 0.98
    store.config = dataclasses.replace(store.config, nprobe=4)  # approximate indeed: a few lists miss neighbours
    assert recall_at_10(store, queries, vectors) < 0.9


def test_a_filter_widens_the_approximate_search_in_proportion():
    """A plain selector only skips the other vectors in the lists or graph region a search reads, which hold
    few of one document's: IVF reads more lists and HNSW keeps more candidates as the filter keeps fewer
    vectors (HNSW scores a filter's vectors one by one when that costs less), so one document's best are
    found as an exact search finds them, and a wide filter still has recall@10 ≥ .98."""
    import faiss

    from index.stores.faiss_base import selector

    def recall(found: np.ndarray, best: np.ndarray) -> float:
        return float(np.mean([len(set(f) & set(b)) / len(b) for f, b in zip(found, best, strict=True)]))

    vectors = clustered(20_000, clusters=400, spread=1.25)
    queries = clustered(50, clusters=400, seed=1, spread=1.25)
    ivf, hnsw = IVFStore(vectors.shape[1]), HNSWStore(vectors.shape[1])
    ivf.add(np.arange(20_000), vectors)
    hnsw.add(np.arange(6000), vectors[:6000])
    document = np.arange(5000, 5030)
    best = document[np.argsort(-(queries @ vectors[document].T), axis=1)[:, :10]]
    plain = ivf.index.search(
        queries, 10, params=faiss.SearchParametersIVF(nprobe=ivf.config.nprobe, sel=selector(document))
    )
    assert recall(plain[1], best) < 0.9  # what the selector alone finds, reading nprobe of the lists
    ivf.config = dataclasses.replace(ivf.config, nprobe=4)  # even then: every list is read for one document
    for store in (ivf, hnsw):
        assert recall(store.search(queries, 10, document)[1], best) == 1.0
    wide = np.arange(6000)[np.arange(6000) % 4 != 0]  # HNSW walks its graph, keeping 4/3 the candidates
    best = wide[np.argsort(-(queries @ vectors[wide].T), axis=1)[:, :10]]
    found = hnsw.search(queries, 10, wide)[1]
    assert set(found.ravel().tolist()) <= set(wide.tolist()) and recall(found, best) >= 0.98


def test_auto_store_switches_to_ivf_above_the_threshold_keeps_labels_and_retrains_when_grown(tmp_path):
    vectors = clustered(2000)
    store = AutoStore(vectors.shape[1], exact_below=200)
    store.add(np.arange(150), vectors[:150])
    assert isinstance(store.current, FlatStore) and store.kind == "flat"
    store.add(np.arange(150, 300), vectors[150:300])
    assert isinstance(store.current, IVFStore) and store.count() == 300 and store.current.trained_for == 300
    _, labels = store.search(vectors[[7, 250]], 1)
    assert labels[:, 0].tolist() == [7, 250]
    assert np.allclose(store.get(np.array([7, 250])), vectors[[7, 250]], atol=1e-3)  # float16 storage
    store.add(np.arange(300, 2000), vectors[300:])  # past 4× the trained size: new lists for the new size
    assert store.current.trained_for == 2000 and store.describe()["lists"] > 7 and store.count() == 2000
    assert store.search(vectors[1500:1501], 1)[1][0, 0] == 1500
    description = saved(store, tmp_path / "v1")
    assert description["policy"] == "auto" and description["kind"] == "ivf" and description["exact_below"] == 200
    loaded = load_store(tmp_path / "v1", description)
    assert isinstance(loaded, AutoStore) and isinstance(loaded.current, IVFStore) and loaded.exact_below == 200
    loaded.remove(np.arange(100, 2000))  # below the threshold: exact search again at the next add
    loaded.add(np.arange(3000, 3010), vectors[:10])
    assert isinstance(loaded.current, FlatStore) and loaded.count() == 110
    assert loaded.search(vectors[5:6], 2)[1][0].tolist() in ([5, 3005], [3005, 5])


def test_ivf_removes_in_place_and_an_empty_ivf_round_trips(tmp_path):
    vectors = clustered(3000)
    store = IVFStore(vectors.shape[1])
    store.add(np.arange(100, 3100), vectors)
    store.remove(np.arange(100, 150))
    assert store.count() == 2950 == store.index.ntotal  # removed from the lists, not hidden
    loaded = load_store(tmp_path, store.save(tmp_path))
    assert loaded.config.nprobe == store.config.nprobe and loaded.trained_for == 3000
    assert sorted(loaded.labels().tolist()) == list(range(150, 3100))
    empty = IVFStore(8)
    assert load_store(tmp_path / "x", saved(empty, tmp_path / "x")).count() == 0


def test_hnsw_removal_hides_labels_then_rebuilds(tmp_path):
    vectors = clustered(1000)
    store = HNSWStore(vectors.shape[1])
    store.add(np.arange(1000), vectors)
    store.remove(np.arange(0, 50))
    assert store.count() == 950 and len(store.deleted) == 50 and store.index.ntotal == 1000
    loaded = load_store(tmp_path, store.save(tmp_path))
    assert loaded.deleted == store.deleted and (tmp_path / "vectors.deleted.npy").exists()
    store.remove(np.arange(50, 400))  # past the deleted share: rebuilt without them
    assert store.deleted == set() and store.count() == 600 == store.index.ntotal
    assert sorted(store.labels().tolist()) == list(range(400, 1000))


@pytest.mark.parametrize("store_class", [FlatStore, IVFStore])
def test_a_small_change_saves_only_the_change(tmp_path, store_class):
    """After a load, a save of a few added and removed vectors links the whole file and writes the change
    beside it; loading base + change gives the store that was saved. A large change writes it all."""
    vectors = clustered(2000)
    store = store_class(vectors.shape[1])
    store.add(np.arange(2000), vectors)
    first = tmp_path / "v1"
    description = saved(store, first)

    loaded = load_store(first, description)
    added = clustered(30, seed=5)
    loaded.add(np.arange(5000, 5030), added)
    loaded.remove(np.arange(0, 20))
    second = tmp_path / "v2"
    description = saved(loaded, second)
    assert (second / "vectors.faiss").stat().st_ino == (first / "vectors.faiss").stat().st_ino
    assert (second / "vectors.delta.npz").stat().st_size < (first / "vectors.faiss").stat().st_size / 10

    reference = FlatStore(vectors.shape[1])
    reference.add(np.concatenate([np.arange(20, 2000), np.arange(5000, 5030)]), np.concatenate([vectors[20:], added]))
    again = load_store(second, description)
    queries = clustered(20, seed=9)
    assert again.count() == reference.count() == 2010
    if store_class is FlatStore:
        assert np.array_equal(again.search(queries, 10)[1], reference.search(queries, 10)[1])
    assert np.allclose(again.get(np.arange(5000, 5030)), added, atol=1e-3)

    # a chain of updates keeps one whole file: the change is counted from it
    again.remove(np.array([5000, 21]))
    third = tmp_path / "v3"
    description = saved(again, third)
    assert (third / "vectors.faiss").stat().st_ino == (first / "vectors.faiss").stat().st_ino
    chained = load_store(third, description)
    assert chained.count() == 2008
    _, found = chained.search(again.get(np.array([5001])), 5)
    assert found[0][0] == 5001 and not {5000, 21} & set(found.ravel().tolist())

    # a change above DELTA_SHARE of the store: the whole file again, no change file
    chained.add(np.arange(9000, 9400), clustered(400, seed=11))
    fourth = tmp_path / "v4"
    description = saved(chained, fourth)
    assert (fourth / "vectors.faiss").stat().st_ino != (first / "vectors.faiss").stat().st_ino
    assert not (fourth / "vectors.delta.npz").exists()
    assert load_store(fourth, description).count() == 2408


def test_a_milvus_filter_names_runs_of_labels_as_ranges():
    from index.stores.milvus import id_filter

    expression = id_filter(np.array([12, 5, 1, 2, 3, 9, 11, 2]))
    assert expression == "(id >= 1 and id <= 3) or (id >= 11 and id <= 12) or id in [5, 9]"
    assert id_filter(np.arange(1000, 5000)) == "(id >= 1000 and id <= 4999)" and id_filter(np.array([7])) == "id in [7]"


def test_store_uris(milvus_lite):
    assert is_milvus("milvus:./data/index/milvus.db") and is_milvus("x.db") and is_milvus("http://h:19530")
    assert not is_milvus("faiss") and not is_milvus("faiss:hnsw")
    address, options = parse_milvus_uri("milvus://db.example:19530?collection=docs")
    assert address == "http://db.example:19530" and options == {"collection": "docs"}
    assert parse_milvus_uri("milvus:rel/m.db")[0].endswith("/rel/m.db")
    stores = {uri: create_store(uri, 8) for uri in ("faiss", "faiss:flat", "faiss:ivf", "faiss:hnsw", milvus_lite)}
    assert [type(store) for store in stores.values()] == [AutoStore, FlatStore, IVFStore, HNSWStore, MilvusStore]
    assert stores[milvus_lite].local and all(isinstance(stores[f"faiss:{kind}"], FaissStore) for kind in FAISS_KINDS)
    for uri, store in stores.items():  # a store is updated in place only when the URI asks for its kind
        assert [same_store_kind(store, other) for other in stores] == [other == uri for other in stores]
    stores[milvus_lite].close()
    with pytest.raises(ValueError, match="Unknown vector store"):
        create_store("redis://x", 8)
    with pytest.raises(ValueError, match="unknown FAISS store kind"):
        create_store("faiss:pq", 8)


def test_cli_flags_choose_the_vector_store_and_the_backend(tmp_path):
    """`--vector-store` puts the index in Milvus (milvus-lite here: the folder keeps only the pointer to it);
    `--backend` picks the encoder."""
    import json

    from index.passage_index import read_manifest
    from tests.cli import index_cli as run
    from tests.conftest import FIXTURES

    index_dir, store = tmp_path / "index", tmp_path / "vectors.db"
    built = run(
        "build",
        "--corpus",
        str(FIXTURES / "corpus_small"),
        "--index",
        str(index_dir),
        "--vector-store",
        f"milvus:{store}",
        "--backend",
        "onnx",
    )
    assert built.returncode == 0, built.stderr
    manifest = read_manifest(index_dir)
    assert manifest["vector_index"]["store"] == "milvus" and store.exists()
    assert sorted(path.name for path in index_dir.iterdir()) == ["milvus.json", "write.lock"]
    assert manifest["model"]["passage_backend"] == "onnx"
    searched = run("search", "个人信息保护法规范了什么？", "--index", str(index_dir), "--json", "--backend", "torch")
    assert searched.returncode == 0, searched.stderr
    hits = json.loads(searched.stdout)["hits"]
    assert hits and "个人信息" in hits[0]["text"]
