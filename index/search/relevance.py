"""Stage 7, relevance: each hit's evidence, and whether the collection answers the question at all."""

from __future__ import annotations

from index.answer_calibration import Background, Calibration
from index.answerability import Evidence, QuestionTerms


def judge(
    found: list[Evidence],
    terms: QuestionTerms,
    calibration: Calibration,
    background: Background | None,
    thresholds: dict[str, float],
) -> tuple[bool, float | None]:
    """(answerable, the question's relevance): hits whose evidence clears the collection's threshold for the
    question's language, and a question with a subject (one of nothing but numbers and symbols is not)."""
    relevance = calibration.question_relevance(found, background)
    threshold = thresholds.get("en" if terms.english else "zh")
    answerable = (
        bool(found) and terms.has_subject and (relevance is None or threshold is None or relevance >= threshold)
    )
    return answerable, relevance
