"""The named question sets ``python -m eval`` runs in one command, each over its own corpus, with
CiteLens's default configuration beside the plain baselines.

``QUESTION_SETS`` is the one list that drives the run: add a set there (a name, a gold JSONL file, the
corpus folder its evidence comes from) and every report has it. Each corpus is indexed once with the
default build settings and cached (``variant_index``); a later run only checks it is up to date.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from eval.harness import EvalResult
from eval.question_sets import read_gold_jsonl
from eval.report import label, write_report
from eval.runner import run_configurations, variant_index
from index import settings
from index.build import BuildSettings
from index.encoder import Encoder

EVAL_DATA = settings.PROJECT_ROOT / "data" / "eval"
EXTERNAL = EVAL_DATA / "external"


@dataclass(frozen=True)
class QuestionSet:
    name: str
    questions: Path  # gold JSONL
    corpus: Path  # the folder the questions' evidence is in (or, for unanswerable ones, that they are asked of)
    about: str = ""
    collection: str = "bundled"  # short name of the corpus, in the answerability tables
    retrieval: bool = True  # False: questions the corpus does not answer (answerability only)
    # Which questions fit the answerability calibration (``eval --calibrate``) and which only check it:
    # "calibration", "heldout", or "split" (by article: a question, its English version and the near-miss
    # questions about the same article fall on the same side).
    part: str = "split"


CMRC, DRCD = EXTERNAL / "cmrc_trial", EXTERNAL / "drcd_dev"
BUNDLED = settings.BUNDLED_CORPUS
QUESTION_SETS = (
    QuestionSet("dev", settings.BUNDLED_QA, BUNDLED, "project dev set, bundled corpus (zh/en)", part="calibration"),
    QuestionSet("heldout", EVAL_DATA / "heldout_qa.jsonl", BUNDLED, "project held-out set, bundled corpus", part="heldout"),  # noqa: E501
    QuestionSet("cmrc", CMRC / "qa.jsonl", CMRC / "corpus", "CMRC 2018 trial (Simplified)", "cmrc"),
    QuestionSet("cmrc-en", CMRC / "qa_en.jsonl", CMRC / "corpus", "CMRC 2018 trial, questions in English", "cmrc"),
    QuestionSet("drcd", DRCD / "qa.jsonl", DRCD / "corpus", "DRCD dev (Traditional)", "drcd"),
    QuestionSet("drcd-en", DRCD / "qa_en.jsonl", DRCD / "corpus", "DRCD dev, questions in English", "drcd"),
    QuestionSet(
        "unanswerable-dev", EVAL_DATA / "unanswerable_dev.jsonl", BUNDLED, "off-topic and near-miss, bundled corpus",
        retrieval=False, part="calibration",
    ),
    QuestionSet(
        "unanswerable-heldout", EVAL_DATA / "unanswerable_heldout.jsonl", BUNDLED,
        "off-topic and near-miss, bundled corpus (held out)", retrieval=False, part="heldout",
    ),
    QuestionSet("cmrc-nearmiss", CMRC / "nearmiss.jsonl", CMRC / "corpus", "near-miss, CMRC", "cmrc", retrieval=False),
    QuestionSet("drcd-nearmiss", DRCD / "nearmiss.jsonl", DRCD / "corpus", "near-miss, DRCD", "drcd", retrieval=False),
)  # fmt: skip


def part_of(question_set: QuestionSet, question) -> str:
    """ "calibration" or "heldout" (``QuestionSet.part``; split sets by the article the question is about)."""
    if question_set.part != "split":
        return question_set.part
    article = question.extra.get("about") or next(iter(question.extra.get("docs", [])), question.id)
    return "calibration" if zlib.crc32(str(article).encode()) % 2 else "heldout"


def read_set(question_set: QuestionSet) -> tuple[list, list[str]]:
    """(questions with text, ids of those without: CMRC's trial set has two)."""
    questions = read_gold_jsonl(question_set.questions)
    blank = [q.id for q in questions if not q.question.strip()]
    return [q for q in questions if q.question.strip()], blank


SUITE_CONFIGURATIONS = ("full", "plain-bm25", "plain")  # CiteLens's default, then the plain baselines


@dataclass
class SetRun:
    question_set: QuestionSet
    results: list[EvalResult]
    index_dir: Path
    seconds: float
    extra: dict = field(default_factory=dict)  # per-set additions to the report (e.g. answerability, answers)
    answers: object = None  # eval.answers.AnswerRun: the grounded answers' figures, when an endpoint was given


def set_searcher(run: SetRun, encoder: Encoder):
    """A searcher over the set's index (the default configuration), for asking its questions."""
    from index.passage_index import PassageIndex
    from index.search import Searcher

    return Searcher(PassageIndex.load(run.index_dir), encoder)


def question_set(name: str) -> QuestionSet:
    for item in QUESTION_SETS:
        if item.name == name:
            return item
    raise ValueError(f"unknown question set '{name}'; known: {', '.join(s.name for s in QUESTION_SETS)}")


def run_suite(
    sets: list[QuestionSet],
    specs: list[str],
    encoder: Encoder,
    k: int = 10,
    log=lambda message: None,
    milvus: str | None = None,
) -> list[SetRun]:
    """Each set's configurations, on its corpus's index (built once, then cached; kept in Milvus at the URI
    ``milvus`` if given)."""
    runs = []
    for item in (s for s in sets if s.retrieval):
        started = time.perf_counter()
        log(f"{item.name}: indexing {item.corpus} (cached after the first run)")
        index_dir = variant_index(item.corpus, BuildSettings(), encoder, milvus)
        questions, blank = read_set(item)
        if blank:
            log(f"{item.name}: {len(blank)} questions without text left out: {', '.join(blank)}")
        log(f"{item.name}: {', '.join(specs)}")
        results = run_configurations(specs, questions, index_dir, encoder, k, milvus)
        run = SetRun(item, results, index_dir, time.perf_counter() - started)
        if blank:
            run.extra["left_out"] = blank
        runs.append(run)
    return runs


# ---- reports --------------------------------------------------------------------------------------------

SUITE_METRICS = ("hit_rate@1", "hit_rate@5", "mrr@10")


def suite_rows(results: list[EvalResult]) -> list[list[str]]:
    """configuration, then hit@1, hit@5 and MRR@10 overall, zh and en (columns only for groups present)."""
    groups = [g for g in ("all", "zh", "en") if any(g in r.metrics for r in results)]
    names = [label(m) if g == "all" else f"{label(m)} {g}" for g in groups for m in SUITE_METRICS]
    rows = [["configuration", "n", *names]]
    for result in results:
        cells = [f"{result.metrics[g][m]:.3f}" if g in result.metrics else "-" for g in groups for m in SUITE_METRICS]
        rows.append([result.name, str(int(result.metrics.get("all", {}).get("questions", 0))), *cells])
    return rows


def suite_table(results: list[EvalResult]) -> str:
    rows = suite_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def suite_markdown(results: list[EvalResult]) -> str:
    rows = suite_rows(results)
    lines = ["| " + " | ".join(rows[0]) + " |", "|---" * len(rows[0]) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])


def suite_text(runs: list[SetRun]) -> str:
    """One table per set, for the terminal."""
    return "\n\n".join(f"{run.question_set.name}: {run.question_set.about}\n{suite_table(run.results)}" for run in runs)


def shown_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(settings.PROJECT_ROOT))
    except ValueError:
        return str(path)


def suite_data(runs: list[SetRun]) -> dict:
    return {
        run.question_set.name: {
            "questions": shown_path(run.question_set.questions),
            "corpus": shown_path(run.question_set.corpus),
            "about": run.question_set.about,
            "seconds": round(run.seconds, 1),
            "metrics": {r.name: r.metrics for r in run.results},
            **run.extra,
        }
        for run in runs
    }


def write_suite_report(runs: list[SetRun], out: Path, seconds: float, answerability: list[dict] | None = None) -> None:
    """``out/report.md`` and ``report.json`` (every set's table and the answerability rates), and each set's
    full report in ``out/<set>/``."""
    for run in runs:
        write_report(run.results, out / run.question_set.name, f"Retrieval eval: {run.question_set.about}")
    summary = {"seconds": round(seconds, 1), "sets": suite_data(runs), "answerability": answerability}
    (out / "report.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = ["# Retrieval eval: every named question set", ""]
    for run in runs:
        lines += [f"## {run.question_set.name}: {run.question_set.about}", "", suite_markdown(run.results), ""]
    if answerability:
        from eval.calibrate import answerability_table

        lines += [
            "## Answerability: share judged right",
            "",
            "Answerable questions answered; off-topic (other collections' questions, unrelated ones) and "
            "near-miss questions flagged as not answered by the documents.",
            "",
            answerability_table(answerability, markdown=True),
            "",
        ]
    answered = [run.answers for run in runs if run.answers is not None]
    if answered:
        from eval.answers import ABOUT, answer_table

        lines += ["## Grounded answers", "", ABOUT, "", answer_table(answered, markdown=True), ""]
    lines.append(f"Wall time {seconds:.0f} s. Per set: `<set>/report.md` (all metrics, significance, failures).")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
