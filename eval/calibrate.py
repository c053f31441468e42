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
from index.answerability import CJK, QUESTION_HITS, Background, Calibration, Evidence, language
from index.hits import Hit

KINDS = ("answerable", "offtopic", "nearmiss")
ANSWERABLE_RECALL = 0.95  # of answerable questions kept on the "answered" side
HIGHEST_QUANTILE = 0.98  # thresholds are never placed above this share of the background questions


@dataclass
class Asked:
    """One question asked of one collection, and what came back."""

    collection: str
    question: Question
    kind: str  # answerable, offtopic or nearmiss
    hits: list[Hit]
    answerable_judged: bool | None = None  # the searcher's judgement, when it was asked with a calibration

    @property
    def lang(self) -> str:
        return language(not CJK.search(self.question.question))

    @property
    def evidence(self) -> list[Evidence]:
        return [hit.evidence for hit in self.hits[:QUESTION_HITS] if hit.evidence is not None]

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


def answerable_scores(
    asked: Sequence[Asked], calibration: Calibration, backgrounds: dict[str, Background | None], lang: str
) -> dict[str, np.ndarray]:
    """Per collection: the relevance of its answerable questions in this language."""
    scores: dict[str, list[float]] = defaultdict(list)
    for item in asked:
        if item.kind == "answerable" and item.lang == lang and item.evidence:
            scores[item.collection].append(calibration.question_relevance(item.evidence, backgrounds[item.collection]))
    return {collection: np.array(values) for collection, values in scores.items()}


def fit_thresholds(
    asked: Sequence[Asked],
    calibration: Calibration,
    backgrounds: dict[str, Background | None],
    recall: float = ANSWERABLE_RECALL,
) -> Calibration:
    """Per language, the background quantile at which answerable questions stay answered at ``recall`` on
    average over the collections (the highest such quantile, at most HIGHEST_QUANTILE), and the fixed
    threshold for indexes without a background (the pooled ``1 - recall`` quantile of answerable scores)."""
    from dataclasses import replace

    quantiles, thresholds = {}, {}
    for lang in ("zh", "en"):
        scores = answerable_scores(asked, calibration, backgrounds, lang)
        if not scores:
            continue
        thresholds[lang] = round(float(np.quantile(np.concatenate(list(scores.values())), 1 - recall)), 6)
        chosen = 0.5
        for q in np.arange(HIGHEST_QUANTILE, 0.495, -0.01):
            kept = []
            for collection, values in scores.items():
                probe = replace(calibration, background_quantile={lang: float(q)}, thresholds={})
                threshold = probe.thresholds_in(backgrounds[collection]).get(lang, thresholds[lang])
                kept.append(float(np.mean(values >= threshold)))
            if np.mean(kept) >= recall:
                chosen = float(q)
                break
        quantiles[lang] = round(chosen, 2)
    return replace(calibration, background_quantile=quantiles, thresholds=thresholds)


def fit_calibration(
    asked: Sequence[Asked], backgrounds: dict[str, Background | None], recall: float = ANSWERABLE_RECALL
) -> Calibration:
    return fit_thresholds(asked, fit_coefficients(asked, backgrounds), backgrounds, recall)


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
