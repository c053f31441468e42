"""``python -m index serve``: the command line of the HTTP API (index/http_api.py, imported only to serve, so the
other commands never load FastAPI).

Settings are read here, at the edge, and handed to every uvicorn worker process through ``CITELENS_SERVE``
(``ServeSettings`` as JSON); the language model's key stays in the variable ``--llm-key-env`` names, which the
workers inherit and read themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from index.generate.endpoint import ENV_KEY, ENV_MODEL, ENV_URL


def add_serve_command(commands, add_common, add_library_options) -> None:
    """The ``serve`` sub-command: ``--index``/``--library``/``--model``/``--backend`` as ``search`` has them."""
    serve = commands.add_parser("serve", help="the search and grounded answers over HTTP (FastAPI)")
    add_common(serve)
    add_library_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="processes, each with its own copy of the index")
    serve.add_argument(
        "--max-concurrent", type=int, help="searches at once per worker (default: the number of cores); more wait"
    )
    serve.add_argument(
        "--refresh-seconds",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often an index kept in Milvus is checked for a build's changes (default 5)",
    )
    serve.add_argument("--llm-url", metavar="URL", help=f"OpenAI-compatible base URL for /answer (default ${ENV_URL})")
    serve.add_argument("--llm-model", metavar="NAME", help=f"the language model (default ${ENV_MODEL})")
    serve.add_argument(
        "--llm-key-env", metavar="VAR", default=ENV_KEY, help=f"variable holding the API key (default {ENV_KEY})"
    )
    serve.add_argument("--llm-timeout", type=float, default=120.0, metavar="SECONDS")
    serve.add_argument("--llm-max-tokens", type=int, default=512, help="longest answer, model tokens")


def run_serve(args, index_dir: Path) -> int:
    """Check what can be checked at once (the index is there, the endpoint settings are sound), then serve."""
    import uvicorn

    from index import settings as paths
    from index.http_api import ENV_SERVE, ServeSettings
    from index.passage_index import read_manifest

    if args.workers < 1 or not 0 < args.port < 65536 or (args.max_concurrent is not None and args.max_concurrent < 1):
        return refuse("--workers and --max-concurrent must be at least 1, --port between 1 and 65535")
    try:
        backend = paths.backend_name(args.backend)
    except ValueError as error:
        return refuse(str(error))
    settings = ServeSettings(
        index=str(Path(index_dir).resolve()),
        model=paths.asked_model(args.model),
        backend=backend,
        llm_url=args.llm_url,
        llm_model=args.llm_model,
        llm_key_env=args.llm_key_env,
        llm_timeout=args.llm_timeout,
        llm_max_tokens=args.llm_max_tokens,
        refresh_seconds=args.refresh_seconds,
        **({"max_concurrent": args.max_concurrent} if args.max_concurrent else {}),
    )
    settings.llm()  # a bad endpoint setting (no model for a URL, a bad URL) is one line now
    read_manifest(index_dir)  # as open_searcher does first: IndexNotFound (one line) before any worker starts
    os.environ[ENV_SERVE] = settings.to_environment()
    uvicorn.run(
        "index.http_api:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        limit_concurrency=256,  # connections per worker beyond this get a 503 at once
        timeout_graceful_shutdown=10,
        log_level="info",
    )
    return 0


def refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
