"""Stage 1, the question: checked, and what it says about where to look (kinds of document, years).

A question may say which document to look in: by its kind ("按白皮书的说法", "the 2019 concept paper") or its
year. In passage text kind words mark passages *about* a document (news of its release) rather than ones
that answer from it, so they are matched against document titles only, and years also against dates.
The kinds are data (index/lexicon/document_kinds.tsv); without the file no word is treated as a kind.
"""

from __future__ import annotations

import functools
import re

from index import lexicon

MAX_QUESTION_CHARS = 2000
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


class BadQuestion(ValueError):
    pass


def validate_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadQuestion(f"The question must be text, not {type(question).__name__}.")
    text = " ".join(question.split())
    if not text:
        raise BadQuestion("The question is empty: type a question in Chinese or English.")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"The question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}.")
    return text


@functools.cache
def traditional_to_simplified():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese: how questions were compared with an index built without folding."""
    return traditional_to_simplified().convert(text) if CJK.search(text) else text


@functools.cache
def document_kinds() -> tuple[re.Pattern | None, tuple[tuple[re.Pattern, str], ...]]:
    """(the Chinese kind words as one pattern, longest first; (English pattern, Chinese kind) pairs)."""
    rows = lexicon.table("document_kinds.tsv")
    chinese = sorted({row[0] for row in rows if row[0]}, key=len, reverse=True)
    english = tuple(
        (re.compile(rf"\b(?:{row[1]})\b", re.IGNORECASE), row[0]) for row in rows if len(row) > 1 and row[1]
    )
    return (re.compile("|".join(map(re.escape, chinese))) if chinese else None), english


@functools.lru_cache(maxsize=256)  # the keyword side and the document references both ask, once a question
def document_kind_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where the question names a kind of document, as whole words: 报告 in 工作报告, not in 报告会."""
    import jieba

    kinds, _ = document_kinds()
    if kinds is None:
        return ()
    bounds, position = {0}, 0
    for token in jieba.lcut(text):
        position += len(token)
        bounds.add(position)
    return tuple(m.span() for m in kinds.finditer(text) if m.start() in bounds and m.end() in bounds)


def without_document_kinds(text: str) -> str:
    """The question without the kinds of document it names (Chinese words and English phrases)."""
    for start, end in reversed(document_kind_spans(text)):
        text = f"{text[:start]} {text[end:]}"
    for pattern, _ in document_kinds()[1]:
        text = pattern.sub(" ", text)
    return text


def document_references(text: str) -> list[str]:
    """The kinds of document (in Chinese) and the years a question names."""
    kinds = [text[start:end] for start, end in document_kind_spans(text)]
    kinds += [kind for pattern, kind in document_kinds()[1] if pattern.search(text)]
    return list(dict.fromkeys(kinds + YEAR.findall(text)))
