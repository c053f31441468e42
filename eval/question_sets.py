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
    relevant_docs: tuple[tuple[str, int], ...] = ()  # BEIR-style judgements: (document id, grade)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def judged_by_document(self) -> bool:
        return bool(self.relevant_docs)

    def is_relevant(self, passage: str, doc: str = "") -> bool:
        if self.relevant_docs:
            return any(doc == judged and grade > 0 for judged, grade in self.relevant_docs)
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
                    extra={
                        **{k: v for k, v in record.items() if k in ("answer", "about")},
                        "docs": [doc for item in record.get("evidence", []) for doc in item.get("docs", [])],
                    },
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise BadQuestionSet(f"{path}:{number}: not a gold question line ({error})") from error
    if not questions:
        raise BadQuestionSet(f"{path} holds no questions")
    return questions


@dataclass
class BeirSet:
    questions: list[Question]
    documents: dict[str, tuple[str, str]]  # BEIR document id -> (title, text)


def read_beir(folder: Path, split: str = "test") -> BeirSet:
    """A BEIR folder: corpus.jsonl ({_id, title, text}), queries.jsonl ({_id, text}), qrels/<split>.tsv."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not needed.exists():
            raise BadQuestionSet(f"{folder} is not a BEIR folder: {needed.relative_to(folder)} is missing")
    documents = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            documents[str(record["_id"])] = (record.get("title", ""), record["text"])
    judgements: dict[str, dict[str, int]] = {}
    for number, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines()):
        fields = line.split("\t")
        if number == 0 and not fields[-1].strip().lstrip("-").isdigit():
            continue  # header: query-id corpus-id score
        if len(fields) >= 3:
            judgements.setdefault(fields[0], {})[fields[1]] = int(fields[-1])
    questions = []
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        qid = str(record["_id"])
        if qid in judgements:
            relevant = tuple(sorted(judgements[qid].items()))
            questions.append(
                Question(
                    qid,
                    record["text"],
                    lang=record.get("lang", ""),
                    relevant_docs=relevant,
                    answerable=any(grade > 0 for _, grade in relevant),
                )
            )
    if not questions:
        raise BadQuestionSet(f"{folder}: no query has judgements in {qrels_path.name}")
    return BeirSet(questions, documents)


def beir_file_name(doc_id: str) -> str:
    """A safe, reversible file name for a BEIR document id (ids may hold '/' or spaces)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else f"%{ord(ch):04x}" for ch in doc_id) + ".txt"


def write_beir_corpus(beir: BeirSet, folder: Path) -> None:
    """The BEIR documents as files, so they are ingested and indexed like any user corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in beir.documents.items():
        front = f"---\ntitle: {' '.join(title.split()) or doc_id}\n---\n\n" if title else ""
        (folder / beir_file_name(doc_id)).write_text(front + text + "\n", encoding="utf-8")
