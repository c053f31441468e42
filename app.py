"""CiteLens — ask the documents a question, read the cited passages.

A thin Streamlit app over the same library as the CLI (index.search, index.build, eval.harness):
three pages, Ask, Library and Evaluate (ui/pages/), with their logic in the ui package.
Run: ``streamlit run app.py -- --index DIR`` or set CITELENS_INDEX.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="CiteLens", page_icon="🔎", layout="wide")

PAGES = [
    st.Page(HERE / "ui/pages/ask.py", title="Ask", icon=":material/search:", default=True),
    st.Page(HERE / "ui/pages/library.py", title="Library", icon=":material/library_books:"),
    st.Page(HERE / "ui/pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
]

page = st.navigation(PAGES)
st.logo(str(HERE / "ui" / "logo.svg"), size="large")
page.run()
