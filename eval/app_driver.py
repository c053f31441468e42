"""The real app in a real browser: ``streamlit run app.py`` on a loopback port, driven by Playwright in
Debian's headless Chromium (never a downloaded browser). Used by the browser tests and the load test."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 90  # seconds for the server to answer its health check


class AppFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_app(
    index_dir: Path | None,
    log: Path,
    data: Path | None = None,
    library: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``streamlit run app.py`` on a free local port, over ``index_dir`` (given as $CITELENS_INDEX), or over
    the libraries of the data folder ``data`` opening ``library`` (``-- --library NAME``); yields its URL once
    healthy. ``env``: more environment variables for the app (e.g. the language model's $CITELENS_LLM_*)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    more_env = env
    env = {key: value for key, value in os.environ.items() if key != "CITELENS_INDEX"}
    if index_dir is not None:
        env["CITELENS_INDEX"] = str(index_dir)
    if data is not None:
        env["CITELENS_DATA"] = str(data)
    env.update(more_env or {})
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    if library is not None:
        command += ["--", "--library", library]
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AppFailed(f"streamlit exited with {process.returncode} before it was healthy:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AppFailed(f"streamlit was not healthy after {START_TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen) -> None:
    """Ask a server to stop, and kill it if it has not within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def chromium(executable: Path = CHROMIUM):
    """A Playwright browser: Debian's headless Chromium, for as many contexts (sessions) as needed."""
    if not executable.exists():
        raise AppFailed(
            f"Debian Chromium is missing ({executable}): the browser tests need it. Install it with "
            "`make browser` (apt-get install -y chromium)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def chromium_page(viewport: dict | None = None, executable: Path = CHROMIUM):
    """One page in a fresh context of Debian's headless Chromium."""
    with chromium(executable) as browser:
        context = browser.new_context(viewport=viewport or {"width": 1360, "height": 1000}, locale="zh-CN")
        try:
            yield context.new_page()
        finally:
            context.close()


BUSY = ", ".join(
    [
        '[data-testid="stStatusWidgetRunningIcon"]',  # the script is running
        '[data-stale="true"]',  # elements left from the previous run
        '[data-testid="stSkeleton"]',  # widgets whose code is still loading
        '[data-testid="stSkeletonElement"]',
    ]
)


def settle(page, timeout: float = 30_000) -> None:
    """Wait until the script run is over, nothing is left from the previous run, and every widget is drawn."""
    page.wait_for_function("selector => !document.querySelector(selector)", arg=BUSY, timeout=timeout)


def ask_in_browser(page, question: str, timeout: float = 30_000):
    """Type a question on the Ask page, wait for its answer, and return the first card."""
    from ui.render import question_key

    box = page.get_by_label("Question")
    box.wait_for(timeout=timeout)
    box.fill(question)
    box.press("Enter")
    page.locator(f'.cl-answer[data-question="{question_key(question)}"]').wait_for(timeout=timeout)
    settle(page, timeout)
    return page.locator("#card-1")


def screenshot(page, path: Path, max_height: int = 8000) -> None:
    """The whole page: Streamlit scrolls an inner container, so the window is made as tall as its content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(document.body.scrollHeight, ...Array.from("
        "document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]'), e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), max_height))})
    page.wait_for_timeout(400)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
