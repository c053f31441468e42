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


BUILD = (
    "import sys; from pathlib import Path\n"
    "from eval.fault_injection import install_kill_point\n"
    "from index.build import BuildSettings, build_index\n"
    "from tests.fake_encoder import FakeEncoder\n"
    "if sys.argv[3] == 'pause': install_kill_point('lock-taken', pause=3.0)  # surely holds the lock a while\n"
    "build_index(Path(sys.argv[1]), Path(sys.argv[2]), FakeEncoder(), BuildSettings(max_tokens=64, overlap_tokens=8),\n"
    "            progress=False)\n"
)


def test_two_concurrent_builds_leave_a_verified_searchable_index(tmp_path, fake_encoder):
    """Two build processes on one folder (the model is not the subject: the test encoder); the first holds the
    lock 3 s, so the second surely meets it, waits, then builds over the first's index."""
    from index.integrity import verify_index
    from index.passage_index import PassageIndex
    from index.search import Searcher
    from index.versions import CURRENT

    index_dir = tmp_path / "index"

    def start(mode: str) -> subprocess.Popen:
        command = [sys.executable, "-c", BUILD, str(FIXTURES / "corpus_small"), str(index_dir), mode]
        return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start("pause")
    deadline = time.monotonic() + 60
    while not (index_dir / LOCK_FILE).exists() and time.monotonic() < deadline:  # the first holds the lock
        time.sleep(0.05)
    second = start("go")
    outputs = [build.communicate(timeout=600) for build in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert "Waiting for the build by pid" not in outputs[0][1]
    assert f"Waiting for the build by pid {first.pid}" in outputs[1][1]  # the second waited for the first
    assert (index_dir / CURRENT).exists() and verify_index(index_dir).problems == []
    hits = Searcher(PassageIndex.load(index_dir), fake_encoder).search("粮食产量", k=3)
    assert hits and {hit.doc for hit in hits} <= {"farm.txt", "law.md", "5g.txt"}
