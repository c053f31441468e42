"""The Evaluate page's logic: question sets in, eval results out as tables (no Streamlit here).

Scoring is ``eval.harness.evaluate_search``'s, exactly as ``python -m eval`` does it; this module
reads uploaded sets, runs the chosen search configurations, and shapes the results for display.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from eval import question_sets
from eval.answers import ABOUT as ANSWERS_ABOUT  # noqa: F401  (the Evaluate page says what the answers figures mean)
from eval.harness import METRICS, EvalResult, QuestionResult, evaluate_search
from eval.question_sets import BadQuestionSet, Question, read_beir, read_gold_jsonl
from index import settings
from index.build import build_index
from index.hits import SECTION_SEPARATOR
from ui.library import sanitise_filename

BUNDLED_SETS = {"Bundled dev set (data/eval/dev_qa.jsonl)": settings.BUNDLED_QA}
MAX_SET_BYTES = 200 * 1024 * 1024
LABELS = {"hit_rate@1": "hit@1", "hit_rate@3": "hit@3", "hit_rate@5": "hit@5", "hit_rate@10": "hit@10"}
BEIR_FILES = {"corpus.jsonl", "queries.jsonl"}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


@dataclass
class QuestionSet:
    name: str
    questions: list[Question]
    beir: object | None = None  # eval.question_sets.BeirSet: its own documents, indexed apart to be judged

    def describe(self) -> str:
        text = describe(self.questions)
        if self.beir is not None:
            text += f"; BEIR set with {len(self.beir.documents)} documents (indexed apart when run)"
        return text


def bundled_set(label: str) -> QuestionSet:
    return QuestionSet(label, read_gold_jsonl(BUNDLED_SETS[label]))


def read_question_upload(files: Sequence[tuple[str, bytes]]) -> QuestionSet:
    """Uploaded question set → questions: one gold ``.jsonl``; or a BEIR set as a ``.zip`` of its folder or as
    its files (``corpus.jsonl``, ``queries.jsonl`` and the ``qrels`` ``.tsv``). Raises BadQuestionSet."""
    if not files:
        raise BadQuestionSet("No file uploaded.")
    if sum(len(data) for _, data in files) > MAX_SET_BYTES:
        raise BadQuestionSet(f"The question set is larger than {MAX_SET_BYTES // 2**20} MB.")
    names = [sanitise_filename(name) for name, _ in files]
    title = ", ".join(name for name, _ in files)
    with tempfile.TemporaryDirectory(prefix="citelens-qa-") as scratch:
        folder = Path(scratch)
        if len(files) == 1 and names[0].endswith(".zip"):
            return read_beir_folder(extract_zip(files[0][1], folder), title)
        if len(files) == 1 and names[0].endswith(".jsonl") and names[0] not in BEIR_FILES:
            path = folder / names[0]
            path.write_bytes(files[0][1])
            try:
                return QuestionSet(title, read_gold_jsonl(path))
            except UnicodeDecodeError as error:
                raise BadQuestionSet(f"{files[0][0]} is not UTF-8 text ({error.reason}).") from None
        for name, (_, data) in zip(names, files, strict=True):
            if name.endswith(".tsv"):
                (folder / "qrels").mkdir(exist_ok=True)
                (folder / "qrels" / name).write_bytes(data)
            elif name in BEIR_FILES:
                (folder / name).write_bytes(data)
            else:
                raise BadQuestionSet(
                    f"{name}: upload one gold .jsonl file, a .zip of a BEIR folder, or the BEIR files "
                    "corpus.jsonl, queries.jsonl and a qrels .tsv."
                )
        return read_beir_folder(folder, title)


def extract_zip(data: bytes, folder: Path) -> Path:
    """Safely unpack a zip (no absolute paths, no ``..``) and return the folder holding ``queries.jsonl``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BadQuestionSet("The .zip file is not a readable zip archive.") from None
    total = 0
    with archive:
        for member in archive.infolist():
            path = PurePosixPath(member.filename)
            if member.is_dir() or path.is_absolute() or ".." in path.parts:
                continue
            total += member.file_size
            if total > MAX_SET_BYTES:
                raise BadQuestionSet(f"The zip unpacks to more than {MAX_SET_BYTES // 2**20} MB.")
            target = folder.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
    found = sorted(folder.rglob("queries.jsonl"), key=lambda p: len(p.parts))
    if not found:
        raise BadQuestionSet("The zip holds no queries.jsonl, so it is not a BEIR folder.")
    return found[0].parent


def read_beir_folder(folder: Path, title: str) -> QuestionSet:
    splits = sorted(path.stem for path in (folder / "qrels").glob("*.tsv"))
    split = "test" if "test" in splits or not splits else splits[0]
    try:
        beir = read_beir(folder, split)
    except (OSError, ValueError, KeyError) as error:  # BadQuestionSet is a ValueError
        raise BadQuestionSet(f"Not a readable BEIR set: {error}") from None
    file_name = question_sets.beir_file_name
    questions = [
        replace(q, relevant_docs=tuple((file_name(doc), grade) for doc, grade in q.relevant_docs))
        for q in beir.questions
    ]  # documents are indexed as files named by beir_file_name, as ``python -m eval --beir`` does
    return QuestionSet(f"{title} (BEIR, {split})", questions, beir)


def beir_index(beir, encoder, progress: Callable[[int, int], None] | bool = False, cache: Path | None = None) -> Path:
    """The BEIR set's documents as an index of their own (cached by content, so a re-run is cheap)."""
    key = hashlib.sha256(
        json.dumps([sorted(beir.documents.items()), encoder.info.to_dict()], ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:16]
    root = (cache or settings.cache_dir() / "eval-indexes") / f"beir-{key}"
    if not (root / "index" / "CURRENT").exists():
        question_sets.write_beir_corpus(beir, root / "corpus")
        build_index(root / "corpus", root / "index", encoder, progress=progress, log=lambda message: None)
    return root / "index"


def describe(questions: Sequence[Question]) -> str:
    answerable = sum(q.answerable for q in questions)
    langs = sorted({q.lang for q in questions if q.lang})
    return f"{len(questions)} questions ({answerable} answerable){', languages: ' + ', '.join(langs) if langs else ''}"


# ---------------------------------------------------------------- running


def run_evaluation(
    searcher,
    questions: Sequence[Question],
    config_names: Sequence[str],
    k: int = 10,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[EvalResult]:
    """One EvalResult per named configuration (index.search.CONFIGS), over the same passages and questions."""
    from index.search import CONFIGS

    passages = {chunk.chunk_id: chunk.text for chunk in searcher.index.chunks}
    total = sum(q.answerable for q in questions) * len(config_names)
    done = 0
    results = []
    for name in config_names:
        config = CONFIGS[name]

        def search(question: str, k: int, config=config, name=name):
            nonlocal done
            hits = searcher.search(question, k=k, config=config)
            done += 1
            if progress:
                progress(done, total, name)
            return hits

        results.append(evaluate_search(name, search, questions, passages, k))
    return results


# ---------------------------------------------------------------- shaping for display


def group_order(group: str) -> tuple[int, str]:
    return (0 if group == "all" else 1 if not group.startswith("type:") else 2, group)


def metrics_rows(results: Sequence[EvalResult]) -> list[dict]:
    """One row per configuration and group: config, group, questions, then every metric."""
    rows = []
    for result in results:
        for group in sorted(result.metrics, key=group_order):
            values = result.metrics[group]
            row = {"configuration": result.name, "group": group, "questions": int(values.get("questions", 0))}
            row |= {label(m): round(values[m], 4) for m in METRICS if m in values}
            rows.append(row)
    return rows


def chart_rows(results: Sequence[EvalResult], metric: str) -> list[dict]:
    """Long form for a grouped bar chart: (group, configuration, value) for every group but "all"."""
    return [
        {"group": group, "configuration": result.name, label(metric): result.metrics[group].get(metric, 0.0)}
        for result in results
        for group in sorted(result.metrics, key=group_order)
        if group != "all"
    ]


def hit_label(hit) -> str:
    where = SECTION_SEPARATOR.join([*hit.section, f"¶{hit.paragraph}"])
    snippet = " ".join((hit.sentence or hit.text).split())
    snippet = snippet if len(snippet) <= 70 else snippet[:69] + "…"
    return f"[{hit.rank}] {hit.title} › {where}: {snippet}"


def failure_rows(result: EvalResult, shown: int = 3) -> list[dict]:
    """Questions with no relevant passage in the top k: what was expected, and what came back instead."""
    return [failure_row(item, shown, item.question.id in result.unreachable) for item in failed(result)]


def failed(result: EvalResult) -> list[QuestionResult]:
    return [item for item in result.results if item.first_relevant is None]


def expected_text(question: Question) -> str:
    """What would have counted as found: the evidence quotes, or (BEIR) the judged documents."""
    judged = [doc for doc, grade in getattr(question, "relevant_docs", ()) if grade > 0]
    if judged:
        return "documents: " + ", ".join(judged)
    return " / ".join(question.evidence)


def failure_row(item: QuestionResult, shown: int, unreachable: bool) -> dict:
    question = item.question
    expected = expected_text(question)
    if unreachable:
        expected = f"{expected}  (no passage of this index holds it)"
    return {
        "id": question.id,
        "question": question.question,
        "expected evidence": expected,
        "lang": question.lang,
        "type": question.type,
        "retrieved instead": "  |  ".join(hit_label(hit) for hit in item.hits[:shown]) or "(nothing)",
    }


# ---------------------------------------------------------------- grounded answers (with a language model)


def run_answers(searcher, question_set: QuestionSet, llm, limit: int, progress=None):
    """The first ``limit`` answerable questions of the set answered by ``llm`` and checked (eval/answers.py)."""
    from eval.answers import AnswerRun, answer_questions

    records = answer_questions(searcher, question_set.questions, llm, limit, 5, progress=progress)
    return AnswerRun(question_set.name, records, llm.model)


def answers_rows(run) -> list[dict]:
    """The answers' figures as one row of named columns (the same cells as ``python -m eval``'s table)."""
    from eval.answers import COLUMNS, cell

    return [{"model": run.model, **{title: cell(run.metrics, key) for key, title in COLUMNS}}]
