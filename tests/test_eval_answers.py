"""Answer-level figures of grounded answers (eval/answers.py).

Hand-made checked answers whose figures are worked out by hand below (no server, no model): citation recall
and precision as ALCE defines them (mean per answer), the pooled supported share, gold containment; then
``python -m eval`` end to end on a tiny question set against the real loopback llama.cpp server.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from eval.__main__ import main
from eval.answers import (
    AnswerRecord,
    AnswerRun,
    answer_metrics,
    answer_table,
    gold_contained,
    gold_numbers,
    precise_citations,
    score_answer,
)
from eval.question_sets import Question
from index.generate.ask import GroundedAnswer
from index.generate.check import SentenceCheck, Support
from tests.e2e.support import QUESTIONS, shared_index
from tests.llm_server import llm_server_fixture  # noqa: F401  (registers the session fixture llm_server)


def sentence(text: str, cites: list[int], supported: bool, no_answer: bool = False) -> SentenceCheck:
    support = Support(cites[0], "…", 0.9) if cites else None
    return SentenceCheck(text, cites, supported, support, [] if supported else ["x"], no_answer=no_answer)


def answer(sentences: list[SentenceCheck], passages: int, asked: bool = True) -> GroundedAnswer:
    search = SimpleNamespace(hits=[object()] * passages, answerable=asked, relevance=None)
    text = " ".join(s.text for s in sentences)
    return GroundedAnswer("q", search, text, sentences, asked=asked, model="m", language="en")


# What the checker would say of a sentence citing only some of its passages (asked again for precision).
SUPPORTS = {
    ("A2", (1,)): True,  # [1] alone proves A2: [1] precise …
    ("A2", (2,)): False,  # … [2] alone does not, and without it ([1] alone) A2 still holds: [2] imprecise
    ("B1", (1,)): False,  # B1 needs both [1] and [2]: without either it falls, so both are precise
    ("B1", (2,)): False,
}


def supports(text: str, cites: list[int]) -> bool:
    return SUPPORTS[text, tuple(cites)]


# Answer A, 3 passages: 3 claims, 2 supported (recall 2/3); citations [1] ✓, [1] ✓, [2] ✗, [3] ✗ (of the
# unsupported A3): precision 2/4. The no-answer sentence counts nowhere.
A = answer(
    [
        sentence("A1", [1], True),
        sentence("A2", [1, 2], True),
        sentence("A3", [3], False),
        sentence("The passages do not say.", [], True, no_answer=True),
    ],
    3,
)
# Answer B, 2 passages: B1 supported by [1][2] together only (both precise), B2 cites nothing (unsupported):
# recall 1/2, precision 2/2.
B = answer([sentence("B1", [1, 2], True), sentence("B2", [], False)], 2)
NOT_ASKED = answer([], 0, asked=False)
ONLY_NO_ANSWER = answer([sentence("文中没有提到。", [], True, no_answer=True)], 2)


def test_precise_citations_by_hand():
    assert precise_citations(A.sentences[0], 3, supports) == [True]
    assert precise_citations(A.sentences[1], 3, supports) == [True, False]
    assert precise_citations(A.sentences[2], 3, supports) == [False]  # unsupported: every citation imprecise
    assert precise_citations(B.sentences[0], 2, supports) == [True, True]  # removing either breaks support
    # a supported sentence whose other citation names no passage: that one is imprecise, the real one precise
    assert precise_citations(sentence("C", [1, 9], True), 3, supports) == [True, False]


def test_score_answer_by_hand():
    a, b = score_answer(A, supports), score_answer(B, supports)
    assert (a.claims, a.supported, a.no_answer, a.citations, a.precise) == (3, 2, 1, 4, 2)
    assert a.recall == pytest.approx(2 / 3) and a.precision == pytest.approx(0.5)
    assert (b.claims, b.supported, b.citations, b.precise) == (2, 1, 2, 2)
    assert b.recall == pytest.approx(0.5) and b.precision == pytest.approx(1.0)
    none = score_answer(ONLY_NO_ANSWER, supports)
    assert (none.claims, none.recall, none.precision) == (0, None, None)
    uncited = score_answer(answer([sentence("D", [], False)], 2), supports)
    assert (uncited.recall, uncited.precision) == (0.0, 0.0)  # claims citing nothing: precision 0, as ALCE


def question(qid: str, gold: str = "") -> Question:
    return Question(qid, "q", extra={"answer": gold} if gold else {})


def record(result, seconds: float, first: float | None, gold: str = "") -> AnswerRecord:
    made = AnswerRecord(question(result.question, gold), result, seconds, first)
    if result.asked:
        made.score = score_answer(result, supports)
        made.contained, made.numbers = gold_contained(result.text, gold), gold_numbers(result.text, gold)
    return made


def test_set_figures_by_hand():
    records = [
        record(
            A, 4.0, 1.0, gold="a1 A2"
        ),  # contained (same language, whitespace removed, case folded); numbers 1, 2 in
        record(B, 6.0, 2.0, gold="nothing like it 42"),  # not contained; its number 42 missing
        record(NOT_ASKED, 1.0, None, gold="A1"),  # not asked: counts only in questions and s/question
        record(ONLY_NO_ANSWER, 2.0, 0.5, gold="中国"),  # gold in Chinese, answer in Chinese: not contained
    ]
    m = answer_metrics(records)
    assert (m["questions"], m["asked"], m["not_asked"], m["sentences"], m["no_answer_sentences"]) == (4, 3, 1, 5, 2)
    assert m["supported"] == pytest.approx(3 / 5)  # pooled: (2 + 1) of (3 + 2) claims
    assert m["citation_recall"] == pytest.approx((2 / 3 + 1 / 2) / 2)  # ALCE: per answer, then the mean
    assert m["citation_precision"] == pytest.approx((2 / 4 + 2 / 2) / 2)  # not the pooled 4/6
    assert m["gold_contained"] == pytest.approx(1 / 3) and m["gold_contained_n"] == 3
    assert m["gold_numbers"] == pytest.approx(0.5) and m["gold_numbers_n"] == 2  # A's and B's golds have numbers
    assert m["seconds_per_question"] == pytest.approx(13 / 4) and m["seconds_per_answer"] == pytest.approx(4.0)
    assert m["first_piece_seconds"] == pytest.approx(3.5 / 3)
    table = answer_table([AnswerRun("dev", records, "m")])
    assert (
        "0.600" in table and "0.583" in table and "0.750" in table and "0.333 (n=3)" in table and "0.500 (n=2)" in table
    )


def test_gold_contained_and_numbers():
    gold = "网民规模达10.51亿，互联网普及率为74.4%。"
    assert gold_contained("截至2022年6月，中国网民规模达10.51 亿，互联网普及率为74.4%[1]。", gold) is True
    assert gold_contained("網民規模達10.51億，互聯網普及率為74.4%。[1]", gold) is True  # Traditional folded
    assert gold_contained("网民规模达10亿。[1]", gold) is False
    assert gold_numbers("网民10.51亿，普及率74.4%，[1]。", gold) is True
    assert gold_numbers("网民10.51亿[1]。", gold) is False
    english = "About 1,854 thousand 5G base stations and 455 million users."
    assert gold_contained("china has ABOUT 1,854 thousand 5g base stations and 455 million users [1].", english)
    assert gold_contained("There were 1.854 million base stations [1].", gold) is None  # other language: n/a
    assert gold_numbers("It has 455 million users and 1854 thousand 5G stations [2].", english) is True
    assert gold_contained("", gold) is None and gold_contained("文字", "") is None


def test_python_m_eval_answers_end_to_end(llm_server, monkeypatch, capsys, tmp_path):
    """Two questions of the UI fixture set against the loopback server: figures in the JSON and in the report."""
    monkeypatch.setenv("CITELENS_LLM_KEY", llm_server.key)
    monkeypatch.delenv("CITELENS_LLM_URL", raising=False)
    argv = ["--qa", str(QUESTIONS), "--index", str(shared_index()), "--config", "full", "--json"]
    argv += ["--llm-url", llm_server.url, "--llm-model", llm_server.model, "--answers-limit", "2", "--answers-k", "2"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert "full" in data  # the retrieval figures, as before
    run = data["answers"]["questions"]
    assert run["model"] == llm_server.model and len(run["questions"]) == 2
    metrics = run["metrics"]
    assert metrics["questions"] == 2 and metrics["asked"] + metrics["not_asked"] == 2
    assert metrics["seconds_per_question"] > 0
    for row in run["questions"]:
        assert row["seconds"] > 0 and (not row["asked"] or "answer" in row)
    assert "s per question" in err and "answer 2/2" in err
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Grounded answers" in report and "citation precision" in report
    assert json.loads((tmp_path / "answers.json").read_text(encoding="utf-8"))["questions"]["metrics"]
    assert llm_server.key not in out + err + report


def test_a_named_model_without_an_endpoint_is_one_error(monkeypatch, capsys):
    monkeypatch.delenv("CITELENS_LLM_URL", raising=False)
    argv = ["--qa", str(QUESTIONS), "--index", str(shared_index()), "--config", "full", "--llm-model", "m"]
    assert main(argv) == 2
    assert "no endpoint" in capsys.readouterr().err
