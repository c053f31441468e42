"""Sentence spans, for scoring and highlighting the sentence that answers a question."""

from __future__ import annotations

import re

# A sentence ends at Chinese or Latin end punctuation (with any closing quotes/brackets
# that follow it) or at a paragraph break.
WORD_CHAR = re.compile(r"[\w\u3400-\u9fff]")
SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」』）)\]】]*|\.(?=\s)|\n+")
MIN_SENTENCE_CHARS = 4


def sentence_spans(text: str, base: int = 0) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, shifted by ``base``; whitespace trimmed."""
    spans = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    trimmed = []
    for begin, end in spans:
        piece = text[begin:end]
        stripped = piece.strip()
        if not WORD_CHAR.search(stripped):  # "....", lone punctuation: nothing to match or highlight
            continue
        if len(stripped) < MIN_SENTENCE_CHARS:
            if trimmed and stripped:  # a fragment joins the sentence before it
                trimmed[-1] = (trimmed[-1][0], base + begin + len(piece.rstrip()))
            continue
        lead = len(piece) - len(piece.lstrip())
        trimmed.append((base + begin + lead, base + begin + lead + len(stripped)))
    return trimmed
