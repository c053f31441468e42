"""Pages from ingest to the answer: saved with the index, carried by hits, in the JSON contract and citations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.build import BuildSettings, build_index
from index.hits import Hit
from index.passage_index import PassageIndex
from index.search import Searcher
from index.segments import document_from_dict, document_to_dict
from ingest.documents import Chunk
from tests.conftest import FIXTURES
from tests.document_factory import make_pdf, report_blocks


def hit(**changes) -> Hit:
    values = dict(rank=1, score=1.0, chunk_id="r.pdf#3", doc="r.pdf", title="报告")
    values |= dict(section=("一、总体要求", "指导思想"), paragraph=5, paragraph_end=6, text="……", start=10, end=12)
    values |= dict(date="2022-11-07")
    return Hit(**(values | changes))


def test_citation_names_the_page_then_the_paragraph():
    assert hit(page=2, page_end=2).citation == "报告 › 一、总体要求 › 指导思想 › p. 2 ¶5–6, 2022-11-07"
    assert hit(page=2, page_end=3, paragraph_end=5).citation == "报告 › 一、总体要求 › 指导思想 › p. 2–3 ¶5, 2022-11-07"
    assert hit().citation == "报告 › 一、总体要求 › 指导思想 › ¶5–6, 2022-11-07"


def test_json_contract_adds_page_fields_null_for_unpaged_sources():
    paged, unpaged = hit(page=2, page_end=3).to_json(), hit().to_json()
    assert (paged["page"], paged["page_end"]) == (2, 3)
    assert unpaged["page"] is None and unpaged["page_end"] is None
    assert set(unpaged) - {"page", "page_end"} == {
        "rank", "score", "doc", "title", "section", "paragraph", "paragraph_end", "text", "start", "end", "date",
        "url", "chunk_id", "also_in", "sentence", "relevance",
    }  # fmt: skip


def test_documents_and_chunks_saved_before_pages_existed_still_load():
    chunk = Chunk("a.txt#0", "a.txt", "标题", "正文", 0, 2, 1, 1, ("一",))
    old = {key: value for key, value in chunk.to_dict().items() if key not in ("page_start", "page_end")}
    assert Chunk.from_dict(old) == chunk and (chunk.page_start, chunk.page_end) == (0, 0)
    from ingest.documents import Document

    document = Document("a.txt", "标题", "正文", [], page_starts=[0, 10])
    data = document_to_dict(document)
    assert document_from_dict(data).page_starts == [0, 10]
    del data["page_starts"]
    assert document_from_dict(data).page_starts == []


@pytest.fixture(scope="module")
def paged_index(tmp_path_factory, encoder) -> Path:
    corpus = tmp_path_factory.mktemp("corpus")
    make_pdf(corpus / "report.pdf", report_blocks())
    shutil.copy(FIXTURES / "corpus_small" / "law.md", corpus / "law.md")
    directory = tmp_path_factory.mktemp("index")
    build_index(corpus, directory, encoder, BuildSettings(max_tokens=96, overlap_tokens=16), progress=False)
    return directory


def test_pages_are_saved_with_the_index_and_come_back_in_hits(paged_index, encoder):
    index = PassageIndex.load(paged_index, encoder.info)
    report = index.documents["report.pdf"]
    assert len(report.page_starts) == 3 and report.title == "携手构建网络空间命运共同体"
    pdf_chunks = [chunk for chunk in index.chunks if chunk.doc_id == "report.pdf"]
    assert all(1 <= chunk.page_start <= chunk.page_end <= 3 for chunk in pdf_chunks)
    assert {chunk.page_start for chunk in pdf_chunks} == {1, 2, 3}
    assert any(chunk.page_end > chunk.page_start for chunk in pdf_chunks)
    for chunk in pdf_chunks:
        assert report.page_span(chunk.start, chunk.end) == (chunk.page_start, chunk.page_end)
    assert all(chunk.page_start == chunk.page_end == 0 for chunk in index.chunks if chunk.doc_id == "law.md")

    searcher = Searcher(index, encoder)
    found = searcher.search("第11次专题会议指出了什么？", k=3, documents=["report.pdf"])[0]
    chunk = next(c for c in pdf_chunks if c.chunk_id == found.chunk_id)
    assert (found.page, found.page_end) == (chunk.page_start, chunk.page_end) and found.page >= 2
    assert f"p. {found.page}" in found.citation
    assert found.citation.startswith("携手构建网络空间命运共同体 › 二、主要任务")
    assert json.loads(json.dumps(found.to_json()))["page"] == found.page

    law = searcher.search("中国制定了哪些数据安全方面的法律？", k=1, documents=["law.md"])[0]
    assert law.page is None and law.to_json()["page"] is None and "p." not in law.citation
