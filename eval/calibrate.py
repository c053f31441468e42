"""The answerability calibration: fitted on questions asked of several collections, and checked.

A question is asked of a collection as one of three kinds: **answerable** (the collection's own gold
question), **off-topic** (a question about something else: another collection's question, a generic
question) or **near-miss** (on the collection's topics, asking a fact it does not hold). Evidence of the
first hits of each (``index.answerability``) is weighed by a logistic regression fitted to say whether a
hit holds the answer; the threshold per language is then placed among the background questions' scores
of each collection, at the quantile that keeps the target share of answerable questions answered.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.question_sets import Question
from index.answer_calibration import QUESTION_HITS, Background, Calibration, language
from index.answerability import CJK, Evidence
from index.hits import Hit

KINDS = ("answerable", "offtopic", "nearmiss")
# Questions unrelated to a collection that are flagged as not answered by it: the threshold is placed at this
# quantile of the collection's background questions (the target for off-topic questions).
UNRELATED_FLAGGED = 0.95
ANSWERABLE_RECALL = 0.95  # without a background: the fixed threshold keeps this share of answerable answered


@dataclass
class Asked:
    """One question asked of one collection, and what came back."""

    collection: str
    question: Question
    kind: str  # answerable, offtopic or nearmiss
    hits: list[Hit]
    answerable_judged: bool | None = None  # the searcher's judgement, when it was asked with a calibration
    part: str = ""  # "calibration" or "heldout" (eval.suite.part_of)
    question_set: str = ""

    @property
    def lang(self) -> str:
        return language(not CJK.search(self.question.question))

    @property
    def evidence(self) -> list[Evidence]:
        return [hit.evidence for hit in self.hits[:QUESTION_HITS] if hit.evidence is not None]

    @property
    def retrieved(self) -> bool:
        """An answerable question whose answer is among the hits its judgement rests on."""
        return any(self.relevant(hit) for hit in self.hits[:QUESTION_HITS])

    def relevant(self, hit: Hit) -> bool:
        return self.kind == "answerable" and self.question.is_relevant(hit.text, hit.doc)


def kind_of(question: Question, own_collection: bool) -> str:
    """A gold question asked of its own collection is answerable; asked of another, off-topic."""
    if not own_collection:
        return "offtopic"
    if question.answerable:
        return "answerable"
    return "nearmiss" if question.type == "nearmiss" else "offtopic"


def ask(searcher, collection: str, questions: Iterable[Question], kind: str | None = None) -> list[Asked]:
    """Each question asked of the searcher's collection (``kind`` None: from the question itself)."""
    asked = []
    for question in questions:
        answer = searcher.answer(question.question, k=10)
        asked.append(Asked(collection, question, kind or kind_of(question, True), answer.hits, answer.answerable))
    return asked


def _group(asked: Asked) -> tuple[str, str, str]:
    return asked.collection, asked.kind, asked.lang


def fit_coefficients(asked: Sequence[Asked], backgrounds: dict[str, Background | None]) -> Calibration:
    """Logistic regression over the first hits of every question: does this hit hold the answer? Each
    (collection, kind, language) group weighs the same, so no collection or set dominates the fit. Fitted
    on standardised features, returned on the raw ones."""
    from sklearn.linear_model import LogisticRegression

    counts: dict[tuple, int] = defaultdict(int)
    for item in asked:
        if item.evidence:
            counts[_group(item)] += 1
    rows, labels, weights = [], [], []
    for item in asked:
        background = backgrounds.get(item.collection)
        hits = [hit for hit in item.hits[:QUESTION_HITS] if hit.evidence is not None]
        for hit in hits:
            rows.append(Calibration.vector(hit.evidence, background))
            labels.append(item.relevant(hit))
            weights.append(1.0 / counts[_group(item)] / len(hits))
    x, y, w = np.array(rows, float), np.array(labels), np.array(weights)
    w *= len(w) / w.sum()
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=5000).fit((x - mean) / scale, y, sample_weight=w)
    coefficients = model.coef_[0] / scale
    intercept = float(model.intercept_[0] - (coefficients * mean).sum())
    return Calibration(tuple(float(c) for c in coefficients), intercept, features=Calibration.FEATURES)


def fit_thresholds(
    asked: Sequence[Asked],
    calibration: Calibration,
    recall: float = ANSWERABLE_RECALL,
    unrelated_flagged: float = UNRELATED_FLAGGED,
) -> Calibration:
    """Where a question counts as not answered: in a collection with a measured background, at the
    ``unrelated_flagged`` quantile of its background questions' relevance (so that share of unrelated
    questions is flagged, whatever the collection: measured, README); without one, at the fixed threshold
    that keeps ``recall`` of the answerable questions answered (pooled over the collections)."""
    from dataclasses import replace

    thresholds = {}
    for lang in ("zh", "en"):
        scores = [
            calibration.question_relevance(item.evidence, None)
            for item in asked
            if item.kind == "answerable" and item.lang == lang and item.evidence
        ]
        if scores:
            thresholds[lang] = round(float(np.quantile(scores, 1 - recall)), 6)
    quantiles = {lang: unrelated_flagged for lang in thresholds}
    return replace(calibration, background_quantile=quantiles, thresholds=thresholds)


def fit_calibration(
    asked: Sequence[Asked],
    backgrounds: dict[str, Background | None],
    recall: float = ANSWERABLE_RECALL,
    unrelated_flagged: float = UNRELATED_FLAGGED,
) -> Calibration:
    return fit_thresholds(asked, fit_coefficients(asked, backgrounds), recall, unrelated_flagged)


def judged_answerable(item: Asked, calibration: Calibration, background: Background | None) -> bool:
    relevance = calibration.question_relevance(item.evidence, background)
    threshold = calibration.thresholds_in(background).get(item.lang)
    return bool(item.hits) and (relevance is None or threshold is None or relevance >= threshold)


def rates(
    asked: Sequence[Asked], calibration: Calibration, backgrounds: dict[str, Background | None]
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(collection, kind, language) → (judged right, questions): answerable ones answered, others flagged."""
    thresholds = {collection: calibration.thresholds_in(background) for collection, background in backgrounds.items()}
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in asked:
        relevance = calibration.question_relevance(item.evidence, backgrounds[item.collection])
        threshold = thresholds[item.collection].get(item.lang)
        answered = bool(item.hits) and (relevance is None or threshold is None or relevance >= threshold)
        counts[_group(item)][0] += answered == (item.kind == "answerable")
        counts[_group(item)][1] += 1
    return {group: (right, n) for group, (right, n) in counts.items()}


def save_calibration(model_name: str, calibration: Calibration, path: Path) -> Path:
    """Write the calibration as ``{model name: calibration}`` (other models' entries kept)."""
    path = Path(path)
    table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    table[model_name] = calibration.to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


# ---- the project's sets, asked of every collection ---------------------------------------------------------

OTHER_QUESTIONS = 300  # at most this many questions of each set are asked of another collection (off-topic)


@dataclass
class Collection:
    name: str
    index_dir: Path
    background: Background | None


def ask_collections(
    sets: Sequence,
    encoder,
    log=lambda message: None,
    other_questions: int = OTHER_QUESTIONS,
    milvus: str | None = None,
) -> tuple[list[Asked], dict[str, Collection]]:
    """Every set's questions asked of its own collection (answerable, off-topic or near-miss as the set
    says) and of every other collection (off-topic there: at most ``other_questions`` a set, a fixed
    sample). Each Asked records its calibration part (``eval.suite.part_of``) in ``part``."""
    import random

    from eval.runner import variant_index
    from eval.suite import part_of, read_set
    from index.build import BuildSettings
    from index.passage_index import PassageIndex
    from index.search import Searcher

    corpora: dict[str, Path] = {}
    for question_set in sets:
        corpora.setdefault(question_set.collection, question_set.corpus)
    asked: list[Asked] = []
    collections: dict[str, Collection] = {}
    for name, corpus in corpora.items():
        log(f"answerability: asking the {name} collection ({corpus})")
        index_dir = variant_index(corpus, BuildSettings(), encoder, milvus)
        searcher = Searcher(PassageIndex.load(index_dir, encoder.info), encoder)
        if searcher.background is None:  # an index saved before backgrounds were recorded
            searcher.background = searcher.measure_background()
        collections[name] = Collection(name, index_dir, searcher.background)
        for question_set in sets:
            questions, _ = read_set(question_set)
            own = question_set.collection == name
            if not own and len(questions) > other_questions:
                questions = random.Random(question_set.name).sample(questions, other_questions)
            for item in ask(searcher, name, questions, None if own else "offtopic"):
                item.part = part_of(question_set, item.question)
                item.question_set = question_set.name
                asked.append(item)
    return asked, collections


def answerability_rows(
    asked: Sequence[Asked], calibration: Calibration, collections: dict[str, Collection]
) -> list[dict]:
    """Per collection, kind and language: the share judged right, on the calibration part and held out."""
    backgrounds = {name: c.background for name, c in collections.items()}
    rows = []
    by_part = {part: rates([a for a in asked if a.part == part], calibration, backgrounds) for part in PARTS}
    groups = sorted({key for table in by_part.values() for key in table}, key=_order)
    found = rates(
        [a for a in asked if a.part == "heldout" and a.kind == "answerable" and a.retrieved], calibration, backgrounds
    )
    for collection, kind, lang in groups:
        row = {"collection": collection, "kind": kind, "lang": lang}
        for part in PARTS:
            right, n = by_part[part].get((collection, kind, lang), (0, 0))
            row[part] = {"right": right, "questions": n, "rate": round(right / n, 3) if n else None}
        if kind == "answerable":  # those whose answer is in the first hits: the judgement's own error
            right, n = found.get((collection, kind, lang), (0, 0))
            row["heldout_found"] = {"right": right, "questions": n, "rate": round(right / n, 3) if n else None}
        rows.append(row)
    return rows


PARTS = ("calibration", "heldout")


def _order(group: tuple[str, str, str]) -> tuple:
    collection, kind, lang = group
    return (collection != "bundled", collection, KINDS.index(kind), lang != "zh")


def answerability_table(rows: Sequence[dict], markdown: bool = False) -> str:
    """One line per collection, kind and language: judged right on the calibration part and held out."""
    header = ["collection", "kind", "lang", "calibration part", "held out", "held out, answer in first hits"]

    def cell(part: dict | None) -> str:
        return f"{part['rate']:.2f} ({part['right']}/{part['questions']})" if part and part["questions"] else "-"

    lines = [
        [
            r["collection"],
            r["kind"],
            r["lang"],
            cell(r["calibration"]),
            cell(r["heldout"]),
            cell(r.get("heldout_found")),
        ]
        for r in rows
    ]
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    table = [header, *lines]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)
