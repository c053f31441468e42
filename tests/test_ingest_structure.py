"""Structure: metadata, headings and levels, section paths, paragraph numbers, the table of contents."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.clean import clean_text
from ingest.documents import Document
from ingest.pipeline import ingest_file, load_corpus
from ingest.readers import RawDocument
from ingest.structure import build_document, derive_title, normalise_date, numbering_level
from tests.conftest import FIXTURES, PROJECT

INGEST_FIXTURES = FIXTURES / "ingest"
CORPUS = PROJECT / "data" / "corpus"
WHITEPAPER_CHAPTERS = [
    "前言",
    "一、构建网络空间命运共同体是信息时代的必然选择",
    "二、中国的互联网发展治理实践",
    "三、构建网络空间命运共同体的中国贡献",
    "四、构建更加紧密的网络空间命运共同体的中国主张",
    "结束语",
]


@pytest.fixture(scope="module")
def corpus() -> dict[str, Document]:
    documents, problems = load_corpus(CORPUS)
    assert problems == []
    return {doc.doc_id[:3]: doc for doc in documents}


def texts(doc: Document) -> list[str]:
    return [doc.paragraph_text(p) for p in doc.paragraphs]


def paragraph_starting(doc: Document, prefix: str):
    return next(p for p in doc.paragraphs if doc.paragraph_text(p).startswith(prefix))


def synthetic(body: str, **metadata: str) -> Document:
    raw = RawDocument(path=Path("synthetic.md"), doc_id="synthetic.md", text=body, metadata=metadata)
    return build_document(raw, clean_text(body, title=metadata.get("title", "")))


# ---------------------------------------------------------------- small pieces


@pytest.mark.parametrize(
    ("heading", "level"),
    [("一、时代背景", 1), ("十二、附则", 1), ("（三）网络空间法治体系不断完善", 2), ("(四)加强合作", 2),
     ("1.携手推进全球信息基础设施建设", 3), ("2、提高水平", 3), ("（1）具体措施", 3), ("第一章 总则", 1),
     ("第二节 范围", 2), ("白皮书指出，互联网是人类的共同家园。", None), ("10.51亿网民", None)],
)  # fmt: skip
def test_numbering_levels(heading: str, level: int | None):
    assert numbering_level(heading) == level


@pytest.mark.parametrize(
    ("text", "date"),
    [("(来源：世界互联网大会组委会，2019-10-18)", "2019-10-18"), ("（2022年 11月）", "2022-11"),
     ("2023年8月1日发布", "2023-08-01"), ("2022/11/09", "2022-11-09"), ("没有日期", ""), ("2015年，习近平", "")],
)  # fmt: skip
def test_dates_are_normalised(text: str, date: str):
    assert normalise_date(text) == date


def test_title_is_the_first_meaningful_paragraph_without_its_date_note():
    assert derive_title(["携手构建网络空间命运共同体（2022年11月）", "目录"], "x") == "携手构建网络空间命运共同体"
    assert derive_title(["(来源：新华社，2022-11-07)", "白皮书标题"], "x") == "白皮书标题"
    assert derive_title(["这是一段很长的正文而不是标题。" * 3], "file-stem") == "file-stem"


# ---------------------------------------------------------------- metadata per corpus style


@pytest.mark.parametrize(
    ("name", "title", "date", "source", "url_start"),
    [
        ("wechat_000.txt", "国务院新闻办公室发布《携手构建网络空间命运共同体》白皮书", "2022-11-09",
         "信息安全国家工程研究中心", "https://mp.weixin.qq.com/"),
        ("wechat_002.txt", "坚持推动构建网络空间命运共同体", "2023-08-01", "关键基础设施安全应急响应中心",
         "https://mp.weixin.qq.com/"),
        ("whitepaper_001.txt", "携手构建网络空间命运共同体", "2022-11", "新华社", ""),
        ("newspaper_003.txt", "携手构建网络空间命运共同体", "2022-11", "", ""),
        ("article_004.txt", "世界互联网大会组委会发布《携手构建网络空间命运共同体》概念文件", "2019-10-18",
         "世界互联网大会组委会", "https://www.wicwuzhen.cn/web19/release/release/201910/t20191016_11198729.shtml"),
    ],
)  # fmt: skip
def test_metadata_from_front_matter_or_text(name, title, date, source, url_start):
    doc = ingest_file(INGEST_FIXTURES / name, name)
    assert (doc.title, doc.date, doc.source) == (title, date, source)
    assert doc.url.startswith(url_start) and bool(doc.url) == bool(url_start)
    assert len(doc.content_hash) == 64


# ---------------------------------------------------------------- paragraphs and offsets


def test_paragraphs_are_numbered_from_one_and_offsets_are_exact(corpus):
    for doc in corpus.values():
        assert [p.number for p in doc.paragraphs] == list(range(1, len(doc.paragraphs) + 1))
        assert "\n\n".join(texts(doc)) == doc.text
        for previous, paragraph in zip(doc.paragraphs, doc.paragraphs[1:], strict=False):
            assert doc.text[previous.end : paragraph.start] == "\n\n"
        assert all(t and "\n" not in t for t in texts(doc))


def test_a_heading_is_in_its_own_section_and_body_paragraphs_are_under_it(corpus):
    for doc in corpus.values():
        for paragraph in doc.paragraphs:
            if paragraph.is_heading:
                assert paragraph.section[-1] == doc.paragraph_text(paragraph)


# ---------------------------------------------------------------- the white paper (001) and its TOC


def test_whitepaper_table_of_contents_does_not_become_structure(corpus):
    doc = corpus["001"]
    toc_heading = doc.paragraphs[1]
    assert doc.paragraph_text(toc_heading) == "目录" and toc_heading.is_heading
    toc_entries = doc.paragraphs[2:32]
    assert [doc.paragraph_text(p) for p in (toc_entries[0], toc_entries[-1])] == ["前言", "结束语"]
    assert all(not p.is_heading and p.section == ("目录",) for p in toc_entries)
    # Each chapter is a heading exactly once: in the body, not in the TOC.
    top_level = [doc.paragraph_text(p) for p in doc.paragraphs if p.is_heading and len(p.section) == 1]
    assert top_level == ["目录", *WHITEPAPER_CHAPTERS]
    assert sum(1 for p in doc.paragraphs if p.is_heading) == 43  # 目录 + 6 chapters + 20 （x） + 16 1./2./3.


def test_whitepaper_section_paths(corpus):
    doc = corpus["001"]
    assert doc.paragraphs[0].section == () and not doc.paragraphs[0].is_heading  # the title line
    assert paragraph_starting(doc, "互联网是人类社会发展的重要成果").section == ("前言",)
    assert paragraph_starting(doc, "信息基础设施建设规模日益扩大").section == (
        "二、中国的互联网发展治理实践",
        "（一）数字经济蓬勃发展",
    )
    assert paragraph_starting(doc, "为全球光缆海缆等建设贡献力量").section == (
        "三、构建网络空间命运共同体的中国贡献",
        "（一）不断拓展数字经济合作",
        "1.携手推进全球信息基础设施建设",
    )
    # A new （x） pops the 1./2./3. level; a new chapter pops everything below it.
    assert paragraph_starting(doc, "维护网络安全是国际社会的共同责任").section == (
        "三、构建网络空间命运共同体的中国贡献",
        "（二）持续深化网络安全合作",
    )
    assert paragraph_starting(doc, "互联网是人类的共同家园，让这个家园").section == (
        "四、构建更加紧密的网络空间命运共同体的中国主张",
    )
    assert doc.paragraphs[-1].section == ("结束语",)


def test_whitepaper_fixture_toc_with_missing_chapters_is_still_a_toc():
    doc = ingest_file(INGEST_FIXTURES / "whitepaper_001.txt", "whitepaper_001.txt")
    assert [p.section for p in doc.paragraphs[2:32]] == [("目录",)] * 30
    assert [doc.paragraph_text(p) for p in doc.paragraphs if p.is_heading and len(p.section) == 1] == [
        "目录",
        "前言",
        "一、构建网络空间命运共同体是信息时代的必然选择",
        "结束语",
    ]


def test_toc_without_marker_is_recognised_by_its_repeated_titles():
    chapters = ["一、总则", "二、目标", "三、措施", "四、保障"]
    body = "\n\n".join(f"{c}\n\n{c[2:]}的正文内容，说明具体的要求和做法。" for c in chapters)
    doc = synthetic("\n\n".join(["文件标题", *chapters, body]))
    assert [p.is_heading for p in doc.paragraphs[1:5]] == [False] * 4
    assert [doc.paragraph_text(p) for p in doc.paragraphs if p.is_heading] == chapters


# ---------------------------------------------------------------- the other styles


def test_wechat_000_bold_lines(corpus):
    doc = corpus["000"]
    bold_prose = paragraph_starting(doc, "白皮书说，中国立足新发展阶段")
    assert not bold_prose.is_heading and bold_prose.section == ()
    unnumbered_bold = paragraph_starting(doc, "构建更加紧密的网络空间命运共同体的中国主张")
    assert unnumbered_bold.is_heading and unnumbered_bold.section == ("构建更加紧密的网络空间命运共同体的中国主张",)
    assert paragraph_starting(doc, "2.提高数据安全和个人信息保护合作水平").section == (
        "三、构建网络空间命运共同体的中国贡献",
        "（二）持续深化网络安全合作",
        "2.提高数据安全和个人信息保护合作水平",
    )
    assert paragraph_starting(doc, "中国倡导尊重各国网络主权").section == (
        "构建更加紧密的网络空间命运共同体的中国主张",
        "（一）坚持尊重网络主权",
    )
    assert not doc.paragraphs[0].is_heading  # the title, though it was a markdown "# " line


def test_wechat_002_bold_headings(corpus):
    doc = corpus["002"]
    assert [doc.paragraph_text(p) for p in doc.paragraphs if p.is_heading] == [
        "网络主权原则为构建网络空间秩序奠定制度基础",
        "推动构建网络空间命运共同体为全球网络治理提供新方案",
        "夯实构建网络空间命运共同体的机制保障",
    ]
    assert doc.paragraphs[-1].section == ("夯实构建网络空间命运共同体的机制保障",)


def test_newspaper_003_whitepaper_part_has_the_whitepaper_sections(corpus):
    whitepaper, newspaper = corpus["001"], corpus["003"]
    whitepaper_sections = {whitepaper.paragraph_text(p): p.section for p in whitepaper.paragraphs[32:]}
    shared = [p for p in newspaper.paragraphs if newspaper.paragraph_text(p) in whitepaper_sections]
    assert len(shared) == 15
    for paragraph in shared:
        assert paragraph.section == whitepaper_sections[newspaper.paragraph_text(paragraph)]
    assert [p.section for p in newspaper.paragraphs[:3]] == [(), (), ()]  # title, date, issuing office


def test_newspaper_003_later_articles_are_sections_of_their_own(corpus):
    doc = corpus["003"]
    assert paragraph_starting(doc, "刘亮").section == ("下大力气制止餐饮浪费",)
    assert paragraph_starting(doc, "勤俭节约是中华民族的传统美德").section == ("下大力气制止餐饮浪费",)
    assert paragraph_starting(doc, "本报北京11月7日讯").section == ("《携手构建网络空间命运共同体》白皮书发布",)
    reports = [p for p in doc.paragraphs if doc.paragraph_text(p).startswith("新华社北京11月7日电")]
    assert len(reports) == 4
    assert all(p.section[0].startswith("坚定不移学习宣传贯彻党的二十大精神——中央宣讲团") for p in reports)
    assert not paragraph_starting(doc, "林利军摄").is_heading


def test_article_004_sections_and_numbered_list_items(corpus):
    doc = corpus["004"]
    assert [doc.paragraph_text(p) for p in doc.paragraphs if p.is_heading] == [
        "序言", "一、时代背景", "二、基本原则", "三、实践路径", "四、治理架构",
    ]  # fmt: skip
    item = paragraph_starting(doc, "1. 尊重网络主权。")
    assert not item.is_heading and item.section == ("二、基本原则",)
    assert paragraph_starting(doc, "2015年，中国国家主席习近平").section == ("序言",)


def test_markdown_headings_take_their_level_from_the_hashes():
    lines = ["# 总标题", "开篇。", "## 第一部分", "正文一。", "### 细节", "正文二。", "## 第二部分", "正文三。"]
    body = "\n\n".join(lines)
    doc = synthetic(body, title="文件标题")
    sections = {doc.paragraph_text(p): p.section for p in doc.paragraphs}
    assert sections["开篇。"] == ("总标题",)
    assert sections["正文二。"] == ("总标题", "第一部分", "细节")
    assert sections["正文三。"] == ("总标题", "第二部分")
    assert "#" not in doc.text


def test_a_leading_markdown_title_is_the_title_not_a_section():
    doc = synthetic("# 总标题\n\n## 第一部分\n\n正文一。")
    assert doc.title == "总标题"
    assert not doc.paragraphs[0].is_heading
    assert doc.paragraphs[2].section == ("第一部分",)
