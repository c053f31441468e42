"""Cleaning: each kind of noise on its own, then each of the five corpus styles end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.clean import (
    clean_text,
    ends_sentence,
    fold_compatibility_characters,
    markup_heading_levels,
    merge_broken_paragraphs,
    normalise_cjk_spacing,
    normalise_separators,
    remove_image_links,
    remove_lone_punctuation_lines,
    remove_markdown_emphasis,
    remove_page_jump_notes,
    remove_source_link_footer,
    split_separator_runs,
    unwrap_hard_wrapped_lines,
)
from ingest.readers import read_document_file
from tests.conftest import FIXTURES, PROJECT

INGEST_FIXTURES = FIXTURES / "ingest"
CORPUS = PROJECT / "data" / "corpus"
WECHAT_CHROME = ["预览时标签不可点", "微信扫一扫", "关注该公众号", "继续滑动看下一个", "轻触阅读原文",
                 "向上滑动看下一个", "使用小程序", "轻点两下取消赞", "使用完整服务", "知道了"]  # fmt: skip


def clean_fixture(name: str) -> list[str]:
    raw = read_document_file(INGEST_FIXTURES / name, name)
    text = clean_text(raw.text, title=raw.metadata.get("title", ""), source=raw.metadata.get("source", "")).text
    assert "\n\n\n" not in text and not text.startswith("\n") and not text.endswith("\n")
    paragraphs = text.split("\n\n")
    assert all(p and p == p.strip() and "\n" not in p for p in paragraphs)
    return paragraphs


def corpus_file(prefix: str) -> Path:
    return next(CORPUS.glob(f"{prefix}_*.txt"))


def clean_corpus_file(prefix: str) -> list[str]:
    path = corpus_file(prefix)
    raw = read_document_file(path, path.name)
    return clean_text(raw.text, title=raw.metadata.get("title", ""), source=raw.metadata.get("source", "")).text.split(
        "\n\n"
    )


# ---------------------------------------------------------------- one function per kind of noise


def test_image_links_are_removed_even_when_empty():
    text = "前文![cover_image](https://mmbiz.qpic.cn/a/0?wx_fmt=jpeg)后文\n![]()\n![跳转二维码]()"
    assert remove_image_links(text) == "前文后文\n\n"


def test_emphasis_markers_go_but_words_and_arithmetic_stay():
    assert remove_markdown_emphasis("**白皮书说，中国立足新发展阶段。**") == "白皮书说，中国立足新发展阶段。"
    assert remove_markdown_emphasis("*※白皮书“网络安全”相关内容节选**：*") == "※白皮书“网络安全”相关内容节选："
    assert remove_markdown_emphasis("__重点__内容") == "重点内容"
    assert remove_markdown_emphasis("3 * 4 = 12, 2*3 = 6") == "3 * 4 = 12, 2*3 = 6"


def test_lone_punctuation_lines_are_dropped():
    text = "正文。\n：\n，\n。\n——\n赞\n第二段。"
    assert remove_lone_punctuation_lines(text) == "正文。\n赞\n第二段。"


def test_odd_spaces_become_plain_spaces():
    assert normalise_separators("目\u00a0\u00a0录\u3000结束语\u200b\t！") == "目  录 结束语 ！"


def test_ideographic_space_runs_split_paragraphs_only_on_long_lines():
    long_line = "\u3000\u3000".join(["携手构建网络空间命运共同体（2022年11月）", "目录", "前言", "正" * 200])
    assert split_separator_runs(long_line).split("\n\n") == ["携手构建网络空间命运共同体（2022年11月）", "目录", "前言",
                                                             "正" * 200]  # fmt: skip
    assert split_separator_runs("前\u3000\u3000言") == "前\u3000\u3000言"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("国务院新闻办公室 11 月 7 日发布", "国务院新闻办公室11月7日发布"),
        ("（2022年 11月）", "（2022年11月）"),
        ("序 言", "序言"),
        ("原 文 链 接", "原文链接"),
        ("组委会发布 《携手构建网络空间命运共同体》 概念文件", "组委会发布《携手构建网络空间命运共同体》概念文件"),
        ("集智聚力共战疫  互利共赢同发展", "集智聚力共战疫 互利共赢同发展"),  # two phrases: one space stays
        ("支持 Python 语言", "支持 Python 语言"),  # a space between Latin and CJK is left to the author
    ],
)
def test_cjk_spacing(before: str, after: str):
    assert normalise_cjk_spacing(before) == after


def test_aggressive_cjk_spacing_for_typeset_lines():
    line = "达 到 45.5 万 亿 元 ，占 GDP 比 重 达 到"
    assert normalise_cjk_spacing(line, aggressive=True) == "达到45.5万亿元，占GDP比重达到"
    assert normalise_cjk_spacing(" 携 手 构 建 网 络 空 间", aggressive=True) == "携手构建网络空间"


def test_page_jump_notes_are_removed_without_joining_lines():
    assert remove_page_jump_notes("共同掌握。 （下转第十版）\n 下大力气") == "共同掌握。\n 下大力气"
    assert remove_page_jump_notes("（上接第 1 版）正文") == "正文"


def test_source_link_footer_is_removed():
    text = "正文。\n\n原 文 链 接 :\n\nhttps://www.wicwuzhen.cn/a.shtml , 转载请注明。\n"
    assert remove_source_link_footer(text).strip() == "正文。"


def test_broken_paragraphs_are_merged_but_headings_and_titles_are_not():
    paragraphs = ["构建网络空间命运共同体，就是要把网络空间建设成造福全人类", "的发展共同体、安全共同体。",
                  "一、时代背景", "当今世界正处在大发展大变革大调整时期。",
                  "世界互联网大会组委会发布《携手构建网络空间命运共同体》概念文件", "世界互联网大会组委会"]  # fmt: skip
    assert merge_broken_paragraphs(paragraphs) == [
        "构建网络空间命运共同体，就是要把网络空间建设成造福全人类的发展共同体、安全共同体。",
        *paragraphs[2:],
    ]


def test_sentence_ends_allow_closing_quotes():
    assert ends_sentence("深化网络空间对话合作的共同期待。”")
    assert ends_sentence("应坚持以下原则：")
    assert not ends_sentence("互联网让世界变成了“地球村”")
    assert not ends_sentence("网络空间治理面")


def test_unwrap_joins_cjk_without_spaces_and_latin_with_one():
    text = "互联网是人类社会发展的重要成果，是人\n\n类文明向信息时代演进的关键标志。随着新\n\n" * 3
    assert " " not in unwrap_hard_wrapped_lines(text)
    latin = "It is the quick brown fox that jumps over\nthe lazy dog.\n\nA new paragraph starts here and\ngoes on."
    assert unwrap_hard_wrapped_lines(latin).split("\n\n") == [
        "It is the quick brown fox that jumps over the lazy dog.",
        "A new paragraph starts here and goes on.",
    ]


def test_markup_heading_levels_come_from_the_raw_text():
    raw = "# 总标题\n\n## 第一部分 ##\n\n**（二）加粗小节**\n\n**白皮书说，这是一整段加粗的正文。**\n\n正文。"
    levels = markup_heading_levels(raw)
    assert levels["总标题"] == 1
    assert levels["第一部分"] == 2
    assert levels["（二）加粗小节"] is None  # bold: the level comes from its numbering
    assert "正文。" not in levels


# ---------------------------------------------------------------- the five corpus styles


@pytest.mark.parametrize(
    ("name", "wrapped"),
    [("wechat_000.txt", False), ("whitepaper_001.txt", False), ("wechat_002.txt", False),
     ("newspaper_003.txt", True), ("article_004.txt", False)],
)  # fmt: skip
def test_hard_wrapped_layout_is_detected_per_document(name: str, wrapped: bool):
    raw = read_document_file(INGEST_FIXTURES / name, name)
    assert clean_text(raw.text, title=raw.metadata.get("title", "")).hard_wrapped is wrapped


def test_a_table_of_contents_is_not_hard_wrapped_text():
    toc = "\n".join(["目录", "前言", "一、构建网络空间命运共同体是信息时代的必然选择", "（一）网络空间命运共同体",
                     "（二）构建发展、安全、责任、利益共同体", "二、中国的互联网发展治理实践", "（一）数字经济蓬勃发展",
                     "（二）数字技术惠民便民", "结束语"])  # fmt: skip
    body = "\n前言\n互联网是人类社会发展的重要成果，是人类文明向信息时代演进的关键标志。"
    assert not clean_text(toc + body).hard_wrapped


def test_wechat_article_000_loses_page_chrome_and_keeps_content():
    paragraphs = clean_fixture("wechat_000.txt")
    text = "\n\n".join(paragraphs)
    for chrome in [*WECHAT_CHROME, "NERCIS", "信息安全国家工程研究中心", "mmbiz", "![", "*", "#"]:
        assert chrome not in text, chrome
    assert all(not re.fullmatch(r"[，。：；、\s]+", p) for p in paragraphs)
    ui_words = ["取消", "允许", "分析", "视频", "小程序", "赞", "在看", "分享", "留言", "收藏", "听过", "阅读原文", "×"]
    for ui_word in ui_words:
        assert ui_word not in paragraphs, ui_word
    # The duplicated "# title" is kept once, as the first paragraph.
    assert paragraphs[0] == "国务院新闻办公室发布《携手构建网络空间命运共同体》白皮书"
    assert paragraphs.count(paragraphs[0]) == 1
    # Real sentences are intact, emphasis and heading markup gone.
    assert paragraphs[1].startswith("国务院新闻办公室11月7日发布《携手构建网络空间命运共同体》白皮书。")
    assert "白皮书说，中国立足新发展阶段、贯彻新发展理念、构建新发展格局，建设网络强国、数字中国，" in paragraphs[2]
    assert "※白皮书“网络安全”相关内容节选：" in paragraphs
    assert "一、构建网络空间命运共同体是信息时代的必然选择" in paragraphs
    assert "（二）构建发展、安全、责任、利益共同体" in paragraphs
    assert paragraphs[-1] == "来源：国务院新闻办公室网站"


def test_wechat_article_002_loses_contact_line_and_keeps_its_source_line():
    paragraphs = clean_fixture("wechat_002.txt")
    text = "\n\n".join(paragraphs)
    assert "投稿联系方式" not in text and "sunzhonghao@cert.org.cn" not in text
    assert "关键基础设施安全应急响应中心" not in text  # the account name, repeated in header and footer
    assert paragraphs[0] == "坚持推动构建网络空间命运共同体"
    assert paragraphs[1].startswith("2015年12月，习近平总书记在第二届世界互联网大会开幕式的主旨演讲中提出")
    assert "网络主权原则为构建网络空间秩序奠定制度基础" in paragraphs
    assert paragraphs[-1] == "原文来源：光明日报"
    for chrome in WECHAT_CHROME:
        assert chrome not in text


def test_whitepaper_001_on_one_line_is_split_at_ideographic_spaces():
    paragraphs = clean_fixture("whitepaper_001.txt")
    text = "\n\n".join(paragraphs)
    assert "\u3000" not in text and "\u00a0" not in text
    raw = (INGEST_FIXTURES / "whitepaper_001.txt").read_text(encoding="utf-8")
    assert len(paragraphs) == len(raw.split("\u3000\u3000"))
    assert paragraphs[:3] == ["携手构建网络空间命运共同体（2022年11月）", "目录", "前言"]
    assert paragraphs.count("结束语") == 2  # in the TOC and as the heading (its trailing NBSP gone)
    assert paragraphs[-1] == "（新华社北京11月7日电）"


KNOWN_NEWSPAPER_PARAGRAPH = (
    "互联网是人类社会发展的重要成果，是人类文明向信息时代演进的关键标志。随着新一轮科技革命和产业变革加速推进，"
    "互联网让世界变成了“地球村”，国际社会越来越成为你中有我、我中有你的命运共同体。发展好、运用好、治理好互联网，"
    "让互联网更好造福人类，是国际社会的共同责任。"
)


def test_newspaper_003_paragraphs_are_rebuilt():
    paragraphs = clean_fixture("newspaper_003.txt")
    assert KNOWN_NEWSPAPER_PARAGRAPH in paragraphs
    assert all(" " not in p for p in paragraphs if p != paragraphs[-1] and not p.startswith("新华社"))
    assert paragraphs[:4] == ["携手构建网络空间命运共同体", "（2022年11月）", "中华人民共和国国务院新闻办公室", "前言"]
    # A heading wrapped over two lines is one paragraph; the body line after it is not glued on.
    assert "一、构建网络空间命运共同体是信息时代的必然选择" in paragraphs
    assert "（一）网络空间命运共同体是人类命运共同体的重要组成部分" in paragraphs
    text = "\n\n".join(paragraphs)
    assert "下转" not in text
    assert "下大力气制止餐饮浪费" in paragraphs and "刘亮" in paragraphs  # a title, then a name set vertically
    assert "与新时代倡导的绿色低碳生活方式背道而驰，必须坚决制止。" in text  # a justified, spaced-out line
    assert "新华社北京11月7日电 学习贯彻党的二十大精神中央宣讲团报告会7日在国家发展改革委举行。" in text
    assert "11 月" not in text and " 日" not in text


def test_newspaper_003_rebuilds_the_same_paragraphs_as_the_whitepaper_001():
    whitepaper = set(clean_corpus_file("001"))
    newspaper = clean_corpus_file("003")
    shared = [p for p in newspaper if p in whitepaper]
    # 前言 … 构建安全共同体: every white-paper paragraph printed before the page jump, headings included.
    assert len(shared) == 15
    assert newspaper.index(shared[0]) == 3 and newspaper.index(shared[-1]) == 17
    assert newspaper[18] == "构建责任共同体。网络空间是人类共同的活动空间，网络空间前途命运应由世界各国共同掌握。"


def test_newspaper_003_later_articles_get_sensible_paragraphs():
    paragraphs = clean_corpus_file("003")
    assert any(p.startswith("本报北京11月7日讯（记者李芃达）国务院新闻办公室7日发布") for p in paragraphs)
    assert any(p.startswith("本报南京11月7日讯（记者薛海燕）学习贯彻") for p in paragraphs)
    assert sum(1 for p in paragraphs if p.startswith("新华社北京11月7日电")) == 4
    assert "林利军摄（中经视觉）" in paragraphs
    caption = next(p for p in paragraphs if p.startswith("十一月六日"))
    assert caption.endswith("带动地方经济、生态双发展。") and "『渔光互补』" in caption
    assert any(p.startswith("坚定不移学习宣传贯彻党的二十大精神——中央宣讲团") for p in paragraphs)
    assert all(len(p) < 500 for p in paragraphs)


def test_article_004_broken_paragraphs_and_footer():
    paragraphs = clean_fixture("article_004.txt")
    text = "\n\n".join(paragraphs)
    assert paragraphs[0] == "世界互联网大会组委会发布《携手构建网络空间命运共同体》概念文件"
    assert "(来源：世界互联网大会组委会，2019-10-18)" in paragraphs
    assert "序言" in paragraphs
    assert (
        "构建网络空间命运共同体，就是要把网络空间建设成造福全人类的发展共同体、安全共同体、责任共同体、利益共同体。"
        in text
    )
    assert not any(p.endswith("造福全人类") for p in paragraphs)
    assert "原文链接" not in text and "wicwuzhen" not in text and "转载请注明" not in text


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_cleaning_is_idempotent(prefix: str):
    text = "\n\n".join(clean_corpus_file(prefix))
    assert clean_text(text).text == text


def test_no_evidence_of_the_dev_set_is_lost():
    """Every gold evidence quote is still in the cleaned text of its documents (whitespace aside)."""

    def squeeze(text: str) -> str:
        return re.sub(r"\s+", "", text)

    cleaned = {path.name: squeeze("\n\n".join(clean_corpus_file(path.name[:3]))) for path in CORPUS.glob("*.txt")}
    records = [json.loads(line) for line in (PROJECT / "data/eval/dev_qa.jsonl").read_text("utf-8").splitlines()]
    quotes = [(ev["quote"], doc) for r in records for ev in r["evidence"] for doc in ev["docs"]]
    assert len(quotes) > 50
    missing = [(quote, doc) for quote, doc in quotes if squeeze(quote) not in cleaned[doc]]
    assert missing == []


# ---------------------------------------------------------------- compatibility characters (NFKC, one for one)


def test_kangxi_radicals_and_compatibility_ideographs_fold_to_ordinary_ideographs():
    assert fold_compatibility_characters("⼤家好，今⽇⽉⼀") == "大家好，今日月一"
    assert fold_compatibility_characters("\uf900\U0002f800\u2e9f") == "\u8c48\u4e3d\u6bcd"  # 豈 丽 母


def test_full_width_digits_and_letters_fold_but_chinese_punctuation_stays():
    assert fold_compatibility_characters("２０２２年１１月，ＡＰＥＣ与５Ｇ") == "2022年11月，APEC与5G"
    punctuation = "，。、；：？！“”‘’（）《》【】「」『』〔〕…—·～％＃＠＆＋－／＝＜＞　"
    assert fold_compatibility_characters(punctuation) == punctuation


def test_the_fold_never_changes_a_length():
    every = "".join(chr(code) for code in [*range(0x2E80, 0x2FE0), *range(0xF900, 0xFB00), *range(0xFF00, 0xFF66)])
    folded = fold_compatibility_characters(every)
    assert len(folded) == len(every)
    assert folded != every


def test_clean_text_folds_and_the_date_is_then_recognised(tmp_path: Path, count_tokens):
    from ingest.chunking import chunk_document
    from ingest.pipeline import ingest_file

    path = tmp_path / "notice.txt"
    body = "国务院新闻办公室今⽇发布⽩⽪书，介绍中国互联⽹发展治理实践。" * 30
    text = f"关于数据安全的通知\n\n２０２２年１１月７日\n\n{body}\n\n一、总体要求\n\n{body}\n"
    path.write_text(text, encoding="utf-8")
    document = ingest_file(path, path.name)
    assert document.date == "2022-11-07"
    assert "今日发布白皮书" in document.text and "⽇" not in document.text and "２" not in document.text
    assert [p.section for p in document.paragraphs if p.is_heading] == [("一、总体要求",)]
    for chunk in chunk_document(document, count_tokens, max_tokens=64, overlap_tokens=8):
        assert document.text[chunk.start : chunk.end] == chunk.text
