"""What every page shares: which library (or index), the cached model and searcher, the warm-ups done at
start, and the one call that asks.

The app stays a thin layer over the library: retrieval, ranking and the answerable judgement are
``index.search``'s, libraries are ``index.libraries``'; this module only reads the app's options (the one
place besides the CLI that reads flags and the environment), loads things once (``st.cache_resource``),
says what takes time while it does, and adapts calls.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from index import libraries, settings
from index.libraries import SAMPLE, Library

LIBRARY = "library"  # session state: the name of the library this session shows (the sidebar selector's key)
NEXT_LIBRARY = "library-next"  # a switch asked for during a run, applied before the selector is drawn
NOTICE = "library-notice"


def app_options(argv: list[str] | None = None) -> argparse.Namespace:
    """``streamlit run app.py -- [--index DIR] [--library NAME] [--data-dir DIR] [--llm-url URL --llm-model NAME]``:
    the options after ``--``."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--index")
    parser.add_argument("--library")
    parser.add_argument("--data-dir")
    parser.add_argument("--llm-url")  # the language-model endpoint (else $CITELENS_LLM_URL); its key: env only
    parser.add_argument("--llm-model")
    parser.add_argument("--llm-max-tokens", type=int)
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known


def index_dir_from_argv(argv: list[str] | None = None) -> str | None:
    """``streamlit run app.py -- --index DIR``: the ``--index`` after ``--``."""
    return app_options(argv).index


def data_dir() -> Path:
    """``--data-dir``, else $CITELENS_DATA, else the platform's user data folder: where libraries live."""
    return settings.data_dir(app_options().data_dir)


def given_index() -> Path | None:
    """An index named at start (``--index`` or $CITELENS_INDEX): used as is, read-only, no libraries."""
    given = settings.given_index_dir(index_dir_from_argv())
    return given.resolve() if given else None


def current_library() -> Library | None:
    """The library this session shows (None when an index was given at start)."""
    if given_index() is not None:
        return None
    try:
        return libraries.library(data_dir(), st.session_state.get(LIBRARY) or SAMPLE)
    except libraries.UnknownLibrary:  # deleted by another session since this run began
        return libraries.sample_library()


def index_dir() -> Path:
    """The index every page uses: the one given at start, else the current library's."""
    given = given_index()
    return given if given is not None else current_library().index.resolve()


def switch_library(name: str) -> None:
    """Show another library from the next run on (and remember it for the next start)."""
    st.session_state[NEXT_LIBRARY] = name
    libraries.remember(data_dir(), name)


def library_sidebar() -> None:
    """The library selector on every page (or, with an index given at start, which index it is)."""
    given = given_index()
    if given is not None:
        where = f"given at start (--index or {settings.ENV_INDEX}); read-only"
        st.sidebar.markdown(f"**Index** `{given}`  \n:small[{where}]")
        return
    data = data_dir()
    found = {lib.name: lib for lib in libraries.list_libraries(data)}
    state = st.session_state
    if NEXT_LIBRARY in state:
        state[LIBRARY] = state.pop(NEXT_LIBRARY)
    if state.get(LIBRARY) not in found:
        if state.get(LIBRARY) is not None:
            state[NOTICE] = f"The library {state[LIBRARY]} no longer exists; showing {SAMPLE}."
        asked = app_options().library
        if asked and asked not in found and LIBRARY not in state:
            state[NOTICE] = f"There is no library named {asked} in {libraries.libraries_dir(data)}; showing {SAMPLE}."
        wanted = [name for name in (asked, libraries.remembered(data)) if name in found]
        state[LIBRARY] = wanted[0] if wanted else SAMPLE
    st.sidebar.selectbox(
        "Library",
        list(found),
        key=LIBRARY,
        format_func=lambda name: f"{name} (sample, read-only)" if found[name].read_only else name,
        on_change=lambda: libraries.remember(data, state[LIBRARY]),
        help=f"Your libraries live in {libraries.libraries_dir(data)}. Create, open and delete them on the "
        "Library page.",
    )
    if NOTICE in state:
        st.sidebar.warning(state.pop(NOTICE))


def index_version(directory: Path) -> str:
    """The live version folder's name ('' without an index); changes with every save. An index kept in Milvus:
    the stamp of its last save, read from its meta row."""
    from index.milvus_index import read_milvus_manifest, read_pointer
    from index.versions import CURRENT

    if milvus := read_pointer(Path(directory)):
        return "milvus " + str(read_milvus_manifest(milvus).get("saved", ""))
    pointer = Path(directory) / CURRENT
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else ""


@st.cache_resource(show_spinner=False)
def load_encoder(name: str):
    from index.encoder import Encoder

    return Encoder(name, backend=settings.backend_name())


@st.cache_resource(show_spinner=False, max_entries=4)
def load_searcher(directory: str, version: str):
    """The searcher over one version of the index (a library change makes a new version, so a new entry)."""
    from index.passage_index import PassageIndex, read_manifest
    from index.search import Searcher

    built_with = read_manifest(Path(directory))["model"]["name"]
    model = load_encoder(settings.asked_model() or built_with)
    searcher = Searcher(PassageIndex.load(Path(directory), model.info), model)
    searcher.warm()  # loads the word segmenter, converter, dictionaries and second encoder now, not on question one
    return searcher


@st.cache_resource(show_spinner=False)
def library_lock() -> threading.Lock:
    """One library change (upload, removal, first build) at a time across all sessions of this server."""
    return threading.Lock()


def forget_searchers() -> None:
    """After a library change: drop cached searchers so the next question loads the new index."""
    load_searcher.clear()


def prepare_index(directory: Path, corpus: Path = settings.BUNDLED_CORPUS, name: str = "") -> None:
    """First start (or a library's first use): convert the model and build the corpus's index, showing progress."""
    if index_version(directory):
        return
    from index.build import build_index

    what = f"the {name} library" if name else "the documents"
    with (
        library_lock(),
        st.status(f"First start: preparing the model and building the index of {what}…", expanded=True) as status,
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


def searcher(required: bool = True):
    """The searcher over the current library's live index (a first use builds it), or a clear message and a
    stop. An empty library has no index: ``required=False`` returns None for it instead of stopping."""
    from index.integrity import IndexDamaged
    from index.models import ModelNotAvailable
    from index.versions import IndexMismatch, IndexNotFound

    lib = current_library()
    directory = index_dir()
    name = lib.name if lib else ""
    try:
        if lib is not None and not lib.built and not lib.files():
            if not required:
                return None
            st.info(f"The {lib.name} library has no documents yet: add some on the Library page.")
            st.stop()
        prepare_index(directory, lib.corpus if lib else settings.BUNDLED_CORPUS, name)
        where = f"the {name} library" if name else directory
        with st.spinner(f"Loading the embedding model and the index of {where} (once after a start)…"):
            return load_searcher(str(directory), index_version(directory))
    except (IndexNotFound, IndexMismatch, ModelNotAvailable, IndexDamaged) as error:
        st.error(f"The index at {directory} cannot be used: {error}")
        st.stop()


def encoder():
    """The embedding model (for a library's first documents, before it has an index to load it with)."""
    with st.spinner("Loading the embedding model…"):
        return load_encoder(settings.model_name())


# ---------------------------------------------------------------- work done in the background at start


class Background:
    """One piece of slow, one-time work run in a thread at start, so that a page rarely waits for it; a page
    that needs it first says what it is waiting for (``wait``)."""

    def __init__(self, label: str, work: Callable[[], object]):
        self.label = label
        self.error: BaseException | None = None
        self.seconds: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=f"warm-up: {label}", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            work()
        except BaseException as error:  # the page doing the work itself then shows what went wrong
            self.error = error
        finally:
            self.seconds = time.perf_counter() - started
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


def warm_metrics() -> None:
    from eval.harness import warm_metrics as compile_metrics

    compile_metrics()


@st.cache_resource(show_spinner=False)
def metrics_warmup() -> Background:
    """ranx's metrics compiled (numba) once per server process, in the background from the first page view."""
    return Background("metrics", warm_metrics)


def start_warmups() -> None:
    """Called by app.py on every run; starts each warm-up once per server process."""
    metrics_warmup()


# ---------------------------------------------------------------- asking


def ask(searcher, question: str, k: int = 5, documents: set[str] | None = None):
    """``Searcher.answer`` (hits, answerable, relevance, query terms), limited to ``documents`` if given.
    A damaged index file found while answering is one error message, not a traceback."""
    from index.integrity import IndexDamaged

    try:
        return searcher.answer(question, k=k, documents=documents or None)
    except IndexDamaged as error:
        load_searcher.clear()  # the next run loads the index again (repaired by then, or failing at once)
        st.error(f"The index cannot be used: {error}")
        st.stop()


# ---------------------------------------------------------------- the language model (grounded answers, optional)

LLM_URL, LLM_MODEL, LLM_KEY = "llm-url", "llm-model", "llm-key"  # session state: the sidebar's fields
ENV_MAX_TOKENS = "CITELENS_LLM_MAX_TOKENS"


def llm_defaults() -> tuple[str, str]:
    """The endpoint named at start: ``-- --llm-url URL --llm-model NAME``, else $CITELENS_LLM_URL/_MODEL."""
    from index.generate.endpoint import ENV_MODEL, ENV_URL

    options = app_options()
    return options.llm_url or os.environ.get(ENV_URL, ""), options.llm_model or os.environ.get(ENV_MODEL, "")


def llm_max_tokens() -> int | None:
    given = app_options().llm_max_tokens or os.environ.get(ENV_MAX_TOKENS, "").strip()
    return int(given) if given else None


def llm_sidebar() -> None:
    """The language-model settings on every page (so they live across pages): off when the URL is empty.
    The key field starts empty even when $CITELENS_LLM_KEY is set: the key never reaches the browser."""
    from index.generate.endpoint import ENV_KEY

    url, model = llm_defaults()
    state = st.session_state
    state.setdefault(LLM_URL, url)
    state.setdefault(LLM_MODEL, model)
    env_key = bool(os.environ.get(ENV_KEY))
    on = bool(state[LLM_URL].strip())
    with st.sidebar.expander("Language model (optional)", expanded=False, icon=":material/smart_toy:"):
        st.text_input(
            "Endpoint URL",
            key=LLM_URL,
            placeholder="http://localhost:11434/v1",
            help="Any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp, a cloud API). With one, the Ask "
            "page writes an answer from the top passages and checks each sentence against the passages it cites. "
            "Empty: off, the answer is the passages' own sentences.",
        )
        st.text_input("Model", key=LLM_MODEL, placeholder="qwen2.5:7b-instruct")
        st.text_input(
            "API key",
            key=LLM_KEY,
            type="password",
            placeholder=f"from ${ENV_KEY}" if env_key else "none",
            help=f"Left empty, the key of ${ENV_KEY} is used (if set). Never shown or logged.",
        )
        st.caption("On: answers are written and checked." if on else "Off: extractive answers.")


def llm_settings():
    """The endpoint the sidebar names (None: off), or None after one error line (settings that cannot work)."""
    from index.generate.endpoint import LLMError
    from ui.grounded import settings_from_fields

    state = st.session_state
    try:
        return settings_from_fields(
            state.get(LLM_URL, ""), state.get(LLM_MODEL, ""), state.get(LLM_KEY, ""), os.environ, llm_max_tokens()
        )
    except LLMError as error:
        st.error(str(error))
        return None


@functools.lru_cache(maxsize=8)
def chat_client(llm):
    """One client per endpoint setting for the whole server: the model is checked against the server's list
    once, not before every question."""
    from index.generate.endpoint import ChatClient

    return ChatClient(llm)


def ask_grounded(searcher, question: str, llm, k: int = 5, documents: set[str] | None = None):
    """``index.generate.ask.ask`` started: (the search's ``Answer``, the rest of its events: ``Token``s, then
    ``Checked``). A damaged index file is one error message, as in ``ask``."""
    from index.generate.ask import ask as grounded_ask
    from index.integrity import IndexDamaged

    events = grounded_ask(searcher, question, llm, k=k, documents=documents or None, client=chat_client(llm))
    try:
        retrieved = next(events)
    except IndexDamaged as error:
        load_searcher.clear()
        st.error(f"The index cannot be used: {error}")
        st.stop()
    return retrieved.answer, events
