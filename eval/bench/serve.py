"""Stage ``serve``: a fresh serving process loads an index of N passages and answers every question — latency
end to end and of search alone, recall@10 against exact search, the ANN parameter sweep, memory — and
``Profile``, the time per step of a question."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from eval.bench.common import peak_rss_mb, percentiles, questions, rss_mb, rss_split_mb
from index import settings


def stage_serve(args: dict) -> dict:
    """A serving process: load the index and the question encoder, answer the questions, measure."""
    from index.encoder import Encoder
    from index.passage_index import PassageIndex
    from index.search import Searcher

    baseline = bool(args.get("baseline"))
    if not args.get("full_index", True):
        return serve_vectors_only(args, baseline)
    memory = {"start_rss_mb": round(rss_mb(), 1)}
    started = time.perf_counter()
    index = PassageIndex.load(Path(args["index"]))
    load_seconds = time.perf_counter() - started
    memory["after_index_rss_mb"] = round(rss_mb(), 1)
    if baseline:  # the plain path: exact IndexFlatIP, torch fp32 questions
        from index.passage_index import RowVectors
        from index.stores import FlatStore

        vectors = np.load(Path(args["vectors"]))
        store = FlatStore(vectors.shape[1])
        store.add(np.arange(len(vectors)), vectors)
        del vectors
        index.vectors = RowVectors(store, np.arange(store.count()))
        encoder = Encoder(backend="torch")
    else:
        encoder = Encoder(backend=settings.backend_name())
    texts = [q.question for q in questions()]
    query_vectors = encoder.encode_queries(texts[:2])  # loads the question runtime
    memory["after_encoder_rss_mb"] = round(rss_mb(), 1)
    searcher = Searcher(index, encoder)
    for text in texts[:5]:
        searcher.search(text, k=10)
    profile = Profile(searcher)
    end_to_end = []
    from index import second_encoder

    for _ in range(args["passes"]):
        for text in texts:
            encoder.forget_queries()  # every question timed as a new one: no vector cached from a pass before
            second_encoder.forget()
            started = time.perf_counter()
            searcher.search(text, k=10)
            end_to_end.append(time.perf_counter() - started)
    profile.stop()
    query_vectors = np.load(Path(args["queries"])) if not baseline else encoder.encode_queries(texts)
    search_alone, found = [], []
    for _ in range(args["passes"]):
        found = []
        for vector in query_vectors:
            started = time.perf_counter()
            _, rows = index.dense_search(vector[None, :], 10)
            search_alone.append(time.perf_counter() - started)
            found.append(rows[0])
    exact = np.load(Path(args["exact"]))
    recall = None if baseline else recall_of(found, exact)
    sweep = [] if baseline else ann_sweep(index, query_vectors, exact)
    memory["peak_rss_mb"] = round(peak_rss_mb(), 1)
    memory |= {f"end_{name}": value for name, value in rss_split_mb().items()}
    return {
        "path": "torch fp32 + exact IndexFlatIP" if baseline else f"{encoder.query_backend} questions + store",
        "store": index.vector_store.describe(),
        "load_seconds": round(load_seconds, 2),
        "end_to_end": percentiles(end_to_end),
        "search_alone": percentiles(search_alone),
        "recall_at_10": None if recall is None else round(recall, 4),
        "profile_ms_per_question": profile.summary(end_to_end),
        "ann_sweep": sweep,
        "memory": memory,
    }


def recall_of(rows: list[np.ndarray], exact: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(e.tolist())) / 10 for f, e in zip(rows, exact, strict=True)]))


# The one search parameter of each approximate store kind, and the values the sweep measures.
SWEEPS = {"ivf": ("nprobe", (32, 64, 96, 128, 160, 192, 256)), "hnsw": ("ef_search", (64, 128, 256, 512, 1024))}


def ann_sweep(index, query_vectors: np.ndarray, exact: np.ndarray) -> list[dict]:
    """Recall@10 and latency of an approximate store against its search parameter (IVF nprobe, HNSW efSearch)."""
    store = index.vector_store
    if getattr(store, "kind", "") not in SWEEPS:
        return []
    parameter, values = SWEEPS[store.kind]
    sweep, default = [], store.config
    for value in values:
        store.config = dataclasses.replace(default, **{parameter: value})
        latencies, rows = [], []
        for vector in query_vectors:
            started = time.perf_counter()
            rows.append(index.dense_search(vector[None, :], 10)[1][0])
            latencies.append(time.perf_counter() - started)
        recall = round(recall_of(rows, exact), 4)
        sweep.append({"parameter": parameter, "value": value, "recall_at_10": recall, **percentiles(latencies)})
    store.config = default
    return sweep


def serve_vectors_only(args: dict, baseline: bool) -> dict:
    """A serving process holding the vector store and the question encoder: search alone, recall, memory."""
    from index.encoder import Encoder
    from index.passage_index import RowVectors
    from index.stores import FlatStore, load_store

    memory = {"start_rss_mb": round(rss_mb(), 1)}
    directory = Path(args["index"])
    started = time.perf_counter()
    if baseline:
        vectors = np.load(Path(args["vectors"]))
        store = FlatStore(vectors.shape[1])
        store.add(np.arange(len(vectors)), vectors)
        del vectors
    else:
        store = load_store(directory, json.loads((directory / "store.json").read_text()))
    load_seconds = time.perf_counter() - started
    memory["after_index_rss_mb"] = round(rss_mb(), 1)
    encoder = Encoder(backend="torch") if baseline else Encoder(backend=settings.backend_name())
    texts = [q.question for q in questions()]
    query_vectors = encoder.encode_queries(texts)
    memory["after_encoder_rss_mb"] = round(rss_mb(), 1)

    class VectorsOnly:  # what ann_sweep and dense_search need of a PassageIndex
        def __init__(self, store):
            self.vectors = RowVectors(store, np.arange(store.count(), dtype=np.int64))
            self.vector_store = store

        def dense_search(self, queries, k):
            return self.vectors.search(queries, k)

    index = VectorsOnly(store)
    for vector in query_vectors[:5]:
        index.dense_search(vector[None, :], 10)
    search_alone, found = [], []
    for vector in query_vectors:
        started = time.perf_counter()
        found.append(index.dense_search(vector[None, :], 10)[1][0])
        search_alone.append(time.perf_counter() - started)
    exact = np.load(Path(args["exact"]))
    recall = recall_of(found, exact)
    sweep = [] if baseline else ann_sweep(index, query_vectors, exact)
    memory["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return {
        "path": "torch fp32 + exact IndexFlatIP" if baseline else f"{encoder.query_backend} questions + store",
        "vectors_only": True,
        "store": store.describe(),
        "load_seconds": round(load_seconds, 2),
        "end_to_end": None,
        "search_alone": percentiles(search_alone),
        "recall_at_10": None if baseline else round(recall, 4),
        "ann_sweep": sweep,
        "memory": memory,
    }


class Profile:
    """Time per stage of a question, by wrapping the stages the searcher calls (the functions its module
    imported, and the methods of its keyword scorer and encoder); what no wrapper covers is ``other``."""

    # (label, name in index.search.searcher) (the labels are the report's rows, kept across versions)
    FUNCTIONS = (
        ("to_simplified", "to_simplified"),
        ("dense_candidates", "dense_candidates"),
        ("add_sentence_scores", "add_sentence_scores"),
        ("fuse", "fuse"),
        ("collapse", "collapse"),
        ("highlight", "highlight_row"),
    )

    def __init__(self, searcher):
        import index.search.searcher as stages

        self.totals: dict[str, float] = {}
        self.searcher = searcher
        self.wrapped = []
        self.restore = []
        self._wrap(searcher.keyword, "groups", "keyword_groups")
        self._wrap(searcher.keyword, "add_scores", "add_keyword_scores")
        self._wrap(searcher.encoder, "encode_queries", "encode_question")
        self._wrap(searcher, "hits", "make_hits")
        for label, name in self.FUNCTIONS:
            original = getattr(stages, name)
            self.restore.append((stages, name, original))
            setattr(stages, name, self._timed(original, label))

    def _timed(self, original, label: str):
        totals = self.totals
        totals.setdefault(label, 0.0)

        def timed(*a, **k):
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                totals[label] += time.perf_counter() - started

        return timed

    def _wrap(self, owner, attribute: str, label: str) -> None:
        setattr(owner, attribute, self._timed(getattr(owner, attribute), label))
        self.wrapped.append((owner, attribute))

    def stop(self) -> None:
        for owner, attribute in self.wrapped:
            delattr(owner, attribute)
        for module, name, original in self.restore:
            setattr(module, name, original)

    def summary(self, latencies: list[float]) -> dict[str, float]:
        per_question = {name: 1000 * total / max(1, len(latencies)) for name, total in self.totals.items()}
        per_question["other"] = 1000 * float(np.mean(latencies)) - sum(per_question.values())
        per_question["total_mean"] = 1000 * float(np.mean(latencies))
        return {name: round(value, 3) for name, value in per_question.items()}
