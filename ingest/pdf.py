"""PDF → text with paragraphs, headings and pages, rebuilt from the layout (pdfplumber's characters).

A PDF holds positioned lines, not paragraphs. The reader:

1. reads every page's lines with their position, font size and font name (bold or not);
2. removes page furniture: lines repeated at the same place on most pages (running headers and
   footers, with digits ignored so "第 3 页" repeats) and bare page numbers in the top or bottom margin;
3. rebuilds paragraphs line by line: a paragraph ends where the next line is set in another style,
   after a vertical gap larger than the line spacing, before an indented line, or after a line that
   stops short of the column (and ends a sentence, or is much shorter); a paragraph that runs on to
   the next page is continued there;
4. marks headings: short paragraphs set larger than the body text, or bold where the body is not.
   They are written as markdown (``## 标题``, level by size: larger is higher) so structure.py gives
   them levels and section paths; a heading that is numbered (一、 / （一）) is written in bold
   (``**一、总体要求**``) so its numbering decides its level, as in every other format.

``page_starts`` records where each page's text starts in the output, for citations by page.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from ingest.clean import CJK_CHARS, FULLWIDTH_PUNCT, HEADING_PREFIX, ends_sentence, visual_width

HEADING_SIZE_RATIO = 1.15  # a line set this much larger than the body text can be a heading
MAX_HEADING_CHARS = 60
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|hei(?:ti)?\b|heiti|黑", re.IGNORECASE)
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-–—·\s]*(?:第\s*)?(?:\d{1,4}|[ivxlc]{1,7})\s*页?\s*"
    r"(?:(?:/|／|of|共)\s*\d{1,4}\s*页?)?[-–—·\s]*$",
    re.IGNORECASE,
)
_SENTENCE_MARKS = "。！？；!?;"
_CJK_OR_PUNCT_END = re.compile(f"[{CJK_CHARS}{FULLWIDTH_PUNCT}]$")
_CJK_OR_PUNCT_START = re.compile(f"^[{CJK_CHARS}{FULLWIDTH_PUNCT}]")
_MARGIN = 0.12  # top and bottom share of the page where headers, footers and page numbers sit
_EDGE_LINES = 2  # how many lines at each end of a page can be furniture


class PdfError(Exception):
    """A PDF that cannot be read; the message is for the person who supplied it."""


@dataclass
class Line:
    page: int  # 0-based
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float  # font size of most of its characters
    bold: bool
    in_margin: bool  # in the top or bottom margin of the page, where headers, footers and page numbers sit

    @property
    def style(self) -> tuple[float, bool]:
        return round(self.size * 2) / 2, self.bold


@dataclass
class PdfText:
    text: str  # paragraphs separated by "\n\n", headings as markdown (or plain lines: see paragraphs_known)
    page_starts: list[int]  # offset in text where each page's text starts (pages without text: where the next starts)
    properties: dict  # the PDF information dictionary (Title, Author, CreationDate …), keys without "/"
    paragraphs_known: bool = True  # False: the text is lines as extracted, paragraphs left to cleaning


# ---------------------------------------------------------------- reading


def _line_from(chars: list[dict], text: str, page: int, page_height: float, emboldened: set[int]) -> Line:
    visible = [c for c in chars if not c["text"].isspace()]
    sizes = Counter(round(float(c.get("size", 0)) * 2) / 2 for c in visible)
    size = sizes.most_common(1)[0][0] if sizes else 0.0
    # Bold: a bold face ("SimHei", "…-Bold"; subset prefixes "ABCDEF+" aside) or drawn twice (fake bold).
    bold_chars = sum(
        1 for c in visible if id(c) in emboldened or _BOLD_FONT.search(str(c.get("fontname", "")).split("+")[-1])
    )
    top, bottom = min(float(c["top"]) for c in chars), max(float(c["bottom"]) for c in chars)
    return Line(
        page=page,
        text=text,
        x0=min(float(c["x0"]) for c in chars),
        x1=max(float(c["x1"]) for c in chars),
        top=top,
        bottom=bottom,
        size=size,
        bold=bold_chars > 0.5 * len(visible),
        in_margin=top < _MARGIN * page_height or bottom > (1 - _MARGIN) * page_height,
    )


def read_lines(data: bytes) -> tuple[list[list[Line]], dict]:
    """Every page's text lines (top to bottom) and the document information dictionary."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    try:
        pdf = pdfplumber.open(BytesIO(data), password="")
    except Exception as error:  # a parser of untrusted bytes: any failure means "not readable"
        raise PdfError(_open_failure(error)) from error
    pages: list[list[Line]] = []
    try:
        with pdf:
            properties = {str(k).lstrip("/"): v for k, v in (pdf.metadata or {}).items()}
            for number, page in enumerate(pdf.pages):
                page, emboldened = _without_doubled_chars(page)
                lines = []
                for raw in page.extract_text_lines(strip=True, return_chars=True):
                    text = " ".join(raw["text"].split())
                    if text and raw["chars"]:
                        lines.append(_line_from(raw["chars"], text, number, float(page.height), emboldened))
                pages.append(sorted(lines, key=lambda line: (line.top, line.x0)))
    except (PDFPasswordIncorrect, PDFEncryptionError) as error:
        raise PdfError(_open_failure(error)) from error
    except Exception as error:
        raise PdfError(f"corrupt PDF: not a readable PDF ({type(error).__name__}: {error})") from error
    return pages, properties


def _without_doubled_chars(page) -> tuple[object, set[int]]:
    """The page without characters drawn twice at (nearly) the same place, which is how "fake bold" is drawn
    in fonts that have no bold face (宋体), and the ids of the characters that were drawn twice: bold.
    (pdfplumber's ``dedupe_chars`` removes them too, at three times the cost of reading the page.)"""
    kept: dict[tuple[str, int, int], int] = {}
    doubled: set[int] = set()
    emboldened: set[int] = set()
    for char in page.chars:
        x, y = round(float(char["x0"])), round(float(char["top"]))
        near = [kept.get((char["text"], x + dx, y + dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        first = next((found for found in near if found is not None), None)
        if first is None:
            kept[(char["text"], x, y)] = id(char)
        else:
            doubled.add(id(char))
            emboldened.add(first)
    return (page.filter(lambda obj: id(obj) not in doubled) if doubled else page), emboldened


def _open_failure(error: Exception) -> str:
    chain = [error, error.__cause__, error.__context__, *getattr(error, "args", ())]
    names = " ".join(type(e).__name__ for e in chain if isinstance(e, BaseException))
    if "PDFPasswordIncorrect" in names:
        return "encrypted PDF: it is password-protected (does not open without a password); save an unprotected copy"
    if "PDFEncryptionError" in names:
        return "encrypted PDF: encrypted with a method that cannot be read; save an unprotected copy"
    return f"corrupt PDF: not a readable PDF ({type(error).__name__}: {error})".replace("()", "")


# ---------------------------------------------------------------- page furniture


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def remove_furniture(pages: list[list[Line]], tolerance: float = 3.0) -> list[list[Line]]:
    """Without running headers and footers and bare page numbers.

    A running header or footer is a line at the same height on at least half the pages (two at least) with
    the same text, or with text that differs only in a number that goes up with the page ("第 3 页",
    "报告 · 3"); a body line that differs only in its numbers ("第7次会议…", "第15次会议…") is not one.
    A bare page number is one in the top or bottom margin. Only a page's first and last lines are
    candidates: a repeated line inside the text is text.
    """
    edges = [{id(line) for line in page[:_EDGE_LINES] + page[-_EDGE_LINES:]} for page in pages]
    places: dict[str, list[tuple[int, float, tuple[int, ...]]]] = defaultdict(list)
    for number, page in enumerate(pages):
        for line in page:
            if id(line) in edges[number]:
                places[_furniture_key(line.text)].append((number, line.top, _numbers(line.text)))
    needed = max(2, (len(pages) + 1) // 2)

    def repeated(line: Line) -> bool:
        same_place = {
            page: numbers
            for page, top, numbers in places[_furniture_key(line.text)]
            if abs(top - line.top) <= tolerance
        }
        if len(same_place) < needed:
            return False
        count = len(_numbers(line.text))
        if len({numbers for numbers in same_place.values()}) == 1:
            return True  # the same text on every page
        # Numbers that differ: one of them must follow the page number.
        return any(
            Counter(numbers[k] - page for page, numbers in same_place.items()).most_common(1)[0][1] >= needed
            for k in range(count)
        )

    kept = []
    for number, page in enumerate(pages):
        kept.append(
            [
                line
                for line in page
                if id(line) not in edges[number]
                or not (repeated(line) or (line.in_margin and _PAGE_NUMBER.match(line.text)))
            ]
        )
    return kept


# ---------------------------------------------------------------- paragraphs and headings


@dataclass
class _Body:
    size: float
    bold: bool
    gap: float  # usual space between consecutive lines of a paragraph
    left: dict[int, float]  # per page: where lines start
    right: dict[int, float]  # per page: where full lines end


def body_style(pages: list[list[Line]]) -> _Body:
    lines = [line for page in pages for line in page]
    weight = Counter()
    for line in lines:
        weight[line.style] += len(line.text)
    (size, bold), _ = weight.most_common(1)[0]
    body = [line for line in lines if line.style == (size, bold)]
    gaps = [
        b.top - a.bottom
        for page in pages
        for a, b in itertools.pairwise(page)
        if a.style == b.style == (size, bold) and 0 <= b.top - a.bottom < 3 * size
    ]
    left: dict[int, float] = {}
    right: dict[int, float] = {}
    all_left = statistics.mode(round(line.x0) for line in body)
    all_right = _upper(sorted(line.x1 for line in body))
    for number, page in enumerate(pages):
        page_body = [line for line in page if line.style == (size, bold)]
        left[number] = statistics.mode(round(line.x0) for line in page_body) if len(page_body) >= 3 else all_left
        right[number] = _upper(sorted(line.x1 for line in page_body)) if len(page_body) >= 3 else all_right
    return _Body(size, bold, statistics.median(gaps) if gaps else size * 0.5, left, right)


def _upper(values: list[float]) -> float:
    return values[(9 * len(values)) // 10] if values else 0.0


def _heading_style(line: Line, body: _Body) -> bool:
    larger = line.size >= body.size * HEADING_SIZE_RATIO
    bolder = line.bold and not body.bold and line.size >= body.size * 0.95
    return larger or bolder


def _heading_text(text: str) -> bool:
    return (
        visual_width(text) <= MAX_HEADING_CHARS
        and not any(mark in text for mark in _SENTENCE_MARKS)
        and not text.endswith(("，", ","))
        and bool(re.search(rf"[{CJK_CHARS}A-Za-z]", text))
    )


def _breaks(previous: Line, line: Line, body: _Body) -> bool:
    """Does ``line`` start a new paragraph after ``previous`` (the line before it, maybe on the page before)?"""
    if (_heading_style(previous, body) or _heading_style(line, body)) and previous.style != line.style:
        return True
    size = max(body.size, 1.0)
    left, right = body.left[previous.page], body.right[previous.page]
    if line.page == previous.page and line.top - previous.bottom > max(body.gap * 1.6, body.gap + 0.5 * size):
        return True  # a blank line's worth of space
    indented = line.x0 > body.left[line.page] + 0.8 * size
    if indented and (line.page != previous.page or line.x0 > previous.x0 + 0.8 * size):
        return True  # an indented first line
    short = previous.x1 < right - 1.5 * size
    much_shorter = previous.x1 < left + 0.6 * (right - left)
    return short and (ends_sentence(previous.text) or much_shorter)


def _join(before: str, after: str) -> str:
    if _CJK_OR_PUNCT_END.search(before) or _CJK_OR_PUNCT_START.match(after):
        return before + after
    if before.endswith("-") and after[:1].islower():
        return before[:-1] + after
    return f"{before} {after}"


@dataclass
class _Paragraph:
    lines: list[Line]
    text: str
    starts: list[tuple[int, int]]  # (page, offset in text) where each page's part begins

    @property
    def style(self) -> tuple[float, bool]:
        return self.lines[0].style


def build_paragraphs(pages: list[list[Line]], body: _Body) -> list[_Paragraph]:
    paragraphs: list[_Paragraph] = []
    previous: Line | None = None
    for page in pages:
        for line in page:
            if previous is None or _breaks(previous, line, body):
                paragraphs.append(_Paragraph([line], line.text, [(line.page, 0)]))
            else:
                paragraph = paragraphs[-1]
                joined = _join(paragraph.text, line.text)
                if line.page != previous.page:
                    paragraph.starts.append((line.page, len(joined) - len(line.text)))
                paragraph.lines.append(line)
                paragraph.text = joined
            previous = line
    return paragraphs


def heading_markup(paragraphs: list[_Paragraph], body: _Body) -> list[str]:
    """Each paragraph's text, headings marked: ``#``×level (larger type = higher level) or ``**…**`` when
    numbered (its numbering then decides the level, as in text without layout)."""
    headings = [p for p in paragraphs if all(_heading_style(line, body) for line in p.lines) and _heading_text(p.text)]
    styles = sorted({p.style for p in headings}, key=lambda style: (-style[0], not style[1]))
    level = {style: min(rank + 1, 6) for rank, style in enumerate(styles)}
    marked = []
    heading_ids = {id(p) for p in headings}
    for paragraph in paragraphs:
        if id(paragraph) not in heading_ids:
            marked.append(paragraph.text)
        elif HEADING_PREFIX.match(paragraph.text):
            marked.append(f"**{paragraph.text}**")
        else:
            marked.append(f"{'#' * level[paragraph.style]} {paragraph.text}")
    return marked


_UNMAPPED = re.compile(r"\(cid:\d+\)")


def _unmapped_share(pages: list[list[Line]]) -> float:
    """How much of the text is characters pdfminer could not map to Unicode ("(cid:3962)")."""
    text = "".join(line.text for page in pages for line in page)
    return sum(len(match) for match in _UNMAPPED.findall(text)) / max(1, len(text))


def plain_pdf_text(data: bytes, properties: dict) -> PdfText:
    """The PDF's text as pypdf extracts it, page by page, as lines (indents kept as spaces): for fonts whose
    characters pdfminer cannot map but pypdf can (it reads the codes of a Unicode-encoded CID font
    directly). Headings by type size are lost; cleaning rebuilds the paragraphs from the lines. Running
    headers, footers and page numbers are recognised by their place among the page's lines."""
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")
    pages: list[list[Line]] = []
    for number, page in enumerate(reader.pages):
        try:  # layout mode keeps a paragraph's first-line indent as leading spaces, which cleaning reads
            extracted = page.extract_text(extraction_mode="layout", layout_mode_space_vertically=False)
        except Exception:  # pypdf's layout mode fails on some fonts; its plain mode still gives the text
            extracted = page.extract_text()
        texts = [t.rstrip() for t in (extracted or "").splitlines() if t.strip()]
        edge = {0: 0.0, 1: 1.0, len(texts) - 1: 1000.0, len(texts) - 2: 999.0}  # place: nth from an edge
        pages.append(
            [Line(number, t, 0, 0, edge.get(i, 10.0 + i), 0, 0, False, i in edge) for i, t in enumerate(texts)]
        )
    pages = remove_furniture(pages, tolerance=0.0)
    parts, page_starts, offset = [], [], 0
    for page in pages:
        page_starts.append(offset)
        text = "\n".join(line.text for line in page)
        if text:
            parts.append(text)
            offset += len(text) + 1
    return PdfText("\n".join(parts), page_starts, properties, paragraphs_known=False)


def pdf_text(data: bytes) -> PdfText:
    """The text of a PDF as paragraphs (headings in markdown), with where each page starts."""
    pages, properties = read_lines(data)
    if _unmapped_share(pages) > 0.2:
        try:
            plain = plain_pdf_text(data, properties)
        except Exception as error:  # pypdf on untrusted bytes: any failure means "not readable"
            raise PdfError(f"PDF text cannot be read ({type(error).__name__}: {error})") from error
        if _UNMAPPED.search(plain.text) or not plain.text.strip():
            raise PdfError("PDF text cannot be read: its fonts do not say which characters they draw (run OCR)")
        return plain
    pages = remove_furniture(pages)
    if not any(pages):
        return PdfText("", [0] * len(pages), properties)
    body = body_style(pages)
    paragraphs = build_paragraphs(pages, body)
    texts = heading_markup(paragraphs, body)
    parts: list[str] = []
    page_starts: list[int | None] = [None] * len(pages)
    offset = 0
    for paragraph, text in zip(paragraphs, texts, strict=True):
        if parts:
            offset += 2  # the "\n\n" before it
        markup = len(text) - len(paragraph.text) - (2 if text.startswith("**") else 0)
        for page, start in paragraph.starts:
            if page_starts[page] is None:
                page_starts[page] = offset + (0 if start == 0 else markup + start)
        parts.append(text)
        offset += len(text)
    # A page with no text of its own starts where the next page's text does.
    following = offset
    for page in range(len(pages) - 1, -1, -1):
        if page_starts[page] is None:
            page_starts[page] = following
        following = page_starts[page]
    page_starts[0] = 0
    return PdfText("\n\n".join(parts), [int(start) for start in page_starts], properties)


def describe(path: Path) -> str:
    """The rebuilt text with page starts marked (⟦p.2⟧), to see what the reader made of a PDF."""
    result = pdf_text(path.read_bytes())
    text = result.text
    for page, start in sorted(enumerate(result.page_starts), key=lambda item: -item[1]):
        text = f"{text[:start]}⟦p.{page + 1}⟧{text[start:]}"
    return text
