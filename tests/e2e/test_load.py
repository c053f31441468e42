"""Ten browser sessions ask the real app at the same time (loopback only, bounded): no session sees an error."""

from __future__ import annotations

from eval.concurrency import load_check
from tests.e2e.support import shared_index


def test_ten_browser_sessions_ask_at_once_without_errors():
    report = load_check(shared_index(), sessions=10, per_session=2, limit_seconds=240, timeout_ms=120_000)
    assert report["errors"] == 0, report["error_messages"]
    assert report["answered"] == 20  # every session got both its answers
    assert report["p50_ms"] is not None and report["p95_ms"] >= report["p50_ms"]
