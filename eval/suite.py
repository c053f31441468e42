"""The named question sets ``python -m eval`` runs in one command, each over its own corpus, with
CiteLens's default configuration beside the plain baselines.

``QUESTION_SETS`` is the one list that drives the run: add a set there (a name, a gold JSONL file, the
corpus folder its evidence comes from) and every report has it. Each corpus is indexed once with the
default build settings and cached (``variant_index``); a later run only checks it is up to date.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from eval.harness import EvalResult
from eval.question_sets import read_gold_jsonl
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
    corpus: Path  # the folder the questions' evidence is in
    about: str = ""


QUESTION_SETS = (
    QuestionSet("dev", settings.BUNDLED_QA, settings.BUNDLED_CORPUS, "project dev set, bundled corpus (zh/en)"),
    QuestionSet(
        "heldout", EVAL_DATA / "heldout_qa.jsonl", settings.BUNDLED_CORPUS, "project held-out set, bundled corpus"
    ),
    QuestionSet(
        "cmrc", EXTERNAL / "cmrc_trial" / "qa.jsonl", EXTERNAL / "cmrc_trial" / "corpus", "CMRC 2018 trial (Simplified)"
    ),
    QuestionSet("drcd", EXTERNAL / "drcd_dev" / "qa.jsonl", EXTERNAL / "drcd_dev" / "corpus", "DRCD dev (Traditional)"),
)
SUITE_CONFIGURATIONS = ("full", "plain-bm25", "plain")  # CiteLens's default, then the plain baselines


@dataclass
class SetRun:
    question_set: QuestionSet
    results: list[EvalResult]
    index_dir: Path
    seconds: float
    extra: dict = field(default_factory=dict)  # per-set additions to the report (e.g. answerability)


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
) -> list[SetRun]:
    """Each set's configurations, on its corpus's index (built once, then cached)."""
    runs = []
    for item in sets:
        started = time.perf_counter()
        log(f"{item.name}: indexing {item.corpus} (cached after the first run)")
        index_dir = variant_index(item.corpus, BuildSettings(), encoder)
        questions = read_gold_jsonl(item.questions)
        blank = [q.id for q in questions if not q.question.strip()]  # CMRC's trial set has two
        if blank:
            log(f"{item.name}: {len(blank)} questions without text left out: {', '.join(blank)}")
            questions = [q for q in questions if q.question.strip()]
        log(f"{item.name}: {', '.join(specs)}")
        results = run_configurations(specs, questions, index_dir, encoder, k)
        run = SetRun(item, results, index_dir, time.perf_counter() - started)
        if blank:
            run.extra["left_out"] = blank
        runs.append(run)
    return runs
