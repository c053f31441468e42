"""Vector stores: FAISS exact, IVF and HNSW (recall against exact search), and Milvus on milvus-lite (not mocked)."""

from __future__ import annotations

import numpy as np
import pytest

from index.vector_store import (
    IVF_NPROBE,
    FaissStore,
    MilvusStore,
    create_store,
    is_milvus,
    load_store,
    parse_milvus_uri,
)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, dim: int = 48, clusters: int = 40, seed: int = 0, spread: float = 0.6) -> np.ndarray:
    """Unit vectors in clusters, like text embeddings (which are neither uniform nor isolated points);
    the clusters are the same for every seed, the points differ."""
    centers = np.random.default_rng(1234).standard_normal((clusters, dim))
    rng = np.random.default_rng(seed)
    return unit(centers[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim)))


def recall_at_10(store, queries: np.ndarray, vectors: np.ndarray) -> float:
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    _, found = store.search(queries, 10)
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)]))


def test_flat_store_add_search_get_remove_and_round_trip(tmp_path):
    vectors = clustered(500)
    store = FaissStore(vectors.shape[1], "flat")
    store.add(np.arange(1000, 1500), vectors)
    assert store.count() == 500 and store.kind == "flat"
    scores, labels = store.search(vectors[:3], 5)
    assert labels[:, 0].tolist() == [1000, 1001, 1002]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
    assert np.allclose(store.get(np.array([1499, 1000])), vectors[[499, 0]])
    store.remove(np.array([1000, 1001]))
    assert store.count() == 498
    _, labels = store.search(vectors[:2], 5)
    assert 1000 not in labels and 1001 not in labels
    description = store.save(tmp_path)
    loaded = load_store(tmp_path, description)
    assert loaded.count() == 498 and loaded.search(vectors[2:3], 1)[1][0, 0] == 1002


def test_hnsw_recall_against_exact_search_on_a_small_set():
    vectors = clustered(6000)
    queries = clustered(200, seed=1)
    store = FaissStore(vectors.shape[1], "hnsw")
    store.add(np.arange(len(vectors)), vectors)
    assert store.kind == "hnsw"
    assert recall_at_10(store, queries, vectors) >= 0.98


def test_ivf_recall_against_exact_search_probing_a_fraction_of_the_lists():
    # Loose clusters: with tight ones every list holds a whole cluster and a few lists find everything;
    # these need a third of the lists, as real questions over 1M passages need 160 of 4,096 (bench/README.md).
    vectors = clustered(20_000, clusters=400, spread=1.25)
    queries = clustered(200, clusters=400, seed=1, spread=1.25)
    store = FaissStore(vectors.shape[1], "ivf")
    store.add(np.arange(len(vectors)), vectors)
    lists = store.describe()["lists"]
    assert store.kind == "ivf" and lists == 500 and lists // 3 >= IVF_NPROBE  # most lists are not read
    assert recall_at_10(store, queries, vectors) >= 0.98
    store.nprobe = 4  # the index is approximate indeed: a few lists miss neighbours
    assert recall_at_10(store, queries, vectors) < 0.9


def test_auto_store_switches_to_ivf_above_the_threshold_keeps_labels_and_retrains_when_grown():
    vectors = clustered(2000)
    store = FaissStore(vectors.shape[1], "auto", exact_below=200)
    store.add(np.arange(150), vectors[:150])
    assert store.kind == "flat"
    store.add(np.arange(150, 300), vectors[150:300])
    assert store.kind == "ivf" and store.count() == 300 and store.trained_for == 300
    _, labels = store.search(vectors[[7, 250]], 1)
    assert labels[:, 0].tolist() == [7, 250]
    assert np.allclose(store.get(np.array([7, 250])), vectors[[7, 250]], atol=1e-3)  # float16 storage
    store.add(np.arange(300, 2000), vectors[300:])  # past 4× the trained size: new lists for the new size
    assert store.trained_for == 2000 and store.describe()["lists"] > 7 and store.count() == 2000
    assert store.search(vectors[1500:1501], 1)[1][0, 0] == 1500


def test_ivf_removes_in_place_and_round_trips(tmp_path):
    vectors = clustered(3000)
    store = FaissStore(vectors.shape[1], "ivf")
    store.add(np.arange(100, 3100), vectors)
    store.remove(np.arange(100, 150))
    assert store.count() == 2950 and store.deleted == set()
    assert not set(store.search(vectors[:50], 10)[1].ravel().tolist()) & set(range(100, 150))
    loaded = load_store(tmp_path, store.save(tmp_path))
    assert loaded.kind == "ivf" and loaded.count() == 2950 and loaded.nprobe == store.nprobe
    assert sorted(loaded._labels().tolist()) == list(range(150, 3100))
    assert not set(loaded.search(vectors[:50], 10)[1].ravel().tolist()) & set(range(100, 150))
    loaded.add(np.arange(100, 110), vectors[:10])  # labels can come back
    assert loaded.search(vectors[3:4], 1)[1][0, 0] == 103
    empty = FaissStore(8, "ivf")
    assert load_store(tmp_path / "x", empty.save((tmp_path / "x").mkdir() or tmp_path / "x")).count() == 0


def test_hnsw_removal_hides_labels_then_rebuilds(tmp_path):
    vectors = clustered(1000)
    store = FaissStore(vectors.shape[1], "hnsw")
    store.add(np.arange(1000), vectors)
    store.remove(np.arange(0, 50))
    assert store.count() == 950 and len(store.deleted) == 50
    _, labels = store.search(vectors[:50], 10)
    assert not set(labels.ravel().tolist()) & set(range(50))
    loaded = load_store(tmp_path, store.save(tmp_path))
    assert loaded.count() == 950
    assert not set(loaded.search(vectors[:50], 10)[1].ravel().tolist()) & set(range(50))
    store.remove(np.arange(50, 400))  # past the deleted share: rebuilt without them
    assert store.deleted == set() and store.count() == 600
    store.add(np.arange(0, 10), vectors[:10])  # labels can come back
    assert store.search(vectors[3:4], 1)[1][0, 0] == 3


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_a_small_change_saves_only_the_change(tmp_path, kind):
    """After a load, a save of a few added and removed vectors links the whole file and writes the change
    beside it; loading base + change gives the store that was saved. A large change writes it all."""
    vectors = clustered(2000)
    store = FaissStore(vectors.shape[1], kind)
    store.add(np.arange(2000), vectors)
    first = tmp_path / "v1"
    first.mkdir()
    description = store.save(first)
    store.published(first)

    def save_as(name, store):
        folder = tmp_path / name
        folder.mkdir()
        description = store.save(folder)
        store.published(folder)
        return folder, description

    loaded = FaissStore.load(first, description)
    added = clustered(30, seed=5)
    loaded.add(np.arange(5000, 5030), added)
    loaded.remove(np.arange(0, 20))
    second, description = save_as("v2", loaded)
    assert (second / "vectors.faiss").stat().st_ino == (first / "vectors.faiss").stat().st_ino
    assert (second / "vectors.delta.npz").stat().st_size < (first / "vectors.faiss").stat().st_size / 10

    reference = FaissStore(vectors.shape[1], "flat")
    reference.add(np.concatenate([np.arange(20, 2000), np.arange(5000, 5030)]), np.concatenate([vectors[20:], added]))
    again = FaissStore.load(second, description)
    queries = clustered(20, seed=9)
    assert again.count() == reference.count() == 2010
    if kind == "flat":
        assert np.array_equal(again.search(queries, 10)[1], reference.search(queries, 10)[1])
    assert np.allclose(again.get(np.arange(5000, 5030)), added, atol=1e-3)

    # a chain of updates keeps one whole file: the change is counted from it
    again.remove(np.array([5000, 21]))
    third, description = save_as("v3", again)
    assert (third / "vectors.faiss").stat().st_ino == (first / "vectors.faiss").stat().st_ino
    chained = FaissStore.load(third, description)
    assert chained.count() == 2008
    _, found = chained.search(again.get(np.array([5001])), 5)
    assert found[0][0] == 5001 and not {5000, 21} & set(found.ravel().tolist())

    # a change above DELTA_SHARE of the store: the whole file again, no change file
    chained.add(np.arange(9000, 9400), clustered(400, seed=11))
    fourth, description = save_as("v4", chained)
    assert (fourth / "vectors.faiss").stat().st_ino != (first / "vectors.faiss").stat().st_ino
    assert not (fourth / "vectors.delta.npz").exists()
    assert FaissStore.load(fourth, description).count() == 2408


def test_store_uris():
    assert is_milvus("milvus:./data/index/milvus.db") and is_milvus("x.db") and is_milvus("http://h:19530")
    assert not is_milvus("faiss") and not is_milvus("faiss:hnsw")
    address, options = parse_milvus_uri("milvus://db.example:19530?collection=docs")
    assert address == "http://db.example:19530" and options == {"collection": "docs"}
    assert parse_milvus_uri("milvus:rel/m.db")[0].endswith("/rel/m.db")
    assert isinstance(create_store("faiss:flat", 8), FaissStore)
    with pytest.raises(ValueError, match="Unknown vector store"):
        create_store("redis://x", 8)


@pytest.fixture
def milvus_lite(tmp_path):
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as error:  # fail, do not skip: the Milvus path must be tested
        pytest.fail(f"milvus-lite is not installed ({error}); pip install pymilvus milvus-lite (requirements.txt)")
    return f"milvus:{tmp_path / 'store.db'}"


def test_milvus_lite_round_trip(milvus_lite, tmp_path):
    vectors = clustered(300, dim=32)
    store = create_store(milvus_lite, 32)
    assert isinstance(store, MilvusStore) and store.local
    store.add(np.arange(10, 310), vectors)
    assert store.count() == 300
    scores, labels = store.search(vectors[:3], 5)
    assert labels[:, 0].tolist() == [10, 11, 12] and np.allclose(scores[:, 0], 1.0, atol=1e-4)
    assert np.allclose(store.get(np.array([309, 10])), vectors[[299, 0]], atol=1e-6)
    store.remove(np.array([10, 11]))
    assert store.count() == 298
    assert not {10, 11} & set(store.search(vectors[:2], 5)[1].ravel().tolist())
    description = store.save(tmp_path)
    store.close()
    loaded = load_store(tmp_path, description)
    assert loaded.dimension == 32 and loaded.count() == 298
    assert loaded.search(vectors[5:6], 1)[1][0, 0] == 15
    _, found = loaded.search(vectors[100:150], 10)
    exact = np.argsort(-(vectors[100:150] @ vectors[2:].T), axis=1)[:, :10] + 12
    assert np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)]) >= 0.98
    loaded.close()


def test_cli_flags_choose_the_vector_store_and_the_backend(tmp_path):
    """`--vector-store` puts the vectors in Milvus (milvus-lite here); `--backend` picks the encoder."""
    import json
    import subprocess
    import sys

    from index.passage_index import read_manifest
    from index.settings import PROJECT_ROOT
    from tests.conftest import FIXTURES

    index_dir, store = tmp_path / "index", tmp_path / "vectors.db"
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "index", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )
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
    assert manifest["model"]["passage_backend"] == "onnx"
    searched = run("search", "个人信息保护法规范了什么？", "--index", str(index_dir), "--json", "--backend", "torch")
    assert searched.returncode == 0, searched.stderr
    hits = json.loads(searched.stdout)["hits"]
    assert hits and "个人信息" in hits[0]["text"]
