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
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from eval.bench.build import stage_build, stage_scale_build
from eval.bench.common import BASELINE, QA_FILES, ROOT, environment, log, run_stage
from eval.bench.encode import stage_encode, stage_quality
from eval.bench.make import stage_make
from eval.bench.serve import stage_serve
from index import settings

# What ``--stage NAME`` runs (run_stage starts ``python -m eval.bench --stage NAME`` in a fresh interpreter).
STAGES = {
    "encode": stage_encode,
    "quality": stage_quality,
    "build": stage_build,
    "scale_build": stage_scale_build,
    "make": stage_make,
    "serve": stage_serve,
}


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
        from eval.bench.report import write_report

        (args.out or args.report.parent).mkdir(parents=True, exist_ok=True)
        write_report(json.loads(args.report.read_text()), args.out or args.report.parent)
        return 0
    if args.stage:
        stage = STAGES[args.stage]
        result = stage(json.loads(args.stage_args))
        Path(args.stage_out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
        return 0
    return run(args)


def run(args) -> int:
    from eval.bench.data import generate_corpus
    from eval.bench.report import write_report
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
