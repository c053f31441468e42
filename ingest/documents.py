"""The typed data that flows from ingest to index: Document → Paragraph → Chunk.

Offsets are character offsets into ``Document.text`` (the cleaned text), so a
citation can always be checked: ``doc.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based, counted over the whole document (headings included)
    start: int
    end: int
    section: tuple[str, ...] = ()  # section path, outermost first (a heading is in its own section)
    is_heading: bool = False


@dataclass
class Document:
    doc_id: str  # file name relative to the corpus folder; stable across rebuilds
    title: str
    text: str  # cleaned text, paragraphs separated by "\n\n"
    paragraphs: list[Paragraph] = field(default_factory=list)
    source: str = ""
    url: str = ""
    date: str = ""
    content_hash: str = ""  # sha256 of the raw file bytes
    page_starts: list[int] = field(default_factory=list)  # offset where each page starts; [] if unpaged

    def page_span(self, start: int, end: int) -> tuple[int, int]:
        """(first, last) 1-based page of ``text[start:end]``; (0, 0) when the document has no pages."""
        from ingest.pages import page_span

        return page_span(self.page_starts, start, end)

    def paragraph_text(self, paragraph: Paragraph) -> str:
        return self.text[paragraph.start : paragraph.end]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # f"{doc_id}#{ordinal}"
    doc_id: str
    title: str
    text: str  # exactly Document.text[start:end]
    start: int
    end: int
    paragraph_start: int  # first paragraph number covered
    paragraph_end: int  # last paragraph number covered
    section: tuple[str, ...] = ()
    page_start: int = 0  # 1-based page of the first character; 0 when the document has no pages
    page_end: int = 0  # page of the last character

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**{**data, "section": tuple(data.get("section", ()))})
