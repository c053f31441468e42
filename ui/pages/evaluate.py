"""Evaluate page: run a question set through one or more search configurations and compare them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from eval.harness import METRICS
from eval.question_sets import BadQuestionSet
from index.generate.endpoint import LLMError
from index.search import CONFIGS
from ui import core, evaluation, render

RESULTS = "eval-results"
UPLOAD = "Upload a question set"

st.html(render.CSS)
searcher = core.searcher()

lib = core.current_library()

st.title("Evaluate")
st.caption(
    f"Retrieval quality of {f'the {lib.name} library' if lib else 'this index'}: a question is found when one of "
    "the top k passages contains its evidence quote. Compare configurations side by side."
)

choice = st.radio("Question set", [*evaluation.BUNDLED_SETS, UPLOAD], key="set", horizontal=True)
question_set = None
if choice == UPLOAD:
    files = st.file_uploader(
        "A gold JSONL file, or a BEIR set: a .zip of its folder, or its corpus.jsonl, queries.jsonl and qrels .tsv",
        type=["jsonl", "zip", "tsv"],
        accept_multiple_files=True,
        key="set-upload",
    )
    if files:
        try:
            question_set = evaluation.read_question_upload([(f.name, f.getvalue()) for f in files])
        except BadQuestionSet as error:
            st.error(f"This question set cannot be used: {error}")
else:
    question_set = evaluation.bundled_set(choice)
if question_set:
    st.caption(question_set.describe())

left, right = st.columns([3, 1])
with left:
    names = st.multiselect("Configurations", list(CONFIGS), default=["full"], key="configs")
with right:
    k = st.number_input("k (passages per question)", 1, 50, 10, key="eval-k")
llm = core.llm_settings()  # the sidebar's language model: answers are evaluated too when one is set
if llm is not None:
    answers_limit = st.number_input(
        f"Questions to answer with {llm.model} (grounded answers; a small local model takes seconds each)",
        0,
        1000,
        5,
        key="answers-limit",
        help="The first N answerable questions are answered from their top 5 passages and each sentence is checked "
        "against the passages it cites. 0: retrieval only.",
    )

if st.button("Run evaluation", type="primary", disabled=not (question_set and names), key="run"):
    metrics_ready = core.metrics_warmup()
    if not metrics_ready.ready:  # compiled in the background since the server started; rarely still going
        with st.status(
            "Preparing the metrics library: ranx compiles its code once per server start (up to half a minute "
            "the very first time)…"
        ) as status:
            metrics_ready.wait()
            status.update(label="Metrics library ready.", state="complete", expanded=False)
    bar = st.progress(0.0, text="Starting…")
    target = searcher
    if question_set.beir is not None:  # judged by its own documents: search an index of those

        def indexing(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Indexing the BEIR documents: {done} of {total}")

        directory = evaluation.beir_index(question_set.beir, searcher.encoder, indexing)
        target = core.load_searcher(str(directory), core.index_version(directory))

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(done / max(total, 1), text=f"{name}: {done} of {total} searches")

    results = evaluation.run_evaluation(target, question_set.questions, names, int(k), progress)
    answers = None
    if llm is not None and answers_limit:

        def answering(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Answers by {llm.model}: {done} of {total} questions")

        bar.progress(0.0, text=f"Answers by {llm.model}: asking the first question…")
        try:
            answers = evaluation.run_answers(target, question_set, llm, int(answers_limit), answering)
        except LLMError as error:
            st.error(str(error), icon=":material/error:")
    bar.empty()
    st.session_state[RESULTS] = {
        "results": results,
        "answers": answers,
        "set": question_set.name,
        "k": int(k),
        "documents": target.index.documents,  # to show retrieved passages by paragraph
    }

ran = st.session_state.get(RESULTS)
if ran:
    results = ran["results"]
    st.subheader("Metrics")
    st.caption(f"{ran['set']} · k = {ran['k']} · groups: all questions, by language, by question type")
    number = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(
        pd.DataFrame(evaluation.metrics_rows(results)),
        hide_index=True,
        key="metrics-table",
        column_config={evaluation.label(metric): number for metric in METRICS},
    )
    answers = ran.get("answers")
    if answers is not None:
        st.subheader("Answers")
        st.caption(f"{answers.model} · {answers.metrics['questions']} questions · {evaluation.ANSWERS_ABOUT}")
        st.dataframe(pd.DataFrame(evaluation.answers_rows(answers)), hide_index=True, key="answers-table")
    unreachable = sorted({qid for result in results for qid in result.unreachable})
    if unreachable:
        st.info(
            f"{len(unreachable)} question(s) have evidence that no passage of this index contains; "
            f"they count as misses: {', '.join(unreachable[:20])}{' …' if len(unreachable) > 20 else ''}"
        )

    st.subheader("By language and question type")
    metric = st.selectbox(
        "Metric", METRICS, index=METRICS.index("hit_rate@5"), key="chart-metric", format_func=evaluation.label
    )
    chart = pd.DataFrame(evaluation.chart_rows(results, metric))
    if not chart.empty:
        label = evaluation.label(metric)
        groups, configurations = chart["group"].nunique(), chart["configuration"].nunique()
        height = 90 + groups * max(36, 20 * configurations)
        st.bar_chart(
            chart, x="group", y=label, color="configuration", stack=False, horizontal=True, sort=False, height=height
        )

    st.subheader("Failed questions")
    st.caption("Questions whose evidence is in none of the top k passages, and what was retrieved instead.")
    tabs = st.tabs([result.name for result in results])
    for tab, result in zip(tabs, results, strict=True):
        with tab:
            misses = evaluation.failed(result)
            if not misses:
                st.success("Every answerable question found its evidence in the top k.")
                continue
            st.dataframe(
                pd.DataFrame(evaluation.failure_rows(result)),
                hide_index=True,
                key=f"failures-{result.name}",
                column_config={
                    "question": st.column_config.TextColumn(width="medium"),
                    "expected evidence": st.column_config.TextColumn(width="medium"),
                    "retrieved instead": st.column_config.TextColumn(width="large"),
                },
            )
            chosen = st.selectbox(
                "Look at one",
                range(len(misses)),
                key=f"inspect-{result.name}",
                format_func=lambda i, misses=misses: f"{misses[i].question.id} — {misses[i].question.question}",
            )
            item = misses[chosen]
            st.html(
                '<div class="cl-answer cl-none"><div class="cl-answer-label">Expected evidence</div>'
                f"{render.escape(evaluation.expected_text(item.question) or '(none given)')}</div>"
            )
            for hit in item.hits[:3]:
                with st.container(border=True):
                    st.html(render.card_head_html(hit))
                    st.html(render.passage_html(hit, ran["documents"].get(hit.doc), []))
