"""Build throughput, local against Ray with 1 and 2 local workers: ``python -m eval.bench.ray_build``.

The same corpus (the bundled one and the CMRC trial articles of data/eval/external) is built six times from
scratch, each configuration twice (``RUNS``), with the default model and backend, each as a user runs it:
``python -m index build`` in a fresh interpreter (``--executor local``; ``--executor ray --workers N``, which
starts a local Ray instance of N CPUs). The wall time includes the interpreter, the model loading and, for
Ray, starting the cluster and its actors. Each Ray index is compared with the first local one (chunks,
keyword tokens, vectors). Writes bench/ray_build.json and bench/ray_build.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[2]
SOURCES = [PROJECT / "data" / "corpus", PROJECT / "data" / "eval" / "external" / "cmrc_trial" / "corpus"]
# Forward, then backward (local, ray 1, ray 2, ray 2, ray 1, local): a load that drifts during the runs
# weighs on every configuration alike in the means.
RUNS = [("local", None), ("ray", 1), ("ray", 2), ("ray", 2), ("ray", 1), ("local", None)]


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    flags = sorted({flag for flag in ("avx2", "avx512f", "avx512_vnni") if f" {flag} " in f" {cpuinfo} "})
    return {"nproc": os.cpu_count(), "cpu": model, "flags": flags, "python": platform.python_version()}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def make_corpus(folder: Path) -> None:
    for source in SOURCES:
        shutil.copytree(source, folder / source.parent.name)


def build(corpus: Path, index: Path, executor: str, workers: int | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one build. CPU: user + system time of the build's process and all its
    descendants (for Ray, the local instance's processes and actors), sampled every 0.2 s, so a process that
    ends loses its last fraction of a second: a lower bound. On a machine shared with other work the wall
    time depends on the share of the cores the build gets (more processes get more); the CPU time much less."""
    import psutil

    command = [sys.executable, "-m", "index", "build", "--corpus", str(corpus), "--index", str(index)]
    command += ["--executor", executor] + (["--workers", str(workers)] if workers else [])
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # a local instance
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        cpu: dict[int, float] = {}
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                tree = []
            for member in tree:
                try:
                    times = member.cpu_times()
                    cpu[member.pid] = times.user + times.system
                except psutil.Error:
                    pass
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read()[-3000:].decode(errors='replace')}")
    return seconds, sum(cpu.values())


def contents(index_dir: Path) -> dict:
    from index.passage_index import PassageIndex

    index = PassageIndex.load(index_dir)
    rows = np.arange(len(index.chunks))
    parts = index.parts()
    return {
        "chunks": [chunk.to_dict() for chunk in index.chunks],
        "vectors": index.vectors.reconstruct_batch(rows),
        "sentences": len(index.sentences),
        "sentence_vectors": {d: np.asarray(p.sentences.vectors, dtype=np.float32) for d, p in parts.items()},
        "tokens": {d: p.keyword_tokens for d, p in parts.items()},
        "documents": len(index.manifest["documents"]),
    }


def compare(local: dict, other: dict) -> dict:
    same_chunks = other["chunks"] == local["chunks"]
    vectors = float(np.abs(other["vectors"] - local["vectors"]).max()) if same_chunks else None
    sentence = max(
        float(np.abs(other["sentence_vectors"][d] - v).max()) if len(v) else 0.0
        for d, v in local["sentence_vectors"].items()
    )
    return {
        "same_chunks": same_chunks,
        "same_keyword_tokens": other["tokens"] == local["tokens"],
        "max_abs_vector_difference": vectors,
        "max_abs_sentence_vector_difference": sentence,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT / "bench" / "ray_build.json")
    args = parser.parse_args(argv)
    result = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(), "load_start": load()}
    with tempfile.TemporaryDirectory(prefix="citelens-ray-bench-") as work:
        corpus = Path(work) / "corpus"
        make_corpus(corpus)
        result["corpus"] = {
            "sources": [str(source.relative_to(PROJECT)) for source in SOURCES],
            "files": sum(1 for path in corpus.rglob("*") if path.is_file()),
            "bytes": sum(path.stat().st_size for path in corpus.rglob("*") if path.is_file()),
        }
        runs, local = [], None
        for executor, workers in RUNS:
            index = Path(work) / f"index-{len(runs)}"
            load_before = os.getloadavg()[0]
            seconds, cpu = build(corpus, index, executor, workers)
            found = contents(index)
            texts = len(found["chunks"]) + found["sentences"]
            run = {
                "executor": executor,
                "workers": workers,
                "seconds": round(seconds, 1),
                "documents": found["documents"],
                "chunks": len(found["chunks"]),
                "texts": texts,
                "chunks_per_s": round(len(found["chunks"]) / seconds, 1),
                "texts_per_s": round(texts / seconds, 1),
                "cpu_seconds": round(cpu, 1),
                "texts_per_cpu_s": round(texts / cpu, 1),
                "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
            if local is None:
                local = found
            else:
                run["against_local"] = compare(local, found)
            runs.append(run)
            if local is not found:
                shutil.rmtree(index)
            print(json.dumps(run), flush=True)
        result["runs"] = runs
        result["means"] = means(runs)
    result["load_end"] = load()
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(report(result), encoding="utf-8")
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


def means(runs: list[dict]) -> list[dict]:
    out = []
    for executor, workers in dict.fromkeys(RUNS):
        mine = [run for run in runs if (run["executor"], run["workers"]) == (executor, workers)]
        seconds = float(np.mean([run["seconds"] for run in mine]))
        cpu = float(np.mean([run["cpu_seconds"] for run in mine]))
        out.append(
            {
                "executor": executor,
                "workers": workers,
                "runs": len(mine),
                "seconds": round(seconds, 1),
                "chunks_per_s": round(mine[0]["chunks"] / seconds, 2),
                "texts_per_s": round(mine[0]["texts"] / seconds, 1),
                "cpu_seconds": round(cpu, 1),
                "texts_per_cpu_s": round(mine[0]["texts"] / cpu, 1),
            }
        )
    return out


def report(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# Bulk builds: local against Ray (measured)",
        "",
        f"Measured {result['date']} by `python -m eval.bench.ray_build` on {m['nproc']} cores, {m['cpu']} "
        f"(flags: {', '.join(m['flags']) or 'none of avx2/avx512f/avx512_vnni'}), Python {m['python']}.",
        f"Load at start: `{result['load_start']}`; at end: `{result['load_end']}`.",
        "",
        f"Corpus: {', '.join(result['corpus']['sources'])} ({result['corpus']['files']} files, "
        f"{result['corpus']['bytes'] / 1e6:.1f} MB); the default model and backend; each build from scratch, "
        "`python -m index build` in a fresh interpreter, wall time from start to exit (interpreter, model "
        "loading, for Ray a local instance of N CPUs started and stopped, its actors each loading the model).",
        "",
        "| run | executor | workers | seconds | chunks | texts embedded | chunks/s | texts/s | CPU s | texts/CPU s "
        "| load 1 min before → after | same chunks | max Δ vector |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for number, run in enumerate(result["runs"], 1):
        against = run.get("against_local")
        same = "—" if against is None else ("yes" if against["same_chunks"] else "NO")
        delta = (
            "—"
            if against is None
            else f"{max(against['max_abs_vector_difference'] or 0, against['max_abs_sentence_vector_difference']):.1e}"
        )
        lines.append(
            f"| {number} | {run['executor']} | {run['workers'] or '—'} | {run['seconds']} | {run['chunks']} | "
            f"{run['texts']} | {run['chunks_per_s']} | {run['texts_per_s']} | {run['cpu_seconds']} | "
            f"{run['texts_per_cpu_s']} | "
            f"{' → '.join(map(str, run['load_1min_before_after']))} | {same} | {delta} |"
        )
    lines += ["", "Means of the two runs of each configuration:", ""]
    lines += [
        "| executor | workers | seconds | chunks/s | texts/s | CPU s | texts/CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mean in result["means"]:
        lines.append(
            f"| {mean['executor']} | {mean['workers'] or '—'} | {mean['seconds']} | {mean['chunks_per_s']} | "
            f"{mean['texts_per_s']} | {mean['cpu_seconds']} | {mean['texts_per_cpu_s']} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
