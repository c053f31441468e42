"""``python -m index ask "Q" --llm-url URL --model M``: a grounded answer from any OpenAI-compatible endpoint.

The edge of ``index.generate``: flags and ``CITELENS_LLM_URL``/``_MODEL``/``_KEY`` (or the variable named by
``--llm-key-env``) become one ``LLMSettings``; the key is only ever read from the environment (a key on the
command line would show in the process list and the shell history). Without ``--json`` the answer streams to
the terminal as it is written, then each sentence's check and the numbered citations; with ``--json`` one
object: ``answer``, ``sentences`` and the search exactly as ``search --json`` gives it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from index import settings
from index.generate.endpoint import ENV_KEY, ENV_MODEL, ENV_URL, LLMSettings, require


def add_ask_command(commands, add_common_paths) -> None:
    """The ``ask`` sub-command; ``add_common_paths`` adds ``--index``/``--library``/``--data-dir`` as ``search``."""
    ask = commands.add_parser("ask", help="a grounded answer written by a language model, each sentence checked")
    ask.add_argument("question", help="the question (Chinese or English)")
    add_common_paths(ask)
    ask.add_argument("--llm-url", metavar="URL", help=f"OpenAI-compatible base URL (default ${ENV_URL})")
    ask.add_argument(
        "--model", "--llm-model", dest="llm_model", metavar="NAME", help=f"the language model (default ${ENV_MODEL})"
    )
    ask.add_argument(
        "--llm-key-env",
        metavar="VAR",
        default=ENV_KEY,
        help=f"environment variable holding the API key (default {ENV_KEY}; none needed for local servers)",
    )
    ask.add_argument("--llm-timeout", type=float, default=LLMSettings.timeout, metavar="SECONDS")
    ask.add_argument("--max-tokens", type=int, default=LLMSettings.max_tokens, help="longest answer, model tokens")
    ask.add_argument("--k", type=int, default=5, help="passages given to the model (default 5)")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ask.add_argument(
        "--embedding-model", help=f"sentence-transformers model of the index (default ${settings.ENV_MODEL})"
    )
    ask.add_argument("--backend", help=f"encoder backend (default ${settings.ENV_BACKEND})")


def llm_settings(args: argparse.Namespace, environ=os.environ) -> LLMSettings:
    """The endpoint the flags and the environment name (NoEndpoint when none is)."""
    key = environ.get(args.llm_key_env, "") if args.llm_key_env else ""
    return require(
        LLMSettings.from_env(
            environ,
            url=args.llm_url,
            model=args.llm_model,
            key=key,
            timeout=args.llm_timeout,
            max_tokens=args.max_tokens,
        )
    )


def run_ask(args: argparse.Namespace, index_dir: Path) -> int:
    from index.generate.ask import Checked, Retrieved, Token, ask
    from index.search import BadQuestion, open_searcher

    llm = llm_settings(args)  # before the index is loaded: a missing endpoint fails at once
    if args.k < 1:
        raise BadQuestion("k must be at least 1.")
    searcher = open_searcher(index_dir, settings.asked_model(args.embedding_model), settings.backend_name(args.backend))
    out = sys.stdout
    streamed = False
    for event in ask(searcher, args.question, llm, k=args.k):
        if isinstance(event, Retrieved) and not args.json and not event.answer.answerable:
            relevance = event.answer.relevance
            shown = "" if relevance is None else f" (relevance {relevance:.2f})"
            print(f"Nothing in the documents seems to answer this{shown}; the model was not asked.", file=out)
        elif isinstance(event, Token) and not args.json:
            out.write(event.text)
            out.flush()
            streamed = True
        elif isinstance(event, Checked):
            if args.json:
                print(json.dumps(event.result.to_json(), ensure_ascii=False), file=out)
            else:
                print_checked(event.result, streamed, out)
    return 0


def print_checked(result, streamed: bool, out) -> None:
    """After the streamed text: each sentence's check mark and its citations, then the numbered passages."""
    if streamed:
        print("\n", file=out)
    elif not result.asked:
        print(result.text, file=out)
    for sentence in result.sentences:
        mark = "✓" if sentence.supported else "✗"
        cited = "".join(f"[{n}]" for n in sentence.citations) or "(no citation)"
        why = f"  — {'; '.join(sentence.problems)}" if sentence.problems and not sentence.supported else ""
        print(f"{mark} {cited} {sentence.text}{why}", file=out)
    if result.sentences:
        supported = sum(sentence.supported for sentence in result.sentences)
        print(f"{supported} of {len(result.sentences)} sentences supported by the passages they cite.\n", file=out)
    for number, hit in enumerate(result.search.hits, 1):
        print(f"[{number}] {hit.citation}", file=out)
