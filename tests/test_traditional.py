"""Traditional Chinese collections: passages and questions compared folded, the original text cited.

A small real index (the default model) of a Taiwan document, a mainland document on a neighbouring topic
and an unrelated one."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from index.build import BuildSettings, build_index
from index.passage_index import PassageIndex
from index.search import DEFAULT_CONFIG, Searcher
from index.search.candidates import Candidate
from index.search.highlight import highlight_row
from index.translate import TermGroup
from ui import render

TAIWAN = """---
title: 臺灣的個人資料保護
---

# 個人資料保護法

臺灣在2010年修正《個人資料保護法》，規範公務機關與非公務機關蒐集、處理及利用個人資料。違反規定的機關可處新臺幣罰鍰。

# 網路與軟體

政府推動網路安全政策，要求軟體供應商定期更新程式。資訊安全漏洞須在三十日內修補。
"""

MAINLAND = """---
title: 中国的数据安全立法
---

全国人民代表大会常务委员会于2021年6月通过《数据安全法》，自2021年9月1日起施行。该法规定了数据分类分级保护制度。

国家建立数据安全应急处置机制，发生数据安全事件时，有关主管部门应当依法启动应急预案。
"""

RIVER = """---
title: 长江
---

长江是中国第一长河，全长约6300公里，流经十一个省级行政区，最后注入东海。三峡工程位于湖北省宜昌市。
"""

SMALL = BuildSettings(max_tokens=96, overlap_tokens=8)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trad-corpus")
    for name, text in (("taiwan.md", TAIWAN), ("mainland.md", MAINLAND), ("river.md", RIVER)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def searcher(corpus, tmp_path_factory, encoder) -> Searcher:
    directory = tmp_path_factory.mktemp("trad-index")
    build_index(corpus, directory, encoder, SMALL, progress=False, log=lambda _: None)
    return Searcher(PassageIndex.load(directory), encoder)


def test_a_simplified_question_finds_the_traditional_passage_and_cites_it_as_written(searcher):
    answer = searcher.answer("台湾在哪一年修正了个人数据保护法？", k=3)
    hit = answer.hits[0]
    document = searcher.index.documents[hit.doc]
    assert hit.doc == "taiwan.md" and "2010年修正《個人資料保護法》" in hit.sentence
    # Cited and highlighted on the original Traditional text, at its exact offsets.
    assert hit.text == document.text[hit.start : hit.end] and "資料" in hit.text and "数据" not in hit.text
    assert document.text[hit.sentence_start : hit.sentence_end] == hit.sentence
    assert hit.start <= hit.sentence_start < hit.sentence_end <= hit.end
    # The question's 数据 (mainland) met the passage's 資料 (Taiwan) on the keyword side, and is marked there.
    assert "数据" in answer.query_terms and row_of(searcher, hit.chunk_id) in keyword_rows(searcher, "数据")
    marked = {hit.text[s:e] for s, e in render.term_spans(hit.text, answer.query_terms)}
    assert {"資料", "個人", "保護", "修正"} <= marked


def test_a_traditional_question_finds_the_simplified_passage(searcher):
    answer = searcher.answer("中國的資料安全法是哪一年通過的？", k=3)
    assert answer.question == "中国的数据安全法是哪一年通过的？"  # searched folded
    assert answer.hits[0].doc == "mainland.md" and "2021年6月通过《数据安全法》" in answer.hits[0].sentence


def row_of(searcher: Searcher, chunk_id: str) -> int:
    return next(i for i, chunk in enumerate(searcher.index.chunks) if chunk.chunk_id == chunk_id)


def keyword_rows(searcher: Searcher, word: str) -> set[int]:
    """The passages whose keyword tokens hold this word."""
    return {int(row) for row in searcher.index.keyword.postings(word)[0]}


@pytest.mark.parametrize(
    ("question", "mainland_words", "evidence"),
    [
        ("软件供应商要多久更新程序？", ["软件", "程序"], "要求軟體供應商定期更新程式"),  # 軟體, 程式
        ("信息安全漏洞要在多少天内修补？", ["信息"], "資訊安全漏洞須在三十日內修補"),  # 資訊
        ("政府推动了什么网络政策？", ["网络"], "政府推動網路安全政策"),  # 網路
    ],
)
def test_regional_words_meet_their_mainland_forms(searcher, question, mainland_words, evidence):
    hit = searcher.search(question, k=3)[0]
    assert hit.doc == "taiwan.md" and evidence in hit.text
    for word in mainland_words:  # the Taiwan word is indexed in its mainland form
        assert row_of(searcher, hit.chunk_id) in keyword_rows(searcher, word)


def test_highlight_prefers_the_sentence_holding_the_folded_terms(searcher):
    """With equal cosines, the term bonus decides: the folded question words are found in the original
    Traditional sentence."""
    index = searcher.index
    chunk = next(i for i, c in enumerate(index.chunks) if c.doc_id == "taiwan.md" and "網路" in c.text)
    rows = index.sentences.rows_of(chunk)
    candidate = Candidate(chunk, sentence_scores=np.zeros(rows.stop - rows.start, np.float32))
    groups = [TermGroup("信息安全", ("信息安全",)), TermGroup("修补", ("修补",))]
    headings = searcher.document_info("taiwan.md").headings
    row = highlight_row(index, candidate, groups, DEFAULT_CONFIG.highlight, headings)
    text = index.documents["taiwan.md"].text
    assert text[int(index.sentences.start[row]) : int(index.sentences.end[row])].startswith("資訊安全漏洞")


def test_the_fold_is_recorded_and_an_index_built_without_it_is_rebuilt(corpus, tmp_path, encoder):
    directory = tmp_path / "index"
    unfolded = BuildSettings(**{**asdict(SMALL), "fold": "", "fold_embeddings": False})
    build_index(corpus, directory, encoder, unfolded, progress=False, log=lambda _: None)
    old = PassageIndex.load(directory)
    assert old.manifest["build"]["fold"] == ""
    # Without folding, a question is compared as before: converted to Simplified, passages as written.
    assert Searcher(old, encoder).answer("中國的資料安全法").question == "中国的资料安全法"
    report = build_index(corpus, directory, encoder, SMALL, progress=False, log=lambda _: None)
    assert report.embedded == 3  # every document again: never a mix of folded and unfolded passages
    assert PassageIndex.load(directory).manifest["build"]["fold"] == SMALL.fold != ""
    # A manifest written before folding existed reads as "not folded", not as today's default.
    recorded = {k: v for k, v in SMALL.to_dict().items() if k not in ("fold", "fold_embeddings")}
    assert BuildSettings.from_dict(recorded) == unfolded
