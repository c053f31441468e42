"""Document → Chunks: token-sized passages inside one section, with exact offsets into Document.text.

Splitting is langchain's RecursiveCharacterTextSplitter: paragraphs first, then sentences (the closing
。！？； stays on its sentence, with any closing quote), then clauses, sized in the embedding model's tokens.
Chunks never cross a section boundary, with one exception: a section whose own text before its first
subsection is short (a heading and an intro sentence or two) is glued to the start of that subsection's
first chunk, as a bare heading is. Alone, such an intro makes a tiny chunk that names the section but
none of its parts, which is what a question about the section's contents needs.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.documents import Chunk, Document, Paragraph

# Regexes (is_separator_regex=True), tried in order; keep_separator="end" leaves each on the text before it.
SEPARATORS = [
    r"\n\n",
    r"\n",
    r"[。！？；]+[”’」』）》]*",  # Chinese sentence end, with a closing quote/bracket after it
    r"[.!?;]+[\"')\]]*\s+",  # English sentence end (needs the following space: 10.51 is not one)
    r"[，,：:]",
    r"、",
    r"\s+",
    "",
]


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut into chunks: the one source of the build's defaults (``index.build.BuildSettings``)
    and of ``python -m ingest --chunks``, so what ingest shows is what an index holds."""

    max_tokens: int = 480  # chunk size in model tokens (measured: see README; 512 minus prompt and specials)
    overlap_tokens: int = 64
    # A section intro of at most this many tokens joins its first subsection's chunk (0: never; README).
    intro_tokens: int = 120

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ChunkSettings:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def chunk(self, doc: Document, count_tokens: Callable[[str], int]) -> list[Chunk]:
        return chunk_document(doc, count_tokens, self.max_tokens, self.overlap_tokens, self.intro_tokens)


@dataclass
class _SectionBlock:
    """Consecutive paragraphs sharing one section path; the unit that chunks never cross."""

    section: tuple[str, ...]
    paragraphs: list[Paragraph]
    glued: int = 0  # leading paragraphs of a short parent section, glued to the first chunk

    @property
    def only_headings(self) -> bool:
        return all(p.is_heading for p in self.paragraphs)

    @property
    def lead(self) -> int:
        """How many leading paragraphs go in front of the first chunk: the glued ones, then headings."""
        lead = self.glued
        while lead < len(self.paragraphs) and self.paragraphs[lead].is_heading:
            lead += 1
        return lead


def _is_within(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    return len(inner) > len(outer) and inner[: len(outer)] == outer


def section_blocks(
    doc: Document, is_short: Callable[[_SectionBlock], bool] = lambda block: False
) -> list[_SectionBlock]:
    """Group paragraphs by section. A block of headings only (``一、`` right before ``（一）``) joins the
    next block; so does a block that ``is_short`` when the next block is one of its subsections."""
    blocks: list[_SectionBlock] = []
    for paragraph in doc.paragraphs:
        last = blocks[-1] if blocks else None
        if last and last.section == paragraph.section:
            last.paragraphs.append(paragraph)
        elif last and last.only_headings:
            last.paragraphs.append(paragraph)
            last.section = paragraph.section
        elif last and _is_within(paragraph.section, last.section) and is_short(last):
            last.glued = len(last.paragraphs)
            last.paragraphs.append(paragraph)
            last.section = paragraph.section
        else:
            blocks.append(_SectionBlock(paragraph.section, [paragraph]))
    return blocks


def make_splitter(count_tokens: Callable[[str], int], max_tokens: int, overlap_tokens: int):
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=max_tokens,
        chunk_overlap=min(overlap_tokens, max_tokens // 2),
        length_function=count_tokens,
        strip_whitespace=True,
    )


def _split_to_fit(text: str, count_tokens: Callable[[str], int], max_tokens: int, overlap_tokens: int) -> list[str]:
    """Split, then re-split any piece the tokenizer still finds too long.

    The splitter adds up token counts of pieces, but tokenization is not additive, so a merged piece
    can come out a token or two over; those are split again with a smaller budget.
    """
    pieces: list[str] = []
    for piece in make_splitter(count_tokens, max_tokens, overlap_tokens).split_text(text):
        if count_tokens(piece) <= max_tokens:
            pieces.append(piece)
            continue
        budget = max_tokens
        while True:
            budget = max(1, budget - max(1, budget // 10))
            smaller = make_splitter(count_tokens, budget, 0).split_text(piece)
            if all(count_tokens(s) <= max_tokens for s in smaller) or budget == 1:
                pieces.extend(smaller)
                break
    return pieces


def _locate(
    text: str, pieces: list[str], base: int, count_tokens: Callable[[str], int], overlap_tokens: int
) -> list[tuple[int, int]]:
    """Offsets of the splitter's consecutive pieces of ``text``.

    ``str.find`` alone goes wrong on repeated text (the same sentence twice maps both pieces to the first
    copy), so each piece is placed at the first occurrence that (1) starts after the previous piece's start,
    (2) ends after the previous piece's end (the splitter always makes progress) and (3) overlaps the
    previous piece by no more than the overlap budget. The last piece ends where the text ends.
    """
    spans: list[tuple[int, int]] = []
    previous_start, previous_end = -1, 0
    text_end = len(text.rstrip())
    for index, piece in enumerate(pieces):
        position = text.find(piece, previous_start + 1)
        if index == len(pieces) - 1 and text.endswith(piece, 0, text_end) and text_end - len(piece) > previous_start:
            position = text_end - len(piece)
        # Candidates: occurrences ending after the previous piece, up to the first that does not overlap it.
        candidates: list[int] = []
        while position >= 0:
            if position + len(piece) > previous_end:
                candidates.append(position)
                if position >= previous_end:
                    break
            position = text.find(piece, position + 1)

        def fits(candidate: int, previous_end: int = previous_end) -> bool:
            overlap = text[candidate:previous_end] if candidate < previous_end else ""
            return not overlap.strip() or count_tokens(overlap) <= overlap_tokens

        # The overlap shrinks as the start moves right: bisect for the first candidate within the budget
        # (repeated text has many candidates; counting tokens at each one made a 5 MB line take minutes).
        first = bisect.bisect_left(range(len(candidates)), True, key=lambda i: fits(candidates[i]))
        position = candidates[first] if first < len(candidates) else -1
        if position < 0:  # cannot happen for splitter output, which is made of slices of text
            raise ValueError(f"chunk text not found in its section: {piece[:40]!r}")
        previous_start, previous_end = position, position + len(piece)
        spans.append((base + previous_start, base + previous_end))
    return spans


def _split_span(
    text: str, start: int, end: int, count_tokens: Callable[[str], int], max_tokens: int, overlap_tokens: int
) -> list[tuple[int, int]]:
    piece_text = text[start:end]
    pieces = _split_to_fit(piece_text, count_tokens, max_tokens, overlap_tokens)
    return _locate(piece_text, pieces, start, count_tokens, overlap_tokens)


def _block_spans(
    doc: Document, block: _SectionBlock, count_tokens: Callable[[str], int], max_tokens: int, overlap_tokens: int
) -> list[tuple[int, int]]:
    """Chunk spans of one section block, its lead (headings, a short parent's text) glued to the first chunk.

    The splitter would flush a short heading as a chunk of its own whenever the paragraph after it is too
    long to join, so the body is split alone and the heading prepended; if that overflows, the body is
    split again with a budget smaller by the heading's size.
    """
    block_start, block_end = block.paragraphs[0].start, block.paragraphs[-1].end
    heading_count = block.lead
    if heading_count in (0, len(block.paragraphs)):
        return _split_span(doc.text, block_start, block_end, count_tokens, max_tokens, overlap_tokens)
    body_start = block.paragraphs[heading_count].start
    heading_tokens = count_tokens(doc.text[block_start:body_start])
    budget = max_tokens
    while budget >= 1:
        spans = _split_span(doc.text, body_start, block_end, count_tokens, budget, overlap_tokens)
        first_end = spans[0][1]
        if count_tokens(doc.text[block_start:first_end]) <= max_tokens:
            return [(block_start, first_end), *spans[1:]]
        budget = min(budget - 1, max_tokens - heading_tokens - (max_tokens - budget) // 2 - 1)
    # A heading longer than a whole chunk: it becomes a chunk (or several) of its own.
    return _split_span(doc.text, block_start, block_end, count_tokens, max_tokens, overlap_tokens)


def chunk_document(
    doc: Document,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    overlap_tokens: int,
    intro_tokens: int = 0,
) -> list[Chunk]:
    """Chunks of at most ``max_tokens`` tokens (``overlap_tokens`` shared with the previous chunk of the
    same section), each with ``doc.text[chunk.start:chunk.end] == chunk.text``.

    A section whose text before its first subsection has at most ``intro_tokens`` tokens is glued to
    that subsection's first chunk (0: never); the chunk's section path is then the parent's. The build's
    values are ``ChunkSettings``'s (``ChunkSettings().chunk(doc, count_tokens)``).
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")

    def is_short(block: _SectionBlock) -> bool:
        text = doc.text[block.paragraphs[0].start : block.paragraphs[-1].end]
        return count_tokens(text) <= intro_tokens

    paragraph_starts = [p.start for p in doc.paragraphs]
    chunks: list[Chunk] = []
    for block in section_blocks(doc, is_short if intro_tokens > 0 else lambda block: False):
        for start, end in _block_spans(doc, block, count_tokens, max_tokens, overlap_tokens):
            covered = doc.paragraphs[
                bisect.bisect_right(paragraph_starts, start) - 1 : bisect.bisect_left(paragraph_starts, end)
            ]
            first, last = covered[0], covered[-1]
            # The section of the chunk's first text (not heading) paragraph: a short parent's intro
            # glued in front of a subsection cites the parent.
            body = next((p for p in covered if not p.is_heading), None)
            page_start, page_end = doc.page_span(start, end)
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks)}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    text=doc.text[start:end],
                    start=start,
                    end=end,
                    paragraph_start=first.number,
                    paragraph_end=last.number,
                    section=body.section if body and body.section else block.section,
                    page_start=page_start,
                    page_end=page_end,
                )
            )
    return chunks
