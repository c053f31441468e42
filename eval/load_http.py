"""Load test of the HTTP API (``python -m index serve``) on loopback:
``python -m eval.load_http --url http://127.0.0.1:PORT [--questions FILE] [--concurrency C] [--requests N]``.

``python -m eval.load_http --serve INDEX --workers 1 2 --concurrency 4 8 --out FILE`` starts the server itself
(``python -m index serve`` on a free loopback port, afresh for each worker count and concurrency), waits until
every worker is ready, asks every question once (``new``: what a question not asked before costs), then
``--requests`` more cycling through them (``repeated``), and stops it: the figures of bench/http_api.md.

Sends N ``POST /search`` requests (the questions in turn, from the bundled dev and held-out sets by default), C at
a time from C threads, each thread with its own httpx client (keep-alive), and reports as JSON and one line: latency
p50/p95/max, throughput, errors (any answer but 200, or no answer within ``--timeout``) by kind, the workers that
answered (``X-CiteLens-Worker``), and the machine's cores and load average before and after. Bounded: N requests
at most, each with a timeout, and no new request after ``--deadline`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from eval.app_driver import stop_process
from eval.concurrency import gold_questions, percentiles
from eval.question_sets import read_gold_jsonl
from index.settings import PROJECT_ROOT


def read_questions(paths: list[Path] | None) -> list[str]:
    """The questions of gold JSONL files (``{"id", "question", …}`` lines), or the bundled dev and held-out sets."""
    if not paths:
        return gold_questions()
    return [question.question for path in paths for question in read_gold_jsonl(path)]


def machine() -> dict:
    """Cores, CPU model and its vector flags (the search's int8 kernels differ with them)."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "flags": sorted(flags & {"avx2", "avx512f", "avx512_vnni"})}


def load_test(
    url: str,
    questions: list[str],
    concurrency: int = 4,
    requests: int = 200,
    k: int = 10,
    timeout: float = 30.0,
    deadline: float = 600.0,
    path: str = "/search",
) -> dict:
    if not questions:
        raise ValueError("no questions to ask")
    if concurrency < 1 or requests < 1:
        raise ValueError("--concurrency and --requests must be at least 1")
    endpoint = url.rstrip("/") + path
    latencies: list[float] = []
    errors: Counter = Counter()
    workers: Counter = Counter()
    lock = threading.Lock()
    next_request = iter(range(requests))
    clients = threading.local()
    stop_at = time.monotonic() + deadline

    def one(number: int) -> None:
        if time.monotonic() > stop_at:
            with lock:
                errors["not sent: past the deadline"] += 1
            return
        client = getattr(clients, "client", None)
        if client is None:
            client = clients.client = httpx.Client(timeout=timeout)
        body = {"question": questions[number % len(questions)], "k": k, "id": number}
        began = time.perf_counter()
        try:
            response = client.post(endpoint, json=body)
            seconds = time.perf_counter() - began
            kind = None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[:120]}"
            if kind is None and response.json().get("id") != number:
                kind = "answer for another request"
        except httpx.HTTPError as error:
            seconds, kind, response = time.perf_counter() - began, f"{type(error).__name__}: {error}"[:160], None
        with lock:
            if kind is None:
                latencies.append(seconds)
            else:
                errors[kind] += 1
            if response is not None and "x-citelens-worker" in response.headers:
                workers[response.headers["x-citelens-worker"]] += 1

    load_before = os.getloadavg()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load") as pool:
        list(pool.map(one, next_request))
    seconds = time.perf_counter() - began
    load_after = os.getloadavg()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "url": endpoint,
        "requests": requests,
        "concurrency": concurrency,
        "k": k,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "seconds": round(seconds, 2),
        "requests_per_second": round(len(latencies) / seconds, 1) if seconds else None,
        **percentiles(latencies),
        "workers_answering": len(workers),
        "answers_per_worker": dict(workers),
        "machine": machine(),
        "load_before": [round(value, 2) for value in load_before],
        "load_after": [round(value, 2) for value in load_after],
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, workers: int, timeout: float = 300.0) -> float:
    """Seconds until every worker has answered /readyz with 200 (fresh connections: any worker may take one)."""
    began = time.monotonic()
    ready: set[str] = set()
    while len(ready) < workers:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped (exit {process.returncode})")
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"{len(ready)} of {workers} workers ready after {timeout:.0f} s")
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
            if response.status_code == 200:
                ready.add(response.headers.get("x-citelens-worker", ""))
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return time.monotonic() - began


def serve_and_measure(
    index: Path, workers: int, concurrency: int, questions: list[str], requests: int, **options
) -> list[dict]:
    """A fresh ``python -m index serve --workers N`` over ``index``, measured twice: ``new`` — every question once
    (none asked of it before: each costs its encodings, the searcher keeps a question's vectors), then ``repeated``
    — ``requests`` more, cycling through the same questions (most already asked of the worker that takes them)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "index", "serve", "--index", str(index), "--port", str(port)]
    command += ["--workers", str(workers)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            started = wait_ready(url, process, workers)
            reports = []
            for phase, count in (("new", len(questions)), ("repeated", requests)):
                report = load_test(url, questions, concurrency, count, **options)
                report |= {"workers": workers, "questions": phase, "server_ready_s": round(started, 1)}
                print(summary(report), file=sys.stderr, flush=True)
                reports.append(report)
            return reports
        finally:
            stop_process(process)


def summary(report: dict) -> str:
    phase = f"{report['workers']} worker(s), {report['questions']} questions: " if "workers" in report else ""
    return phase + (
        f"{report['requests']} requests at concurrency {report['concurrency']}: p50 {report['p50_ms']} ms, "
        f"p95 {report['p95_ms']} ms, max {report['max_ms']} ms, {report['requests_per_second']} req/s, "
        f"{report['errors']} errors, {report['workers_answering']} worker(s) answered "
        f"(load {report['load_before'][0]:.2f} → {report['load_after'][0]:.2f}, {report['machine']['cores']} cores)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load_http", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--serve", type=Path, metavar="INDEX", help="start the server over this index instead")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="with --serve: worker counts to measure")
    parser.add_argument("--questions", type=Path, nargs="+", help="gold JSONL files (default: dev and held-out)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4], help="requests in flight at once (threads)")
    parser.add_argument("--requests", type=int, default=200, help="requests in all (per concurrency)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for one request")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds after which no request is sent")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if bool(args.url) == bool(args.serve):
        parser.error("give --url URL (a running server) or --serve INDEX (start one)")
    questions = read_questions(args.questions)
    options = {"k": args.k, "timeout": args.timeout, "deadline": args.deadline}
    if args.serve:
        reports = [
            report
            for workers in args.workers
            for concurrency in args.concurrency
            for report in serve_and_measure(args.serve, workers, concurrency, questions, args.requests, **options)
        ]
    else:
        reports = [load_test(args.url, questions, c, args.requests, **options) for c in args.concurrency]
    result = reports[0] if len(reports) == 1 else {"runs": reports}
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    for report in reports:
        print(summary(report))
    return 0 if all(report["errors"] == 0 for report in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
