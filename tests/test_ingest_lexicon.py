"""Word lists live in ingest/lexicon/*.txt, each documented; ingest works (those features off) without them."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from ingest import lexicon
from ingest.clean import clean_text, dateline_agency, is_named_heading, restore_dateline_gap, starts_with_dateline
from ingest.pipeline import ingest_file
from tests.conftest import FIXTURES

LISTS = sorted(path.stem for path in lexicon.LEXICON_DIR.glob("*.txt"))


@pytest.fixture
def no_lexicon(tmp_path: Path):
    """Every lexicon file missing."""
    with lexicon.read_from(tmp_path):
        yield


@pytest.fixture
def without(tmp_path: Path):
    """Hide some lexicon files: ``without("news_agencies")``."""
    with ExitStack() as stack:

        def hide(*names: str) -> None:
            for path in lexicon.LEXICON_DIR.glob("*.txt"):
                if path.stem not in names:
                    (tmp_path / path.name).write_bytes(path.read_bytes())
            stack.enter_context(lexicon.read_from(tmp_path))

        yield hide


def test_the_lists_are_there():
    assert {"news_agencies", "named_headings", "wechat_page_footer", "wechat_page_words"} <= set(LISTS)


@pytest.mark.parametrize("name", LISTS)
def test_each_list_says_what_it_is_where_it_comes_from_and_how_to_extend_it(name: str):
    text = (lexicon.LEXICON_DIR / f"{name}.txt").read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lower())
    header_text = " ".join(header)
    assert len(header) >= 3, f"{name}.txt has no header"
    assert "source" in header_text, f"{name}.txt: say where it comes from"
    assert "extend" in header_text, f"{name}.txt: say how to extend it"
    assert lexicon.words(name), f"{name}.txt lists nothing"
    assert all(not word.startswith("#") and word == word.strip() for word in lexicon.words(name))


def test_a_missing_list_is_empty_and_named_headings_are_off(no_lexicon):
    assert lexicon.words("named_headings") == ()
    assert not is_named_heading("前言")


def test_ingest_works_without_any_list(no_lexicon, tmp_path: Path):
    path = FIXTURES / "ingest" / "wechat_000.txt"
    document = ingest_file(path, path.name)  # WeChat chrome is no longer recognised, but nothing fails
    assert document.paragraphs
    assert document.text[document.paragraphs[-1].start : document.paragraphs[-1].end]


# ---------------------------------------------------------------- news datelines: a pattern, names optional


@pytest.mark.parametrize(
    ("text", "agency"),
    [
        ("新华社北京11月7日电 学习贯彻……", "新华社"),
        ("……开创人类更加美好的未来。（新华社北京11月7日电）", "新华社"),
        ("路透社伦敦3月2日电 英国央行……", "路透社"),  # not listed: recognised by its shape
        ("据法新社巴黎5月1日电，……", "法新社"),
        ("中国日报网北京1月2日电 ……", "中国日报网"),  # listed: not cut short to 中国日报
        ("本报南京11月7日讯（记者薛海燕）……", ""),  # 本报 names no source
        ("新华社电 国务院……", "新华社"),  # dateless: only by name
        ("他说：“我们的报道11月7日刊出。”", ""),  # prose: no dateline
        ("在北京11月7日电视台播出", ""),
    ],
)
def test_dateline_agency(text: str, agency: str):
    assert dateline_agency(text) == agency


def test_datelines_are_found_by_their_shape_without_the_agency_list(without):
    without("news_agencies")
    assert dateline_agency("新华社北京11月7日电 学习贯彻") == "新华社"
    assert dateline_agency("（新华社北京11月7日电）") == "新华社"
    assert dateline_agency("新华社电 国务院") == ""  # the dateless form needs the name
    assert starts_with_dateline("本报郑州11月7日讯（记者夏先清）")


def test_a_dateline_opens_a_paragraph_in_hard_wrapped_text_and_keeps_its_space():
    body = "一二三四五六七八九十一二三四五六七八九十，一二三四五六七八九十" * 1
    lines = []
    for _ in range(6):
        lines += [body[:16], body[16:32]]
    lines += ["中新网上海 3 月 2 日电 记者今日", *([body[:16]] * 3), "从有关部门获悉。"]
    text = clean_text("\n".join(lines)).text
    dateline = next(p for p in text.split("\n\n") if p.startswith("中新网"))
    assert dateline.startswith("中新网上海3月2日电 记者今日")
    assert restore_dateline_gap("路透社伦敦3月2日电英国央行") == "路透社伦敦3月2日电 英国央行"
    assert restore_dateline_gap("路透社伦敦3月2日电（记者）") == "路透社伦敦3月2日电（记者）"
