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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**{**data, "section": tuple(data.get("section", ()))})
