"""Validate a gold question set (JSONL) against the corpus.

Usage: ``python -m eval.validate_gold FILE.jsonl [FILE.jsonl ...] [--corpus DIR]``

Checks every record's schema (required fields and their types, ``lang``, ``type``,
``answerable`` false ⇔ ``evidence`` empty, unique ids) and that every evidence quote
occurs in exactly the corpus files listed in its ``docs``. Quotes and corpus texts are
compared with ALL whitespace removed (spaces, newlines, U+3000, NBSP, zero-width
characters), because the corpus files are hard-wrapped or space-padded differently.
Exits 1 if any problem is found, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

LANGS = frozenset({"zh", "en"})
TYPES = frozenset({"factoid", "paraphrase", "section", "crossdoc", "unanswerable"})
REQUIRED: dict[str, type] = {
    "id": str,
    "lang": str,
    "type": str,
    "question": str,
    "answer": str,
    "answerable": bool,
    "evidence": list,
}
# Characters that str.isspace() misses but that break verbatim matching.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")
DEFAULT_CORPUS = Path("data/corpus")


def normalize(text: str) -> str:
    """Remove every whitespace (and zero-width) character."""
    return "".join(ch for ch in text if not ch.isspace() and ch not in _INVISIBLE)


def _check_schema(rid: str, record: dict) -> list[str]:
    problems: list[str] = []
    for name, kind in REQUIRED.items():
        if name not in record:
            problems.append(f"{rid}: missing field {name!r}")
        elif not isinstance(record[name], kind):
            problems.append(f"{rid}: field {name!r} should be {kind.__name__}, got {type(record[name]).__name__}")
    for name in ("id", "question", "answer"):
        if isinstance(record.get(name), str) and not record[name].strip():
            problems.append(f"{rid}: field {name!r} is empty")
    if isinstance(record.get("lang"), str) and record["lang"] not in LANGS:
        problems.append(f"{rid}: lang {record['lang']!r} not in {sorted(LANGS)}")
    if isinstance(record.get("type"), str) and record["type"] not in TYPES:
        problems.append(f"{rid}: type {record['type']!r} not in {sorted(TYPES)}")
    answerable, evidence = record.get("answerable"), record.get("evidence")
    if isinstance(answerable, bool) and isinstance(evidence, list):
        if answerable and not evidence:
            problems.append(f"{rid}: answerable is true but evidence is empty")
        if not answerable and evidence:
            problems.append(f"{rid}: answerable is false but evidence is not empty")
    if (
        isinstance(answerable, bool)
        and record.get("type") in TYPES
        and (record["type"] == "unanswerable") == answerable
    ):
        problems.append(f"{rid}: type {record['type']!r} inconsistent with answerable={answerable}")
    return problems


def _check_evidence(rid: str, index: int, item: object, corpus: dict[str, str]) -> list[str]:
    where = f"{rid}: evidence[{index}]"
    if not isinstance(item, dict):
        return [f"{where} should be an object, got {type(item).__name__}"]
    quote, docs = item.get("quote"), item.get("docs")
    if not isinstance(quote, str) or not normalize(quote):
        return [f"{where}: 'quote' should be a non-empty string"]
    if not isinstance(docs, list) or not docs or not all(isinstance(d, str) for d in docs):
        return [f"{where}: 'docs' should be a non-empty list of file names"]
    problems = [f"{where}: 'docs' lists a file twice"] if len(set(docs)) != len(docs) else []
    needle = normalize(quote)
    found = {name for name, text in corpus.items() if needle in text}
    if not found:
        problems.append(f"{where}: quote {quote!r} not found in any corpus file")
    for name in docs:
        if name not in corpus:
            problems.append(f"{where}: listed doc {name!r} is not a corpus file")
        elif name not in found:
            problems.append(f"{where}: listed doc {name!r} lacks quote {quote!r}")
    for name in sorted(found - set(docs)):
        problems.append(f"{where}: quote {quote!r} also found in {name!r}, which is not listed")
    return problems


def validate(records: list[dict], corpus_texts: dict[str, str]) -> list[str]:
    """Return one human-readable string per problem found (empty list = valid).

    ``corpus_texts`` maps corpus file names to their raw text; whitespace is
    removed here, so raw or already-normalized texts both work.
    """
    corpus = {name: normalize(text) for name, text in corpus_texts.items()}
    problems: list[str] = []
    seen: set[str] = set()
    for position, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            problems.append(f"record {position}: should be a JSON object, got {type(record).__name__}")
            continue
        raw_id = record.get("id")
        rid = raw_id if isinstance(raw_id, str) and raw_id else f"record {position}"
        if isinstance(raw_id, str) and raw_id:
            if raw_id in seen:
                problems.append(f"{rid}: duplicate id")
            seen.add(raw_id)
        problems.extend(_check_schema(rid, record))
        evidence = record.get("evidence")
        if isinstance(evidence, list):
            for index, item in enumerate(evidence):
                problems.extend(_check_evidence(rid, index, item, corpus))
    return problems


def load_corpus(folder: Path) -> dict[str, str]:
    """Read every ``*.txt`` file of the corpus folder, keyed by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))}


def load_records(path: Path) -> tuple[list[dict], list[str]]:
    """Parse a JSONL file; blank lines are skipped, unparsable lines become problems."""
    records: list[dict] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: invalid JSON ({error})")
    return records, problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m eval.validate_gold", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.jsonl", help="gold question set(s)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder (default: data/corpus)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"corpus folder not found: {args.corpus}")
    corpus = load_corpus(args.corpus)
    if not corpus:
        parser.error(f"no *.txt files in corpus folder: {args.corpus}")
    total = 0
    for path in args.files:
        if not path.is_file():
            print(f"{path}: file not found")
            total += 1
            continue
        records, problems = load_records(path)
        problems += validate(records, corpus)
        for problem in problems:
            print(f"{path}: {problem}")
        print(f"{path}: {len(records)} records, {len(problems)} problem(s)", file=sys.stderr)
        total += len(problems)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
