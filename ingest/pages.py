"""Pages of a document: where each page starts in the cleaned text, and the page of any offset.

A reader of a paged format (PDF) records where each page starts in the text it returns; cleaning then
removes and joins text (markup, lone punctuation, spaces, line breaks), so those offsets no longer hold.
They are carried over by aligning the cleaned text to the reader's text: cleaning keeps the order of
what it keeps, so each cleaned character is matched to the next equal raw character, and where the two
differ (a character cleaning changed or removed) the alignment resumes at the next place where the
following few characters agree. Each cleaned character is then on the page of the raw character it came
from, and a page starts at its first character.
"""

from __future__ import annotations

import bisect
import unicodedata

from ingest.clean import fold_compatibility_characters

_RESYNC = 8  # characters that must agree to resume the alignment after a difference


def _comparable(raw: str) -> tuple[str, list[int]]:
    """The raw text as cleaning would spell it, without whitespace, and each character's raw offset."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(fold_compatibility_characters(raw)):
        if "\ufe10" <= ch <= "\ufe4f":  # vertical forms, which cleaning folds (one may become several)
            ch = unicodedata.normalize("NFKC", ch)
        for part in ch:
            if not part.isspace():
                chars.append(part)
                origin.append(index)
    return "".join(chars), origin


def raw_offsets(raw: str, cleaned: str) -> list[int]:
    """For each character of ``cleaned``: the offset in ``raw`` it came from (a character cleaning added, or
    whitespace, gets the offset of the raw character matched before it)."""
    raw_chars, origin = _comparable(raw)
    offsets = [0] * len(cleaned)
    j = 0  # next raw character to match
    last = 0
    for i, ch in enumerate(cleaned):
        if ch.isspace():
            offsets[i] = last
            continue
        if j < len(raw_chars) and raw_chars[j] == ch:
            found = j
        else:
            ahead = "".join(c for c in cleaned[i : i + 4 * _RESYNC] if not c.isspace())[:_RESYNC]
            found = raw_chars.find(ahead, j)
            if found < 0:
                found = raw_chars.find(ahead)  # anywhere, in case cleaning moved text
        if found < 0:  # a character cleaning added: it stays where the alignment is
            offsets[i] = last
            continue
        last = origin[found]
        offsets[i] = last
        j = found + 1
    return offsets


def carry_page_starts(raw: str, raw_page_starts: list[int], cleaned: str) -> list[int]:
    """Where each page starts in ``cleaned``, given where it started in ``raw``. A page none of whose text
    survived starts where the next one does; page 1 starts at 0."""
    if not raw_page_starts:
        return []
    starts = [len(cleaned)] * len(raw_page_starts)
    reached = 0  # pages are reached in order, even if the alignment jumped back
    for i, offset in enumerate(raw_offsets(raw, cleaned)):
        if cleaned[i].isspace():
            continue
        page = bisect.bisect_right(raw_page_starts, offset) - 1
        while reached < page:
            reached += 1
            starts[reached] = i
    starts[0] = 0
    for page in range(len(starts) - 2, -1, -1):
        starts[page] = min(starts[page], starts[page + 1])
    return starts


def page_of(page_starts: list[int], offset: int) -> int:
    """1-based page of a text offset; 0 for a document without pages."""
    return bisect.bisect_right(page_starts, offset) if page_starts else 0


def page_span(page_starts: list[int], start: int, end: int) -> tuple[int, int]:
    """(first page, last page) of the text ``[start, end)``; (0, 0) for a document without pages."""
    return page_of(page_starts, start), page_of(page_starts, max(start, end - 1))
