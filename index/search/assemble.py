"""Stage 8, hits: a group of candidates (a passage and its copies) becomes one citable ``Hit``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from index.answerability import Evidence
from index.hits import Hit
from index.search.candidates import Candidate


@dataclass(frozen=True)
class DocumentInfo:
    date: str
    url: str
    source: str
    headings: frozenset[int]  # where the document's heading paragraphs start (never highlighted)


def document_info(index, doc_id: str) -> DocumentInfo:
    document = index.documents[doc_id]
    headings = frozenset(p.start for p in document.paragraphs if p.is_heading)
    return DocumentInfo(document.date, document.url, document.source, headings)


def make_hit(
    index,
    rank: int,
    group: list[Candidate],
    found: Evidence,
    relevance: float | None,
    info: Callable[[str], DocumentInfo],
) -> Hit:
    """``group[0]`` cited with its highlighted sentence; the others, copies in other documents, as "also in"."""
    best = group[0]
    chunk = index.chunks[best.chunk]
    document = info(chunk.doc_id)
    sentences = index.sentences
    row = best.sentence_row
    also_in = []
    seen = {chunk.doc_id}
    for other in group[1:]:
        copy = index.chunks[other.chunk]
        if copy.doc_id in seen:
            continue
        seen.add(copy.doc_id)
        also_in.append(
            {
                "doc": copy.doc_id,
                "title": copy.title,
                "section": " › ".join(copy.section),
                "paragraph": copy.paragraph_start,
                "page": copy.page_start or None,
                "start": copy.start,
                "end": copy.end,
                "date": info(copy.doc_id).date,
            }
        )
    return Hit(
        rank=rank,
        score=best.fused if best.fused else best.dense,
        chunk_id=chunk.chunk_id,
        doc=chunk.doc_id,
        title=chunk.title,
        section=chunk.section,
        paragraph=chunk.paragraph_start,
        paragraph_end=chunk.paragraph_end,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        date=document.date,
        url=document.url,
        source=document.source,
        also_in=also_in,
        sentence_start=int(sentences.start[row]) if row >= 0 else chunk.start,
        sentence_end=int(sentences.end[row]) if row >= 0 else chunk.end,
        similarity=max(best.dense, best.sentence),
        coverage=found.coverage,
        relevance=relevance,
        page=chunk.page_start or None,
        page_end=chunk.page_end or None,
        evidence=found,
    )
