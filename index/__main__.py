"""CLI: ``python -m index build``, ``python -m index search``, ``python -m index ask`` and ``python -m index library``.

Each command is a few lines over the library (index.build, index.search, index.libraries); the
``--json``/``--batch`` output is a stable contract other tools parse. ``--library NAME`` picks a named
library's corpus and index (in the user data folder); ``--corpus``/``--index`` work on any folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import textwrap
from pathlib import Path

from index import settings
from index.ask_cli import add_ask_command, run_ask
from index.build import BuildSettings
from index.serve_cli import add_serve_command, run_serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="ingest a corpus folder and build its index")
    build.add_argument("--corpus", type=Path, help="folder of documents (default: data/corpus, the bundled corpus)")
    add_common(build)
    add_library_options(build)
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

    build.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where documents are read, chunked and embedded: this process (default) or a Ray cluster, at "
        "$RAY_ADDRESS or a local one started for the build (README, 'Bulk builds on Ray')",
    )
    build.add_argument("--workers", type=int, metavar="N", help="--executor ray: embedding actors (default: its CPUs)")
    build.add_argument("--no-wait", action="store_true", help="fail at once if another build holds the index")
    build.add_argument("--wait-timeout", type=float, metavar="SECONDS", help="fail if the index stays busy this long")

    search = commands.add_parser("search", help="ask a question")
    search.add_argument("question", nargs="?", help="the question (Chinese or English)")
    add_common(search)
    add_library_options(search)
    search.add_argument("--k", type=int, default=10, help="number of passages")
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.add_argument("--batch", type=Path, help="JSONL file of {id, question}; one JSON line out per question")

    add_ask_command(commands, add_index_options)
    add_serve_command(commands, add_common, add_library_options)

    verify = commands.add_parser("verify", help="check every file of an index against its recorded checksums")
    verify.add_argument("--index", type=Path, help=f"index folder (default ${settings.ENV_INDEX} or data/index)")
    add_library_options(verify)

    commands.add_parser("prepare-model", help="convert the default model once (done by build when needed)")
    add_library_commands(commands)

    args = parser.parse_args(argv)
    try:
        if args.command == "library":
            return run_library(args)
        if args.command == "build":
            choose_library(args, parser, corpus=True)
            if args.workers is not None and (args.executor != "ray" or args.workers < 1):
                parser.error("--workers N (N ≥ 1) goes with --executor ray")
            return run_build(args)
        if args.command == "search":
            choose_library(args, parser)
            return run_search(args, parser)
        if args.command == "ask":
            choose_library(args, parser)
            return run_ask(args, settings.index_dir(args.index))
        if args.command == "serve":
            choose_library(args, parser)
            return run_serve(args, settings.index_dir(args.index))
        if args.command == "verify":
            choose_library(args, parser)
            return run_verify(args)
        from index.exports import prepare_default_model

        print(prepare_default_model(backend=settings.backend_name()))
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one clear line for the user, not a traceback
        from index.batch import BatchFileError
        from index.build import EmptyCorpus
        from index.generate.endpoint import LLMError
        from index.integrity import IndexDamaged
        from index.libraries import LibraryError
        from index.models import ModelNotAvailable
        from index.search import BadQuestion
        from index.versions import IndexMismatch, IndexNotFound
        from index.writer_lock import IndexBusy

        clear = ModelNotAvailable | IndexMismatch | IndexNotFound | EmptyCorpus | BadQuestion | LibraryError | IndexBusy
        if isinstance(error, clear | IndexDamaged | BatchFileError | LLMError):
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


def add_index_options(parser: argparse.ArgumentParser) -> None:
    """``--index``, ``--library`` and ``--data-dir``, as ``search`` has them."""
    parser.add_argument("--index", type=Path, help=f"index folder (default ${settings.ENV_INDEX} or data/index)")
    add_library_options(parser)


def add_library_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--library",
        metavar="NAME",
        help="a named library: its corpus and index in the data folder (instead of --corpus/--index)",
    )
    add_data_dir(parser)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=f"the user data folder holding the libraries (default ${settings.ENV_DATA} or the platform's user "
        "data folder)",
    )


def choose_library(args: argparse.Namespace, parser: argparse.ArgumentParser, corpus: bool = False) -> None:
    """``--library NAME``: its corpus and index, in place of ``--corpus``/``--index`` (never both)."""
    if not args.library:
        return
    if args.index or (corpus and args.corpus):
        parser.error("--library NAME chooses both the corpus and the index: give --library or --corpus/--index")
    from index.libraries import LibraryError, library, quoted

    chosen = library(settings.data_dir(args.data_dir), args.library)
    if not corpus and not chosen.built:
        raise LibraryError(
            f"The {chosen.name} library has no index yet ({len(chosen.files())} files in {chosen.corpus}): "
            f"add documents there and run: python -m index build --library {quoted(chosen.name)}"
        )
    args.index = chosen.index
    if corpus:
        args.corpus = chosen.corpus


def add_library_commands(commands) -> None:
    libraries = commands.add_parser("library", help="list, create or delete named libraries (knowledge bases)")
    actions = libraries.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the libraries and their documents")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_data_dir(listing)
    create = actions.add_parser("create", help="a new library, empty or a copy of a folder's documents (indexed)")
    create.add_argument("name", help="letters (any language), digits, spaces and - _ .")
    create.add_argument("--from", dest="source", type=Path, metavar="DIR", help="copy this folder's documents in")
    create.add_argument("--description", default="", help="a line saying what it holds")
    create.add_argument("--model", help=f"model to index with (default ${settings.ENV_MODEL})")
    create.add_argument("--backend", help=f"encoder backend (default ${settings.ENV_BACKEND})")
    add_data_dir(create)
    delete = actions.add_parser("delete", help="delete a library: its files and its index")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_data_dir(delete)


def run_library(args: argparse.Namespace) -> int:
    from index import libraries
    from index.libraries import quoted

    data = settings.data_dir(args.data_dir)
    if args.action == "list":
        found = libraries.list_libraries(data)
        if args.json:
            for lib in found:
                documents = len(lib.manifest().get("documents", {}))
                print(json.dumps({**lib.to_json(), "documents": documents}, ensure_ascii=False))
            return 0
        print(f"Libraries in {libraries.libraries_dir(data)}:")
        for lib in found:
            documents = len(lib.manifest().get("documents", {}))
            state = f"{documents} documents indexed" if lib.built else f"not indexed ({len(lib.files())} files)"
            kind = "built-in, read-only" if lib.read_only else f"created {lib.created[:10]}"
            about = f" — {lib.description}" if lib.description else ""
            print(f"  {lib.name}  ({kind}; {state}){about}")
            print(f"      files {lib.corpus}\n      index {lib.index}")
        return 0
    if args.action == "create":
        created = libraries.create_library(data, args.name, args.description, args.source)
        print(f"Created library {created.name} ({len(created.files())} files) in {created.root}")
        if not created.files():
            print(f"Add documents to {created.corpus}, then: python -m index build --library {quoted(created.name)}")
            return 0
        from index.encoder import Encoder

        try:
            encoder = Encoder(settings.model_name(args.model), backend=settings.backend_name(args.backend))
            report = libraries.build_library(created, encoder)
        except KeyboardInterrupt:
            print(f"Stopped; resume with: python -m index build --library {quoted(created.name)}", file=sys.stderr)
            raise
        except Exception:
            libraries.delete_library(data, created.name)  # nothing half made is left behind
            raise
        print(f"{report.documents} documents, {report.chunks} chunks → {report.index_dir}")
        return 0
    doomed = libraries.library(data, args.name)
    doomed.require_writable()
    if not args.yes:
        question = f"Delete the library {doomed.name} ({len(doomed.files())} files in {doomed.root})? [y/N] "
        if not sys.stdin.isatty():
            print(f"error: add --yes to delete the library {doomed.name} without being asked", file=sys.stderr)
            return 2
        if input(question).strip().lower() not in {"y", "yes"}:
            print("Nothing deleted.")
            return 1
    libraries.delete_library(data, doomed.name)
    print(f"Deleted library {doomed.name}.")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from index.build import LocalExecutor, build_index
    from index.encoder import Encoder

    if args.executor == "ray":
        from index.ray_build import ray_executor

        executor = ray_executor(os.environ.get("RAY_ADDRESS") or None, args.workers)
    else:
        executor = nullcontext(LocalExecutor())
    with executor as chosen:
        report = build_index(
            args.corpus or settings.BUNDLED_CORPUS,
            settings.index_dir(args.index),
            Encoder(settings.model_name(args.model), backend=settings.backend_name(args.backend)),
            BuildSettings(max_tokens=args.max_tokens, overlap_tokens=args.overlap, context=args.context),
            vector_store=args.vector_store,
            lock_timeout=0 if args.no_wait else args.wait_timeout,
            executor=chosen,
        )
    print(f"{report.documents} documents, {report.chunks} chunks → {report.index_dir}")
    if report.problems:  # the summary of refused files, each with its reason, at the end where it is seen
        print(f"{len(report.problems)} file(s) refused, not indexed:")
        print("\n".join(f"  refused: {problem}" for problem in report.problems))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Every file of the live version and its segments against its recorded checksum: 0 when all match,
    1 when a file is damaged (each one printed) or the index has no checksums recorded."""
    from index.integrity import repair_command, verify_index
    from index.milvus_index import MilvusPassageIndex, read_pointer

    directory = settings.index_dir(args.index)
    if pointer := read_pointer(directory):  # kept in Milvus: its collections against the counts recorded
        index = MilvusPassageIndex.load(directory)
        problems = index.verify()
        for problem in problems:
            print(f"damaged: {problem}", file=sys.stderr)
        if problems:
            corpus = shlex.quote(index.manifest.get("corpus") or "DIR")
            print(f"rebuild it with: python -m index build --corpus {corpus} --index {directory}", file=sys.stderr)
            return 1
        print(f"{directory}: the Milvus index {pointer['name']} at {pointer['uri']} matches its recorded counts.")
        return 0
    check = verify_index(directory)
    for path, reason in check.problems:
        print(f"damaged: {path} ({reason})", file=sys.stderr)
    if check.problems:
        print(f"{len(check.problems)} damaged file(s); repair with: {repair_command(directory)}", file=sys.stderr)
        return 1
    if not check.recorded:
        print(
            f"{directory} ({check.version}) has no checksums recorded (built before they were); rebuild it to "
            f"add them: {repair_command(directory)}",
            file=sys.stderr,
        )
        return 1
    print(f"{directory}: {check.files} files of {check.version} and its segments match their checksums.")
    return 0


def run_search(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from index.search import open_searcher

    if not args.batch and args.question is None:
        parser.error("give a QUESTION or --batch FILE")
    if args.batch:  # read (any encoding, bad lines reported one by one) before the model is loaded
        from index.batch import read_batch, run_batch

        lines = read_batch(args.batch)
        searcher = open_searcher(
            settings.index_dir(args.index), settings.asked_model(args.model), settings.backend_name(args.backend)
        )
        for result in run_batch(lines, lambda question: answer_json(searcher.answer(question, k=args.k))):
            print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0
    searcher = open_searcher(
        settings.index_dir(args.index), settings.asked_model(args.model), settings.backend_name(args.backend)
    )
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


if __name__ == "__main__":
    sys.exit(main())
