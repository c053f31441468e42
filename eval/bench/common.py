"""What every benchmark stage shares: the question files, logging, memory and latency figures, the machine's
description, the subprocess a stage runs in, and the texts an index build embeds."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from index import settings

ROOT = settings.PROJECT_ROOT
QA_FILES = [ROOT / "data" / "eval" / "dev_qa.jsonl", ROOT / "data" / "eval" / "heldout_qa.jsonl"]
BASELINE = "torch"


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
