"""CiteLens benchmark: ``python -m eval.bench [--quick] [--out DIR]``.

Measures, in one run and side by side, and writes ``bench.json``, ``bench.md`` and ``bench.png`` to
the output folder:

1. embedding throughput (tokens/s, chunks/s) of every encoder backend, on the bundled corpus and on a
   sample of a generated 20k+-chunk corpus of real Chinese text, backends interleaved (best of rounds);
2. retrieval quality (hit@5, MRR@10, dev and held-out questions) of indexes embedded by each backend;
3. build time and incremental add / change / remove times on a generated corpus;
4. at each collection size (1k, 100k, 1M passages; vectors beyond the real ones synthetic): question
   latency p50/p95/p99 end to end and search alone, recall@10 of the store against exact search, peak
   RSS of the serving process and index size on disk — each size in subprocesses of its own, so peaks
   do not mix, and each beside the plain path (torch fp32 questions, exact IndexFlatIP) of the same run.

Figures carry the machine's core count and a ratio to torch fp32 / exact search measured in the same
run, so they mean something on a noisy machine. ``--quick`` is a run of a few minutes (sizes 1k and 20k,
fewer texts, no quality stage unless ``--quality``, no 1M: its 1M fields are null). A large index is
assembled as a large collection is built, in segments of ``MAKE_BATCH`` passages (an update each), so
the assembling process holds one batch; sizes above ``--full-index-limit`` (1M) are served as the vector
store and question encoder alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from index import settings

ROOT = settings.PROJECT_ROOT
QA_FILES = [ROOT / "data" / "eval" / "dev_qa.jsonl", ROOT / "data" / "eval" / "heldout_qa.jsonl"]
BASELINE = "torch"
MAKE_BATCH = 200_000  # passages a batch when assembling a large index (a segment each)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def rss_split_mb() -> dict[str, float]:
    """Resident memory now, by kind (Linux): anonymous (the process's own heap and arrays) and file-backed
    (pages of memory-mapped index files: the OS page cache, shared, dropped under memory pressure)."""
    fields = {"RssAnon": "anon_rss_mb", "RssFile": "file_rss_mb"}
    split = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in fields:
                split[fields[name]] = round(int(value.split()[0]) / 1024, 1)
    return split


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values) * 1000
    return {
        "p50_ms": round(float(np.percentile(array, 50)), 3),
        "p95_ms": round(float(np.percentile(array, 95)), 3),
        "p99_ms": round(float(np.percentile(array, 99)), 3),
        "n": len(values),
    }


def folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20, 2)


def questions() -> list:
    from eval.question_sets import read_gold_jsonl

    return [q for path in QA_FILES for q in read_gold_jsonl(path)]


def environment() -> dict:
    from index.runtimes import cpu_flags, threads

    flags = cpu_flags()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    versions = {}
    for package in ("torch", "onnxruntime", "openvino", "faiss", "sentence_transformers", "bm25s", "pymilvus"):
        try:
            versions[package] = __import__(package).__version__
        except Exception:  # an optional package
            versions[package] = None
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cores": threads(),
        "cpu": model,
        "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c")) or "vnni" in f),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "versions": versions,
    }


# ---- subprocess plumbing ---------------------------------------------------------------------------


def run_stage(stage: str, folder: Path, **args) -> dict:
    """Run one stage in a fresh interpreter (its own peak RSS); its result comes back as JSON."""
    result_file = folder / "stages" / f"{stage}-{args.get('tag', '')}.json"
    result_file.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "eval.bench", "--stage", stage, "--stage-args", json.dumps(args)]
    command += ["--stage-out", str(result_file)]
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    completed = subprocess.run(command, cwd=ROOT, env=env)
    if completed.returncode != 0 or not result_file.exists():
        log(f"stage {stage} {args.get('tag', '')} failed (exit {completed.returncode})")
        return {"error": f"exit {completed.returncode}", "seconds": round(time.perf_counter() - started, 1)}
    return json.loads(result_file.read_text())


# ---- corpora -----------------------------------------------------------------------------------------


def build_texts(corpus_dir: Path, count_tokens, limit_docs: int | None = None) -> tuple[list[str], int]:
    """The texts an index build embeds (chunks, then their sentences), as index.build makes them."""
    from index.build import BuildSettings, embedding_text, sentence_rows
    from ingest.chunking import chunk_document
    from ingest.pipeline import load_corpus

    documents, _ = load_corpus(corpus_dir)
    documents = documents[:limit_docs] if limit_docs else documents
    build = BuildSettings()
    texts, chunks = [], 0
    for doc in documents:
        doc_chunks = chunk_document(doc, count_tokens, build.max_tokens, build.overlap_tokens)
        _, starts, ends = sentence_rows(doc_chunks)
        texts += [embedding_text(chunk, build.context) for chunk in doc_chunks]
        texts += [doc.text[s:e] for s, e in zip(starts, ends, strict=True)]
        chunks += len(doc_chunks)
    return texts, chunks


def chunk_texts(corpus_dir: Path, count_tokens) -> list[str]:
    from index.build import BuildSettings
    from ingest.chunking import chunk_document
    from ingest.pipeline import load_corpus

    documents, _ = load_corpus(corpus_dir)
    build = BuildSettings()
    return [c.text for d in documents for c in chunk_document(d, count_tokens, build.max_tokens, build.overlap_tokens)]


# ---- stage: encoder throughput ----------------------------------------------------------------------


def stage_encode(args: dict) -> dict:
    from index.encoder import Encoder, load_token_counter

    count_tokens = load_token_counter()
    bundled, bundled_chunks = build_texts(settings.BUNDLED_CORPUS, count_tokens)
    large_all = chunk_texts(Path(args["large_corpus"]), count_tokens)
    rng = random.Random(3)
    large = rng.sample(large_all, min(args["large_sample"], len(large_all)))
    if args.get("bundled_limit"):
        bundled = bundled[: args["bundled_limit"]]
    sets = {"bundled": bundled, "large": large}
    encoders = {name: Encoder(backend=name, query_backend=name) for name in args["backends"]}
    tokenizer = next(iter(encoders.values())).tokenizer
    prompt = next(iter(encoders.values())).passage_prompt

    def model_tokens(texts: list[str]) -> int:
        encoded = tokenizer([prompt + t for t in texts], truncation=True, max_length=512)["input_ids"]
        return sum(len(ids) for ids in encoded)

    tokens = {name: model_tokens(texts) for name, texts in sets.items()}
    for encoder in encoders.values():  # load and warm every runtime before timing any
        encoder.encode_passages(bundled[:16])
        encoder.encode_queries(["数据安全法"])
    best: dict[str, dict[str, float]] = {name: {} for name in encoders}
    vectors: dict[str, dict[str, np.ndarray]] = {name: {} for name in encoders}
    for round_number in range(args["rounds"]):
        for set_name, texts in sets.items():
            for name, encoder in encoders.items():  # interleaved: a busy spell hits every backend alike
                started = time.perf_counter()
                vectors[name][set_name] = encoder.encode_passages(texts)
                elapsed = time.perf_counter() - started
                best[name][set_name] = min(best[name].get(set_name, np.inf), elapsed)
                log(f"encode round {round_number + 1} {set_name} {name}: {tokens[set_name] / elapsed:,.0f} tokens/s")
    question_texts = [q.question for q in questions()][:40]
    result: dict = {
        "texts": {name: len(texts) for name, texts in sets.items()},
        "tokens": tokens,
        "bundled_chunks": bundled_chunks,
        "large_corpus_chunks": len(large_all),
        "rounds": args["rounds"],
        "backends": {},
    }
    reference = vectors.get(BASELINE)
    for name, encoder in encoders.items():
        latencies = []
        for text in question_texts:
            started = time.perf_counter()
            encoder.encode_queries([text])
            latencies.append(time.perf_counter() - started)
        entry = {"query_runtime": encoder.query_backend, "question_encode": percentiles(latencies)}
        for set_name, texts in sets.items():
            seconds = best[name][set_name]
            entry[set_name] = {
                "seconds": round(seconds, 3),
                "tokens_per_s": round(tokens[set_name] / seconds, 1),
                "texts_per_s": round(len(texts) / seconds, 2),
            }
            if reference is not None:
                cosine = (vectors[name][set_name] * reference[set_name]).sum(1)
                entry[set_name]["cosine_to_torch_min"] = round(float(cosine.min()), 5)
                entry[set_name]["cosine_to_torch_mean"] = round(float(cosine.mean()), 5)
        result["backends"][name] = entry
    if BASELINE in best:
        for name in encoders:
            for set_name in sets:
                base = result["backends"][BASELINE][set_name]["tokens_per_s"]
                result["backends"][name][set_name]["x_torch"] = round(
                    result["backends"][name][set_name]["tokens_per_s"] / base, 2
                )
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


# ---- stage: retrieval quality per backend ----------------------------------------------------------------


def stage_quality(args: dict) -> dict:
    from eval.harness import evaluate_search
    from eval.question_sets import read_gold_jsonl
    from index.build import build_index
    from index.encoder import Encoder
    from index.passage_index import PassageIndex
    from index.search import CONFIGS, Searcher

    work = Path(args["work"])
    results = {}
    for variant in args["variants"]:  # "passages/questions"
        passage_backend, _, query_backend = variant.partition("/")
        encoder = Encoder(backend=passage_backend, query_backend=query_backend or None)
        directory = work / f"quality-{passage_backend}"
        if not (directory / "CURRENT").exists():
            started = time.perf_counter()
            build_index(settings.BUNDLED_CORPUS, directory, encoder, progress=False, log=lambda m: None)
            build_seconds = round(time.perf_counter() - started, 2)
        else:
            build_seconds = None
        index = PassageIndex.load(directory)
        searcher = Searcher(index, encoder)
        passages = {chunk.chunk_id: chunk.text for chunk in index.chunks}
        entry: dict = {"passage_backend": passage_backend, "query_backend": encoder.query_backend}
        if build_seconds is not None:
            entry["bundled_build_seconds"] = build_seconds
        for qa in args["qa_files"]:
            gold = read_gold_jsonl(Path(qa))
            for config in ("dense", "full"):
                evaluated = evaluate_search(
                    variant, lambda q, k, c=config, s=searcher: s.search(q, k, CONFIGS[c]), gold, passages, 10
                )
                groups = {}
                for group in ("all", "zh", "en"):
                    metrics = evaluated.metrics.get(group)
                    if metrics:
                        groups[group] = {
                            "hit@5": round(metrics["hit_rate@5"], 4),
                            "mrr@10": round(metrics["mrr@10"], 4),
                            "n": int(metrics["questions"]),
                        }
                entry[f"{Path(qa).stem}/{config}"] = groups
        results[variant] = entry
        log(f"quality {variant}: {json.dumps({k: v for k, v in entry.items() if '/' in k})[:300]}")
    return {"variants": results}


# ---- stage: build and incremental updates -------------------------------------------------------------


def stage_build(args: dict) -> dict:
    from index.build import build_index
    from index.encoder import Encoder

    corpus = Path(args["corpus"])
    directory = Path(args["work"]) / "build-index"
    shutil.rmtree(directory, ignore_errors=True)
    encoder = Encoder()
    encoder.encode_passages(["预热"])
    quiet = {"progress": False, "log": lambda m: None}
    started = time.perf_counter()
    report = build_index(corpus, directory, encoder, **quiet)
    full = time.perf_counter() - started
    result = {
        "backend": encoder.backend,
        "documents": report.documents,
        "chunks": report.chunks,
        "build_seconds": round(full, 2),
        "chunks_per_s": round(report.chunks / full, 2),
        "index_mb": folder_mb(directory),
    }
    spare = Path(args["spare_document"])
    steps = {}
    # add one document
    shutil.copy(spare, corpus / "zz_added.txt")
    steps["add"] = timed_build(corpus, directory, encoder)
    # change one document (a paragraph appended)
    changed = sorted(corpus.glob("*.txt"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n新增段落：数字经济规模持续扩大。\n", encoding="utf-8")
    steps["change"] = timed_build(corpus, directory, encoder)
    # remove one document
    (corpus / "zz_added.txt").unlink()
    steps["remove"] = timed_build(corpus, directory, encoder)
    # nothing changed
    steps["unchanged"] = timed_build(corpus, directory, encoder)
    for step in steps.values():
        step["x_full_build"] = round(step["seconds"] / full, 4)
    result["incremental"] = steps
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def timed_build(corpus: Path, directory: Path, encoder) -> dict:
    from index.build import build_index

    calls = {"texts": 0, "seconds": 0.0}
    original = encoder.encode_passages

    def counting(texts, *a, **k):
        started = time.perf_counter()
        vectors = original(texts, *a, **k)
        calls["texts"] += len(texts)
        calls["seconds"] += time.perf_counter() - started
        return vectors

    encoder.encode_passages = counting
    try:
        started = time.perf_counter()
        report = build_index(corpus, directory, encoder, progress=False, log=lambda m: None)
        seconds = time.perf_counter() - started
    finally:
        del encoder.encode_passages
    return {
        "seconds": round(seconds, 3),
        "documents_embedded": report.embedded,
        "texts_embedded": calls["texts"],
        "embedding_seconds": round(calls["seconds"], 3),
        "other_seconds": round(seconds - calls["seconds"], 3),
        "removed": report.removed,
        "chunks": report.chunks,
    }


# ---- stage: a large build, batch by batch ----------------------------------------------------------------


def stage_scale_build(args: dict) -> dict:
    """``python -m index build``'s own path over a larger folder, in batches of ``batch_chunks`` chunks (the
    default batch is larger, this shows several): throughput of a real build, and peak RSS after each
    batch, which stays flat when memory holds one batch rather than the collection."""
    import index.build as build_module
    from index.encoder import Encoder
    from index.passage_index import read_manifest

    build_module.BATCH_CHUNKS = int(args["batch_chunks"])
    corpus, directory = Path(args["corpus"]), Path(args["work"]) / "scale-index"
    shutil.rmtree(directory, ignore_errors=True)
    encoder = Encoder()
    encoder.encode_passages(["预热"])
    texts = {"total": 0}
    batches = []
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        texts["total"] = total

    def log_batch(message: str) -> None:
        if message.startswith(("Batch ", "Index saved")):
            batches.append({"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb())})

    report = build_module.build_index(corpus, directory, encoder, progress=progress, log=log_batch)
    seconds = time.perf_counter() - started
    return {
        "backend": encoder.backend,
        "documents": report.documents,
        "chunks": report.chunks,
        "texts_embedded": texts["total"],
        "batch_chunks": build_module.BATCH_CHUNKS,
        "default_batch_chunks": int(args["default_batch_chunks"]),
        "seconds": round(seconds, 1),
        "chunks_per_s": round(report.chunks / seconds, 2),
        "texts_per_s": round(texts["total"] / seconds, 1),
        "batches": batches,
        "index_mb": folder_mb(directory),
        "segments": len(read_manifest(directory)["segments"]),
    }


# ---- stage: an index of N passages -----------------------------------------------------------------------


def stage_make(args: dict) -> dict:
    """Assemble an index of N passages (real ones first, then synthetic), save it, and the exact answers.

    Assembled as a large collection is built: in batches of ``MAKE_BATCH`` passages, the first a new index
    and each further one an update that adds a segment (saved, then the index loaded again), so memory
    holds one batch, not the collection."""
    from eval.bench_data import synthetic_index_parts
    from index.passage_index import PassageIndex

    size = int(args["size"])
    real = PassageIndex.load(Path(args["real_index"]))
    if not args.get("full_index", True):
        return make_vectors_only(real, size, args)
    directory = Path(args["index"])
    shutil.rmtree(directory, ignore_errors=True)
    started = time.perf_counter()
    batches, info = synthetic_index_parts(real, size, seed=size, batch=MAKE_BATCH)
    timings = {"generate": 0.0, "assemble": 0.0, "save": 0.0, "load": 0.0}
    vectors, index = [], None
    while True:
        started = time.perf_counter()
        parts = next(batches, None)
        timings["generate"] += time.perf_counter() - started
        if parts is None:
            break
        parts.sort(key=lambda part: part.document.doc_id)  # a segment's row order: the exact answers use it
        vectors.append(np.concatenate([np.asarray(p.vectors, dtype=np.float32) for p in parts]))
        log(f"size {size}: a batch of {len(vectors[-1]):,} passages; assembling")
        started = time.perf_counter()
        if index is None:
            index = PassageIndex.create(parts, real.model, real.manifest["build"], None, args.get("store"))
        else:
            index = index.update(parts, (), None, args.get("store"))
        timings["assemble"] += time.perf_counter() - started
        del parts
        started = time.perf_counter()
        index.save(directory)
        timings["save"] += time.perf_counter() - started
        started = time.perf_counter()
        index = PassageIndex.load(directory)  # the batch leaves memory: segments are read from disk
        timings["load"] += time.perf_counter() - started
    vectors = np.concatenate(vectors)
    np.save(Path(args["vectors"]), vectors)
    result = {
        "size": size,
        "synthetic": info,
        "store": index.vector_store.describe(),
        "batches": len(index.segments),
        **{f"{name}_seconds": round(value, 1) for name, value in timings.items()},
        "index_mb": folder_mb(directory),
        "files_mb": _files_mb(directory),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    del index
    if args.get("incremental", True):  # off for extra sizes measured only for serving
        try:
            result["incremental"] = incremental_at_size(directory)
        except Exception as error:  # a measurement, not the benchmark's reason to stop
            result["incremental"] = {"error": repr(error)}
    save_exact(vectors, args)
    return result


def written_mb(directory: Path, since: float) -> float:
    """MB of the files under ``directory`` written since the time ``since``."""
    files = [f for f in Path(directory).rglob("*") if f.is_file() and f.stat().st_mtime >= since]
    return round(sum(f.stat().st_size for f in files) / 2**20, 2)


def _files_mb(directory: Path) -> dict[str, float]:
    """MB on disk by file name, summed over segments and the live version."""
    sizes: dict[str, float] = {}
    for path in Path(directory).rglob("*"):
        if path.is_file():
            sizes[path.name] = sizes.get(path.name, 0.0) + path.stat().st_size / 2**20
    return {name: round(mb, 2) for name, mb in sorted(sizes.items(), key=lambda item: -item[1])}


def incremental_at_size(directory: Path) -> dict:
    """Remove one document, then add it back, as an incremental build does (no embedding: its vectors are
    kept): where the time of an update goes at this collection size, and what it writes."""
    from index.passage_index import PassageIndex

    steps = {}
    removed_part = None
    for step in ("remove", "add"):
        timings = {}
        started = time.perf_counter()
        previous = PassageIndex.load(directory)
        timings["load"] = time.perf_counter() - started
        if step == "remove":  # kept aside to add back (outside the timing: a build would embed it anew)
            # The last document: added back, it is last again, so rows keep the order the exact answers use.
            doc_id = previous.chunks[len(previous.chunks) - 1].doc_id
            removed_part = previous.part(doc_id)
            removed_part.vectors = np.asarray(removed_part.vectors, dtype=np.float32)
            removed_part.labels = removed_part.source = None
            chunks = len(removed_part.chunks)
        started = time.perf_counter()
        since = time.time()
        if step == "remove":
            index = previous.update([], {removed_part.document.doc_id})
        else:
            index = previous.update([removed_part], ())
        timings["update"] = time.perf_counter() - started
        started = time.perf_counter()
        index.save(directory)
        timings["save"] = time.perf_counter() - started
        timings["total"] = sum(timings.values())
        steps[step] = {name: round(value, 3) for name, value in timings.items()}
        steps[step]["segments"] = len(index.segments)
        steps[step]["written_mb"] = written_mb(directory, since)
        del previous, index
    steps["document_chunks"] = chunks
    return steps


def make_vectors_only(real, size: int, args: dict) -> dict:
    """The vector store alone for N passages (sizes above ``--full-index-limit``); built by the same
    create_store path PassageIndex.create uses."""
    from eval.bench_data import synthetic_vectors
    from index.stores import create_store

    started = time.perf_counter()
    parts = list(real.parts().values())
    anchors = np.concatenate(
        [np.asarray(p.vectors, dtype=np.float32) for p in parts]
        + [np.asarray(p.sentences.vectors, dtype=np.float32) for p in parts]
    )
    vectors, info = synthetic_vectors(anchors, size, seed=size)
    generate_seconds = time.perf_counter() - started
    log(f"size {size}: {size:,} vectors ready in {generate_seconds:.0f} s; building the store")
    started = time.perf_counter()
    store = create_store(args.get("store"), vectors.shape[1])
    store.add(np.arange(size, dtype=np.int64), vectors)
    assemble_seconds = time.perf_counter() - started
    directory = Path(args["index"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    started = time.perf_counter()
    description = store.save(directory)
    (directory / "store.json").write_text(json.dumps(description))
    save_seconds = time.perf_counter() - started
    np.save(Path(args["vectors"]), vectors)
    result = {
        "size": size,
        "vectors_only": True,
        "synthetic": {"real_passages": 0, "synthetic_passages": size, "vectors": info},
        "store": description,
        "generate_seconds": round(generate_seconds, 1),
        "assemble_seconds": round(assemble_seconds, 1),
        "save_seconds": round(save_seconds, 1),
        "index_mb": folder_mb(directory),
        "files_mb": {f.name: round(f.stat().st_size / 2**20, 2) for f in directory.iterdir()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    del store
    save_exact(vectors, args)
    return result


def save_exact(vectors: np.ndarray, args: dict) -> None:
    """The exact top-10 of the question vectors, for recall (computed with every core)."""
    import faiss

    from index.encoder import Encoder

    encoder = Encoder()
    query_vectors = encoder.encode_queries([q.question for q in questions()])
    np.save(Path(args["queries"]), query_vectors)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, exact = flat.search(query_vectors, 10)
    np.save(Path(args["exact"]), exact)


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
        encoder = Encoder()
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
    encoder = Encoder(backend="torch") if baseline else Encoder()
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
    """Time per step of a question, by wrapping the Searcher's methods and index.search's functions
    (nothing in index/search.py changes); what no wrapper covers is reported as ``other``."""

    METHODS = ("dense_candidates", "keyword_groups", "add_keyword_scores", "add_sentence_scores", "fuse", "collapse")
    FUNCTIONS = ("to_simplified", "fuse", "collapse")

    def __init__(self, searcher):
        import index.search as search_module

        self.totals: dict[str, float] = {}
        self.searcher = searcher
        self.wrapped = []
        self.restore = []
        for name in self.METHODS:
            if callable(getattr(searcher, name, None)):
                self._wrap(searcher, name, name)
        self._wrap(searcher.encoder, "encode_queries", "encode_question")
        self._wrap(searcher, "make_hit", "make_hits")
        for name in self.FUNCTIONS:
            if callable(getattr(search_module, name, None)) and name not in self.totals:
                original = getattr(search_module, name)
                self.restore.append((search_module, name, original))
                setattr(search_module, name, self._timed(original, name))

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


# ---- the run ---------------------------------------------------------------------------------------------


def available_backends() -> list[str]:
    backends = ["torch", "onnx", "onnx-int8"]
    try:
        import nncf  # noqa: F401
        import openvino  # noqa: F401

        backends += ["openvino", "openvino-int8"]
    except ImportError:
        pass
    return backends


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes: fewer texts, sizes 1k and 20k")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default bench/, or bench-output/quick/ with --quick)"
    )
    parser.add_argument("--sizes", help="comma-separated collection sizes (default 1000,100000,1000000)")
    parser.add_argument("--backends", help="comma-separated encoder backends (default: all installed)")
    parser.add_argument(
        "--full-index-limit",
        type=int,
        default=1_000_000,
        help="largest size assembled and served as a whole index (above: the vector store alone)",
    )
    parser.add_argument("--quality", action="store_true", help="with --quick: measure retrieval quality too")
    parser.add_argument("--skip", default="", help="comma-separated stages to skip: encode,quality,build,scale,sizes")
    parser.add_argument(
        "--reuse",
        type=Path,
        help="an earlier run's bench.json or bench.partial.json: take the encode, quality and build stages it holds "
        "from it (recorded in the report) and run the rest",
    )
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--stage-args", help=argparse.SUPPRESS)
    parser.add_argument("--stage-out", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help="only write bench.md and bench.png again from this bench.json")
    args = parser.parse_args(argv)
    if args.report:
        from eval.bench_report import write_report

        (args.out or args.report.parent).mkdir(parents=True, exist_ok=True)
        write_report(json.loads(args.report.read_text()), args.out or args.report.parent)
        return 0
    if args.stage:
        stage = globals()[f"stage_{args.stage}"]
        result = stage(json.loads(args.stage_args))
        Path(args.stage_out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
        return 0
    return run(args)


def run(args) -> int:
    from eval.bench_data import generate_corpus
    from eval.bench_report import write_report
    from index.exports import prepare_backend

    quick = args.quick
    out = args.out or (ROOT / "bench-output" / "quick" if quick else ROOT / "bench")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="citelens-bench-"))
    skip = set(filter(None, args.skip.split(",")))
    if quick and not args.quality:
        skip.add("quality")
    backends = (
        args.backends.split(",")
        if args.backends
        else ([BASELINE, settings.backend_name()] if quick else available_backends())
    )
    backends = list(dict.fromkeys(backends))
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([1000, 20000] if quick else [1000, 100_000, 1_000_000])
    )
    started = time.perf_counter()
    report: dict = {"quick": quick, "environment": environment(), "default_backend": settings.backend_name()}
    log(f"{report['environment']['cores']} cores; backends {backends}; sizes {sizes}; work folder {work}")
    if args.reuse:
        earlier = json.loads(args.reuse.read_text())
        reused = [stage for stage in ("encode", "quality", "build") if stage in earlier]
        report |= {stage: earlier[stage] for stage in reused}
        report["reused"] = {"from": str(args.reuse), "stages": reused, "environment": earlier["environment"]}
        skip |= set(reused)
        log(f"stages {reused} taken from {args.reuse}")
    for backend in backends:
        prepare_backend(backend, log=log)

    # Corpora: a generated corpus of 20k+ chunks (throughput sample), and a smaller one to build.
    large = generate_corpus(work / "large-corpus", target_chars=12_500_000 if not quick else 300_000, seed=7)
    build_corpus = work / "build-corpus"
    build_documents = 20 if not quick else 4
    build_corpus.mkdir()
    generated = sorted(large.glob("*.txt"))
    for path in generated[:build_documents]:
        shutil.copy(path, build_corpus / path.name)
    spare = generated[build_documents]

    if "encode" not in skip:
        log("stage: encoder throughput")
        report["encode"] = run_stage(
            "encode",
            out,
            tag="all",
            backends=backends,
            large_corpus=str(large),
            large_sample=60 if quick else 160,
            rounds=2,
            bundled_limit=150 if quick else 600,
        )
    if "quality" not in skip:
        log("stage: retrieval quality per backend")
        default = settings.backend_name()
        variants = [BASELINE, default]
        if not quick:
            # every backend as it runs by default, and each int8 backend's other choice of question runtime
            variants += [
                "onnx",
                "openvino",
                "onnx-int8",
                "onnx-int8/onnx-int8",
                "openvino-int8",
                "openvino-int8/openvino",
            ]
            variants = [v for v in variants if v.split("/")[0] in backends]
        variants = list(dict.fromkeys(variants))
        qa = [str(QA_FILES[0])] if quick else [str(p) for p in QA_FILES]
        report["quality"] = run_stage("quality", work, tag="all", variants=variants, work=str(work), qa_files=qa)
    partial = out / "bench.partial.json"
    partial.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    if "build" not in skip:
        log("stage: build and incremental updates")
        report["build"] = run_stage(
            "build", out, tag="b", corpus=str(build_corpus), work=str(work), spare_document=str(spare)
        )
    if "scale" not in skip:
        from index.build import BATCH_CHUNKS

        log("stage: a larger build, batch by batch")
        scale_corpus = work / "scale-corpus"
        scale_corpus.mkdir()
        for path in generated[: 30 if quick else 260]:  # ~12 chunks a generated document
            shutil.copy(path, scale_corpus / path.name)
        report["scale_build"] = run_stage(
            "scale_build",
            out,
            tag="s",
            corpus=str(scale_corpus),
            work=str(work),
            batch_chunks=100 if quick else 1000,
            default_batch_chunks=BATCH_CHUNKS,
        )
    if "sizes" not in skip:
        real_index = work / "build-index"
        if not (real_index / "CURRENT").exists():
            run_stage("build", work, tag="b", corpus=str(build_corpus), work=str(work), spare_document=str(spare))
        report["sizes"] = {}
        for size in sizes:
            files = {name: str(work / f"size-{size}-{name}") for name in ("index", "vectors", "queries", "exact")}
            files["vectors"] += ".npy"
            files["queries"] += ".npy"
            files["exact"] += ".npy"
            log(f"stage: {size:,} passages — assemble")
            files["full_index"] = size <= args.full_index_limit
            made = run_stage("make", work, tag=str(size), size=size, real_index=str(real_index), **files)
            entry = {"make": made}
            if "error" not in made:
                log(f"stage: {size:,} passages — serve")
                passes = 2 if size <= 100_000 else 1
                entry["serve"] = run_stage("serve", work, tag=f"{size}", passes=passes, **files)
                log(f"stage: {size:,} passages — plain path")
                entry["baseline"] = run_stage("serve", work, tag=f"{size}-base", passes=1, baseline=True, **files)
            report["sizes"][str(size)] = entry
            shutil.rmtree(str(files["index"]), ignore_errors=True)
            for name in ("vectors", "queries", "exact"):
                Path(files[name]).unlink(missing_ok=True)
            (out / "bench.partial.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    report["environment"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    report = summarize(report)
    (out / "bench.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    (out / "bench.partial.json").unlink(missing_ok=True)
    write_report(report, out)
    shutil.rmtree(work, ignore_errors=True)
    log(f"done in {report['seconds']:.0f} s → {out / 'bench.json'}, {out / 'bench.md'}")
    return 0


def summarize(report: dict) -> dict:
    """The top-level figures other tools read."""
    default = report["default_backend"]
    encode = report.get("encode", {}).get("backends", {})
    speedup = None
    if default in encode and BASELINE in encode:
        speedup = round(encode[default]["large"]["tokens_per_s"] / encode[BASELINE]["large"]["tokens_per_s"], 2)
    sizes = {int(size): entry for size, entry in report.get("sizes", {}).items() if "serve" in entry}
    served = {size: entry["serve"] for size, entry in sizes.items() if entry["serve"].get("end_to_end")}
    largest = max(served) if served else None
    one_million = sizes.get(1_000_000, {}).get("serve")
    one_million = one_million if one_million and one_million.get("search_alone") else None
    summary = {
        "cores": report["environment"]["cores"],
        "encode_speedup": speedup,
        "question_size": largest,
        "question_p50_ms": served[largest]["end_to_end"]["p50_ms"] if largest else None,
        "question_p95_ms": served[largest]["end_to_end"]["p95_ms"] if largest else None,
        "search_p50_ms_1m": one_million["search_alone"]["p50_ms"] if one_million else None,
        "recall_at_10_1m": one_million["recall_at_10"] if one_million else None,
    }
    return summary | report


if __name__ == "__main__":
    sys.exit(main())
