"""Where things live, and the environment variables that move them.

Every CLI command and the app read these through the functions below, so a flag,
an environment variable and the default always mean the same thing everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = PROJECT_ROOT / "data" / "corpus"
BUNDLED_QA = PROJECT_ROOT / "data" / "eval" / "dev_qa.jsonl"
# The index of the bundled corpus: a build product of the repository's own sample data (gitignored), the
# default of every command's --index, and the index of the read-only "sample" library (index/libraries.py).
BUNDLED_INDEX = PROJECT_ROOT / "data" / "index"
APP_NAME = "citelens"
DEFAULT_MODEL = "multilingual-e5-small"

ENV_INDEX = "CITELENS_INDEX"
ENV_MODEL = "CITELENS_MODEL"
ENV_CACHE = "CITELENS_CACHE"
ENV_BACKEND = "CITELENS_BACKEND"
ENV_VECTOR_STORE = "CITELENS_VECTOR_STORE"
ENV_DATA = "CITELENS_DATA"
ENV_SAMPLE_INDEX = "CITELENS_SAMPLE_INDEX"

# Encoder backends (see index/encoder.py); the default is the one that measured fastest at equal
# retrieval quality on these CPUs (bench/README.md): int8 passages, full-precision questions.
BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
DEFAULT_BACKEND = "onnx-int8"


def index_dir(explicit: str | Path | None = None) -> Path:
    """``--index`` flag, else $CITELENS_INDEX, else the sample's index (data/index in the project)."""
    return given_index_dir(explicit) or sample_index()


def sample_index() -> Path:
    """Where the bundled corpus's index is built: $CITELENS_SAMPLE_INDEX (a checkout that cannot be written
    to), else data/index in the project."""
    value = os.environ.get(ENV_SAMPLE_INDEX)
    return Path(value).expanduser() if value else BUNDLED_INDEX


def given_index_dir(explicit: str | Path | None = None) -> Path | None:
    """``--index`` flag, else $CITELENS_INDEX, else None: an index folder someone asked for by name."""
    value = explicit or os.environ.get(ENV_INDEX)
    return Path(value).expanduser() if value else None


def data_dir(explicit: str | Path | None = None) -> Path:
    """The user's data folder, where libraries (their files and indexes) live: ``--data-dir`` flag, else
    $CITELENS_DATA, else the platform's user data folder (``~/.local/share/citelens`` on Linux,
    ``~/Library/Application Support/citelens`` on macOS, ``%LOCALAPPDATA%\\citelens`` on Windows)."""
    value = explicit or os.environ.get(ENV_DATA)
    if value:
        return Path(value).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def model_name(explicit: str | None = None) -> str:
    """``--model`` flag, else $CITELENS_MODEL, else the bundled multilingual-e5-small."""
    return explicit or os.environ.get(ENV_MODEL) or DEFAULT_MODEL


def asked_model(explicit: str | None = None) -> str | None:
    """``--model`` flag, else $CITELENS_MODEL, else None: an index is then searched with the model that built it."""
    return explicit or os.environ.get(ENV_MODEL) or None


def backend_name(explicit: str | None = None) -> str:
    """``--backend`` flag, else $CITELENS_BACKEND, else the measured default."""
    return checked_backend(explicit or os.environ.get(ENV_BACKEND) or DEFAULT_BACKEND)


def checked_backend(value: str) -> str:
    value = value.strip().lower()
    if value not in BACKENDS:
        raise ValueError(f"Unknown encoder backend '{value}'; choose one of: {', '.join(BACKENDS)}.")
    return value


def given_vector_store() -> str | None:
    """The vector store the environment names (None: none named)."""
    return os.environ.get(ENV_VECTOR_STORE, "").strip() or None


def vector_store_uri(explicit: str | None = None) -> str:
    """``--vector-store`` flag, else $CITELENS_VECTOR_STORE, else ``faiss`` (embedded, saved with the index).

    ``milvus:PATH.db`` or a ``.db`` path is a local milvus-lite file; ``http(s)://host:19530`` a Milvus server.
    """
    return (explicit or os.environ.get(ENV_VECTOR_STORE) or "faiss").strip()


def cache_dir() -> Path:
    """Converted models and other set-up products (kept out of git)."""
    value = os.environ.get(ENV_CACHE)
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "citelens"
