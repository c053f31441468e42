"""CLI: ``python -m eval.citations`` — measure the citation check on its labelled set.

python -m eval.citations                         # every encoder: threshold chosen on dev, figures on dev and held-out
python -m eval.citations --encoder e5            # one encoder
python -m eval.citations --out bench/citation_check   # also write bench/citation_check.{md,json}
python -m eval.citations --limit 12 --json       # a slice (tests)

The labelled set is data/eval/citation_check.jsonl (eval/citations/labelled.py writes it): answer sentences
over passages of the bundled corpus, CMRC 2018 and DRCD, each labelled supported, unsupported or no_answer,
in a dev part (the threshold is chosen on it) and a held-out part (reported).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.citations.measure import DEFAULT_SET, ENCODERS, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.citations", description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="labelled JSONL (default: the bundled set)")
    parser.add_argument("--encoder", nargs="+", choices=ENCODERS, default=list(ENCODERS), help="encoders to compare")
    parser.add_argument("--threshold", type=float, help="use this similarity threshold instead of choosing on dev")
    parser.add_argument("--min-overlap", type=float, default=0.0, help="with --threshold: the least overlap")
    parser.add_argument("--limit", type=int, help="only the first N items of each split (a quick slice)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="write OUT.md and OUT.json (e.g. bench/citation_check)")
    args = parser.parse_args(argv)
    report = run(args.set, args.encoder, args.threshold, args.limit, args.min_overlap)
    if args.out:
        from eval.citations.report import write

        write(report, args.out)
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        from eval.citations.report import markdown

        print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
