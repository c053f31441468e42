"""Clean text → Document: metadata, paragraphs with numbers, headings with levels, section paths.

Heading levels: ``一、`` / ``第一章`` = 1, ``（一）`` / ``第一节`` = 2, ``1.`` / ``1、`` / ``（1）`` = 3,
markdown ``#`` = number of #, a bold line = level of its numbering (else 1), a named heading
(前言, 结束语, 目录 …) = 1. A paragraph's section is the stack of headings above it; a heading's own
section includes itself. A table of contents is kept as plain paragraphs under 目录, never as structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ingest import lexicon
from ingest.clean import (
    CHINESE_NUMERAL,
    HEADING_PREFIX,
    CleanText,
    clean_inline,
    dateline_agency,
    fold_compatibility_characters,
    is_named_heading,
    markup_heading_levels,
    strip_spaces,
)
from ingest.documents import Document, Paragraph
from ingest.pages import carry_page_starts
from ingest.readers import RawDocument

PARAGRAPH_SEPARATOR = "\n\n"
MAX_HEADING_CHARS = 50
_SENTENCE_MARKS = "。；！？!?;"


@dataclass(frozen=True)
class DocumentMetadata:
    title: str
    date: str = ""
    source: str = ""
    url: str = ""


# ---------------------------------------------------------------- metadata

_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})/(\d{1,2})/(\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})\.(\d{1,2})\.(\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?"),
)
_TRAILING_DATE_NOTE = re.compile(r"\s*[（(]\s*\d{4}\s*年[^（()）]*[）)]\s*$")
_SOURCE_LABEL = re.compile(r"来\s*源\s*[:：]\s*([^，,；;)）\s]+)")
_SOURCE_LINK = re.compile(r"原\s*文\s*链\s*接\s*[:：]?\s*(https?://[^\s,，]+)")
_HEADER_CHARS = 300  # where a date or source line of a document without front matter sits


def normalise_date(text: str) -> str:
    """First date in ``text`` → ``YYYY-MM-DD`` (or ``YYYY-MM`` when the day is missing); '' if none."""
    text = fold_compatibility_characters(text)  # ２０２２年１１月
    found = []
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match:
            found.append(match)
    if not found:
        return ""
    match = min(found, key=lambda m: m.start())
    year, month, day = match.group(1), int(match.group(2)), match.group(3)
    if not 1 <= month <= 12:
        return ""
    return f"{year}-{month:02d}-{int(day):02d}" if day else f"{year}-{month:02d}"


def _is_metadata_line(text: str) -> bool:
    bare = text.strip("（()） ")
    return (
        bool(_SOURCE_LABEL.match(bare))
        or bare.startswith(("http://", "https://"))
        or (normalise_date(bare) != "" and len(bare) <= 16)
    )


def derive_title(paragraphs: list[str], fallback: str) -> str:
    """First meaningful paragraph, without a trailing ``（2022年11月）``; the fallback if it is prose or a
    section heading (前言, 一、…: the text starts without a title)."""
    for text in paragraphs[:5]:
        if _is_metadata_line(text):
            continue
        title = _TRAILING_DATE_NOTE.sub("", text).strip()
        section_heading = is_named_heading(title) or numbering_level(title) is not None
        if title and len(title) <= 80 and not any(mark in title for mark in "。！？") and not section_heading:
            return title
        break
    return fallback


# ---------------------------------------------------------------- file properties (weak metadata)

# A title a program stored by itself: a URL (a page printed from a browser: about:blank), a file name.
_URL_TITLE = re.compile(r"^(?:about|https?|file|data|blob|chrome|edge|javascript):", re.IGNORECASE)
_FILE_NAME_TITLE = re.compile(r"\.(?:docx?|dotx?|pdf|txt|rtf|wps|odt|html?|md|pptx?|xlsx?|tex)$", re.IGNORECASE)
_OFFICE_TITLE = re.compile(r"^Microsoft (?:Word|PowerPoint|Excel|Office Word)\s*-\s*", re.IGNORECASE)
_TRAILING_COUNTER = re.compile(r"[\s_\-]*(?:\d+|[（(]\s*\d+\s*[）)])$")
_WORD_CHAR = re.compile(r"[^\W_]")


def generic_key(value: str) -> str:
    """How generic values are compared: case, spaces, underscores and a trailing counter ignored (文档1)."""
    return re.sub(r"[\s_]+", "", _TRAILING_COUNTER.sub("", value.strip())).casefold()


def _generic(name: str) -> frozenset[str]:
    return frozenset(generic_key(value) for value in lexicon.words(name))


def is_generic_title(title: str, path: Path | None = None) -> bool:
    """A file-property title that names nothing: empty, a URL, a file name, the file's own name, or a
    program's default (lexicon/generic_file_titles.txt)."""
    title = title.strip()
    return (
        not _WORD_CHAR.search(title)
        or bool(_URL_TITLE.match(title) or _FILE_NAME_TITLE.search(title) or _OFFICE_TITLE.match(title))
        or generic_key(title) in _generic("generic_file_titles")
        or (path is not None and generic_key(title) == generic_key(path.stem))
    )


def is_generic_author(author: str) -> bool:
    """An author a program or an account stored (python-docx, Administrator: lexicon/generic_file_authors.txt)."""
    return not _WORD_CHAR.search(author) or generic_key(author) in _generic("generic_file_authors")


def is_template_date(date: str) -> bool:
    """A creation date that came with a template or means "unset" (lexicon/template_dates.txt)."""
    return date in lexicon.word_set("template_dates")


def usable_file_properties(properties: dict[str, str], path: Path | None = None) -> dict[str, str]:
    """The file properties worth anything: generic titles and authors and template dates dropped."""
    usable = {}
    title, author = properties.get("title", "").strip(), properties.get("source", "").strip()
    date = normalise_date(properties.get("date", ""))
    if title and not is_generic_title(title, path):
        usable["title"] = clean_inline(title)
    if author and not is_generic_author(author):
        usable["source"] = author
    if date and not is_template_date(date):
        usable["date"] = date
    return usable


def derive_metadata(raw: RawDocument, cleaned_text: str) -> DocumentMetadata:
    """Each field from the strongest evidence that has it: what the author declared (front matter, HTML
    meta), then what the text itself says near its top (or in a trailing dateline), then the file's
    properties (PDF info, DOCX core properties), then the file name."""
    paragraphs = cleaned_text.split(PARAGRAPH_SEPARATOR)
    declared = raw.metadata
    weak = usable_file_properties(raw.file_properties, raw.path)
    header = cleaned_text[:_HEADER_CHARS]
    # Title: the text's first line is what a reader sees as the title; a file's title is often a template's.
    title = clean_inline(declared.get("title", "")) or derive_title(paragraphs, weak.get("title") or raw.path.stem)
    # Date: a date stated in the text is when the document was issued; a file's creation date is only when
    # that file was made (a copy, an export, a template), so it is the last resort.
    date = normalise_date(declared.get("date", "")) or normalise_date(header) or weak.get("date", "")
    # Source: the text names its publisher (来源：…, an agency's dateline); a file's author is whoever's
    # account saved it.
    source = declared.get("source", "").strip()
    if not source:
        label = _SOURCE_LABEL.search(header)
        source = label.group(1) if label else dateline_agency(header) or dateline_agency(paragraphs[-1])
    source = source or weak.get("source", "")
    url = declared.get("url", "").strip()
    if not url:
        link = _SOURCE_LINK.search(raw.text)
        url = link.group(1) if link else ""
    return DocumentMetadata(title=title, date=date, source=source, url=url)


# ---------------------------------------------------------------- headings


def numbering_level(text: str) -> int | None:
    """Level implied by a heading's numbering prefix, or None if it has none."""
    if not HEADING_PREFIX.match(text):
        return None
    if re.match(rf"[{CHINESE_NUMERAL}]+、|第[{CHINESE_NUMERAL}\d]+[章部篇]", text):
        return 1
    if re.match(rf"[（(][{CHINESE_NUMERAL}]+[）)]|第[{CHINESE_NUMERAL}\d]+节", text):
        return 2
    return 3


def _is_short_heading_text(text: str) -> bool:
    return len(text) <= MAX_HEADING_CHARS and not any(mark in text for mark in _SENTENCE_MARKS)


_PHOTO_CREDIT = re.compile(r"摄\s*(?:[（(][^（()）]*[）)])?$")


def _is_title_line(text: str) -> bool:
    """An unnumbered headline in typeset text (a newspaper article's title): short, no clause punctuation."""
    return (
        4 <= len(text) <= 70
        and not any(mark in text for mark in "，。；：！？,;:!?")
        and not text.startswith(("（", "("))
        and not text.endswith(("）", ")"))
        and not _PHOTO_CREDIT.search(text)
        and not normalise_date(text)
    )


def heading_levels(
    paragraphs: list[str],
    markup_levels: dict[str, int | None],
    title: str,
    typeset: bool = False,
) -> list[int | None]:
    """Level of each paragraph if it is a heading, else None.

    ``typeset`` (hard-wrapped newspaper text, which has no markup) also accepts unnumbered headlines,
    but only once body text has started, so the masthead lines under the title stay plain paragraphs.
    """
    levels: list[int | None] = []
    body_started = False
    for index, text in enumerate(paragraphs):
        level: int | None = None
        is_title = index == 0 and title and (text == title or text.startswith(title))
        if is_title:
            level = None
        elif text in markup_levels and (_is_short_heading_text(text) or markup_levels[text] is not None):
            level = markup_levels[text] or numbering_level(text) or 1
        elif is_named_heading(text):
            level = 1
        elif _is_short_heading_text(text) and numbering_level(text) is not None:
            level = numbering_level(text)
        elif typeset and body_started and _is_title_line(text):
            level = 1
        if level is None and len(text) > MAX_HEADING_CHARS:
            body_started = True
        levels.append(level)
    return levels


_TOC_MARKER = frozenset({"目录", "目次"})


def find_table_of_contents(paragraphs: list[str], levels: list[int | None]) -> tuple[int | None, list[int]]:
    """(index of the 目录 marker or None, indices of TOC entries).

    A TOC is a run of consecutive headings, cut where a title repeats (the body's first heading), that
    follows a 目录 marker or whose titles mostly come back later as headings. Its entries must not
    become the structure.
    """
    n = len(paragraphs)
    i = 0
    while i < n:
        if levels[i] is None:
            i += 1
            continue
        run_end = i
        seen: set[str] = set()
        while run_end < n and levels[run_end] is not None and paragraphs[run_end] not in seen:
            seen.add(paragraphs[run_end])
            run_end += 1
        marker = i if strip_spaces(paragraphs[i]) in _TOC_MARKER else None
        entries = list(range(i + 1 if marker is not None else i, run_end))
        later = {paragraphs[j] for j in range(run_end, n) if levels[j] is not None}
        returning = sum(1 for j in entries if paragraphs[j] in later)
        # With a 目录 marker the run itself is the evidence; without one, its titles must come back.
        if (marker is not None and len(entries) >= 2) or (len(entries) >= 3 and returning >= 0.75 * len(entries)):
            return marker, entries
        i = max(run_end, i + 1)
    return None, []


# ---------------------------------------------------------------- document


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph of a clean text (paragraphs separated by blank lines)."""
    spans = []
    position = 0
    for part in text.split(PARAGRAPH_SEPARATOR):
        stripped = part.strip()
        if stripped:
            start = position + part.index(stripped)
            spans.append((start, start + len(stripped)))
        position += len(part) + len(PARAGRAPH_SEPARATOR)
    return spans


def build_document(raw: RawDocument, cleaned: CleanText) -> Document:
    """Paragraphs (numbered from 1, headings included), headings, section paths and metadata."""
    cleaned_text = cleaned.text
    spans = paragraph_spans(cleaned_text)
    texts = [cleaned_text[start:end] for start, end in spans]
    metadata = derive_metadata(raw, cleaned_text)
    typeset = not raw.paragraphs_known and cleaned.hard_wrapped
    levels = heading_levels(texts, markup_heading_levels(raw.text), metadata.title, typeset)
    toc_marker, toc_entries = find_table_of_contents(texts, levels)
    for index in toc_entries:
        levels[index] = None

    stack: list[tuple[int, str]] = []
    paragraphs = []
    for index, ((start, end), text, level) in enumerate(zip(spans, texts, levels, strict=True)):
        if level is not None:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
        section = tuple(title for _, title in stack)
        if index in toc_entries and toc_marker is None:
            section = ()
        paragraphs.append(Paragraph(index + 1, start, end, section, is_heading=level is not None))
    return Document(
        doc_id=raw.doc_id,
        title=metadata.title,
        text=cleaned_text,
        paragraphs=paragraphs,
        source=metadata.source,
        url=metadata.url,
        date=metadata.date,
        content_hash=raw.content_hash,
        page_starts=carry_page_starts(raw.text, raw.page_starts, cleaned_text),
    )
