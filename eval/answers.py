"""Answer-level figures of grounded answers (issue 16): ask a question set's questions of a language model
through ``index.generate.ask`` and score what it wrote with the citation check (``index.generate.check``).

Per question set, over the questions the model was asked (retrieval judged them answerable):

- **supported**: of all answer sentences that make a claim (a sentence saying the passages do not answer is no
  claim: ``no_answer``), the share the checker marks supported — proven by a passage the sentence cites.
- **citation recall** (ALCE, Gao et al. 2023): a sentence is recall-positive when the passages it cites, together,
  support it — here, when the checker marks it supported (a sentence citing nothing is negative). Averaged per
  answer (positive claims / claims), then over the answers with at least one claim: ALCE's macro average. It
  differs from **supported** (pooled over every sentence) when answers have different numbers of sentences.
- **citation precision** (ALCE): a citation of a claim is precise when its sentence is supported and either the
  passage it names supports the sentence alone, or the sentence's other citations without it do not (removing it
  would break support). Both are asked of the checker again (``CheckerSupport``: the sentence with only that
  [n], and with every [n] but it). A sentence with one citation that is supported: that citation is precise. A
  citation of an unsupported sentence, or one naming no passage, is imprecise. Per answer precise / all
  citations of its claims (0 when its claims cite nothing), then the mean over answers, as ALCE does.
- **gold contained**: the question's gold ``answer`` field appears in the model's answer, both with [n] markers,
  all whitespace and the gold's closing punctuation removed, Latin letters case-folded and Chinese folded to
  Simplified (``index.script.fold``). Only where the two are in the same language (a Chinese gold for a Chinese
  answer, an English gold for an English answer); otherwise, or without a gold answer, n/a. The gold answers
  are whole sentences, so this is strict: **gold numbers** is the looser companion — every number of the gold
  answer (``10.51``, ``74.4``, ``2022``) is among the answer's numbers (same-language pairs with numbers only).
- **seconds per question**: from the question to the checked answer (retrieval, generation, check), and to the
  first streamed piece.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eval.question_sets import Question, squeeze

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CLOSING = "。．.！!？?；;，,"

# (sentence text, citations) -> whether the checker marks that sentence, citing those, supported
Supports = Callable[[str, list[int]], bool]


@dataclass
class AnswerScore:
    """One answer's figures (None where it has nothing to count)."""

    claims: int  # sentences making a claim
    supported: int  # of them, supported by what they cite (citation-recall-positive)
    no_answer: int  # sentences saying the passages do not answer
    citations: int  # citations of the claims
    precise: int  # of them, precise
    recall: float | None  # supported / claims
    precision: float | None  # precise / citations (0 when claims cite nothing)


def precise_citations(sentence, passages: int, supports: Supports) -> list[bool]:
    """For each citation of a claim sentence (in order), whether it is precise (module docstring)."""
    cites = list(sentence.citations)
    if not sentence.supported:
        return [False] * len(cites)
    valid = [n for n in cites if 1 <= n <= passages]
    if len(valid) == 1:
        return [n in valid for n in cites]
    flags = []
    for n in cites:
        if n not in valid:
            flags.append(False)
            continue
        rest = [m for m in valid if m != n]
        flags.append(supports(sentence.text, [n]) or not supports(sentence.text, rest))
    return flags


def score_answer(result, supports: Supports) -> AnswerScore:
    """Citation recall and precision of one checked answer (``GroundedAnswer``)."""
    passages = len(getattr(result.search, "hits", None) or [])
    claims = [s for s in result.sentences if not getattr(s, "no_answer", False)]
    held = sum(bool(s.supported) for s in claims)
    flags = [flag for s in claims for flag in precise_citations(s, passages, supports)]
    return AnswerScore(
        claims=len(claims),
        supported=held,
        no_answer=len(result.sentences) - len(claims),
        citations=len(flags),
        precise=sum(flags),
        recall=held / len(claims) if claims else None,
        precision=(sum(flags) / len(flags) if flags else 0.0) if claims else None,
    )


def _language(text: str) -> str:
    from index.generate.prompt import answer_language

    return "en" if answer_language(text) == "en" else "zh"


def _comparable(text: str) -> str:
    from index.generate.check import MARKER
    from index.script import fold

    return fold(squeeze(MARKER.sub("", text))).casefold().rstrip(CLOSING)


def gold_contained(answer: str, gold: str) -> bool | None:
    """Whether the gold answer appears in the answer (module docstring); None: n/a."""
    if not gold or not gold.strip() or not answer.strip() or _language(gold) != _language(answer):
        return None
    return _comparable(gold) in _comparable(answer)


def _numbers(text: str) -> set[str]:
    from index.generate.check import MARKER

    return {n.replace(",", "") for n in NUMBER.findall(MARKER.sub("", text))}


def gold_numbers(answer: str, gold: str) -> bool | None:
    """Whether every number of the gold answer is in the answer; None: n/a (other language, no numbers)."""
    if gold_contained(answer, gold) is None or not _numbers(gold):
        return None
    return _numbers(gold) <= _numbers(answer)


@dataclass
class AnswerRecord:
    question: Question
    result: object | None  # the GroundedAnswer
    seconds: float
    first_piece: float | None = None  # seconds to the first streamed piece (None: not asked)
    score: AnswerScore | None = None
    contained: bool | None = None
    numbers: bool | None = None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def answer_metrics(records: Sequence[AnswerRecord]) -> dict:
    """The set's figures (module docstring); shares are None where nothing counts."""
    asked = [r for r in records if r.result is not None and r.result.asked]
    scores = [r.score for r in asked if r.score is not None]
    claims = sum(s.claims for s in scores)
    contained = [r.contained for r in asked if r.contained is not None]
    numbers = [r.numbers for r in asked if r.numbers is not None]
    firsts = [r.first_piece for r in asked if r.first_piece is not None]
    return {
        "questions": len(records),
        "asked": len(asked),
        "not_asked": len(records) - len(asked),
        "sentences": claims,
        "no_answer_sentences": sum(s.no_answer for s in scores),
        "supported": sum(s.supported for s in scores) / claims if claims else None,
        "citation_recall": _mean([s.recall for s in scores if s.recall is not None]),
        "citation_precision": _mean([s.precision for s in scores if s.precision is not None]),
        "gold_contained": _mean([float(c) for c in contained]),
        "gold_contained_n": len(contained),
        "gold_numbers": _mean([float(c) for c in numbers]),
        "gold_numbers_n": len(numbers),
        "seconds_per_question": _mean([r.seconds for r in records]),
        "seconds_per_answer": _mean([r.seconds for r in asked]),
        "first_piece_seconds": _mean(firsts),
    }


class CheckerSupport:
    """``Supports`` for one answer: the checker run again on one sentence with other citations."""

    def __init__(self, searcher, hits, config=None):
        self.searcher, self.hits, self.config = searcher, hits, config
        self._seen: dict[tuple[str, tuple[int, ...]], bool] = {}

    def __call__(self, text: str, cites: list[int]) -> bool:
        from index.generate.check import check_answer

        key = (text, tuple(cites))
        if key not in self._seen:
            if not cites:
                self._seen[key] = False
            else:
                marked = text + "".join(f"[{n}]" for n in cites)
                checks = check_answer(
                    marked, self.hits, self.searcher.encoder, self.searcher.index.translator, self.config
                )
                self._seen[key] = bool(checks) and all(c.supported for c in checks)
        return self._seen[key]


def answer_questions(
    searcher,
    questions: Sequence[Question],
    llm,
    limit: int | None = None,
    k: int = 5,
    log: Callable[[str], None] = lambda message: None,
    progress: Callable[[int, int], None] | None = None,
) -> list[AnswerRecord]:
    """The first ``limit`` answerable questions asked of the model (``index.generate.ask``), checked and scored.
    An endpoint error (``LLMError``) stops the run: every later question would meet it too."""
    from index.generate.ask import Checked, Token, ask
    from index.generate.endpoint import ChatClient

    chosen = [q for q in questions if q.answerable][: limit if limit is not None else None]
    client = ChatClient(llm)
    records = []
    for number, question in enumerate(chosen, 1):
        started = time.perf_counter()
        first = result = None
        for event in ask(searcher, question.question, llm, k=k, client=client):
            if isinstance(event, Token) and first is None:
                first = time.perf_counter() - started
            elif isinstance(event, Checked):
                result = event.result
        seconds = time.perf_counter() - started
        record = AnswerRecord(question, result, seconds, first)
        if result is not None and result.asked:
            record.score = score_answer(result, CheckerSupport(searcher, result.search.hits))
            gold = str(question.extra.get("answer") or "")
            record.contained = gold_contained(result.text, gold)
            record.numbers = gold_numbers(result.text, gold)
        records.append(record)
        state = "not asked (unanswerable)" if result is None or not result.asked else (
            f"{record.score.supported}/{record.score.claims} supported, first piece {first or 0:.1f} s"
        )  # fmt: skip
        log(f"  answer {number}/{len(chosen)} {question.id}: {seconds:.1f} s, {state}")
        if progress:
            progress(number, len(chosen))
    return records


@dataclass
class AnswerRun:
    name: str  # the question set
    records: list[AnswerRecord]
    model: str
    metrics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.metrics = self.metrics or answer_metrics(self.records)

    def to_json(self) -> dict:
        rows = []
        for r in self.records:
            row = {"id": r.question.id, "seconds": round(r.seconds, 2), "asked": bool(r.result and r.result.asked)}
            if r.first_piece is not None:
                row["first_piece_s"] = round(r.first_piece, 2)
            if r.score is not None:
                row |= {"claims": r.score.claims, "supported": r.score.supported, "citations": r.score.citations}
                row |= {"precise": r.score.precise, "gold_contained": r.contained, "gold_numbers": r.numbers}
                row["answer"] = r.result.text
            rows.append(row)
        return {"model": self.model, "metrics": rounded(self.metrics), "questions": rows}


def rounded(metrics: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


COLUMNS = (
    ("asked", "asked"),
    ("not_asked", "not asked"),
    ("sentences", "sentences"),
    ("supported", "supported"),
    ("citation_recall", "citation recall"),
    ("citation_precision", "citation precision"),
    ("gold_contained", "gold contained"),
    ("gold_numbers", "gold numbers"),
    ("seconds_per_answer", "s/answer"),
    ("first_piece_seconds", "s to first piece"),
)


def cell(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    if value is None:
        return "n/a"
    if key in ("gold_contained", "gold_numbers"):
        return f"{value:.3f} (n={metrics[key + '_n']})"
    if key.endswith("seconds") or key.startswith("seconds"):
        return f"{value:.1f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def answer_rows(runs: Sequence[AnswerRun]) -> list[list[str]]:
    rows = [["set", "model", *(title for _, title in COLUMNS)]]
    rows += [[run.name, run.model, *(cell(run.metrics, key) for key, _ in COLUMNS)] for run in runs]
    return rows


def answer_table(runs: Sequence[AnswerRun], markdown: bool = False) -> str:
    rows = answer_rows(runs)
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|---" * len(rows[0]) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows[1:]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


ABOUT = (
    "Answers written by the language model from the top passages, each sentence checked against the passages it "
    "cites. supported: share of claim sentences proven by what they cite; citation recall / precision: ALCE's, "
    "with the citation check as judge (mean per answer); gold contained: the gold answer inside the answer "
    "(whitespace removed, same language only, else n/a); gold numbers: every number of the gold answer in it; "
    "s/answer: seconds from question to checked answer. Only questions judged answerable are asked."
)


def write_answers_report(runs: Sequence[AnswerRun], out) -> None:
    """``out/answers.json`` (every question's figures and answer) and a section at the end of ``out/report.md``."""
    import json
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = {run.name: run.to_json() for run in runs}
    (out / "answers.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    report = out / "report.md"
    before = report.read_text(encoding="utf-8") if report.exists() else ""
    section = f"\n## Grounded answers\n\n{ABOUT}\n\n{answer_table(runs, markdown=True)}\n"
    report.write_text(before + section, encoding="utf-8")
