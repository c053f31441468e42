"""Shared by the UI tests (tests/test_app*.py) and the browser test: fixture indexes and libraries built
for real.

Every index here is built with the real model and real FAISS from the small fixture corpus in
tests/fixtures/ui/corpus (never the bundled data/index), into a temporary folder; a library is made in a
temporary user data folder (never the user's own, never the repository).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from index.build import BuildSettings, build_index

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ui"
CORPUS = FIXTURES / "corpus"
UPLOADS = FIXTURES / "uploads"
QUESTIONS = FIXTURES / "questions.jsonl"
SETTINGS = BuildSettings(max_tokens=128)
PROJECT = Path(__file__).resolve().parent.parent.parent


def encoder():
    """The app's own cached encoder (st.cache_resource), so the tests and AppTest load the model once."""
    from index import settings
    from ui.core import load_encoder

    return load_encoder(settings.model_name())


def build_fixture_index(root: Path, model=None) -> Path:
    """A copy of the fixture corpus in ``root/corpus`` and its index in ``root/index`` (returned), built by
    ``model`` (default: the real one, which the app opens)."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    build_index(corpus, root / "index", model or encoder(), SETTINGS, progress=False, log=lambda message: None)
    return root / "index"


def build_fixture_library(data: Path, name: str = "fixture", model=None):
    """A user library ``name`` in the data folder ``data``: a copy of the fixture corpus, indexed by ``model``
    (default: the real one)."""
    from index import libraries

    library = libraries.create_library(data, name, "the UI fixture corpus", CORPUS)
    libraries.build_library(library, model or encoder(), SETTINGS, progress=False, log=lambda message: None)
    return library


@functools.cache
def shared_index() -> Path:
    """One read-only fixture index per test process, for tests that do not change the library."""
    root = Path(tempfile.mkdtemp(prefix="citelens-ui-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_fixture_index(root)


# ---------------------------------------------------------------- the real app in a real browser

# The real app in a real browser: one implementation, shared with the load test (eval/app_driver.py).
from eval.app_driver import (  # noqa: E402
    AppFailed,
    ask_in_browser,
    chromium_page,
    running_app,
    screenshot,
    settle,
)

__all__ = ["AppFailed", "ask_in_browser", "chromium_page", "running_app", "screenshot", "settle"]
