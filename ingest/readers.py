"""File → RawDocument: decode the bytes, split off front matter, refuse what is not text.

Readers are dispatched by file suffix (``READERS``), so new formats plug in without touching
the rest of ingest. Every refusal is an ``IngestError`` naming the file and a reason a person
can act on; nothing here guesses silently.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import yaml

from ingest.encodings import check_is_text, decode_text
from ingest.errors import IngestError, display_name

__all__ = ["IngestError", "decode_text", "display_name"]  # re-exported: callers import them from here

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # large enough for any real article, small enough to refuse dumps
ENV_MAX_FILE_MB = "CITELENS_MAX_FILE_MB"  # raises (or lowers) the size limit of one file
MB = 2**20


def max_file_bytes() -> int:
    """The size limit of one file: $CITELENS_MAX_FILE_MB megabytes, else DEFAULT_MAX_BYTES."""
    value = os.environ.get(ENV_MAX_FILE_MB, "").strip()
    try:
        return int(float(value) * MB) if value else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


@dataclass
class RawDocument:
    """A file's text and what is known about it, by provenance.

    ``metadata`` is what an author declared (markdown front matter, HTML ``<title>``/``<meta>``, a DOCX
    paragraph styled "Title"); ``file_properties`` is what the program that wrote the file stored (PDF info
    dictionary, DOCX core properties), often a template's or an account's values, so it is weak evidence:
    ingest/structure.py uses it only where the text says nothing. Both have lower-case keys title, source,
    date, url.
    """

    path: Path
    doc_id: str
    text: str  # decoded body, front matter removed, otherwise untouched
    metadata: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"
    content_hash: str = ""  # sha256 of the raw file bytes
    file_properties: dict[str, str] = field(default_factory=dict)
    page_starts: list[int] = field(default_factory=list)  # where each page starts in ``text``; [] if unpaged
    paragraphs_known: bool = False  # the reader built the paragraphs ("\n\n" between them) from the layout


@dataclass
class ReadResult:
    """What a reader gets out of a file's bytes (see ``RawDocument`` for the fields)."""

    text: str
    metadata: dict[str, str]
    encoding: str
    file_properties: dict[str, str] = field(default_factory=dict)
    page_starts: list[int] = field(default_factory=list)
    paragraphs_known: bool = False


# ---------------------------------------------------------------- front matter

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Leading ``---`` YAML block → (metadata with string values, body). No block → ({}, text)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    block = match.group(1)
    try:
        # BaseLoader keeps every value a string: dates stay "2022-11-09", not datetime objects.
        loaded = yaml.load(block, Loader=yaml.BaseLoader)
    except yaml.YAMLError:
        loaded = _parse_simple_front_matter(block)
    if not isinstance(loaded, dict):
        return {}, text
    metadata = {str(k).strip().lower(): str(v).strip() for k, v in loaded.items() if isinstance(v, str | int | float)}
    return metadata, text[match.end() :]


def _parse_simple_front_matter(block: str) -> dict[str, str]:
    """Fallback for front matter that is not valid YAML (e.g. unquoted ``: `` inside a title)."""
    metadata = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            metadata[key.strip()] = value.strip().strip("\"'")
    return metadata


# ---------------------------------------------------------------- readers per format


def _read_plain_text(path: Path, data: bytes) -> ReadResult:
    text, encoding = decode_text(data, path)
    text = text.lstrip("\ufeff")
    check_is_text(text, path)
    metadata, body = split_front_matter(text)
    if not body.strip():
        raise IngestError(path, "file has front matter but no text")
    return ReadResult(body, metadata, encoding)


class _HtmlTextExtractor(HTMLParser):
    """Visible text of an HTML page, one block element per paragraph; <h1>–<h6> become markdown headings."""

    _BLOCKS = frozenset(
        {
            "p", "div", "br", "li", "ul", "ol", "section", "article", "header", "footer", "blockquote", "pre",
            "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "figcaption",
        }
    )  # fmt: skip
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.metadata: dict[str, str] = {}
        self._skip_depth = 0
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            self._meta(values)
        elif tag == "link" and values.get("rel") == "canonical" and values.get("href"):
            self.metadata.setdefault("url", values["href"])
        if tag in self._SKIP:
            self._skip_depth += 1
        if tag in self._BLOCKS:
            self.parts.append("\n\n")
            if tag[0] == "h" and tag[1:].isdigit():
                self.parts.append("#" * int(tag[1:]) + " ")

    def _meta(self, values: dict[str, str]) -> None:
        name = (values.get("property") or values.get("name") or "").lower()
        content = values.get("content", "").strip()
        keys = {
            "og:title": "title",
            "og:url": "url",
            "og:site_name": "source",
            "author": "source",
            "article:published_time": "date",
            "date": "date",
            "publishdate": "date",
        }
        if content and name in keys:
            self.metadata.setdefault(keys[name], content)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        elif not self._skip_depth:
            self.parts.append(data)

    def result(self) -> tuple[str, dict[str, str]]:
        title = " ".join("".join(self._title).split())
        if title:
            self.metadata.setdefault("title", title)
        lines = [" ".join(line.split()) for line in "".join(self.parts).splitlines()]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        return text, self.metadata


def _read_html(path: Path, data: bytes) -> ReadResult:
    declared = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.IGNORECASE)
    text, encoding = None, ""
    if declared:
        try:
            encoding = declared.group(1).decode("ascii").lower()
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            text = None
    if text is None:
        text, encoding = decode_text(data, path)
    extractor = _HtmlTextExtractor()
    extractor.feed(text)
    extractor.close()
    body, metadata = extractor.result()
    check_is_text(body, path)
    return ReadResult(body, metadata, encoding)


def _read_pdf(path: Path, data: bytes) -> ReadResult:
    from ingest.pdf import PdfError, pdf_text

    try:
        result = pdf_text(data)
    except PdfError as error:
        raise IngestError(path, str(error)) from error
    if not result.text.strip():
        raise IngestError(path, "PDF has no text layer (no extractable text; scanned?): OCR it first")
    return ReadResult(
        result.text,
        {},
        "pdf",
        file_properties=pdf_info_properties(result.properties),
        page_starts=result.page_starts,
        paragraphs_known=result.paragraphs_known,
    )


def _read_docx(path: Path, data: bytes) -> ReadResult:
    from ingest.word import DocxError, docx_text

    try:
        result = docx_text(data)
    except DocxError as error:
        raise IngestError(path, str(error)) from error
    check_is_text(result.text, path)
    # A paragraph styled "Title" is the title its author gave the document.
    declared = {"title": result.title} if result.title else {}
    return ReadResult(result.text, declared, "docx", file_properties=result.properties, paragraphs_known=True)


_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")


def pdf_info_properties(info: dict) -> dict[str, str]:
    """A PDF information dictionary (Title, Author, CreationDate "D:20221107…"; keys with or without "/")
    → file properties."""
    info = {str(key).lstrip("/"): value for key, value in info.items()}
    properties = {}
    for key, name in (("Title", "title"), ("Author", "source")):
        value = info.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            properties[name] = " ".join(value.split())
    created = info.get("CreationDate")
    match = _PDF_DATE.match(created.strip()) if isinstance(created, str) else None
    if match:
        properties["date"] = "-".join(part for part in match.groups() if part)
    return properties


Reader = Callable[[Path, bytes], ReadResult]
READERS: dict[str, Reader] = {
    ".txt": _read_plain_text,
    ".md": _read_plain_text,
    ".markdown": _read_plain_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
SUPPORTED_SUFFIXES = frozenset(READERS)


def too_large(size: int, max_bytes: int) -> str:
    """The refusal of an over-size file, naming the limit and the setting that raises it."""
    return (
        f"file is too large ({size / MB:.1f} MB; the limit is {max_bytes / MB:.0f} MB, "
        f"raised by setting {ENV_MAX_FILE_MB})"
    )


def read_document_file(path: Path, doc_id: str, max_bytes: int | None = None) -> RawDocument:
    """Read one file into a RawDocument, or raise IngestError saying why it cannot be used.
    ``max_bytes``: the size limit (default ``max_file_bytes()``)."""
    path = Path(path)
    max_bytes = max_file_bytes() if max_bytes is None else max_bytes
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise IngestError(path, f"unsupported file type {path.suffix or '(no extension)'!r}; supported: {supported}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(path, too_large(size, max_bytes))
        if size == 0:
            raise IngestError(path, "file is empty (0 bytes)")
        with path.open("rb") as file:
            data = file.read(size + 1)  # read(n) reserves n bytes: the file's size, not the limit
            if len(data) > size:  # it grew since stat(): read on, never past the limit
                data += file.read(max_bytes + 1 - len(data))
        if len(data) > max_bytes:
            raise IngestError(path, too_large(len(data), max_bytes))
    except OSError as error:
        raise IngestError(path, f"cannot read file ({error.strerror or error})") from error
    result = reader(path, data)
    return RawDocument(
        path=path,
        doc_id=doc_id,
        text=result.text,
        metadata=result.metadata,
        encoding=result.encoding,
        content_hash=hashlib.sha256(data).hexdigest(),
        file_properties=result.file_properties,
        page_starts=result.page_starts,
        paragraphs_known=result.paragraphs_known,
    )


def iter_corpus_files(directory: Path, *, include_unsupported: bool = False) -> Iterator[Path]:
    """Files under ``directory`` (recursively), sorted by relative path, hidden files and folders skipped.
    Symbolic links are listed too unless they lead to a folder inside the corpus (``outside_link`` says
    which ones must not be read); links to folders are never descended into."""
    directory = Path(directory)
    candidates = []
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not path.is_file() and not (path.is_symlink() and outside_link(path, directory)):
            continue
        if include_unsupported or path.suffix.lower() in SUPPORTED_SUFFIXES:
            candidates.append((relative.as_posix(), path))
    for _, path in sorted(candidates):
        yield path


def outside_link(path: Path, directory: Path) -> str:
    """Why ``path`` must not be followed: a symbolic link leading outside ``directory``, or a broken one; ""
    for anything else."""
    if not path.is_symlink():
        return ""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a loop of links
        return f"broken symlink (to {display_name(os.readlink(path))}): not followed"
    if not target.is_relative_to(Path(directory).resolve()):
        return f"symlink pointing outside the corpus (to {display_name(target)}): not followed; copy the file in"
    return ""
