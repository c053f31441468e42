"""Chunking: exact offsets, full coverage, token budget, sections, headings, sentence punctuation."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from ingest.chunking import chunk_document, section_blocks
from ingest.documents import Chunk, Document, Paragraph
from ingest.pipeline import load_corpus
from tests.conftest import PROJECT

CORPUS = PROJECT / "data" / "corpus"
SIZES = [(64, 16), (256, 32), (512, 0)]
# A chunk boundary inside a paragraph falls after one of these (the splitter's sentence and clause marks).
SPLIT_MARKS = "。！？；”’」』）》.!?;，,：:、"


@pytest.fixture(scope="module")
def corpus() -> list[Document]:
    documents, problems = load_corpus(CORPUS)
    assert problems == [] and len(documents) == 5
    return documents


@pytest.fixture(scope="module")
def chunked(corpus, count_tokens) -> dict[tuple[int, int], list[tuple[Document, list[Chunk]]]]:
    return {size: [(doc, chunk_document(doc, count_tokens, *size)) for doc in corpus] for size in SIZES}


@pytest.mark.parametrize("size", SIZES)
def test_offsets_are_exact_and_ids_ordered(chunked, size):
    for doc, chunks in chunked[size]:
        assert chunks
        for ordinal, chunk in enumerate(chunks):
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert chunk.chunk_id == f"{doc.doc_id}#{ordinal}"
            assert (chunk.doc_id, chunk.title) == (doc.doc_id, doc.title)
            assert chunk.text == chunk.text.strip()
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)


@pytest.mark.parametrize("size", SIZES)
def test_every_character_of_the_text_is_in_some_chunk(chunked, size):
    for doc, chunks in chunked[size]:
        covered = bytearray(len(doc.text))
        for chunk in chunks:
            covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
        missing = "".join(ch for ch, seen in zip(doc.text, covered, strict=True) if not seen and not ch.isspace())
        assert missing == "", doc.doc_id


@pytest.mark.parametrize("size", SIZES)
def test_chunks_fit_the_token_budget(chunked, size, count_tokens):
    max_tokens = size[0]
    for _, chunks in chunked[size]:
        assert max(count_tokens(c.text) for c in chunks) <= max_tokens


@pytest.mark.parametrize("size", SIZES)
def test_paragraph_range_and_section_match_the_offsets(chunked, size):
    for doc, chunks in chunked[size]:
        for chunk in chunks:
            first, last = doc.paragraphs[chunk.paragraph_start - 1], doc.paragraphs[chunk.paragraph_end - 1]
            assert first.start <= chunk.start < first.end + 2  # may start right after a paragraph break
            assert last.start < chunk.end <= last.end
            covered = doc.paragraphs[chunk.paragraph_start - 1 : chunk.paragraph_end]
            # Chunks never cross sections: every body paragraph in a chunk has the chunk's section.
            assert {p.section for p in covered if not p.is_heading} <= {chunk.section}


@pytest.mark.parametrize("size", SIZES)
def test_sentence_punctuation_stays_on_its_sentence(chunked, size):
    for doc, chunks in chunked[size]:
        paragraph_ends = {p.end for p in doc.paragraphs}
        for chunk in chunks:
            assert not re.match(r"[，。！？；、：”’）》」』]", chunk.text), chunk.chunk_id
            if chunk.end not in paragraph_ends:
                assert chunk.text[-1] in SPLIT_MARKS, chunk.chunk_id


def test_small_chunks_end_on_sentence_marks_more_than_on_commas(chunked):
    ends = [
        c.text[-1] for doc, chunks in chunked[(64, 16)] for c in chunks if c.end not in {p.end for p in doc.paragraphs}
    ]
    assert ends.count("。") > 3 * ends.count("，") > 0


@pytest.mark.parametrize("size", [(64, 16), (256, 32)])
def test_headings_start_their_sections_first_chunk(chunked, size):
    for doc, chunks in chunked[size]:
        for chunk in chunks:
            covered = doc.paragraphs[chunk.paragraph_start - 1 : chunk.paragraph_end]
            assert not all(p.is_heading for p in covered), f"heading alone: {chunk.chunk_id} {chunk.text!r}"
        heading_starts = {p.start for p in doc.paragraphs if p.is_heading}
        chunk_starts = {c.start for c in chunks}
        first_headings = {block.paragraphs[0].start for block in section_blocks(doc) if block.paragraphs[0].is_heading}
        assert first_headings <= chunk_starts
        assert heading_starts  # every corpus document has headings


def test_whitepaper_section_chunk_begins_with_its_headings(chunked):
    whitepaper = next(chunks for doc, chunks in chunked[(256, 32)] if doc.doc_id.startswith("001"))
    chunk = next(c for c in whitepaper if c.text.startswith("一、构建网络空间命运共同体是信息时代的必然选择"))
    assert chunk.section == ("一、构建网络空间命运共同体是信息时代的必然选择",)
    assert "互联互通是网络空间的基本属性" in chunk.text
    toc = [c for c in whitepaper if c.section == ("目录",)]
    assert toc and all("前言" in c.text or "结束语" in c.text or "（" in c.text for c in toc)


def test_overlap_is_a_parameter(corpus, count_tokens):
    whitepaper = next(doc for doc in corpus if doc.doc_id.startswith("001"))
    with_overlap = chunk_document(whitepaper, count_tokens, 64, 16)
    without = chunk_document(whitepaper, count_tokens, 64, 0)
    overlapping = sum(1 for a, b in itertools.pairwise(with_overlap) if b.start < a.end)
    assert overlapping > 10
    assert all(b.start >= a.end for a, b in itertools.pairwise(without))
    assert len(without) < len(with_overlap)


@pytest.mark.parametrize("overlap", [0, 12])
def test_repeated_sentences_get_their_own_offsets(count_tokens, overlap: int):
    """Periodic text defeats a plain ``str.find``: every piece would map to the first copy."""
    sentence = "网络空间是人类共同的活动空间。"
    paragraph = sentence * 6
    text = "\n\n".join([paragraph] * 4)
    starts = [i * (len(paragraph) + 2) for i in range(4)]
    paragraphs = [Paragraph(n + 1, start, start + len(paragraph)) for n, start in enumerate(starts)]
    doc = Document(doc_id="repeat.txt", title="重复", text=text, paragraphs=paragraphs)
    chunks = chunk_document(doc, count_tokens, max_tokens=24, overlap_tokens=overlap)
    assert len(chunks) > 4
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert all(b.start > a.start and b.end > a.end for a, b in itertools.pairwise(chunks))
    if overlap == 0:
        assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))
    covered = set().union(*(range(c.start, c.end) for c in chunks))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert chunks[-1].end == len(text) and chunks[-1].paragraph_end == 4


def test_max_tokens_must_be_positive(corpus, count_tokens):
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_document(corpus[0], count_tokens, max_tokens=0, overlap_tokens=0)


def test_chunks_round_trip_through_dicts(chunked):
    _, chunks = chunked[(256, 32)][0]
    assert [Chunk.from_dict(c.to_dict()) for c in chunks] == chunks


def test_corpus_path_is_the_bundled_one():
    assert sorted(p.name[:3] for p in Path(CORPUS).glob("*.txt")) == ["000", "001", "002", "003", "004"]


def test_short_section_intro_joins_its_first_subsection(corpus, count_tokens):
    whitepaper = next(doc for doc in corpus if doc.doc_id.startswith("001"))
    part = ("三、构建网络空间命运共同体的中国贡献", "（四）促进全球普惠包容发展")
    separate = chunk_document(whitepaper, count_tokens, 480, 64)
    intro = next(c for c in separate if c.text.startswith("（四）促进全球普惠包容发展"))
    assert intro.section == part and "1.积极开展网络扶贫国际合作" not in intro.text

    joined = chunk_document(whitepaper, count_tokens, 480, 64, intro_tokens=120)
    chunk = next(c for c in joined if c.text.startswith("（四）促进全球普惠包容发展"))
    assert "中国坚持以人为本" in chunk.text and "1.积极开展网络扶贫国际合作" in chunk.text
    assert chunk.section == part  # cited by where its text starts
    assert whitepaper.text[chunk.start : chunk.end] == chunk.text
    assert max(count_tokens(c.text) for c in joined) <= 480
    # A long section text stays on its own: 一、's intro is over the limit.
    long_intro = chunk_document(whitepaper, count_tokens, 480, 64, intro_tokens=10)
    assert next(c for c in long_intro if c.text.startswith("（四）促进全球普惠包容发展")).text == intro.text
