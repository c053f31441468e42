"""Eval metrics on a hand-computed case, through the same harness `python -m eval` uses."""

from __future__ import annotations

import math

import pytest

from eval.harness import evaluate_search, highlight_holds_evidence, highlight_share, run_questions
from eval.question_sets import Question, read_gold_jsonl
from index.hits import Hit

PASSAGES = {
    "a": "网民规模达10.51亿",
    "b": "互联网 普及率\n提升到74.4%",  # whitespace inside the source does not matter
    "c": "建成5G基站185.4万个",
    "d": "金种子育种平台",
    "x": "无关的段落",
    "y": "另一个无关段落",
}
QUESTIONS = [
    Question("q1", "网民规模？", lang="zh", type="factoid", evidence=("网民规模达10.51亿", "普及率提升到74.4%")),
    Question("q2", "How many 5G base stations?", lang="en", type="factoid", evidence=("5G基站185.4万个",)),
    Question("q3", "Seed platform?", lang="en", type="factoid", evidence=("金种子育种平台",)),
    Question("q4", "Unanswerable?", lang="en", type="unanswerable", answerable=False),
]
RANKINGS = {"网民规模？": ["x", "a", "b"], "How many 5G base stations?": ["c", "x"], "Seed platform?": ["x", "y"]}


def fake_search(question: str, k: int) -> list[Hit]:
    return [
        Hit(rank, 1.0 / rank, pid, "doc.txt", "t", (), 1, 1, PASSAGES[pid], 0, len(PASSAGES[pid]))
        for rank, pid in enumerate(RANKINGS[question][:k], 1)
    ]


def test_metrics_equal_hand_computed_values():
    result = evaluate_search("fake", fake_search, QUESTIONS, PASSAGES, k=10)
    overall = result.metrics["all"]
    # q1: first relevant at rank 2 (two relevant: a, b at ranks 2 and 3); q2: rank 1; q3: none.
    ndcg_q1 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert overall["questions"] == 3  # the unanswerable question is not a retrieval question
    assert overall["hit_rate@1"] == pytest.approx(1 / 3)
    assert overall["hit_rate@3"] == pytest.approx(2 / 3)
    assert overall["hit_rate@10"] == pytest.approx(2 / 3)
    assert overall["mrr@10"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert overall["ndcg@10"] == pytest.approx((ndcg_q1 + 1 + 0) / 3)
    assert result.metrics["zh"]["mrr@10"] == pytest.approx(0.5)
    assert result.metrics["en"]["hit_rate@1"] == pytest.approx(0.5)
    assert [r.first_relevant for r in result.results] == [2, 1, None]


def test_evidence_in_no_passage_counts_as_a_miss():
    questions = [Question("q9", "Seed platform?", evidence=("不存在的引文",)), QUESTIONS[1]]
    result = evaluate_search("fake", fake_search, questions, PASSAGES, k=10)
    assert result.unreachable == ["q9"]
    assert result.metrics["all"]["hit_rate@10"] == pytest.approx(0.5)


def test_bundled_gold_set_reads(tmp_path):
    from index.settings import BUNDLED_QA

    questions = read_gold_jsonl(BUNDLED_QA)
    assert len(questions) == 40
    assert {q.lang for q in questions} == {"zh", "en"}
    assert sum(not q.answerable for q in questions) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_gold_jsonl(bad)


def test_highlight_holds_evidence_when_the_sentence_is_in_a_quote_or_holds_one():
    text = "第一句无关。网民规模达10.51亿，互联网普及率74.4%。第三句。"
    question = Question("q", "网民规模？", evidence=("网民规模达10.51亿",))
    long_quote = Question("q", "网民规模？", evidence=("第一句无关。网民规模达10.51亿，互联网 普及率74.4%。",))

    def hit(sentence: str) -> Hit:
        at = 100 + text.index(sentence)  # document offsets: the passage starts at 100
        return Hit(
            1,
            1.0,
            "c",
            "d",
            "t",
            (),
            1,
            1,
            text,
            100,
            100 + len(text),
            sentence_start=at,
            sentence_end=at + len(sentence),
        )

    assert highlight_holds_evidence(question, hit("网民规模达10.51亿，互联网普及率74.4%。"))
    assert not highlight_holds_evidence(question, hit("第一句无关。"))
    assert highlight_holds_evidence(long_quote, hit("第一句无关。"))  # a sentence of a longer quote
    assert not highlight_holds_evidence(long_quote, hit("第三句。"))

    results = run_questions(
        lambda q, k: [hit("第三句。"), hit("网民规模达10.51亿，互联网普及率74.4%。")], [question], 10
    )
    results[0].relevant_ranks = [1, 2]
    assert highlight_share(results) == 0.0  # judged on the first relevant hit only


def ranx_signatures() -> dict[str, set[str]]:
    """Every compiled signature of ranx's numba functions in this process."""
    import sys

    from numba.core.registry import CPUDispatcher

    found: dict[str, set[str]] = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("ranx"):
            for attribute, value in vars(module).items():
                if isinstance(value, CPUDispatcher):
                    found.setdefault(f"{name}.{attribute}", set()).update(map(str, value.signatures))
    return found


def test_scores_are_those_of_ranx_over_the_original_ids_and_compile_once():
    """Passage ids reach ranx renamed to one fixed width, in their own order: the scores are unchanged (ties
    included), and after ``warm_metrics`` no evaluation compiles anything, whatever its ids look like."""
    import random

    from ranx import Qrels, Run, evaluate

    from eval.harness import METRICS, compare_runs, fixed_width_ids, score, warm_metrics

    rng = random.Random(7)
    cases = []
    for width in (1, 6, 40):
        ids = [f"{rng.randrange(10**width):0{width}d}.md#{n}" for n in range(60)]
        qrels = {f"q{i}": {rng.choice(ids): 1 for _ in range(rng.randint(1, 3))} for i in range(30)}
        run = {f"q{i}": {rng.choice(ids): rng.choice([1.0, 0.5, 0.5, 0.25]) for _ in range(10)} for i in range(30)}
        cases.append((qrels, run))
    qrels, run = cases[-1]
    expected = evaluate(Qrels(qrels), Run(run), list(METRICS), make_comparable=True)  # ranx on the raw ids
    warm_metrics()
    compiled = ranx_signatures()
    assert score(qrels, run) == pytest.approx(expected)
    for qrels, run in cases:
        p_values = compare_runs(qrels, {"a": run, "b": cases[0][1]}, ["mrr@10"], 0.05, permutations=10)
        assert 0 <= p_values["a", "b"]["mrr@10"] <= 1 and p_values["a", "b"] == p_values["b", "a"]
        score(qrels, run)
        renamed_qrels, renamed_run = fixed_width_ids(qrels, run)
        assert {len(pid) for ranked in renamed_run.values() for pid in ranked} == {10}
        assert sorted(renamed_qrels) == sorted(qrels)
    assert ranx_signatures() == compiled  # nothing compiled after the warm-up, whatever the ids


def test_significance_comes_from_ranx_compare_and_finds_a_real_difference():
    """A run that ranks the relevant passage first for every question against one that never retrieves it:
    p < .05; a run against a copy of itself: p = 1."""
    from eval.harness import compare_runs

    qrels = {f"q{i}": {f"p{i}": 1} for i in range(30)}
    good = {f"q{i}": {f"p{i}": 1.0, "other": 0.5} for i in range(30)}
    bad = {f"q{i}": {"other": 1.0, "else": 0.5} for i in range(30)}
    p_values = compare_runs(qrels, {"good": good, "bad": bad, "same": dict(good)}, ["mrr@10"], 0.05)
    assert p_values["good", "bad"]["mrr@10"] < 0.05
    assert p_values["good", "same"]["mrr@10"] == pytest.approx(1.0)
