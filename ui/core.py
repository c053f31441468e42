"""What every page shares: which index, the cached model and searcher, and the one call that asks.

The app stays a thin layer over the library: retrieval, ranking and the answerable judgement are
``index.search``'s; this module only loads things once (``st.cache_resource``) and adapts calls.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

import streamlit as st

from index import settings


def index_dir_from_argv(argv: list[str] | None = None) -> str | None:
    """``streamlit run app.py -- --index DIR``: the ``--index`` after ``--``."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--index")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known.index


def index_dir() -> Path:
    """``--index`` on the command line, else $CITELENS_INDEX, else data/index."""
    return settings.index_dir(index_dir_from_argv()).resolve()


def index_version(directory: Path) -> str:
    """The live version folder's name ('' without an index); changes with every save."""
    from index.passage_index import CURRENT

    pointer = Path(directory) / CURRENT
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else ""


@st.cache_resource(show_spinner=False)
def load_encoder(name: str):
    from index.encoder import Encoder

    return Encoder(name)


@st.cache_resource(show_spinner=False, max_entries=4)
def load_searcher(directory: str, version: str):
    """The searcher over one version of the index (a library change makes a new version, so a new entry)."""
    from index.passage_index import PassageIndex, read_manifest
    from index.search import Searcher

    built_with = read_manifest(Path(directory))["model"]["name"]
    encoder = load_encoder(os.environ.get(settings.ENV_MODEL) or built_with)
    searcher = Searcher(PassageIndex.load(Path(directory), encoder.info), encoder)
    searcher.warm()  # loads the word segmenter, converter, dictionaries and second encoder now, not on question one
    return searcher


@st.cache_resource(show_spinner=False)
def library_lock() -> threading.Lock:
    """One library change (upload, removal, first build) at a time across all sessions of this server."""
    return threading.Lock()


def forget_searchers() -> None:
    """After a library change: drop cached searchers so the next question loads the new index."""
    load_searcher.clear()


def prepare_index(directory: Path, corpus: Path = settings.BUNDLED_CORPUS) -> None:
    """First start: convert the model and build the corpus's index, showing progress."""
    if index_version(directory):
        return
    from index.build import build_index

    with (
        library_lock(),
        st.status("First start: preparing the model and building the index…", expanded=True) as status,
    ):
        if index_version(directory):  # another session built it while this one waited
            status.update(label="Index ready.", state="complete", expanded=False)
            return
        st.write("Preparing the embedding model (one time)…")
        encoder = load_encoder(settings.model_name())
        st.write(f"Indexing the documents in {corpus.name}/ …")
        bar = st.progress(0.0, text="Embedding passages…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Embedding passages: {done} of {total}")

        report = build_index(corpus, directory, encoder, progress=progress, log=st.text)
        status.update(
            label=f"Index ready: {report.documents} documents, {report.chunks} passages.",
            state="complete",
            expanded=False,
        )


def searcher():
    """The searcher over the live index (first start builds it), or a clear error and a stop."""
    from index.encoder import ModelNotAvailable
    from index.passage_index import IndexMismatch, IndexNotFound

    directory = index_dir()
    try:
        prepare_index(directory)
        with st.spinner("Loading the model and the index (first question only)…"):
            return load_searcher(str(directory), index_version(directory))
    except (IndexNotFound, IndexMismatch, ModelNotAvailable) as error:
        st.error(f"The index at {directory} cannot be used: {error}")
        st.stop()


# ---------------------------------------------------------------- asking


def ask(searcher, question: str, k: int = 5, documents: set[str] | None = None):
    """``Searcher.answer`` (hits, answerable, relevance, query terms), limited to ``documents`` if given."""
    return searcher.answer(question, k=k, documents=documents or None)
