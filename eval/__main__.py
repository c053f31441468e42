"""CLI: ``python -m eval --qa FILE.jsonl`` — retrieval metrics of the current index."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.harness import METRICS, EvalResult, evaluate_search
from eval.question_sets import read_gold_jsonl
from index import settings

LABELS = {"hit_rate@1": "hit@1", "hit_rate@3": "hit@3", "hit_rate@5": "hit@5", "hit_rate@10": "hit@10"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0])
    parser.add_argument("--qa", type=Path, default=settings.BUNDLED_QA, help="gold questions (JSONL)")
    parser.add_argument("--index", type=Path, help=f"index folder (default ${settings.ENV_INDEX} or data/index)")
    parser.add_argument("--model", help="model name or path (default: the one that built the index)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = parser.parse_args(argv)

    from index.search import open_searcher

    questions = read_gold_jsonl(args.qa)
    searcher = open_searcher(args.index, args.model)
    passages = {chunk.chunk_id: chunk.text for chunk in searcher.index.chunks}
    result = evaluate_search("current", lambda q, k: searcher.search(q, k), questions, passages, args.k)
    if args.json:
        print(json.dumps({"metrics": result.metrics, "unreachable": result.unreachable}, indent=1))
    else:
        print(format_table(result))
    return 0


def format_table(result: EvalResult) -> str:
    header = ["group", "n"] + [LABELS.get(m, m) for m in METRICS]
    rows = [header]
    for group, values in result.metrics.items():
        rows.append([group, str(int(values["questions"]))] + [f"{values[m]:.3f}" for m in METRICS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if result.unreachable:
        lines.append(f"evidence held by no passage (counted as misses): {', '.join(result.unreachable)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
