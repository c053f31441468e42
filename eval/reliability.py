"""Reliability report: the index store under kills and damage, hostile files, and concurrent questions.

``python -m eval.reliability [--quick] [--only store files concurrency] [--out bench]`` runs every check
and writes ``reliability.json`` and ``reliability.md`` into ``--out``, with the machine and its load. Each
part lives in its own module and can be run alone: ``eval.reliability_store`` (kills, two writers, damaged
files), ``eval.reliability_files`` (hostile files and batch question files), ``eval.concurrency`` (threads
over one searcher and browser sessions over the real app). Everything runs on loopback in a work folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from index import settings

PARTS = ("store", "files", "concurrency")


def build_sample_index(index_dir: Path) -> None:
    """The bundled corpus indexed by the CLI, as a user would, in the work folder."""
    corpus = str(settings.BUNDLED_CORPUS)
    command = [sys.executable, "-m", "index", "build", "--corpus", corpus, "--index", str(index_dir)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=settings.PROJECT_ROOT)
    if done.returncode:
        raise RuntimeError(f"building the sample index failed: {done.stderr.strip()[-2000:]}")


def concurrency_check(workdir: Path, quick: bool = False) -> dict:
    from eval.concurrency import load_check, threads_check

    index_dir = workdir / "sample-index"
    build_sample_index(index_dir)
    return {
        "threads": threads_check(index_dir, threads=8, per_thread=10 if quick else 25),
        "browser_sessions": load_check(index_dir, sessions=10, per_session=3 if quick else 5),
    }


def concurrency_table(result: dict) -> str:
    threads, browser = result["threads"], result["browser_sessions"]
    rows = [
        "| load | workers | questions | answered | errors | p50 ms | p95 ms | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
        f"| threads over one `Searcher` | {threads['threads']} threads | {threads['questions']} | "
        f"{threads['questions'] - threads['errors']} | {threads['errors']} | {threads['p50_ms']} | "
        f"{threads['p95_ms']} | |",
        f"| real Streamlit server, Chromium | {browser['sessions']} sessions | {browser['questions_asked']} | "
        f"{browser['answered']} | {browser['errors']} | {browser['p50_ms']} | {browser['p95_ms']} | "
        f"{browser.get('server_peak_rss_mb')} |",
    ]
    notes = threads.get("error_kinds", {}) or {}
    messages = browser.get("error_messages") or []
    extra = [f"- error: {message}" for message in [*notes, *messages]]
    return "\n".join(rows + (["", *extra] if extra else []))


def run_part(part: str, workdir: Path, quick: bool) -> tuple[dict, str]:
    """One part's result and its Markdown table; a part that fails is reported, the others still run."""
    if part == "concurrency":
        check, table = concurrency_check, concurrency_table
    else:
        module = __import__(f"eval.reliability_{part}", fromlist=["check", "table"])
        check, table = module.check, module.table
    folder = workdir / part
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    try:
        result = check(folder, quick=quick)
        text = table(result)
    except Exception as error:  # reported in the report: a broken check is a finding, not a crash
        result = {"failed": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        text = f"**The check failed:** `{result['failed']}`"
    result["seconds"] = round(time.perf_counter() - began, 1)
    return result, text


TITLES = {
    "store": "Index store: kills, two writers, damaged files",
    "files": "Hostile and odd files, batch question files",
    "concurrency": "Concurrent questions",
}


def markdown(report: dict, tables: dict[str, str]) -> str:
    env = report["environment"]
    lines = [
        "# Reliability report",
        "",
        f"Run {env['started']} by `python -m eval.reliability{' --quick' if report['quick'] else ''}`: "
        f"{env['cores']} cores ({env['cpu']}; {', '.join(env['cpu_flags'])}), {env['memory_gb']} GiB; "
        f"load average {env['load_average_start']} at the start, {report['load_average_end']} at the end.",
    ]
    for part, text in tables.items():
        lines += ["", f"## {TITLES[part]} ({report['parts'][part]['seconds']} s)", "", text]
    return "\n".join(lines) + "\n"


def failed(report: dict) -> bool:
    return any("failed" in result for result in report["parts"].values())


def main(argv: list[str] | None = None) -> int:
    from eval.bench.common import environment

    parser = argparse.ArgumentParser(prog="python -m eval.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer kills, no 100 MB file, fewer questions")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="run these parts only")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="folder for reliability.{json,md}")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a temporary folder, removed after)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    report = {"environment": environment(), "quick": args.quick, "parts": {}}
    tables: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="citelens-reliability-") as temporary:
        workdir = args.workdir or Path(temporary)
        for part in args.only:
            print(f"[reliability] {TITLES[part]} …", file=sys.stderr, flush=True)
            report["parts"][part], tables[part] = run_part(part, workdir, args.quick)
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reliability.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    text = markdown(report, tables)
    (args.out / "reliability.md").write_text(text, encoding="utf-8")
    print(text)
    return 1 if failed(report) else 0


if __name__ == "__main__":
    raise SystemExit(main())
