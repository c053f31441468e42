"""CiteLens — ask the documents a question, read the cited passages.

A thin Streamlit app over the same library as the CLI (index.search, index.build, index.libraries,
eval.harness): three pages, Ask, Library and Evaluate (ui/pages/), with their logic in the ui package, over
the library chosen in the sidebar (the user's libraries live in the user data folder).
Run: ``streamlit run app.py [-- --library NAME] [--data-dir DIR]``; ``-- --index DIR`` (or CITELENS_INDEX)
shows one index as it is, read-only.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import core

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="CiteLens", page_icon="🔎", layout="wide")

PAGES = [
    st.Page(HERE / "ui/pages/ask.py", title="Ask", icon=":material/search:", default=True),
    st.Page(HERE / "ui/pages/library.py", title="Library", icon=":material/library_books:"),
    st.Page(HERE / "ui/pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
]

page = st.navigation(PAGES)
st.logo(str(HERE / "ui" / "logo.svg"), size="large")
core.start_warmups()  # once per server process, in the background: the metrics' compilation
core.library_sidebar()
core.llm_sidebar()  # the optional language model (grounded answers): off unless an endpoint is named
page.run()
