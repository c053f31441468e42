"""DOCX → text with headings, in document order, tables kept where they are (python-docx).

A heading is what a reader of the document sees as one:

- a paragraph styled "Heading N" (or any style with an outline level, as Chinese templates' 标题 N
  styles have): level N;
- a paragraph styled "Title": the document's title (declared by its author), kept as the first text;
- a short paragraph without sentence punctuation that is set larger than the body text, or bold where
  the body is not, without a heading style (how many people type headings): numbered ones (一、/（一）)
  are written in bold so their numbering decides the level, as in plain text; the others get a level by
  type size, below the styled headings.

Headings are written as markdown (``## 标题``) so ingest/structure.py gives them levels and sections.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from io import BytesIO

from ingest.clean import CJK_CHARS, HEADING_PREFIX, visual_width

HEADING_SIZE_RATIO = 1.15
MAX_HEADING_CHARS = 50
_SENTENCE_MARKS = "。！？；!?;"
_DEFAULT_SIZE = 10.0  # Word's size when neither the styles nor the document defaults set one
MB = 2**20
MAX_EXPANDED_BYTES = 200 * MB  # what all parts of one DOCX may expand to: a long text with images is ~20 MB
MAX_RATIO = 100  # real DOCX parts deflate at most ~20:1; a zip bomb's at ~1000:1
RATIO_CHECKED_FROM = 10 * MB  # small parts may compress well (repeated XML); only big ones are checked


class DocxError(Exception):
    """A .docx file that cannot be read; the message is for the person who supplied it."""


@dataclass
class _Block:
    text: str
    level: int | None = None  # from a heading style or outline level
    is_title: bool = False
    size: float = 0.0  # font size of most of its text, in points
    bold: bool = False  # most of its text is bold
    is_table: bool = False


@dataclass
class DocxText:
    text: str  # paragraphs separated by "\n\n", headings as markdown
    title: str  # the text of the paragraph styled "Title", if any
    properties: dict[str, str]  # core properties: title, source (author), date (created)


def _chain(style):
    while style is not None:
        yield style
        style = style.base_style


def _outline_level(paragraph) -> int | None:
    from docx.oxml.ns import qn

    elements = [paragraph._p.pPr, *(getattr(s.element, "pPr", None) for s in _chain(paragraph.style))]
    for element in elements:
        found = element.find(qn("w:outlineLvl")) if element is not None else None
        if found is not None:
            value = int(found.get(qn("w:val"), "9"))
            return value + 1 if value < 9 else None
    return None


def _style_level(paragraph) -> tuple[int | None, bool]:
    """(heading level from the style or outline level, whether it is the Title style)."""
    for style in _chain(paragraph.style):
        name = style.name or ""
        if name == "Title":
            return None, True
        match = re.fullmatch(r"Heading (\d)", name)
        if match:
            return int(match.group(1)), False
    return _outline_level(paragraph), False


def _default_size(document) -> float:
    from docx.oxml.ns import qn

    found = document.styles.element.xpath("w:docDefaults/w:rPrDefault/w:rPr/w:sz")
    return int(found[0].get(qn("w:val"))) / 2 if found else _DEFAULT_SIZE


def _run_format(run, paragraph, default_size: float) -> tuple[float, bool]:
    """The size (points) and boldness a run is shown with: its own, else its character style's, else its
    paragraph style's (each with its base styles), else the document's default."""
    size, bold = run.font.size, run.font.bold
    styles = [*_chain(run.style if run.style is not None and run.style.type == 2 else None), *_chain(paragraph.style)]
    for style in styles:
        size = style.font.size if size is None else size
        bold = style.font.bold if bold is None else bold
    return (size.pt if size is not None else default_size), bool(bold)


def _paragraph_format(paragraph, default_size: float) -> tuple[float, bool]:
    weights: Counter[float] = Counter()
    bold_chars = chars = 0
    for run in paragraph.runs:
        length = len(run.text.strip())
        if not length:
            continue
        size, bold = _run_format(run, paragraph, default_size)
        weights[size] += length
        chars += length
        bold_chars += length if bold else 0
    if not chars:
        return default_size, False
    return weights.most_common(1)[0][0], bold_chars == chars


def read_blocks(document) -> list[_Block]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    default_size = _default_size(document)
    blocks: list[_Block] = []
    # Walk the body in order so tables stay where they were.
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            text = paragraph.text.strip()
            if not text:
                continue
            level, is_title = _style_level(paragraph)
            size, bold = _paragraph_format(paragraph, default_size)
            blocks.append(_Block(text, level, is_title, size, bold))
        elif tag == "tbl":
            for row in Table(element, document).rows:
                cells = [cell.text.strip() for cell in row.cells]
                row_text = " | ".join(cell for cell in cells if cell)
                if row_text:
                    blocks.append(_Block(row_text, is_table=True))
    return blocks


def _heading_text(text: str) -> bool:
    return (
        visual_width(text) <= MAX_HEADING_CHARS
        and "\n" not in text
        and not any(mark in text for mark in _SENTENCE_MARKS)
        and not text.endswith(("，", ",", "：", ":"))
        and bool(re.search(rf"[{CJK_CHARS}A-Za-z]", text))
    )


def mark_headings(blocks: list[_Block]) -> list[str]:
    """Each block's text, headings as markdown (see the module's docstring)."""
    body = [b for b in blocks if not b.is_table and b.level is None and not b.is_title]
    weights: Counter[float] = Counter()
    for block in body:
        weights[block.size] += len(block.text)
    body_size = weights.most_common(1)[0][0] if weights else _DEFAULT_SIZE
    body_bold = sum(len(b.text) for b in body if b.bold) > 0.5 * sum(len(b.text) for b in body)

    def looks_like_heading(block: _Block) -> bool:
        larger = block.size >= body_size * HEADING_SIZE_RATIO
        bolder = block.bold and not body_bold and block.size >= body_size * 0.95
        return (larger or bolder) and _heading_text(block.text)

    found = [b for b in body if looks_like_heading(b)]
    styles = sorted({(b.size, b.bold) for b in found}, key=lambda style: (-style[0], not style[1]))
    below = max((b.level for b in blocks if b.level is not None), default=0)
    level_of = {style: min(below + rank + 1, 6) for rank, style in enumerate(styles)}
    found_ids = {id(b) for b in found}
    texts = []
    for block in blocks:
        if block.level is not None:
            texts.append(f"{'#' * min(block.level, 6)} {block.text}")
        elif id(block) in found_ids:
            level = level_of[(block.size, block.bold)]
            texts.append(f"**{block.text}**" if HEADING_PREFIX.match(block.text) else f"{'#' * level} {block.text}")
        else:
            texts.append(block.text)
    return texts


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GB" if count >= 2**30 else f"{count / MB:.0f} MB"


def check_archive(data: bytes) -> None:
    """Refuse a DOCX whose parts would expand past MAX_EXPANDED_BYTES, or a big part compressed like a zip
    bomb, from the ZIP directory alone (nothing is decompressed); zipfile never yields more than a part's
    declared size, so these sizes bound what reading it can take."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as error:
        raise DocxError(f"corrupt DOCX: not a ZIP archive, so not a readable .docx file ({error})") from error
    expanded = sum(part.file_size for part in parts)
    if expanded > MAX_EXPANDED_BYTES:
        limit = f"{MAX_EXPANDED_BYTES // MB} MB"
        raise DocxError(f"DOCX expands to {_size(expanded)}, over the {limit} limit (a zip bomb?)")
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_CHECKED_FROM and ratio > MAX_RATIO:
            raise DocxError(
                f"DOCX part {part.filename} expands {ratio:.0f}-fold to {_size(part.file_size)} (a zip bomb?)"
            )


def _malformed_part(data: bytes) -> str:
    """The first XML part of the archive that is not well-formed, or ""."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.endswith((".xml", ".rels")):
                try:
                    etree.fromstring(archive.read(name), parser)
                except etree.XMLSyntaxError:
                    return name
    return ""


def docx_text(data: bytes) -> DocxText:
    """The text of a .docx file, or DocxError saying why it cannot be read."""
    import docx
    from lxml import etree

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DocxError("an old Word (.doc) file renamed .docx; save it as .docx in Word or LibreOffice")
    check_archive(data)
    try:
        document = docx.Document(BytesIO(data))
        blocks = read_blocks(document)
        properties = document.core_properties
        core = {
            "title": (properties.title or "").strip(),
            "source": (properties.author or "").strip(),
            "date": properties.created.date().isoformat() if properties.created else "",
        }
    except etree.XMLSyntaxError as error:
        where = _malformed_part(data) or "one of its parts"
        raise DocxError(f"corrupt DOCX: malformed XML in {where} ({error.msg})") from error
    except Exception as error:  # a parser of untrusted bytes (zip, XML): any failure means "not readable"
        raise DocxError(f"corrupt DOCX: not a readable .docx file ({type(error).__name__}: {error})") from error
    title = next((b.text for b in blocks if b.is_title), "")
    text = "\n\n".join(mark_headings(blocks))
    return DocxText(text, " ".join(title.split()), {k: v for k, v in core.items() if v})
