"""Retrieval behaviour: fusion, duplicate collapse, cross-lingual keywords, answerability, BEIR reader."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from eval.question_sets import BadQuestionSet, beir_file_name, read_beir
from index.build import BuildSettings, build_index
from index.passage_index import PassageIndex
from index.search import CONFIGS, SearchConfig, Searcher
from index.search.candidates import Candidate, CandidatesConfig, dense_candidates
from index.search.collapse import CollapseConfig, collapse
from index.search.fusion import FusionConfig, fuse
from index.search.keyword_scores import KeywordConfig
from index.search.question import document_references
from index.translate import QueryTranslator
from tests.cli import eval_cli
from tests.conftest import FIXTURES


def searcher_over(corpus: str, tmp_path_factory, encoder) -> Searcher:
    directory = tmp_path_factory.mktemp(f"{corpus}-index")
    build_index(FIXTURES / corpus, directory, encoder, BuildSettings(max_tokens=64, overlap_tokens=8), progress=False)
    return Searcher(PassageIndex.load(directory), encoder)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, encoder) -> Searcher:
    return searcher_over("corpus_dup", tmp_path_factory, encoder)


def test_reciprocal_rank_fusion_rewards_agreement():
    candidates = {
        0: Candidate(0, dense=0.90, sentence=0.80, keyword=0.0),  # dense only
        1: Candidate(1, dense=0.85, sentence=0.88, keyword=5.0),  # second in dense, first elsewhere
        2: Candidate(2, dense=0.80, sentence=0.70, keyword=9.0),
    }
    ranked = fuse(candidates, FusionConfig(rrf_k=60, dense_weight=1.0, keyword_weight=1.0))
    assert [c.chunk for c in ranked] == [1, 2, 0]
    expected = 1 / 62 + 1 / 61 + 1 / 62  # dense rank 2, sentence rank 1, keyword rank 2 (k = 60)
    assert ranked[0].fused == pytest.approx(expected)
    dense = CONFIGS["dense"]
    dense_only = fuse({i: Candidate(i, dense=c.dense) for i, c in candidates.items()}, dense.fusion, False, False)
    assert [c.chunk for c in dense_only] == [0, 1, 2]


def test_collapse_groups_near_copies_and_keeps_k_distinct():
    texts = [
        "加强个人信息保护。制定《个人信息保护法》。",
        "编者按：加强个人信息保护。制定《个人信息保护法》。",
        "粮食产量创历史新高。",
    ]
    ranked = [Candidate(0), Candidate(1), Candidate(2)]
    groups = collapse(ranked, texts, k=2, config=CollapseConfig())
    assert [[c.chunk for c in g] for g in groups] == [[0, 1], [2]]
    assert len(collapse(ranked, texts, k=3, config=CONFIGS["dense"].collapse)) == 3  # collapse off: copies stay


def test_duplicate_passage_is_shown_once_with_also_in(searcher):
    hits = searcher.search("哪部法律对个人信息处理活动作出全面规范？", k=3)
    texts_with_law = [h for h in hits if "《个人信息保护法》" in h.text]
    assert len(texts_with_law) == 1
    hit = texts_with_law[0]
    assert {entry["doc"] for entry in hit.also_in} == ({"law.md", "repost.md"} - {hit.doc})
    copy = hit.also_in[0]
    document = searcher.index.documents[copy["doc"]]
    assert "《个人信息保护法》" in document.text[copy["start"] : copy["end"]]


def test_best_sentence_is_located_inside_the_passage(searcher):
    hit = searcher.search("5G移动电话用户数是多少？", k=1)[0]
    assert hit.start <= hit.sentence_start < hit.sentence_end <= hit.end
    assert "4.55亿" in hit.sentence


def test_english_question_reaches_chinese_passage_through_keywords(searcher):
    answer = searcher.answer("Which law protects personal information?", k=2)
    assert {"个人", "信息", "法律", "保护"} <= set(answer.query_terms)
    assert "《个人信息保护法》" in answer.hits[0].text


def test_translator_phrases_names_numbers():
    translator = QueryTranslator.build({"执法", "法律", "乌镇", "中国", "北京", "5g", "网络", "世界"})
    groups = {g.source: g.terms for g in translator.translate("Beijing's law enforcement in Wuzhen, 5G networks")}
    assert groups["law enforcement"] == ("执法",)  # a phrase before its words
    assert "中国" in groups["Beijing"]  # a capital names its country
    assert groups["Wuzhen"] == ("乌镇",)  # a name through pinyin
    assert groups["5G"] == ("5g",)  # kept as it is
    assert "网络" in groups["networks"]  # plural → base form


def test_the_shipped_calibration_answers_what_the_documents_hold_and_flags_the_rest(searcher):
    """A tiny collection the calibration never saw: its background is measured at build time, and the
    shipped calibration judges questions in both languages against it."""
    assert searcher.calibration.fitted and searcher.background is not None
    for question in (
        "哪部法律对个人信息处理活动作出全面规范？",
        "截至2022年6月中国建成了多少个5G基站？",
        "Which law comprehensively regulates the handling of personal information?",
        "How many 5G base stations had China built by June 2022?",
    ):
        answer = searcher.answer(question, k=3)
        assert answer.answerable, question
        assert all(hit.relevance is not None for hit in answer.hits)
    for question in (
        "红烧肉怎么做才能肥而不腻？",
        "马拉松全程是多少公里？",
        "Who won the 2022 FIFA World Cup final?",
        "How do I reset my Netflix password?",
        "' OR 1=1 --",
    ):
        answer = searcher.answer(question, k=3)
        assert not answer.answerable, (question, answer.relevance)
        assert answer.hits  # the closest passages are still returned, to be checked


def test_beir_reader(tmp_path):
    beir = read_beir(FIXTURES / "beir_small")
    assert [q.id for q in beir.questions] == ["q1", "q2"]  # q3 has no judgements
    assert beir.questions[1].relevant_docs == (("d/3", 1),)
    assert beir.documents["d2"][0] == "粮食"
    assert beir_file_name("d/3") == "d%002f3.txt"
    with pytest.raises(BadQuestionSet, match="not a BEIR folder"):
        read_beir(tmp_path)


def test_eval_cli_on_beir_folder_writes_report(tmp_path):
    out = tmp_path / "report"
    result = eval_cli("--beir", FIXTURES / "beir_small", "--config", "dense", "full", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["full"]["all"]["questions"] == 2
    assert metrics["full"]["all"]["hit_rate@3"] == 1.0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["configurations"] == ["dense", "full"] and "full" in report["significance_vs_first"]
    assert (out / "metrics.png").stat().st_size > 1000 and "| full |" in (out / "report.md").read_text()


def test_document_filter_and_highlight_skips_headings(searcher):
    hits = searcher.search("中国发布了什么数据安全倡议？", k=3, documents={"law.md"})
    assert hits and {hit.doc for hit in hits} == {"law.md"}
    headings = {p.start for p in searcher.index.documents["law.md"].paragraphs if p.is_heading}
    assert hits[0].sentence_start not in headings and "《全球数据安全倡议》" in hits[0].sentence
    assert searcher.search("粮食产量", k=3, documents={"nothing.txt"}) == []


FARM_PROVINCES = "河北 山西 辽宁 吉林 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 四川 云南".split()
FARM_REPORT = "标题：各省高标准农田建设情况\n\n" + "\n\n".join(
    f"{name}高标准农田建设：截至{2006 + i}年底，{name}累计建成高标准农田{120 + 7 * i}万亩，"
    f"占全国已建成高标准农田的{2 + i / 10}%。"
    for i, name in enumerate(FARM_PROVINCES)
)
MEETING = (
    "# 网络安全工作会议纪要\n\n"
    "会议听取了关键信息基础设施安全保护情况的汇报，部署了数据安全风险评估和网络安全等级保护工作。\n\n"
    "会议要求加快推进5G网络和数据中心建设，完善个人信息保护制度，并指出全国累计建成高标准农田10亿亩，"
    "数字乡村建设要与之衔接。\n\n"
    "会议强调要加强网络安全人才培养，开展网络安全宣传周活动。\n"
)


@pytest.fixture(scope="module")
def filtered_index(tmp_path_factory, encoder) -> Path:
    """Sixteen passages of one report about farmland, all better answers than the one passage of a meeting
    record that mentions it; then a document deleted and one added (a segment with deleted rows, labels that
    are not the rows)."""
    corpus, directory = tmp_path_factory.mktemp("filter-corpus"), tmp_path_factory.mktemp("filter-index")
    (corpus / "a_old.txt").write_text("旧文件\n\n粮食产量创历史新高，农民用上了无人机播种。\n", encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM_REPORT, encoding="utf-8")
    (corpus / "meeting.md").write_text(MEETING, encoding="utf-8")
    build_index(corpus, directory, encoder, BuildSettings(max_tokens=64, overlap_tokens=8), progress=False)
    (corpus / "a_old.txt").unlink()
    (corpus / "z_new.txt").write_text("新文件\n\n智慧农业示范区达到一百个。\n", encoding="utf-8")
    build_index(corpus, directory, encoder, BuildSettings(max_tokens=64, overlap_tokens=8), progress=False)
    return directory


def test_a_document_filter_finds_the_chosen_documents_best_however_far_down_it_ranks(filtered_index, encoder):
    """The filter is searched inside each retriever: the meeting's passage ranks below the sixteen farm
    passages on both sides, past ten times the candidates (what the filter used to fetch and then cut)."""
    index = PassageIndex.load(filtered_index)
    assert index.deleted[0] and not index.vectors.identity  # deleted rows present; labels are not rows
    question = "全国累计建成了多少亩高标准农田？"
    narrow = SearchConfig("narrow", candidates=CandidatesConfig(count=1))
    searcher = Searcher(index, encoder, narrow)
    meeting = {i for i, chunk in enumerate(index.chunks) if chunk.doc_id == "meeting.md"}
    vector = encoder.encode_queries([question])[0]
    unfiltered = dense_candidates(index, vector, 10)
    searcher.keyword.add_scores(
        unfiltered, searcher.keyword.groups(question, narrow.keyword), narrow.keyword, 10, vector
    )
    assert not set(unfiltered) & meeting  # neither retriever's top 10 holds the meeting's passage

    hits = searcher.search(question, k=3, documents={"meeting.md"})
    assert hits and {hit.doc for hit in hits} == {"meeting.md"}
    assert "10亿亩" in hits[0].text and "高标准农田" in hits[0].sentence
    for documents in ({"farm.txt", "z_new.txt"}, {"z_new.txt"}, {"a_old.txt"}, set()):
        found = {hit.doc for hit in searcher.search(question, k=5, documents=documents)}
        assert found <= documents and bool(found) == bool(documents - {"a_old.txt"})  # a deleted one: none


def test_a_filter_of_every_document_searches_as_no_filter(filtered_index, encoder):
    searcher = Searcher(PassageIndex.load(filtered_index), encoder)
    for question in ("全国累计建成了多少亩高标准农田？", "How much farmland was built by 2022?", "网络安全宣传周"):
        plain = searcher.answer(question, k=5)
        every = searcher.answer(question, k=5, documents=set(searcher.index.documents))
        assert [(hit.doc, hit.start, hit.text) for hit in every.hits] == [
            (hit.doc, hit.start, hit.text) for hit in plain.hits
        ]
        assert [hit.relevance for hit in every.hits] == pytest.approx([hit.relevance for hit in plain.hits])
        assert every.answerable == plain.answerable


def test_document_references_are_kinds_and_years():
    assert document_references("按白皮书的说法，2021年网上零售额是多少？") == ["白皮书", "2021"]
    assert document_references("What does the 2019 Concept Paper say, and the commentaries?") == [
        "概念文件",
        "评论",
        "2019",
    ]
    assert document_references("网速提升了120190倍") == []
    # Whole words only: not 报告 in 报告会; the longest kind that is one (工作报告, listed in the lexicon).
    assert document_references("宣讲团报告会有多少人？工作报告指出什么？") == ["工作报告"]
    assert document_references("宣讲团报告会有多少人？这份报告指出什么？") == ["报告"]


@pytest.fixture(scope="module")
def reference_searcher(tmp_path_factory, encoder) -> Searcher:
    return searcher_over("corpus_refs", tmp_path_factory, encoder)


def test_document_kind_in_a_question_matches_titles_not_passage_text(reference_searcher):
    searcher = reference_searcher
    full = CONFIGS["full"].keyword
    # The news passage says 概念文件 four times; on the keyword side the word must not count there.
    groups = searcher.keyword.groups("概念文件怎样阐述网络主权原则？", full)
    assert not {term for group in groups for term in group.terms} & {"概念文件", "概念", "文件"}
    assert {"网络", "主权", "原则"} <= {term for group in groups for term in group.terms}
    plain_groups = searcher.keyword.groups("概念文件怎样阐述网络主权原则？", replace(full, document_references=False))
    assert {"概念", "文件"} <= {term for group in plain_groups for term in group.terms}

    chunks = searcher.index.chunks
    for references, named in ((["概念文件"], "concept.md"), (["2019"], "concept.md"), (["2022"], "news.md")):
        candidates = {i: Candidate(i) for i in range(len(chunks))}
        searcher.keyword.add_document_scores(candidates, references)
        boosted = {chunks[i].doc_id for i, c in candidates.items() if c.keyword > 0}
        assert boosted == {named}, references
    candidates = {i: Candidate(i) for i in range(len(chunks))}
    searcher.keyword.add_document_scores(candidates, ["白皮书", "1999"])  # names no document here
    assert all(c.keyword == 0 for c in candidates.values())


def test_common_words_score_candidates_by_lookup_with_the_same_bm25(searcher, encoder, monkeypatch):
    """Past ``common_term_postings`` a word scores the candidates the other words found, looked up by binary
    search: each candidate gets the same keyword score and coverage as when every word is read whole."""
    question = "中国制定了哪些数据安全方面的法律？"
    vector = encoder.encode_queries([question])[0]
    config = CONFIGS["full"].keyword
    scorer = searcher.keyword
    groups = scorer.groups(question, config)
    assert len(groups) >= 3

    def scored(config: KeywordConfig) -> dict[int, Candidate]:
        candidates = dense_candidates(searcher.index, vector, 100)
        scorer.add_scores(candidates, groups, config, 100, vector)
        return candidates

    whole = scored(config)
    frequencies = sorted(scorer.term_frequency(term) for group in groups for term in group.terms)
    # all but the rarest word are common
    common = replace(config, common_term_postings=frequencies[0], common_term_share=0.0)
    lookups = []
    original = scorer.term_scores_at
    monkeypatch.setattr(scorer, "term_scores_at", lambda term, rows: lookups.append(term) or original(term, rows))
    looked_up = scored(common)
    assert frequencies[-1] > frequencies[0] and lookups  # the common words were looked up, not read
    assert set(looked_up) <= set(whole) and len(looked_up) >= len(dense_candidates(searcher.index, vector, 100))
    for i, candidate in looked_up.items():
        assert candidate.keyword == pytest.approx(whole[i].keyword, rel=1e-5, abs=1e-6)
        assert candidate.coverage == pytest.approx(whole[i].coverage, rel=1e-4, abs=1e-6)
    assert searcher.search(question, k=3)[0].doc == "law.md"  # still answered


def test_keyword_lookup_equals_postings(searcher):
    keyword = searcher.index.keyword
    for token in ("数据安全法", "个人信息", "粮食", "不存在的词"):
        rows, values = keyword.postings(token)
        probe = list(range(len(searcher.index.chunks)))
        looked = keyword.scores_at(token, probe)
        expected = [0.0] * len(probe)
        for row, value in zip(rows.tolist(), values.tolist(), strict=True):
            expected[row] = value
        assert looked.tolist() == pytest.approx(expected)
        assert keyword.frequency(token) == len(rows)


def test_search_configs_round_trip_as_dicts():
    for config in CONFIGS.values():
        assert SearchConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    partial = SearchConfig.from_dict({"name": "wide", "candidates": {"count": 300}, "fusion": {"rrf_k": 60}})
    assert (partial.candidates.count, partial.fusion.rrf_k, partial.fusion.keyword_weight) == (300, 60, 1.25)
    assert partial.keyword == CONFIGS["full"].keyword  # stages left out keep their defaults
    assert not CONFIGS["dense"].keyword.enabled and not CONFIGS["dense"].collapse.enabled
