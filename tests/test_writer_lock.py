"""One writer at a time: the index folder's writer lock, across threads and processes (real builds, FAISS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.settings import PROJECT_ROOT
from index.writer_lock import LOCK_FILE, IndexBusy, writer_lock
from tests.conftest import FIXTURES

HOLD = (
    "import sys, time; from index.writer_lock import writer_lock\n"
    "with writer_lock(sys.argv[1], 'build'):\n"
    "    print('held', flush=True); time.sleep(float(sys.argv[2]))\n"
)


def hold_in_subprocess(index_dir: Path, seconds: float) -> subprocess.Popen:
    """A process holding the index's lock for ``seconds``; returns once it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(index_dir), str(seconds)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    holder = hold_in_subprocess(tmp_path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(IndexBusy) as busy, writer_lock(tmp_path, timeout=0, log=lambda m: None):
            pass
        assert time.monotonic() - started < 2
        assert f"pid {holder.pid}" in str(busy.value) and "build" in str(busy.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_waits_then_proceeds(tmp_path):
    holder = hold_in_subprocess(tmp_path, 1.5)
    messages: list[str] = []
    started = time.monotonic()
    with writer_lock(tmp_path, "upload", log=messages.append):
        waited = time.monotonic() - started
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    holder.wait()
    assert waited > 0.5
    assert len(messages) == 1 and f"pid {holder.pid}" in messages[0] and messages[0].startswith("Waiting")
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released cleanly


def test_a_timeout_gives_up_with_a_message(tmp_path):
    holder = hold_in_subprocess(tmp_path, 30)
    try:
        with pytest.raises(IndexBusy, match=r"after waiting 0\.5 s"), writer_lock(tmp_path, timeout=0.5, log=print):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_is_stale_and_taken(tmp_path):
    holder = hold_in_subprocess(tmp_path, 60)
    holder.kill()  # SIGKILL: no clean release, the pid stays written in the file
    holder.wait()
    assert f'"pid": {holder.pid}' in (tmp_path / LOCK_FILE).read_text()
    messages: list[str] = []
    with writer_lock(tmp_path, timeout=0, log=messages.append):
        pass
    assert any("stale" in m and f"pid {holder.pid}" in m for m in messages)


def test_threads_of_one_process_exclude_each_other_and_one_thread_reenters(tmp_path):
    inside, overlaps = [], []

    def work() -> None:
        # the inner lock is a re-entry by the holder: it never waits
        with writer_lock(tmp_path, log=lambda m: None), writer_lock(tmp_path, timeout=0):
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not overlaps


def test_two_concurrent_builds_leave_a_verified_searchable_index(tmp_path):
    index_dir = tmp_path / "index"
    command = [sys.executable, "-m", "index", "build", "--corpus", str(FIXTURES / "corpus_small")]
    command += ["--index", str(index_dir), "--max-tokens", "64", "--overlap", "8"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    builds = [
        subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [build.communicate(timeout=600) for build in builds]
    assert [build.returncode for build in builds] == [0, 0], outputs
    assert sum("Waiting for the build by pid" in err for _, err in outputs) == 1  # exactly one waited
    verify = subprocess.run(
        [sys.executable, "-m", "index", "verify", "--index", str(index_dir)], cwd=PROJECT_ROOT, capture_output=True
    )
    assert verify.returncode == 0, verify.stderr.decode()
    search = subprocess.run(
        [sys.executable, "-m", "index", "search", "粮食产量", "--json", "--index", str(index_dir)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)["hits"]
