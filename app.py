"""CiteLens — ask the documents a question, read the cited passages.

A thin Streamlit page over the same search API as the CLI (index.search).
Run: ``streamlit run app.py -- --index DIR`` or set CITELENS_INDEX.
"""

from __future__ import annotations

import argparse
import sys

import streamlit as st

from index import settings
from index.hits import Hit


def index_dir_from_argv() -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--index")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.index


@st.cache_resource(show_spinner=False)
def load_searcher(index_dir: str):
    from index.search import open_searcher

    return open_searcher(index_dir)


def ensure_index(index_dir: str) -> None:
    """First run: convert the model and build the bundled corpus's index, showing progress."""
    from index.passage_index import CURRENT

    if (settings.index_dir(index_dir) / CURRENT).exists():
        return
    from index.build import build_index
    from index.encoder import Encoder

    with st.status("First start: preparing the model and building the index…", expanded=True) as status:
        st.write("Preparing the embedding model (one time)…")
        encoder = Encoder()
        st.write(f"Indexing the bundled corpus ({settings.BUNDLED_CORPUS.name}) …")
        report = build_index(settings.BUNDLED_CORPUS, settings.index_dir(index_dir), encoder, log=st.write)
        status.update(label=f"Index ready: {report.documents} documents, {report.chunks} passages.", state="complete")


def show_hit(hit: Hit) -> None:
    with st.container(border=True):
        st.markdown(f"**[{hit.rank}] {escape_markdown(hit.title)}**")
        where = " › ".join([*hit.section, f"¶{hit.paragraph}"])
        meta = " · ".join(x for x in (where, hit.date) if x)
        st.caption(escape_markdown(meta))
        if hit.url:
            st.link_button("Source", hit.url)
        st.text(hit.text)  # passages are text, never markdown or HTML
        st.code(hit.citation, language=None)


def escape_markdown(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_{}[]()<>#+-.!|~$" else ch for ch in text)


def main() -> None:
    st.set_page_config(page_title="CiteLens", page_icon="🔎", layout="wide")
    st.title("CiteLens")
    st.caption("Ask the documents a question in Chinese or English; every answer is a cited passage.")
    index_dir = str(settings.index_dir(index_dir_from_argv()))
    ensure_index(index_dir)
    with st.spinner("Loading the model and index…"):
        searcher = load_searcher(index_dir)
    k = st.sidebar.slider("Passages", 1, 20, 5)
    question = st.text_input(
        "Question", placeholder="中国制定了哪些数据安全方面的法律？ / Which laws protect personal information?"
    )
    if not question.strip():
        return
    from index.search import BadQuestion

    try:
        hits = searcher.search(question, k=k)
    except BadQuestion as error:
        st.warning(str(error))
        return
    for hit in hits:
        show_hit(hit)


main()
