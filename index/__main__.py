"""CLI: ``python -m index build`` and ``python -m index search``.

Each command is a few lines over the library (index.build, index.search); the
``--json``/``--batch`` output is a stable contract other tools parse.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from index import settings
from index.build import BuildSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="ingest a corpus folder and build its index")
    build.add_argument("--corpus", type=Path, default=settings.BUNDLED_CORPUS, help="folder of .txt/.md documents")
    add_common(build)
    build.add_argument("--max-tokens", type=int, default=BuildSettings.max_tokens, help="chunk size, model tokens")
    build.add_argument("--overlap", type=int, default=BuildSettings.overlap_tokens, help="chunk overlap, model tokens")
    build.add_argument(
        "--context",
        action=argparse.BooleanOptionalAction,
        default=BuildSettings.context,
        help="embed title and section path with each chunk (default: off, measured)",
    )
    build.add_argument(
        "--vector-store",
        help=f"faiss, faiss:flat|ivf|hnsw, milvus:PATH.db or http://HOST:19530 (default ${settings.ENV_VECTOR_STORE} "
        "or faiss)",
    )

    search = commands.add_parser("search", help="ask a question")
    search.add_argument("question", nargs="?", help="the question (Chinese or English)")
    add_common(search)
    search.add_argument("--k", type=int, default=10, help="number of passages")
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.add_argument("--batch", type=Path, help="JSONL file of {id, question}; one JSON line out per question")

    commands.add_parser("prepare-model", help="convert the default model once (done by build when needed)")

    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            return run_build(args)
        if args.command == "search":
            return run_search(args, parser)
        from index.encoder import prepare_default_model

        print(prepare_default_model())
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one clear line for the user, not a traceback
        from index.build import EmptyCorpus
        from index.encoder import ModelNotAvailable
        from index.passage_index import IndexMismatch, IndexNotFound
        from index.search import BadQuestion

        if isinstance(error, ModelNotAvailable | IndexMismatch | IndexNotFound | EmptyCorpus | BadQuestion):
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, help=f"index folder (default ${settings.ENV_INDEX} or data/index)")
    parser.add_argument("--model", help=f"sentence-transformers model name or path (default ${settings.ENV_MODEL})")
    parser.add_argument(
        "--backend",
        help=f"encoder backend: torch, onnx, onnx-int8, openvino, openvino-int8 (default ${settings.ENV_BACKEND} "
        f"or {settings.DEFAULT_BACKEND})",
    )


def run_build(args: argparse.Namespace) -> int:
    from index.build import build_index
    from index.encoder import Encoder

    report = build_index(
        args.corpus,
        settings.index_dir(args.index),
        Encoder(args.model, backend=args.backend),
        BuildSettings(max_tokens=args.max_tokens, overlap_tokens=args.overlap, context=args.context),
        vector_store=args.vector_store,
    )
    print(f"{report.documents} documents, {report.chunks} chunks → {report.index_dir}")
    if report.problems:
        print(f"{len(report.problems)} file(s) skipped (see above).")
    return 0


def run_search(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from index.search import BadQuestion, open_searcher

    if not args.batch and args.question is None:
        parser.error("give a QUESTION or --batch FILE")
    searcher = open_searcher(args.index, args.model, args.backend)
    if args.batch:
        for line_number, line in enumerate(args.batch.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            record = None
            try:
                record = json.loads(line)
                answer = searcher.answer(record["question"], k=args.k)
                result = {"id": record.get("id"), **answer_json(answer)}
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError, BadQuestion) as error:
                result = {
                    "id": record.get("id") if isinstance(record, dict) else None,
                    "hits": [],
                    "error": f"line {line_number}: {describe(error)}",
                }
            print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0
    answer = searcher.answer(args.question, k=args.k)
    if args.json:
        print(json.dumps({"question": args.question, **answer_json(answer)}, ensure_ascii=False))
        return 0
    if not answer.answerable:
        print(f"Nothing in the corpus seems to answer this (relevance {answer.relevance:.2f}); closest passages:\n")
    for hit in answer.hits:
        print(f"[{hit.rank}] {hit.score:.3f}  {hit.citation}")
        print(textwrap.indent(textwrap.fill(hit.text, width=60), "    "), end="\n\n")
    return 0


def answer_json(answer) -> dict:
    """The stable JSON shape: answerable judgement, best relevance, then the hits."""
    relevance = None if answer.relevance is None else round(answer.relevance, 4)
    return {"answerable": answer.answerable, "relevance": relevance, "hits": [h.to_json() for h in answer.hits]}


def describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error}"
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON ({error.msg})"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
