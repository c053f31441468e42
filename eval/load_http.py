"""Load test of the HTTP API (``python -m index serve``) on loopback:
``python -m eval.load_http --url http://127.0.0.1:PORT [--questions FILE] [--concurrency C] [--requests N]``.

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
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from eval.concurrency import gold_questions, percentiles
from eval.question_sets import read_gold_jsonl


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


def summary(report: dict) -> str:
    return (
        f"{report['requests']} requests at concurrency {report['concurrency']}: p50 {report['p50_ms']} ms, "
        f"p95 {report['p95_ms']} ms, max {report['max_ms']} ms, {report['requests_per_second']} req/s, "
        f"{report['errors']} errors, {report['workers_answering']} worker(s) answered "
        f"(load {report['load_before'][0]:.2f} → {report['load_after'][0]:.2f}, {report['machine']['cores']} cores)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load_http", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--questions", type=Path, nargs="+", help="gold JSONL files (default: dev and held-out)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (threads)")
    parser.add_argument("--requests", type=int, default=200, help="requests in all")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for one request")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds after which no request is sent")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    report = load_test(
        args.url,
        read_questions(args.questions),
        args.concurrency,
        args.requests,
        args.k,
        args.timeout,
        args.deadline,
    )
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(summary(report))
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
