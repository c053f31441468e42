"""Is the question answered? The collection's background and the calibrated judgement of the evidence
(``index.answerability``) each hit gives.

``Background`` is what unrelated questions score in this index, measured at build time and kept in the
manifest. ``Calibration`` maps evidence to P(the passage answers) by logistic regression (fitted with
``python -m eval --calibrate`` on questions of several collections); the question is answerable when its
best hit reaches the calibration's threshold.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index import lexicon
from index.answerability import Evidence

QUESTION_HITS = 3  # a question is judged by its best hit among the first three


@dataclass(frozen=True)
class Background:
    """What unrelated questions score in this index: the level a real answer must rise above.

    Measured when the index is built, by asking it the bundled background questions (generic questions of
    many domains, lexicon/background_questions.jsonl), and kept in its manifest: per language, the
    ``quantile`` of their best similarities (``levels``), and the evidence of their first hits
    (``samples``), so that any calibration can place its threshold among them."""

    quantile: float = 0.9
    levels: dict = field(default_factory=dict)  # {"zh": {"similarity": q, "second": q}, "en": {…}}
    samples: tuple = ()  # per background question: its first hits' Evidence

    def level(self, english: bool, measure: str = "similarity") -> float:
        return float(self.levels.get("en" if english else "zh", {}).get(measure, 0.0))

    # The evidence the samples hold; a background recorded with other evidence is measured again.
    VERSION = 3

    def to_dict(self) -> dict:
        return {
            "version": self.VERSION,
            "quantile": self.quantile,
            "levels": self.levels,
            "samples": [[e.to_dict() for e in hits] for hits in self.samples],
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Background | None:
        if not data or "levels" not in data or data.get("version") != cls.VERSION:
            return None
        known = set(Evidence.__dataclass_fields__)
        try:  # recorded by another version of CiteLens: what it lacks is measured again (None)
            samples = tuple(
                tuple(Evidence(**{k: v for k, v in e.items() if k in known}) for e in hits)
                for hits in data.get("samples", ())
            )
        except TypeError:
            return None
        return cls(data.get("quantile", 0.9), data["levels"], samples)


def measure_background(ask: Callable[[str], list[Evidence]], quantile: float = 0.9) -> Background | None:
    """Ask the background questions (``ask`` gives the evidence of a question's first hits) and keep their
    levels and evidence; None when the questions file is missing."""
    import numpy as np

    samples = [hits for _, question in background_questions() if (hits := ask(question))]
    if not samples:
        return None
    levels: dict[str, dict[str, float]] = {}
    for language, english in (("zh", False), ("en", True)):
        first = [hits[0] for hits in samples if hits[0].english == english]
        if not first:
            continue
        levels[language] = {"similarity": round(float(np.quantile([e.similarity for e in first], quantile)), 6)}
        second = [e.second for e in first if e.second is not None]
        if second:
            levels[language]["second"] = round(float(np.quantile(second, quantile)), 6)
    return Background(quantile, levels, tuple(tuple(hits) for hits in samples))


def background_questions() -> list[tuple[str, str]]:
    """(language, question) of lexicon/background_questions.jsonl."""
    path = lexicon.path("background_questions.jsonl")
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["lang"], row["question"]) for row in rows]


def language(english: bool) -> str:
    return "en" if english else "zh"


@dataclass(frozen=True)
class Calibration:
    """Logistic map from a hit's evidence (weighed against the collection's background) to the probability
    that it answers the question; and where a question counts as not answered by the collection.

    A question is answerable when its best hit's relevance reaches the threshold of its language. With a
    measured background the threshold is the ``background_quantile`` of the background questions' best
    relevance in this index (a collection where unrelated questions score high needs more); without one it
    is the fixed ``thresholds``. Both are fitted by ``python -m eval --calibrate``."""

    coefficients: tuple[float, ...] = ()  # one per feature, in FEATURES order
    intercept: float = 0.0
    background_quantile: dict = field(default_factory=dict)  # {"zh": q, "en": q}
    thresholds: dict = field(default_factory=dict)  # {"zh": t, "en": t}, without a background
    features: tuple[str, ...] = ()

    # Each measure for Chinese questions, and again for English ones (where it means something else: an
    # English question's similarity to Chinese text is lower and noisier, its coverage goes through a
    # dictionary), so one model holds one weighting per language.
    MEASURES = ("margin", "second_margin", "coverage", "absent", "slot_missing", "numbers_missing")
    FEATURES = (*MEASURES, "english", *(f"{m}*english" for m in MEASURES))

    @classmethod
    def vector(cls, e: Evidence, background: Background | None) -> tuple[float, ...]:
        margin = e.similarity - background.level(e.english) if background else 0.0
        second_margin = e.second - background.level(e.english, "second") if background and e.second is not None else 0.0
        values = (margin, second_margin, e.coverage, e.absent, e.slot_missing, e.numbers_missing)
        english = float(e.english)
        return (*values, english, *(v * english for v in values))

    @property
    def fitted(self) -> bool:
        return bool(self.coefficients)

    def relevance(self, e: Evidence, background: Background | None) -> float | None:
        if not self.fitted:
            return None
        z = self.intercept + sum(c * f for c, f in zip(self.coefficients, self.vector(e, background), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def question_relevance(self, hits: Sequence[Evidence], background: Background | None) -> float | None:
        """The question's relevance: its best hit's, among the first QUESTION_HITS."""
        values = [self.relevance(e, background) for e in hits[:QUESTION_HITS]]
        return max((v for v in values if v is not None), default=None)

    def thresholds_in(self, background: Background | None) -> dict[str, float]:
        """Per language, the relevance a question's best hit needs in this collection."""
        import numpy as np

        thresholds = {lang: float(t) for lang, t in self.thresholds.items()}
        if background is None or not self.fitted:
            return thresholds
        for lang, q in self.background_quantile.items():
            scores = [
                self.question_relevance(hits, background)
                for hits in background.samples
                if hits and language(hits[0].english) == lang
            ]
            if scores:
                thresholds[lang] = float(np.quantile(scores, q))
        return thresholds

    def to_dict(self) -> dict:
        return {
            "coefficients": [round(c, 6) for c in self.coefficients],
            "intercept": round(self.intercept, 6),
            "background_quantile": self.background_quantile,
            "thresholds": self.thresholds,
            "features": list(self.FEATURES),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        if tuple(data.get("features", ())) != cls.FEATURES:  # fitted on other evidence: unusable, never guessed
            return cls()
        return cls(
            tuple(data["coefficients"]),
            data["intercept"],
            dict(data.get("background_quantile", {})),
            dict(data.get("thresholds", {})),
            tuple(data["features"]),
        )


CALIBRATION_NAME = "calibration.json"
BUNDLED_CALIBRATIONS = Path(__file__).with_name("calibration")


def calibration_file_name(model_name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", Path(model_name).name or model_name) + ".json"


def load_calibration(model_name: str, index_dir: Path | None = None) -> Calibration:
    """The calibration fitted for this model: beside the index if one was fitted there (``eval
    --calibrate``), else the one shipped with CiteLens (index/calibration/), else none (relevance is then
    unknown, never guessed)."""
    candidates: Sequence[Path] = []
    if index_dir is not None:
        candidates = [Path(index_dir) / CALIBRATION_NAME]
    candidates = [*candidates, BUNDLED_CALIBRATIONS / calibration_file_name(model_name)]
    for path in candidates:
        if path.is_file():
            table = json.loads(path.read_text(encoding="utf-8"))
            entry = table.get(model_name) if "coefficients" not in table else table
            if entry:
                return Calibration.from_dict(entry)
    return Calibration()
