"""Question sets for retrieval evals: the project's gold JSONL (and, later, BEIR folders)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

WHITESPACE = re.compile(r"\s+")


def squeeze(text: str) -> str:
    """Remove all whitespace: evidence is compared this way (hard-wrapped sources differ in spaces)."""
    return WHITESPACE.sub("", text)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    lang: str = ""
    type: str = ""
    answerable: bool = True
    evidence: tuple[str, ...] = ()  # quotes; a passage containing one of them is relevant
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def is_relevant(self, passage: str) -> bool:
        squeezed = squeeze(passage)
        return any(squeeze(quote) in squeezed for quote in self.evidence)


class BadQuestionSet(ValueError):
    pass


def read_gold_jsonl(path: Path) -> list[Question]:
    """Lines of {id, question, lang?, type?, answerable?, evidence: [{quote, docs}]}."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            evidence = tuple(item["quote"] for item in record.get("evidence", []))
            questions.append(
                Question(
                    id=str(record["id"]),
                    question=record["question"],
                    lang=record.get("lang", ""),
                    type=record.get("type", ""),
                    answerable=bool(record.get("answerable", bool(evidence))),
                    evidence=evidence,
                    extra={k: v for k, v in record.items() if k in ("answer",)},
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise BadQuestionSet(f"{path}:{number}: not a gold question line ({error})") from error
    if not questions:
        raise BadQuestionSet(f"{path} holds no questions")
    return questions
