"""Concurrency checks: many threads over one loaded searcher, and many browser sessions over the real app.

``python -m eval.concurrency [--index DIR] [--sessions 10] [--questions 5]`` prints both as JSON; the
reliability report (``eval.reliability``) runs them too. Everything stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from eval.question_sets import read_gold_jsonl
from index import settings


def gold_questions() -> list[str]:
    paths = [settings.BUNDLED_QA, settings.PROJECT_ROOT / "data" / "eval" / "heldout_qa.jsonl"]
    return [q.question for path in paths if path.exists() for q in read_gold_jsonl(path)]


def percentiles(seconds: list[float]) -> dict:
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    p50, p95 = np.percentile(seconds, [50, 95])
    return {"p50_ms": round(p50 * 1000, 1), "p95_ms": round(p95 * 1000, 1), "max_ms": round(max(seconds) * 1000, 1)}


def threads_check(index_dir: Path, threads: int = 8, per_thread: int = 25, k: int = 10) -> dict:
    """``threads`` threads ask ``per_thread`` questions each of one loaded searcher, all at once."""
    from index.search import open_searcher

    searcher = open_searcher(index_dir)
    searcher.warm()
    questions = gold_questions()
    errors: Counter = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work(offset: int) -> None:
        start.wait()
        for i in range(per_thread):
            question = questions[(offset * per_thread + i) % len(questions)]
            began = time.perf_counter()
            try:
                searcher.answer(question, k=k)
            except Exception as error:  # counted, whatever it is: the point is that there are none
                with lock:
                    errors[f"{type(error).__name__}: {error}"[:200]] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    searcher.encoder.forget_queries()
    began = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - began
    return {
        "threads": threads,
        "questions": threads * per_thread,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "seconds": round(seconds, 1),
        "answers_per_second": round(len(latencies) / seconds, 1),
        **percentiles(latencies),
    }


async def _session(browser, url: str, questions: list[str], deadline: float, timeout_ms: float) -> dict:
    """One browser session (its own context: its own Streamlit session) asking its questions in turn."""
    from ui.render import question_key

    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    result = {"answered": 0, "errors": [], "seconds": []}
    try:
        await page.goto(url, timeout=timeout_ms)
        box = page.get_by_label("Question")
        await box.wait_for(timeout=timeout_ms)
        for question in questions:
            if time.monotonic() > deadline:
                break
            began = time.perf_counter()
            await box.fill(question)
            await box.press("Enter")
            answer = page.locator(f'.cl-answer[data-question="{question_key(question)}"]')
            failure = page.locator('[data-testid="stException"]')
            await answer.or_(failure).first.wait_for(timeout=timeout_ms)
            if await failure.count():
                result["errors"].append((await failure.first.inner_text())[:200])
                continue
            result["seconds"].append(time.perf_counter() - began)
            result["answered"] += 1
    except Exception as error:  # a timeout or a broken page is an error of this session, not of the run
        result["errors"].append(f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
    finally:
        await context.close()
    return result


async def _sessions(url: str, sessions: int, per_session: int, limit_seconds: float, timeout_ms: float) -> list:
    from playwright.async_api import async_playwright

    from eval.app_driver import CHROMIUM, CHROMIUM_ARGS, AppFailed

    if not CHROMIUM.exists():
        raise AppFailed(f"Debian Chromium is missing ({CHROMIUM}): install it with `make browser`.")
    questions = gold_questions()
    deadline = time.monotonic() + limit_seconds
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            plans = [random.Random(n).sample(questions, min(per_session, len(questions))) for n in range(sessions)]
            return await asyncio.gather(*(_session(browser, url, plan, deadline, timeout_ms) for plan in plans))
        finally:
            await browser.close()


def load_check(
    index_dir: Path,
    sessions: int = 10,
    per_session: int = 5,
    limit_seconds: float = 120,
    timeout_ms: float = 60_000,
    env: dict[str, str] | None = None,
) -> dict:
    """The real Streamlit server over ``index_dir`` on loopback, ``sessions`` browser sessions asking
    ``per_session`` questions each at the same time (bounded by ``limit_seconds``): errors and the time
    from pressing Enter to the answer on the page."""
    from eval.app_driver import running_app

    with tempfile.TemporaryDirectory(prefix="citelens-load-") as work:
        log = Path(work) / "streamlit.log"
        with running_app(Path(index_dir), log, env) as url:
            began = time.perf_counter()
            results = asyncio.run(_sessions(url, sessions, per_session, limit_seconds, timeout_ms))
            seconds = time.perf_counter() - began
            peak_mb = server_peak_rss_mb()
        server_errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]
    latencies = [s for result in results for s in result["seconds"]]
    errors = [e for result in results for e in result["errors"]]
    return {
        "sessions": sessions,
        "questions_asked": sum(r["answered"] + len(r["errors"]) for r in results),
        "answered": len(latencies),
        "errors": len(errors) + len(server_errors),
        "error_messages": errors[:10] + server_errors[:10],
        "seconds": round(seconds, 1),
        "server_peak_rss_mb": peak_mb,
        **percentiles(latencies),
    }


def server_peak_rss_mb() -> float | None:
    """Peak resident memory (VmHWM) of the Streamlit server this process started, read before it stops."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if any("streamlit" in part for part in child.cmdline()):
                for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return round(int(line.split()[1]) / 1024, 1)
        except (psutil.Error, OSError):
            continue
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.concurrency", description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help=f"index folder (default ${settings.ENV_INDEX} or data/index)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--questions", type=int, default=5, help="questions per browser session")
    args = parser.parse_args(argv)
    index_dir = settings.index_dir(args.index)
    report = {
        "load": round(os.getloadavg()[0], 2),
        "threads": threads_check(index_dir, args.threads),
        "browser_sessions": load_check(index_dir, args.sessions, args.questions),
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
