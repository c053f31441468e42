"""The HTTP API (index/http_api.py, ``python -m index serve``) over a small index built with the real model.

A real server (``python -m index serve --workers 2`` in a subprocess, on a free loopback port) where the server is
the subject: its JSON against the CLI's for the same questions, readiness, both workers answering, a small load
test. FastAPI's TestClient over the same index (the searcher loaded once, in this process) where it is not: request
validation, limits, errors, readiness while loading, and ``/answer`` against the real local LLM server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from eval.app_driver import stop_process
from eval.load_http import load_test, wait_ready
from index.build import BuildSettings, build_index
from index.http_api import BATCH_BODY_LIMIT, MAX_BATCH, SEARCH_BODY_LIMIT, WORKER_HEADER, ServeSettings, create_app
from index.passage_index import PassageIndex
from index.search import Searcher
from tests.cli import index_cli
from tests.conftest import FIXTURES, PROJECT
from tests.llm_server import free_port, llm_server_fixture  # noqa: F401  (registers the session fixture llm_server)

QUESTION = "5G移动电话用户数是多少？"
QUESTION_EN = "How much high-standard farmland has been built?"
UNANSWERABLE = "火星上有多少座火山？"
START_TIMEOUT = 120.0  # seconds for the server's workers to load the model and open the index
WORKERS = 2
LLM_VARIABLES = ("CITELENS_LLM_URL", "CITELENS_LLM_MODEL", "CITELENS_LLM_KEY")


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, encoder) -> Path:
    directory = tmp_path_factory.mktemp("http-index")
    build_index(FIXTURES / "corpus_small", directory, encoder, BuildSettings(max_tokens=64, overlap_tokens=8))
    return directory


@pytest.fixture(scope="module")
def searcher(index_dir, encoder) -> Searcher:
    return Searcher(PassageIndex.load(index_dir), encoder)


def app_client(index_dir: Path, opener, **settings) -> TestClient:
    app = create_app(ServeSettings(index=str(index_dir), warm=False, **settings), opener=opener)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(index_dir, searcher):
    """The app in this process over the module's searcher, no language model configured."""
    saved = {name: os.environ.pop(name) for name in LLM_VARIABLES if name in os.environ}
    with app_client(index_dir, lambda: searcher) as test_client:
        assert test_client.app.state.worker.ready.wait(30)
        yield test_client
    os.environ.update(saved)


def server_environment() -> dict:
    environ = {key: value for key, value in os.environ.items() if key not in (*LLM_VARIABLES, "CITELENS_INDEX")}
    environ["PYTHONPATH"] = str(PROJECT)
    return environ


@pytest.fixture(scope="module")
def server(index_dir):
    """``python -m index serve --workers 2`` on a free loopback port; yields its URL, stopped after the module."""
    with serving(index_dir) as url:
        yield url


@contextlib.contextmanager
def serving(index_dir: Path, workers: int = WORKERS):
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="citelens-serve-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "index",
        "serve",
        "--index",
        str(index_dir),
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--refresh-seconds",
        "1",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=server_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(url, process, workers, timeout=START_TIMEOUT)
        except RuntimeError as error:
            raise AssertionError(f"{error}:\n{log.read_text(errors='replace')[-3000:]}") from None
        yield url
    finally:
        stop_process(process)
        server_log = log.read_text(errors="replace")
        log.unlink(missing_ok=True)
    assert "Traceback" not in server_log, server_log[-3000:]


def cli_json(*args) -> list[dict]:
    ran = index_cli(*args)
    assert ran.returncode == 0, ran.stderr
    return [json.loads(line) for line in ran.stdout.splitlines() if line.strip()]


# --- the real server: the CLI's JSON, readiness, workers, load ------------------------------------------------------


def test_search_answers_exactly_what_search_json_prints(server, index_dir):
    response = httpx.post(f"{server}/search", json={"question": QUESTION, "k": 5}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    [expected] = cli_json("search", QUESTION, "--index", index_dir, "--k", 5, "--json")
    assert response.json() == expected
    assert list(expected) == ["question", "answerable", "relevance", "hits"]
    assert expected["hits"] and expected["hits"][0]["rank"] == 1
    with_id = httpx.post(f"{server}/search", json={"question": QUESTION, "k": 5, "id": {"n": 7}}, timeout=30).json()
    assert with_id.pop("id") == {"n": 7}
    assert with_id == expected


def test_batch_answers_as_the_batch_cli_does_and_a_bad_item_is_an_error_entry(server, index_dir, tmp_path):
    items = [
        {"id": "a", "question": QUESTION},
        {"id": "b"},
        "not an object",
        {"id": "c", "question": "   "},
        {"id": 4, "question": QUESTION_EN},
        {"id": "e", "question": 12},
    ]
    batch = tmp_path / "questions.jsonl"
    batch.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    expected = cli_json("search", "--index", index_dir, "--k", 3, "--batch", batch)
    response = httpx.post(f"{server}/search/batch", json={"questions": items, "k": 3}, timeout=60)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results == expected
    assert [result["id"] for result in results] == ["a", "b", None, "c", 4, "e"]
    assert results[0]["hits"] and results[4]["hits"] and "error" not in results[0]
    assert results[1] == {"id": "b", "hits": [], "error": "line 2: missing field 'question'", "line": 2}
    assert results[2]["error"] == "line 3: not a JSON object with a question"
    assert results[3]["error"].startswith("line 4: The question is empty")
    assert results[5]["error"] == "line 6: the question is not text"


def test_ready_and_healthy_say_what_is_served(server, index_dir):
    health = httpx.get(f"{server}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["alive"] is True
    ready = httpx.get(f"{server}/readyz", timeout=10)
    assert ready.status_code == 200
    report = ready.json()
    assert report["ready"] is True and report["state"] == "ready" and report["error"] is None
    assert Path(report["index"]) == index_dir.resolve()
    assert report["index_kind"] == "flat"  # FAISS, exact, at this size
    assert report["documents"] == 3 and report["chunks"] >= 3
    assert report["model"] == "multilingual-e5-small" and report["backend"] == "onnx-int8"
    assert report["llm"] is None
    assert int(ready.headers[WORKER_HEADER]) == report["worker"]


def test_answer_without_an_endpoint_is_a_clear_503(server):
    response = httpx.post(f"{server}/answer", json={"question": QUESTION}, timeout=30)
    assert response.status_code == 503
    message = response.json()["error"]
    assert list(response.json()) == ["error"] and "\n" not in message
    assert "CITELENS_LLM_URL" in message and "--llm-url" in message


def test_two_workers_both_answer(server):
    """Searches on fresh connections, several at a time, until both worker pids have answered (bounded)."""
    seen: set[str] = set()
    deadline = time.monotonic() + 60

    def ask(_):
        with httpx.Client(timeout=30) as fresh:
            response = fresh.post(f"{server}/search", json={"question": QUESTION, "k": 3})
        assert response.status_code == 200, response.text
        return response.headers[WORKER_HEADER]

    with ThreadPoolExecutor(4) as pool:
        while len(seen) < 2 and time.monotonic() < deadline:
            seen |= set(pool.map(ask, range(8)))
    assert len(seen) == 2, f"only worker(s) {seen} answered"


def test_a_small_load_test_has_no_errors(server):
    report = load_test(server, [QUESTION, QUESTION_EN, UNANSWERABLE], concurrency=4, requests=20, timeout=30)
    assert report["errors"] == 0, report["error_kinds"]
    assert report["ok"] == 20 and report["p50_ms"] > 0 and report["p95_ms"] >= report["p50_ms"]
    assert report["requests_per_second"] > 0 and report["machine"]["cores"] >= 1


def test_openapi_documents_every_route_and_the_contract(server):
    spec = httpx.get(f"{server}/openapi.json", timeout=10).json()
    assert {"/search", "/search/batch", "/answer", "/healthz", "/readyz"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"SearchRequest", "SearchResponse", "HitJSON", "BatchRequest", "AnswerResponse", "ErrorResponse"} <= set(
        schemas
    )
    assert schemas["SearchRequest"]["properties"]["k"]["maximum"] == 100
    assert {"answerable", "relevance", "hits"} <= set(schemas["SearchResponse"]["properties"])
    docs = httpx.get(f"{server}/docs", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# --- the app in this process: validation, limits, errors, loading ---------------------------------------------------


def test_search_in_process_matches_the_searcher(client, searcher):
    from index.__main__ import answer_json

    body = client.post("/search", json={"question": QUESTION, "k": 4}).json()
    assert body == {"question": QUESTION, **answer_json(searcher.answer(QUESTION, k=4))}


def test_documents_limit_the_hits(client):
    body = client.post("/search", json={"question": QUESTION, "k": 5, "documents": ["farm.txt"]}).json()
    assert body["hits"] and {hit["doc"] for hit in body["hits"]} == {"farm.txt"}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"question": ""}, 422, "The question is empty"),
        ({"question": "  \n "}, 422, "The question is empty"),
        ({"question": "问" * 2001}, 422, "keep it under 2000"),
        ({"question": QUESTION, "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"question": QUESTION, "k": 101}, 422, "k: Input should be less than or equal to 100"),
        ({"question": QUESTION, "k": "many"}, 422, "k: Input should be a valid integer"),
        ({"k": 3}, 422, "question: Field required"),
        ({"question": 5}, 422, "question: Input should be a valid string"),
        ({"question": QUESTION, "top_k": 3}, 422, "top_k: Extra inputs are not permitted"),
        ([QUESTION], 422, "Input should be a valid dictionary"),
    ],
)
def test_a_bad_question_or_parameter_is_one_line_422(client, body, status, says):
    response = client.post("/search", json=body)
    assert response.status_code == status
    assert list(response.json()) == ["error"]
    message = response.json()["error"]
    assert says in message and "\n" not in message and "Traceback" not in message


def test_a_lone_surrogate_and_a_body_that_is_not_json_are_refused(client):
    surrogate = client.post(
        "/search", content=b'{"question": "\\ud800 5G"}', headers={"content-type": "application/json"}
    )
    assert surrogate.status_code == 422 and "lone surrogate" in surrogate.json()["error"]
    broken = client.post("/search", content=b'{"question": ', headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json() == {"error": "The body is not valid JSON."}


def test_oversized_bodies_are_413(client):
    big = {"question": QUESTION, "id": "x" * SEARCH_BODY_LIMIT}
    response = client.post("/search", json=big)
    assert response.status_code == 413 and "over 64 KB" in response.json()["error"]
    assert client.post("/answer", json=big).status_code == 413

    def chunks():  # no Content-Length: the limit counts what arrives
        yield b'{"question": "5G", "id": "'
        for _ in range(SEARCH_BODY_LIMIT // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    chunked = client.post("/search", content=chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413 and "over 64 KB" in chunked.json()["error"]
    too_big_batch = client.post("/search/batch", json={"questions": [{"id": "x" * BATCH_BODY_LIMIT}]})
    assert too_big_batch.status_code == 413 and "over 4096 KB" in too_big_batch.json()["error"]


def test_batch_limits_its_size_and_allows_a_bigger_body(client):
    too_many = client.post("/search/batch", json={"questions": [{"id": n, "question": "5G"} for n in range(101)]})
    assert too_many.status_code == 422 and "questions" in too_many.json()["error"]
    # 100 items of 1 KB each: over /search's 64 KB, within the batch's limit; all but one are bad lines (fast)
    items = [{"id": "x" * 1000 + str(n)} for n in range(MAX_BATCH - 1)] + [{"id": "last", "question": QUESTION}]
    response = client.post("/search/batch", json={"questions": items, "k": 2})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == MAX_BATCH and all(
        result["error"].endswith("missing field 'question'") for result in results[:-1]
    )
    assert results[-1]["id"] == "last" and len(results[-1]["hits"]) == 2


def test_unknown_routes_and_methods_are_json_errors(client):
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "No route GET /nope; see /docs."}
    wrong = client.get("/search")
    assert wrong.status_code == 405 and list(wrong.json()) == ["error"]
    assert missing.headers[WORKER_HEADER] == str(os.getpid())


def test_not_ready_until_the_index_is_open_and_the_reason_when_it_cannot_be(index_dir, searcher):
    release = threading.Event()

    def slow_open():
        assert release.wait(30)
        return searcher

    with app_client(index_dir, slow_open) as loading:
        assert loading.get("/healthz").status_code == 200
        ready = loading.get("/readyz")
        assert ready.status_code == 503 and ready.json()["state"] == "loading" and ready.json()["ready"] is False
        early = loading.post("/search", json={"question": QUESTION})
        assert early.status_code == 503 and "still loading" in early.json()["error"]
        assert early.headers["retry-after"] == "2"
        release.set()
        assert loading.app.state.worker.ready.wait(30)
        assert loading.get("/readyz").status_code == 200
        assert loading.post("/search", json={"question": QUESTION}).status_code == 200

    def broken_open():
        raise FileNotFoundError("no index at /nowhere")

    with app_client(index_dir, broken_open) as failed:
        assert failed.app.state.worker.ready.wait(30)
        report = failed.get("/readyz")
        assert report.status_code == 503 and report.json()["state"] == "failed"
        assert report.json()["error"] == "no index at /nowhere"
        refused = failed.post("/search", json={"question": QUESTION})
        assert refused.status_code == 503 and "could not be opened: no index at /nowhere" in refused.json()["error"]


def test_busy_searches_wait_then_get_a_503(index_dir, searcher):
    with app_client(index_dir, lambda: searcher, max_concurrent=1, queue_timeout=0.2) as busy:
        assert busy.app.state.worker.ready.wait(30)
        worker = busy.app.state.worker
        with worker.searches:  # the one turn taken
            response = busy.post("/search", json={"question": QUESTION})
        assert response.status_code == 503 and "busy" in response.json()["error"]
        assert busy.post("/search", json={"question": QUESTION}).status_code == 200


def test_answer_errors_are_one_line_and_never_show_the_key(index_dir, searcher, monkeypatch, caplog):
    secret = "sk-http-test-0123456789abcdef"
    monkeypatch.setenv("HTTP_TEST_KEY", secret)
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = {"llm_url": closed, "llm_model": "some-model", "llm_key_env": "HTTP_TEST_KEY", "llm_timeout": 5}
    caplog.set_level(logging.DEBUG)
    with app_client(index_dir, lambda: searcher, **settings) as answering:
        assert answering.app.state.worker.ready.wait(30)
        ready = answering.get("/readyz").json()
        assert ready["llm"]["key_set"] is True and ready["llm"]["url"] == closed
        unreachable = answering.post("/answer", json={"question": QUESTION, "k": 2})
        assert unreachable.status_code == 502
        assert "Cannot reach the language-model endpoint" in unreachable.json()["error"]
        # a question the documents do not answer is never sent: the answer says so, with the search
        not_asked = answering.post("/answer", json={"question": UNANSWERABLE, "k": 2, "id": 9})
        assert not_asked.status_code == 200, not_asked.text
        body = not_asked.json()
        assert body["asked"] is False and body["sentences"] == [] and body["id"] == 9
        assert body["model"] == "some-model" and body["answerable"] is False
        texts = [unreachable.text, not_asked.text, json.dumps(ready)]
    assert all(secret not in text for text in texts)
    assert secret not in caplog.text


def test_answer_gives_what_ask_json_prints(index_dir, searcher, llm_server, monkeypatch):
    """One short question against the real local LLM server (slow: a few seconds to a minute on 2 cores)."""
    monkeypatch.setenv("HTTP_TEST_KEY", llm_server.key)
    settings = {
        "llm_url": llm_server.url,
        "llm_model": llm_server.model,
        "llm_key_env": "HTTP_TEST_KEY",
        "llm_max_tokens": 48,
        "llm_timeout": 300,
    }
    with app_client(index_dir, lambda: searcher, **settings) as answering:
        assert answering.app.state.worker.ready.wait(30)
        response = answering.post("/answer", json={"question": QUESTION, "k": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    contract = ["question", "answer", "asked", "model", "language", "sentences", "answerable", "relevance", "hits"]
    assert list(body) == contract
    assert body["asked"] is True and body["answer"] and body["model"] == llm_server.model
    assert body["language"] == "zh-Hans" and len(body["hits"]) == 2
    assert body["sentences"], body["answer"]
    for sentence in body["sentences"]:
        assert {"text", "citations", "supported", "support", "problems", "no_answer"} <= set(sentence)
    from index.__main__ import answer_json

    assert body["hits"] == answer_json(searcher.answer(QUESTION, k=2))["hits"]
    assert llm_server.key not in response.text


# --- the command line ------------------------------------------------------------------------------------------


def test_serve_refuses_bad_settings_in_one_line(tmp_path, monkeypatch):
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    missing = index_cli("serve", "--index", tmp_path / "none", "--port", free_port())
    assert missing.returncode == 2 and missing.stderr.startswith("error:") and "Traceback" not in missing.stderr
    workers = index_cli("serve", "--workers", "0")
    assert workers.returncode == 2 and "--workers" in workers.stderr
    no_url = index_cli("serve", "--llm-model", "qwen")
    assert no_url.returncode == 2 and "no endpoint" in no_url.stderr


def test_workers_over_one_milvus_server_answer_as_the_embedded_index_and_see_an_update(index_dir, tmp_path, encoder):
    """Two workers whose index folder holds only a pointer to a Milvus server (milvus-lite's gRPC server on
    loopback) answer what the embedded index answers; a build adding a document while they serve is seen."""
    from eval.milvus_server import milvus_server
    from index.milvus_index import POINTER

    corpus, pointed = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    settings = BuildSettings(max_tokens=64, overlap_tokens=8)
    with milvus_server(tmp_path / "milvus") as uri:
        build_index(
            corpus,
            pointed,
            encoder,
            settings,
            progress=False,
            log=lambda _: None,
            vector_store=f"{uri}?collection=http",
        )
        assert sorted(path.name for path in pointed.iterdir()) == [POINTER, "write.lock"]
        with serving(pointed) as url:
            embedded = cli_json("search", QUESTION, "--index", index_dir, "--json", "--k", "5")[0]
            workers = set()
            for _ in range(12):
                with httpx.Client(timeout=60) as fresh:
                    response = fresh.post(f"{url}/search", json={"question": QUESTION, "k": 5})
                assert response.status_code == 200, response.text
                workers.add(response.headers[WORKER_HEADER])
                hits = response.json()["hits"]
                assert [hit["chunk_id"] for hit in hits] == [hit["chunk_id"] for hit in embedded["hits"]]
                assert [hit["sentence"] for hit in hits] == [hit["sentence"] for hit in embedded["hits"]]
            assert len(workers) == 2 and httpx.get(f"{url}/readyz").json()["index_kind"] == "milvus"

            (corpus / "rail.txt").write_text(RAIL, encoding="utf-8")
            build_index(corpus, pointed, encoder, settings, progress=False, log=lambda _: None)  # stays in Milvus
            deadline, seen = time.monotonic() + 60, set()
            while len(seen) < 2 and time.monotonic() < deadline:  # each worker reopens the changed index
                with httpx.Client(timeout=60) as fresh:
                    response = fresh.post(f"{url}/search", json={"question": RAIL_QUESTION, "k": 1})
                if response.json()["hits"][0]["doc"] == "rail.txt":
                    seen.add(response.headers[WORKER_HEADER])
            assert len(seen) == 2, f"the new document was found by worker(s) {seen} only"


RAIL = "标题：高速铁路\n\n截至2023年底，全国高速铁路营业里程达到4.5万公里，覆盖95%的50万人口以上城市。\n"
RAIL_QUESTION = "全国高速铁路营业里程达到多少公里？"
