"""A Milvus server on loopback for tests and benchmarks: milvus-lite's own gRPC server (``milvus-lite server``),
which speaks the Milvus protocol to any number of client processes, as a Milvus standalone or cluster does.

(A ``milvus:PATH.db`` URI opens milvus-lite inside the process, which locks its folder: one process at a time.)
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from eval.app_driver import stop_process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def milvus_server(data_dir: Path, port: int | None = None, timeout: float = 60) -> Iterator[str]:
    """A milvus-lite gRPC server over ``data_dir`` on 127.0.0.1, stopped on exit; yields its URI."""
    port = port or free_port()
    executable = shutil.which("milvus-lite", path=str(Path(sys.executable).parent))
    if executable is None:
        raise RuntimeError("milvus-lite is not installed (pip install -r requirements.txt)")
    log = open(Path(data_dir).with_suffix(".log"), "wb")  # noqa: SIM115 (closed when the server stops)
    command = [executable, "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for_milvus(uri, process, timeout)
        yield uri
    finally:
        stop_process(process)
        log.close()


def wait_for_milvus(uri: str, process: subprocess.Popen, timeout: float) -> None:
    from index.stores.milvus import milvus_client

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the Milvus server stopped at start (exit {process.returncode}); see its log")
        try:
            client = milvus_client(uri)
            client.list_collections()
            client.close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Milvus server at {uri} did not answer within {timeout:.0f} s") from None
            time.sleep(0.3)
