"""Ask page: one question box, an extractive answer with [n] links (or, with a language model configured, an answer
written from the passages as it streams, each sentence checked), and a citation card per passage."""

from __future__ import annotations

import time

import streamlit as st

from index.search import BadQuestion
from ui import core, grounded, render

RECENT_KEPT = 10
PLACEHOLDER = "问文件一个问题 / Ask the documents a question, in Chinese or English"


def remember(question: str) -> None:
    """Most recent first, each question once; a question is remembered when it is asked, not at every rerun."""
    if st.session_state.get("last-asked") == question:
        return
    st.session_state["last-asked"] = question
    recent = [q for q in st.session_state.get("recent", []) if q != question]
    st.session_state["recent"] = [question, *recent][:RECENT_KEPT]


def ask_again(question: str) -> None:
    st.session_state["question"] = question
    st.session_state["last-asked"] = None  # asked again: moves to the top


def forget_recent() -> None:
    st.session_state["recent"] = []


def show_card(hit, terms: list[str], document, question_key: str) -> None:
    with st.container(border=True, key=f"card-{hit.rank}"):
        st.html(render.card_head_html(hit))
        passage = st.empty()
        also = render.also_in_html(hit.also_in)
        if also:
            st.html(also)
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            around = st.toggle(
                "Show surrounding paragraphs",
                key=f"around-{question_key}-{hit.rank}",
                disabled=document is None,
                help="Read the passage in place, with the two paragraphs before and after it.",
            )
            url = render.safe_url(hit.url)
            if url:
                st.link_button("Open source", url, icon=":material/open_in_new:", type="tertiary")
        passage.html(render.passage_html(hit, document, terms, around=2 if around else 0))
        st.code(hit.citation, language=None, wrap_lines=True)


st.html(render.CSS)
searcher = core.searcher()
index = searcher.index
titles = {doc_id: document.title or doc_id for doc_id, document in index.documents.items()}

lib = core.current_library()

st.title("Ask the documents")
st.caption(
    f"{f'Library {lib.name} · ' if lib else ''}{len(index.documents)} documents · {len(index.chunks)} passages. "
    "Ask in Chinese (简体 or 繁體) or English; every answer is a passage you can check."
)

with st.sidebar:
    k = st.slider("Passages to show", 1, 20, 5, key="k")
    if "documents" in st.session_state:  # documents removed since they were chosen
        st.session_state["documents"] = [d for d in st.session_state["documents"] if d in titles]
    chosen = st.multiselect(
        "Only these documents",
        sorted(titles, key=lambda doc_id: (titles[doc_id], doc_id)),
        key="documents",
        format_func=lambda doc_id: titles.get(doc_id, doc_id),
        placeholder="All documents",
    )

question = st.text_input("Question", key="question", placeholder=PLACEHOLDER, max_chars=2000)


def stream_answer(slot, events, question: str, hits, model: str) -> None:
    """The model's answer in ``slot`` as it is written, then each sentence's check; or the plain statement that
    the documents do not answer (the model was not asked); or the endpoint's error in one line."""
    from index.generate.ask import Checked, Token
    from index.generate.endpoint import LLMError

    with slot:
        box = st.empty()
        written = ""
        try:
            for event in events:
                if isinstance(event, Token):
                    written += event.text
                    box.html(grounded.streaming_html(written, question, model))
                elif isinstance(event, Checked):
                    result = event.result
                    if not result.asked:
                        box.html(grounded.not_asked_html(result, question))
                    else:
                        box.html(grounded.checked_html(result, hits, question))
        except LLMError as error:
            box.empty()
            st.error(str(error), icon=":material/error:")


if question.strip():
    question = question.strip()
    llm = core.llm_settings()
    events = None
    try:
        started = time.perf_counter()
        if llm is None:
            answer = core.ask(searcher, question, k, set(chosen) or None)
        else:
            answer, events = core.ask_grounded(searcher, question, llm, k, set(chosen) or None)
        elapsed = time.perf_counter() - started
    except BadQuestion as error:
        st.warning(str(error))
    else:
        remember(question)
        if events is None:
            st.html(render.summary_html(answer.hits, answer.answerable, answer.query_terms, question))
        else:
            st.html(grounded.CSS)
            slot = st.container(key="grounded-answer")  # filled while the cards below are already shown
        scope = f" from {len(chosen)} chosen document(s)" if chosen else ""
        searched = getattr(answer, "question", question)  # Traditional Chinese is searched as Simplified
        converted = (
            "" if searched == " ".join(question.split()) else f" · searched as {render.escape_markdown(searched)}"
        )
        st.caption(f"{len(answer.hits)} passages{scope} · {elapsed:.2f} s{converted}")
        question_key = render.question_key(f"{question}|{k}|{sorted(chosen)}")
        for hit in answer.hits:
            show_card(hit, answer.query_terms, index.documents.get(hit.doc), question_key)
        if events is not None:
            stream_answer(slot, events, question, answer.hits, llm.model)

with st.sidebar:
    recent = st.session_state.get("recent", [])
    if recent:
        st.subheader("Recent questions")
        for number, asked in enumerate(recent):
            st.button(
                render.escape_markdown(asked if len(asked) <= 60 else asked[:59] + "…"),
                key=f"recent-{number}",
                on_click=ask_again,
                args=(asked,),
                type="tertiary",
                help=asked,
            )
        st.button("Clear recent questions", key="forget-recent", on_click=forget_recent, icon=":material/delete:")
