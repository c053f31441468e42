"""Run questions through a Searcher and score the ranking with ranx.

A retrieved passage is relevant when it contains an evidence quote (whitespace
removed). Qrels are therefore the passages of the index that contain a quote;
a question whose quote no passage contains keeps a placeholder qrel, so it counts
as a miss instead of silently leaving the average.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eval.question_sets import Question, squeeze
from index.hits import Hit

METRICS = ("hit_rate@1", "hit_rate@3", "hit_rate@5", "hit_rate@10", "mrr@10", "ndcg@10")
# Share of questions whose first relevant hit highlights a sentence of the evidence (a reader's check).
HIGHLIGHT = "highlight"
MISSING = "__evidence_in_no_passage__"
ID_WIDTH = 10  # passage ids as ranx sees them: "0000000000", "0000000001"… (``fixed_width_ids``)
# ranx's kernels are numba "parallel" functions, and numba's default threading layer (workqueue) aborts the
# whole process when two threads launch them at once: in the app, two sessions evaluating, or an evaluation
# beside the start-up warm-up. One scoring at a time per process.
RANX_LOCK = threading.Lock()

SearchFunction = Callable[[str, int], list[Hit]]


@dataclass
class QuestionResult:
    question: Question
    hits: list[Hit]
    relevant_ranks: list[int]  # ranks (1-based) of the relevant hits

    @property
    def first_relevant(self) -> int | None:
        return self.relevant_ranks[0] if self.relevant_ranks else None


@dataclass
class EvalResult:
    name: str
    metrics: dict[str, dict[str, float]]  # group ("all", "zh", "en", type:...) -> metric -> value
    results: list[QuestionResult] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # question ids whose evidence no passage holds
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # what was scored (ranx's dict forms)
    run: dict[str, dict[str, float]] = field(default_factory=dict)


def build_qrels(questions: Sequence[Question], passages: dict[str, str]) -> tuple[dict, list[str]]:
    """{question id: {passage id: 1}} over every passage containing an evidence quote
    (for BEIR-style questions: {document id: grade} as judged)."""
    qrels, unreachable = {}, []
    for question in questions:
        if question.judged_by_document:
            qrels[question.id] = {doc: grade for doc, grade in question.relevant_docs if grade > 0}
            continue
        relevant = {pid: 1 for pid, text in passages.items() if question.is_relevant(text)}
        if not relevant:
            unreachable.append(question.id)
            relevant = {MISSING: 1}
        qrels[question.id] = relevant
    return qrels, unreachable


def run_questions(search: SearchFunction, questions: Sequence[Question], k: int = 10) -> list[QuestionResult]:
    results = []
    for question in questions:
        hits = search(question.question, k)
        ranks = [hit.rank for hit in hits if question.is_relevant(hit.text, hit.doc)]
        results.append(QuestionResult(question, hits, ranks))
    return results


def fixed_width_ids(qrels: dict, *runs: dict) -> tuple[dict, ...]:
    """The same qrels and runs with every passage id replaced by a number of one fixed width, in the ids' own
    sort order (so nothing ranks differently). ranx stores passage ids as numpy strings as wide as the
    longest one, and numba compiles its kernels again for every new width: each question group of every
    evaluation (minutes on a first run, and again on each new index). With one width they compile once and
    numba's disk cache keeps them."""
    ids = sorted({pid for table in (qrels, *runs) for ranked in table.values() for pid in ranked})
    number = {pid: f"{i:0{ID_WIDTH}d}" for i, pid in enumerate(ids)}

    def renamed(table: dict) -> dict:
        return {qid: {number[pid]: value for pid, value in ranked.items()} for qid, ranked in table.items()}

    return tuple(renamed(table) for table in (qrels, *runs))


def score(qrels: dict, run: dict, metrics: Sequence[str] = METRICS) -> dict[str, float]:
    from ranx import Qrels, Run, evaluate

    if not qrels:
        return {}
    qrels, run = fixed_width_ids(qrels, run)
    with RANX_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's cast warnings say nothing about the results
        values = evaluate(Qrels(qrels), Run(run), list(metrics), make_comparable=True)
    if isinstance(values, float):
        values = {metrics[0]: values}
    return {metric: float(value) for metric, value in values.items()}


def warm_metrics() -> None:
    """Compile ranx's metric kernels now (numba compiles them on first use: ~25 s with an empty numba cache,
    a few seconds to load them from it), so the first evaluation does not sit silent at its last question.
    Scores a two-question set shaped like a real one, through the same calls as ``evaluate_search``."""
    qrels = {"q1": {"p1": 1}, "q2": {"p3": 1, "p4": 1}}
    run = {"q1": {"p1": 1.0, "p2": 0.5}, "q2": {"p2": 1.0, "p3": 0.5, "p5": 1 / 3}}
    score(qrels, run)
    score({"q1": qrels["q1"]}, {"q1": run["q1"]})
    compare_runs(qrels, {"a": run, "b": {**run, "q1": {"p2": 1.0}}}, ["mrr@10"], 0.05, permutations=10)


def compare_runs(
    qrels: dict, runs: dict[str, dict], metrics: Sequence[str], max_p: float, permutations: int = 1000
) -> dict[tuple[str, str], dict[str, float]]:
    """Paired significance between every two runs (ranx ``compare``, Fisher's randomization test, seeded):
    (name, other name) -> metric -> p-value."""
    from ranx import Qrels, Run, compare

    qrels, *tables = fixed_width_ids(qrels, *runs.values())
    with RANX_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = compare(
            Qrels(qrels),
            [Run(table, name=name) for name, table in zip(runs, tables, strict=True)],
            metrics=list(metrics),
            stat_test="fisher",
            n_permutations=permutations,
            max_p=max_p,
            random_seed=42,
            make_comparable=True,
        )
    names = list(runs)
    return {
        (a, b): {metric: float(report.comparisons[a, b][metric]["p_value"]) for metric in metrics}
        for a in names
        for b in names
        if a != b
    }


def highlight_holds_evidence(question: Question, hit: Hit) -> bool:
    """The hit's highlighted sentence is inside an evidence quote, or holds one."""
    sentence = squeeze(hit.sentence)
    quotes = [squeeze(quote) for quote in question.evidence]
    return bool(sentence) and any(quote in sentence or sentence in quote for quote in quotes)


def highlight_share(results: Sequence[QuestionResult]) -> float | None:
    """Of the questions with a relevant hit (judged by evidence), the share whose first relevant hit's
    highlight holds evidence; None when there are none."""
    judged = [r for r in results if r.first_relevant and not r.question.judged_by_document]
    if not judged:
        return None
    held = sum(highlight_holds_evidence(r.question, r.hits[r.first_relevant - 1]) for r in judged)
    return held / len(judged)


def run_from_results(results: Sequence[QuestionResult]) -> dict:
    """ranx ranks by score: use reciprocal rank so the Searcher's order is kept exactly.
    Passages are judged by passage id, BEIR-style questions by document (its first hit)."""
    run = {}
    for r in results:
        ranked: dict[str, float] = {}
        for hit in r.hits:
            key = hit.doc if r.question.judged_by_document else hit.chunk_id
            ranked.setdefault(key, 1.0 / hit.rank)
        run[r.question.id] = ranked or {"__no_hits__": 0.0}
    return run


def evaluate_search(
    name: str,
    search: SearchFunction,
    questions: Sequence[Question],
    passages: dict[str, str],
    k: int = 10,
) -> EvalResult:
    """Metrics overall, by language and by question type, over the answerable questions."""
    answerable = [q for q in questions if q.answerable]
    qrels, unreachable = build_qrels(answerable, passages)
    results = run_questions(search, answerable, k)
    run = run_from_results(results)
    groups: dict[str, list[str]] = {"all": [q.id for q in answerable]}
    for q in answerable:
        for key in (q.lang, f"type:{q.type}"):
            if key and key != "type:":
                groups.setdefault(key, []).append(q.id)
    by_id = {r.question.id: r for r in results}
    metrics = {}
    for group, ids in groups.items():
        metrics[group] = score({i: qrels[i] for i in ids}, {i: run[i] for i in ids}) | {"questions": float(len(ids))}
        share = highlight_share([by_id[i] for i in ids])
        if share is not None:
            metrics[group][HIGHLIGHT] = share
    return EvalResult(name, metrics, results, unreachable, qrels, run)
