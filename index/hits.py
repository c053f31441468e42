"""What a search returns: one ranked, citable passage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.answerability import Evidence

SECTION_SEPARATOR = " › "


def page_label(page: int | None, page_end: int | None = None) -> str:
    """``p. 3``, or ``p. 3–4`` for a passage that runs on to the next page; '' when the source has no pages."""
    if not page:
        return ""
    return f"p. {page}" if not page_end or page_end == page else f"p. {page}–{page_end}"


def paragraph_label(first: int, last: int) -> str:
    return f"¶{first}" if first == last else f"¶{first}–{last}"


def location_label(page: int | None, page_end: int | None, first: int, last: int) -> str:
    """Where in the document: ``p. 3 ¶12`` (paged sources) or ``¶12``."""
    return " ".join(label for label in (page_label(page, page_end), paragraph_label(first, last)) if label)


@dataclass
class Hit:
    rank: int
    score: float
    chunk_id: str
    doc: str  # source file name (Document.doc_id)
    title: str
    section: tuple[str, ...]
    paragraph: int  # first paragraph number of the passage
    paragraph_end: int
    text: str  # the passage exactly as in the cleaned document text
    start: int
    end: int
    date: str = ""
    url: str = ""
    source: str = ""
    also_in: list[dict] = field(default_factory=list)  # same passage in other documents
    sentence_start: int = 0  # the sentence that best answers the question (document offsets)
    sentence_end: int = 0
    similarity: float = 0.0  # best cosine of the passage or one of its sentences to the question
    coverage: float = 0.0  # IDF-weighted share of the question's keyword groups the passage contains
    relevance: float | None = None  # calibrated probability that the passage answers the question
    page: int | None = None  # 1-based page of the passage's first character (paged sources: PDF); None if unpaged
    page_end: int | None = None  # page of its last character
    evidence: Evidence | None = None  # what the relevance was judged on (index.answerability)

    @property
    def sentence(self) -> str:
        return self.text[self.sentence_start - self.start : self.sentence_end - self.start]

    @property
    def section_path(self) -> str:
        return SECTION_SEPARATOR.join(self.section)

    @property
    def citation(self) -> str:
        """Ready-to-paste citation: title › section › p. N ¶n (the page for paged sources), date, url."""
        parts = [self.title, *self.section]
        where = location_label(self.page, self.page_end, self.paragraph, self.paragraph_end)
        head = SECTION_SEPARATOR.join([p for p in parts if p] + [where])
        tail = ", ".join(x for x in (self.date, self.url) if x)
        return f"{head}, {tail}" if tail else head

    def to_json(self) -> dict:
        """The stable ``--batch``/``--json`` contract (extra keys may be added, never removed)."""
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "doc": self.doc,
            "title": self.title,
            "section": self.section_path,
            "paragraph": self.paragraph,
            "paragraph_end": self.paragraph_end,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "date": self.date,
            "url": self.url,
            "chunk_id": self.chunk_id,
            "also_in": self.also_in,
            "sentence": {"start": self.sentence_start, "end": self.sentence_end, "text": self.sentence},
            "relevance": None if self.relevance is None else round(float(self.relevance), 4),
            "page": self.page,
            "page_end": self.page_end,
        }
