"""``python -m index serve``: the search and grounded answers over HTTP (FastAPI, run by uvicorn).

The JSON is the CLI's contract, unchanged: ``POST /search`` answers exactly what ``python -m index search --json``
prints, ``POST /search/batch`` what ``--batch`` prints (one result per question, a bad one an error entry), and
``POST /answer`` what ``python -m index ask --json`` prints. ``GET /healthz`` says the process is alive, ``GET
/readyz`` whether its index is open and its model loaded (503 until then). OpenAPI: ``/docs``, ``/openapi.json``.

Each worker process (``--workers N``) opens the index itself, through ``open_searcher`` only, in a thread started
at start-up, so ``/healthz`` answers while the model loads. Its settings come from the environment
(``CITELENS_SERVE``, a JSON object ``run_serve`` writes; the language model's key only ever from the variable
it names), since uvicorn starts workers from an import string. One searcher is shared by the process's threads
(``Searcher.answer`` is thread-safe: tests/test_concurrency.py); the blocking work runs in FastAPI's threadpool,
at most ``max_concurrent`` searches at once per process, the others waiting up to ``queue_timeout`` seconds
before a 503. Bodies over a size limit are refused with 413, and every error is ``{"error": "one line"}``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

ENV_SERVE = "CITELENS_SERVE"  # the server's settings as JSON, for every worker process (never the key itself)
WORKER_HEADER = "X-CiteLens-Worker"  # the pid of the worker process that answered
MAX_K = 100
MAX_BATCH = 100  # questions per batch request
SEARCH_BODY_LIMIT = 64 * 1024  # bytes: /search, /answer and anything else
BATCH_BODY_LIMIT = 4 * 2**20  # bytes: /search/batch
BODY_LIMITS = {"/search/batch": BATCH_BODY_LIMIT}

log = logging.getLogger("uvicorn.error")  # uvicorn configures it in every worker


# ---- settings ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServeSettings:
    """What every worker needs to open the index and reach the language model; JSON through ``CITELENS_SERVE``."""

    index: str  # the index folder (local, or the folder holding a pointer to a server-kept index)
    model: str | None = None  # the embedding model asked for (None: the one that built the index)
    backend: str | None = None  # the encoder backend (None: the measured default)
    llm_url: str | None = None  # the OpenAI-compatible endpoint for /answer (None: $CITELENS_LLM_URL, else off)
    llm_model: str | None = None
    llm_key_env: str | None = None  # the variable holding the key (default $CITELENS_LLM_KEY); never the key
    llm_timeout: float = 120.0
    llm_max_tokens: int = 512
    max_concurrent: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))  # searches at once, per worker
    max_concurrent_answers: int = 4  # /answer calls at once, per worker (each mostly waits on the model)
    queue_timeout: float = 30.0  # seconds a request waits for its turn before a 503
    refresh_seconds: float = 5.0  # how often an index that builds change in place (Milvus) is checked for changes
    warm: bool = True  # load the lazy parts (segmenter, dictionaries, second encoder) before saying ready

    def to_environment(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls, environ=os.environ) -> ServeSettings:
        value = environ.get(ENV_SERVE)
        if not value:
            raise RuntimeError(f"${ENV_SERVE} is not set: start the server with python -m index serve")
        return cls(**json.loads(value))

    def llm(self, environ=os.environ):
        """The endpoint's ``LLMSettings`` (flags first, then ``CITELENS_LLM_*``), or None when none is set."""
        from index.generate.endpoint import ENV_KEY, LLMSettings

        key_env = self.llm_key_env or ENV_KEY
        return LLMSettings.from_env(
            environ,
            url=self.llm_url,
            model=self.llm_model,
            key=environ.get(key_env, ""),
            timeout=self.llm_timeout,
            max_tokens=self.llm_max_tokens,
        )


# ---- request and response models (the contract, documented) ------------------------------------------------------


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "中国制定了哪些数据安全方面的法律？", "k": 5, "id": "q1"}]},
    )
    question: str = Field(description="the question, Chinese or English (at most 2,000 characters)")
    k: int = Field(10, ge=1, le=MAX_K, description="number of passages")
    id: Any = Field(None, description="any JSON value, echoed back as `id` (as `--batch` does)")
    documents: list[str] | None = Field(
        None, max_length=10_000, description="limit the hits to these document ids (the `doc` of a hit)"
    )


class AnswerRequest(SearchRequest):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"question": "数据安全法什么时候施行？", "k": 5}]}
    )
    k: int = Field(5, ge=1, le=MAX_K, description="passages given to the language model")


class BatchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"questions": [{"id": "q1", "question": "数据安全法什么时候施行？"}, {"id": "q2"}], "k": 5}]
        },
    )
    questions: list[Any] = Field(
        max_length=MAX_BATCH,
        description='`{"id", "question"}` objects, as the lines of a `--batch` file; an item that is not one is an '
        "error entry of the results, the others are answered",
    )
    k: int = Field(10, ge=1, le=MAX_K, description="number of passages per question")
    documents: list[str] | None = Field(None, max_length=10_000, description="limit every question's hits")


class Sentence(BaseModel):
    model_config = ConfigDict(extra="allow")
    start: int
    end: int
    text: str


class HitJSON(BaseModel):
    """One passage, as ``Hit.to_json`` gives it (fields may be added, never removed)."""

    model_config = ConfigDict(extra="allow")
    rank: int
    score: float
    doc: str = Field(description="the source file name (document id)")
    title: str
    section: str = Field(description="the section path joined with ` › `")
    paragraph: int
    paragraph_end: int
    text: str = Field(description="the passage, exactly document_text[start:end] of the cleaned document")
    start: int
    end: int
    date: str
    url: str
    chunk_id: str
    also_in: list[dict[str, Any]] = Field(description="the same passage in other documents, with their citations")
    sentence: Sentence = Field(description="the best-answering sentence and its offsets")
    relevance: float | None = Field(description="calibrated probability that the passage answers the question")
    page: int | None = Field(description="1-based page of the first character in a paged source (PDF), else null")
    page_end: int | None


class SearchResponse(BaseModel):
    """Exactly ``python -m index search --json`` (plus ``id`` when the request has one)."""

    model_config = ConfigDict(extra="allow")
    question: str = Field(description="the question as asked")
    answerable: bool = Field(description='false: the collection does not answer it ("Not in the documents")')
    relevance: float | None = Field(description="the best of the first three hits' relevance")
    hits: list[HitJSON]
    id: Any = Field(None, description="the request's id, when it has one")


class BatchResult(BaseModel):
    """One line of ``--batch`` output: ``{"id", "answerable", "relevance", "hits"}``, or for a bad item
    ``{"id", "hits": [], "error": "line N: …", "line": N}`` (N: the item's 1-based position)."""

    model_config = ConfigDict(extra="allow")
    id: Any = None
    answerable: bool | None = None
    relevance: float | None = None
    hits: list[HitJSON]
    error: str | None = None
    line: int | None = None


class BatchResponse(BaseModel):
    results: list[BatchResult] = Field(description="one per question, in order")


class SupportJSON(BaseModel):
    rank: int
    sentence: str
    score: float


class SentenceJSON(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str
    citations: list[int]
    supported: bool
    support: SupportJSON | None
    problems: list[str]
    no_answer: bool


class AnswerResponse(BaseModel):
    """Exactly ``python -m index ask --json`` (plus ``id`` when the request has one)."""

    model_config = ConfigDict(extra="allow")
    question: str
    answer: str = Field(description="the model's answer; when the model was not asked, the sentence saying why")
    asked: bool = Field(description="false: retrieval judged the question unanswerable and the model was not asked")
    model: str
    language: str = Field(description="en, zh-Hans or zh-Hant")
    sentences: list[SentenceJSON]
    answerable: bool
    relevance: float | None
    hits: list[HitJSON]
    id: Any = None


class ErrorResponse(BaseModel):
    error: str = Field(description="one line saying what is wrong")


class Health(BaseModel):
    alive: bool
    worker: int


class Readiness(BaseModel):
    model_config = ConfigDict(extra="allow")
    ready: bool
    worker: int
    index: str
    state: str = Field(description="loading, ready or failed")
    error: str | None = None
    index_kind: str | None = None
    documents: int | None = None
    chunks: int | None = None
    model: str | None = None
    backend: str | None = None
    llm: dict[str, Any] | None = Field(None, description="the language-model endpoint (no key), null when none")


ERRORS = {
    400: {"model": ErrorResponse, "description": "the body is not JSON"},
    413: {"model": ErrorResponse, "description": "the body is over the size limit"},
    422: {"model": ErrorResponse, "description": "a bad question or parameter"},
    503: {"model": ErrorResponse, "description": "not ready yet, or busy"},
}


# ---- errors -----------------------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, " ".join(str(message).split()), headers


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body is read (FastAPI re-raises HTTP exceptions as they are): a 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"The request body is over {limit // 1024} KB; split it into smaller requests.")


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def validation_message(error: RequestValidationError) -> tuple[int, str]:
    """Pydantic's list of problems as (status, one line): 400 for a body that is not JSON, 422 otherwise."""
    problems = error.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return 400, "The body is not valid JSON."
    parts = []
    for problem in problems[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        parts.append(f"{where}: {problem.get('msg', 'invalid')}" if where else str(problem.get("msg", "invalid")))
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return 422, "; ".join(parts) + more


def require_text(value: Any, what: str) -> None:
    """422 for a value holding a lone surrogate (a JSON "\\ud800" escape): it cannot be searched or written back."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, f"The {what} holds a lone surrogate (\\ud800…), not valid text.") from None


# ---- the body size limit ------------------------------------------------------------------------------------------


class BodyLimit:
    """Refuses request bodies over the path's limit with 413: by Content-Length at once, and by counting what
    arrives for a body sent without one (chunked)."""

    def __init__(self, app, limits: dict[str, int] = BODY_LIMITS, default: int = SEARCH_BODY_LIMIT):
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"].rstrip("/") or "/", self.default)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = error_response(413, BodyTooLarge(limit).detail, {WORKER_HEADER: str(os.getpid())})
            return await response(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return await self.app(scope, counted, send)


# ---- the worker's state: its searcher, opened in a thread at start-up ------------------------------------------


class Limiter:
    """At most ``size`` callers at once; a caller waits up to ``timeout`` seconds for its turn, then a 503."""

    def __init__(self, size: int, timeout: float, what: str):
        self.semaphore = threading.BoundedSemaphore(max(1, size))
        self.timeout, self.what = timeout, what

    def __enter__(self):
        if not self.semaphore.acquire(timeout=self.timeout):
            raise ApiError(503, f"The server is busy ({self.what}); try again shortly.", {"Retry-After": "1"})
        return self

    def __exit__(self, *exc):
        self.semaphore.release()


class Worker:
    """One process's searcher (opened by ``opener`` in a background thread) and language-model client."""

    def __init__(self, settings: ServeSettings, opener: Callable[[], Any] | None = None):
        self.settings = settings
        self.opener = opener or self._open
        self.state, self.error, self.searcher = "loading", None, None
        self.ready = threading.Event()
        self.searches = Limiter(settings.max_concurrent, settings.queue_timeout, "searches")
        self.answers = Limiter(settings.max_concurrent_answers, settings.queue_timeout, "answers")
        self.llm, self.llm_error, self._client = None, None, None
        self.refresh_lock, self.checked = threading.Lock(), time.monotonic()
        try:  # a bad endpoint setting is /answer's 503 (and a line in the log), not a server that will not start
            self.llm = settings.llm()
        except Exception as error:
            self.llm_error = " ".join(str(error).split())

    def _open(self):
        from index.search import open_searcher

        return open_searcher(Path(self.settings.index), self.settings.model, self.settings.backend)

    def load(self) -> None:
        started = time.monotonic()
        try:
            searcher = self.opener()
            if self.settings.warm:
                searcher.warm()
        except Exception as error:  # the reason is /readyz's, and one line of the log (no traceback)
            self.state, self.error = "failed", " ".join(f"{error}".split()) or type(error).__name__
            log.error("worker %d: cannot open the index %s: %s", os.getpid(), self.settings.index, self.error)
        else:
            self.searcher, self.state = searcher, "ready"
            log.info("worker %d: ready in %.1f s (%s)", os.getpid(), time.monotonic() - started, self.settings.index)
        finally:
            self.ready.set()

    def start(self) -> None:
        threading.Thread(target=self.load, name="citelens-open-index", daemon=True).start()

    def require_searcher(self):
        if self.searcher is None:
            why = f"the index could not be opened: {self.error}" if self.error else "the index is still loading"
            raise ApiError(503, f"Not ready: {why}.", {"Retry-After": "2"})
        if time.monotonic() - self.checked > self.settings.refresh_seconds and self.refresh_lock.acquire(False):
            try:  # one thread looks; the others go on with the searcher they have
                self.checked = time.monotonic()
                self.searcher = self.searcher.refreshed()
            finally:
                self.refresh_lock.release()
        return self.searcher

    def client(self):
        from index.generate.endpoint import ChatClient

        if self._client is None:  # one client per process: its model check is done once
            self._client = ChatClient(self.llm)
        return self._client

    def readiness(self) -> dict:
        report: dict[str, Any] = {
            "ready": self.state == "ready",
            "worker": os.getpid(),
            "index": self.settings.index,
            "state": self.state,
            "error": self.error,
            "llm": None if self.llm is None else self.llm.to_json(),
        }
        if self.searcher is not None:
            searcher = self.searcher
            store = searcher.index.manifest.get("vector_index") or {}
            report |= {
                "index_kind": store.get("kind") or store.get("store"),
                "documents": len(searcher.index.manifest.get("documents") or {}),
                "chunks": len(searcher.index.chunks),
                "model": searcher.encoder.name,
                "backend": getattr(searcher.encoder, "backend", None),
            }
        return report


# ---- the app -----------------------------------------------------------------------------------------------------


def create_app(settings: ServeSettings, opener: Callable[[], Any] | None = None) -> FastAPI:
    """The API over one index. ``opener`` returns the searcher (default: ``open_searcher`` on the settings'
    index); it runs in a thread at start-up, so the app answers ``/healthz`` while it loads."""
    from index.__main__ import answer_json
    from index.batch import parse_line, run_batch
    from index.search import BadQuestion

    worker = Worker(settings, opener)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if worker.llm_error:
            log.warning("worker %d: /answer is off: %s", os.getpid(), worker.llm_error)
        worker.start()
        yield

    app = FastAPI(
        title="CiteLens",
        summary="Question answering over Chinese documents, in Chinese or English, with exact citations.",
        description="The JSON of every route is the CLI's contract (`python -m index search --json`, `--batch`, "
        '`ask --json`): fields may be added, never removed. Errors are `{"error": "…"}`.',
        version="1",
        lifespan=lifespan,
    )
    app.state.worker = worker
    app.add_middleware(BodyLimit)

    @app.middleware("http")
    async def worker_header(request: Request, call_next):
        response = await call_next(request)
        response.headers[WORKER_HEADER] = str(os.getpid())
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error_response(error.status, error.message, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        message = error.detail if isinstance(error.detail, str) else "Request refused."
        if error.status_code == 404:
            message = f"No route {request.method} {request.url.path}; see /docs."
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs."
        return error_response(error.status_code, message, getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        status, message = validation_message(error)
        return error_response(status, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):  # a bug: logged with its traceback, not shown
        log.exception("worker %d: %s %s failed", os.getpid(), request.method, request.url.path)
        return error_response(500, f"Internal error ({type(error).__name__}); see the server's log.")

    def search_json(question: str, k: int, documents: list[str] | None) -> dict:
        return answer_json(worker.require_searcher().answer(question, k=k, documents=documents))

    @app.get("/healthz", response_model=Health, tags=["status"])
    def healthz():
        """The process is alive (whether or not its index is open yet)."""
        return {"alive": True, "worker": os.getpid()}

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, tags=["status"])
    def readyz():
        """200 once this worker's index is open and its model loaded (with what it serves); 503 until then, or
        with the reason when the index cannot be opened."""
        report = worker.readiness()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @app.post("/search", response_model=SearchResponse, responses=ERRORS, tags=["search"])
    def search(request: SearchRequest):
        """Ranked, citable passages: exactly what `python -m index search --json` prints."""
        require_text(request.model_dump(), "request")
        try:
            with worker.searches:
                found = search_json(request.question, request.k, request.documents)
        except BadQuestion as error:
            raise ApiError(422, str(error)) from None
        result = {"question": request.question, **found}
        if "id" in request.model_fields_set:
            result["id"] = request.id
        return JSONResponse(result)

    @app.post("/search/batch", response_model=BatchResponse, responses=ERRORS, tags=["search"])
    def search_batch(request: BatchRequest):
        """Many questions: one result per item, each exactly a line of `python -m index search --batch`;
        an item that cannot be asked is an error entry and the others are answered."""
        worker.require_searcher()
        lines = [parse_line(number, json.dumps(item)) for number, item in enumerate(request.questions, 1)]
        with worker.searches:  # one turn for the whole batch: its questions are asked one after another
            results = list(run_batch(lines, lambda question: search_json(question, request.k, request.documents)))
        return JSONResponse({"results": results})

    @app.post(
        "/answer",
        response_model=AnswerResponse,
        responses=ERRORS | {502: {"model": ErrorResponse, "description": "the language-model endpoint failed"}},
        tags=["answer"],
    )
    def answer(request: AnswerRequest):
        """A grounded answer from the server's language-model endpoint, each sentence checked against the
        passages it cites: exactly what `python -m index ask --json` prints. 503 when no endpoint is configured
        (it is the server's setting: `--llm-url`/`--llm-model` or `CITELENS_LLM_URL`/`CITELENS_LLM_MODEL`)."""
        from index.generate.ask import ask_once
        from index.generate.endpoint import ENV_MODEL, ENV_URL, EndpointTimeout, LLMError

        require_text(request.model_dump(), "request")
        if worker.llm is None:
            why = worker.llm_error or (
                f"no language-model endpoint is configured: start the server with --llm-url URL --llm-model NAME, "
                f"or set ${ENV_URL} and ${ENV_MODEL}"
            )
            raise ApiError(503, f"/answer is off on this server: {why}")
        searcher = worker.require_searcher()
        try:
            with worker.answers:
                result = ask_once(
                    searcher,
                    request.question,
                    worker.llm,
                    k=request.k,
                    documents=request.documents,
                    client=worker.client(),
                )
        except BadQuestion as error:
            raise ApiError(422, str(error)) from None
        except EndpointTimeout as error:
            raise ApiError(504, str(error)) from None
        except LLMError as error:  # already one line, the key replaced by ***
            raise ApiError(502, str(error)) from None
        body = result.to_json()
        if "id" in request.model_fields_set:
            body["id"] = request.id
        return JSONResponse(body)

    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn calls in every worker process (``index.http_api:app_from_environment``)."""
    return create_app(ServeSettings.from_environment())
