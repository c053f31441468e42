"""Question latency on a real index: ``python -m eval.latency [--index DIR] [--qa FILE ...]``.

Times ``Searcher.answer`` (encode, dense, keywords, fusion, collapse, highlight, relevance) for every
gold question after the model is loaded and warmed up; prints p50/p95/max and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from eval.question_sets import read_gold_jsonl
from index import settings
from index.search import open_searcher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--qa", type=Path, nargs="+", default=[settings.BUNDLED_QA])
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    searcher = open_searcher(settings.index_dir(args.index), settings.asked_model(), settings.backend_name())
    questions = [q.question for path in args.qa for q in read_gold_jsonl(path)]
    searcher.warm()  # lazy loads (dictionaries, models), as the app does at start
    times = []
    for question in questions:
        started = time.perf_counter()
        searcher.answer(question, args.k)
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    load = os.getloadavg()[0]
    print(
        f"{len(times)} questions, {os.cpu_count()} cores, load {load:.1f}: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
