"""Document → Chunks: token-sized passages inside one section, with exact offsets into Document.text.

Splitting is langchain's RecursiveCharacterTextSplitter: paragraphs first, then sentences (the closing
。！？； stays on its sentence, with any closing quote), then clauses, sized in the embedding model's tokens.
Chunks never cross a section boundary; a heading is glued to the start of its section's first chunk.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass
class _SectionBlock:
    """Consecutive paragraphs sharing one section path; the unit that chunks never cross."""

    section: tuple[str, ...]
    paragraphs: list[Paragraph]

    @property
    def only_headings(self) -> bool:
        return all(p.is_heading for p in self.paragraphs)


def section_blocks(doc: Document) -> list[_SectionBlock]:
    """Group paragraphs by section; a block of headings only (``一、`` right before ``（一）``) joins the next."""
    blocks: list[_SectionBlock] = []
    for paragraph in doc.paragraphs:
        if blocks and blocks[-1].section == paragraph.section:
            blocks[-1].paragraphs.append(paragraph)
        elif blocks and blocks[-1].only_headings:
            blocks[-1].paragraphs.append(paragraph)
            blocks[-1].section = paragraph.section
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
        while position >= 0:
            end = position + len(piece)
            overlap = text[position:previous_end] if position < previous_end else ""
            if end > previous_end and (not overlap.strip() or count_tokens(overlap) <= overlap_tokens):
                break
            position = text.find(piece, position + 1)
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
    """Chunk spans of one section block, its leading headings glued to the first chunk.

    The splitter would flush a short heading as a chunk of its own whenever the paragraph after it is too
    long to join, so the body is split alone and the heading prepended; if that overflows, the body is
    split again with a budget smaller by the heading's size.
    """
    block_start, block_end = block.paragraphs[0].start, block.paragraphs[-1].end
    heading_count = next((i for i, p in enumerate(block.paragraphs) if not p.is_heading), len(block.paragraphs))
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
    max_tokens: int = 256,
    overlap_tokens: int = 32,
) -> list[Chunk]:
    """Chunks of at most ``max_tokens`` tokens (``overlap_tokens`` shared with the previous chunk of the
    same section), each with ``doc.text[chunk.start:chunk.end] == chunk.text``."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    paragraph_starts = [p.start for p in doc.paragraphs]
    chunks: list[Chunk] = []
    for block in section_blocks(doc):
        for start, end in _block_spans(doc, block, count_tokens, max_tokens, overlap_tokens):
            first = doc.paragraphs[bisect.bisect_right(paragraph_starts, start) - 1]
            last = doc.paragraphs[bisect.bisect_left(paragraph_starts, end) - 1]
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
                    section=block.section,
                )
            )
    return chunks
