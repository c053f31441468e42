"""Stages ``build`` (a build, then incremental add / change / remove) and ``scale_build`` (a larger build,
batch by batch)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from eval.bench.common import folder_mb, peak_rss_mb
from index import settings

# ---- stage: build and incremental updates -------------------------------------------------------------


def stage_build(args: dict) -> dict:
    from index.build import build_index
    from index.encoder import Encoder

    corpus = Path(args["corpus"])
    directory = Path(args["work"]) / "build-index"
    shutil.rmtree(directory, ignore_errors=True)
    encoder = Encoder(backend=settings.backend_name())
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

    batch_chunks = int(args["batch_chunks"])
    corpus, directory = Path(args["corpus"]), Path(args["work"]) / "scale-index"
    shutil.rmtree(directory, ignore_errors=True)
    encoder = Encoder(backend=settings.backend_name())
    encoder.encode_passages(["预热"])
    texts = {"total": 0}
    batches = []
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        texts["total"] = total

    def log_batch(message: str) -> None:
        if message.startswith(("Batch ", "Index saved")):
            batches.append({"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb())})

    report = build_module.build_index(
        corpus, directory, encoder, progress=progress, log=log_batch, batch_chunks=batch_chunks
    )
    seconds = time.perf_counter() - started
    return {
        "backend": encoder.backend,
        "documents": report.documents,
        "chunks": report.chunks,
        "texts_embedded": texts["total"],
        "batch_chunks": batch_chunks,
        "default_batch_chunks": int(args["default_batch_chunks"]),
        "seconds": round(seconds, 1),
        "chunks_per_s": round(report.chunks / seconds, 2),
        "texts_per_s": round(texts["total"] / seconds, 1),
        "batches": batches,
        "index_mb": folder_mb(directory),
        "segments": len(read_manifest(directory)["segments"]),
    }
