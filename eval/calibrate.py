"""Calibrated relevance and the "answerable" judgement: fit, and report how well they work.

Each hit is described by its similarity (best of passage and sentence cosine), its
keyword coverage and the question's language (English questions score lower cosines
with Chinese text). A logistic regression maps these to P(the hit answers), fitted on
the top hits of a gold set; the threshold on the best hit's P keeps 95% of the
answerable questions of that set on the "answered" side.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.question_sets import Question
from index.search import CALIBRATION_FILE, CJK, Calibration, Searcher


@dataclass
class HitFeatures:
    question_id: str
    answerable: bool
    relevant: bool
    similarity: float
    coverage: float
    english: bool

    def vector(self) -> list[float]:
        return list(Calibration.features(self.similarity, self.coverage, self.english))


def collect_features(searcher: Searcher, questions: Sequence[Question], k: int = 10) -> list[HitFeatures]:
    rows = []
    for question in questions:
        for hit in searcher.search(question.question, k):
            rows.append(
                HitFeatures(
                    question.id,
                    question.answerable,
                    question.answerable and question.is_relevant(hit.text),
                    hit.similarity,
                    hit.coverage,
                    not CJK.search(question.question),
                )
            )
    return rows


def best_per_question(rows: Sequence[HitFeatures], calibration: Calibration) -> dict[str, tuple[bool, float]]:
    best: dict[str, tuple[bool, float]] = {}
    for row in rows:
        p = calibration.relevance(row.similarity, row.coverage, row.english) or 0.0
        if row.question_id not in best or p > best[row.question_id][1]:
            best[row.question_id] = (row.answerable, p)
    return best


ANSWERABLE_RECALL = 0.95


def fit_calibration(rows: Sequence[HitFeatures]) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    x = np.array([row.vector() for row in rows])
    y = np.array([row.relevant for row in rows])
    model = LogisticRegression(C=10.0, max_iter=1000).fit(x, y)
    calibration = Calibration(tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]))
    best = list(best_per_question(rows, calibration).values())
    answerable_scores = np.array([p for answerable, p in best if answerable])
    # Saying "not answered" to a question the corpus answers costs a reader more than showing weak
    # passages to one it does not: keep ANSWERABLE_RECALL of answerable questions above the threshold.
    threshold = float(np.quantile(answerable_scores, 1 - ANSWERABLE_RECALL)) if len(answerable_scores) else 0.5
    return Calibration(calibration.coefficients, calibration.intercept, round(threshold, 4))


def answerability_report(rows: Sequence[HitFeatures], calibration: Calibration) -> dict:
    """How well the best hit's relevance separates answerable from unanswerable questions."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    best = list(best_per_question(rows, calibration).values())
    answerable = np.array([a for a, _ in best])
    scores = np.array([p for _, p in best])
    said = scores >= calibration.threshold
    report = {
        "questions": len(best),
        "unanswerable": int((~answerable).sum()),
        "threshold": calibration.threshold,
        "answerable_recall": float(said[answerable].mean()) if answerable.any() else None,
        "unanswerable_recall": float((~said[~answerable]).mean()) if (~answerable).any() else None,
        "auc": float(roc_auc_score(answerable, scores)) if 0 < answerable.sum() < len(answerable) else None,
    }
    probabilities = [calibration.relevance(r.similarity, r.coverage, r.english) or 0.0 for r in rows]
    report["hit_brier"] = float(brier_score_loss([r.relevant for r in rows], probabilities))
    return report


def save_calibration(model_name: str, calibration: Calibration, path: Path = CALIBRATION_FILE) -> None:
    table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    table[model_name] = {
        "coefficients": list(calibration.coefficients),
        "intercept": calibration.intercept,
        "threshold": calibration.threshold,
        "features": list(Calibration.FEATURES),
    }
    path.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
