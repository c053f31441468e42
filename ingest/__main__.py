"""``python -m ingest --corpus DIR``: show what ingest makes of a corpus, or write it out as JSONL.

Examples::

    python -m ingest --corpus data/corpus                     # summary per document + problems
    python -m ingest --corpus data/corpus --paragraphs        # every paragraph with its section path
    python -m ingest --corpus data/corpus --out docs.jsonl    # documents as JSONL
    python -m ingest --corpus data/corpus --chunks --out chunks.jsonl   # the chunks a default build indexes
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ingest.chunking import ChunkSettings
from ingest.documents import Document
from ingest.pipeline import load_corpus

SECTION_SEPARATOR = " › "


def token_counter(tokenizer_path: Path | None) -> Callable[[str], int]:
    """The model's token counter: a given tokenizer.json, else the index's configured model."""
    if tokenizer_path is not None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
    try:
        from index.encoder import load_token_counter
    except ImportError as error:
        raise SystemExit(f"cannot count tokens: index.encoder is unavailable ({error}); pass --tokenizer") from error
    from index import settings

    return load_token_counter(settings.model_name())


def summary_lines(doc: Document) -> list[str]:
    headings = sum(1 for p in doc.paragraphs if p.is_heading)
    top_sections = list(dict.fromkeys(p.section[0] for p in doc.paragraphs if p.section))
    lines = [
        f"{doc.doc_id}: {doc.title}",
        f"    date {doc.date or '-'} | source {doc.source or '-'} | url {doc.url or '-'}",
        f"    {len(doc.paragraphs)} paragraphs, {headings} headings, {len(doc.text)} characters"
        + (f", {len(doc.page_starts)} pages" if doc.page_starts else ""),
    ]
    lines += [f"    § {title}" for title in top_sections]
    return lines


def paragraph_lines(doc: Document, width: int = 40) -> list[str]:
    lines = [f"== {doc.doc_id}: {doc.title}"]
    for paragraph in doc.paragraphs:
        text = doc.paragraph_text(paragraph)
        marker = "#" if paragraph.is_heading else " "
        section = SECTION_SEPARATOR.join(paragraph.section) or "-"
        lines.append(f"{paragraph.number:4d}{marker} [{section}] {text[:width]}{'…' if len(text) > width else ''}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder of .txt/.md/.html/.pdf/.docx files")
    parser.add_argument("--out", type=Path, help="write JSONL here instead of printing a summary")
    parser.add_argument("--chunks", action="store_true", help="output chunks rather than documents")
    parser.add_argument("--paragraphs", action="store_true", help="print every paragraph with its section")
    chunking = ChunkSettings()  # the build's defaults (index.build.BuildSettings): the chunks an index holds
    parser.add_argument(
        "--max-tokens", type=int, default=chunking.max_tokens, help=f"chunk size in tokens ({chunking.max_tokens})"
    )
    parser.add_argument(
        "--overlap", type=int, default=chunking.overlap_tokens, help=f"overlap in tokens ({chunking.overlap_tokens})"
    )
    parser.add_argument(
        "--intro-tokens",
        type=int,
        default=chunking.intro_tokens,
        help=f"a section intro this short joins its first subsection's chunk ({chunking.intro_tokens}; 0: never)",
    )
    parser.add_argument("--tokenizer", type=Path, help="tokenizer.json to count tokens with (default: the index model)")
    args = parser.parse_args(argv)

    if not args.corpus.is_dir():
        parser.error(f"corpus folder {args.corpus} does not exist or is not a folder")
    documents, problems = load_corpus(args.corpus)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)

    records: list[dict] = []
    if args.chunks:
        count_tokens = token_counter(args.tokenizer)
        chunking = ChunkSettings(args.max_tokens, args.overlap, args.intro_tokens)
        for doc in documents:
            records += [c.to_dict() for c in chunking.chunk(doc, count_tokens)]
    else:
        records = [asdict(doc) for doc in documents]

    if args.out:
        with args.out.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        what = f"{len(records)} chunks of {len(documents)} documents" if args.chunks else f"{len(records)} documents"
        print(f"{what} → {args.out}")
    elif args.chunks:
        for record in records:
            section = SECTION_SEPARATOR.join(record["section"]) or "-"
            span = f"¶{record['paragraph_start']}-{record['paragraph_end']}"
            if record["page_start"]:
                span = f"p.{record['page_start']}-{record['page_end']} {span}"
            print(f"{record['chunk_id']} [{section}] {span}: {record['text'][:50]}")
    else:
        for doc in documents:
            print("\n".join(paragraph_lines(doc) if args.paragraphs else summary_lines(doc)))
    print(f"{len(documents)} documents, {len(problems)} problems", file=sys.stderr)
    return 1 if problems and not documents else 0


if __name__ == "__main__":
    sys.exit(main())
