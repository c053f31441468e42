"""PDF and Word files as users have them: junk file properties, CJK fonts, running headers, pages.

Every file is generated here (python-docx, reportlab), never committed: small, several pages, Chinese.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import ingest_file
from ingest.readers import read_document_file
from ingest.structure import is_generic_author, is_generic_title, is_template_date, usable_file_properties

BODY = (
    "网络空间是人类共同的活动空间，网络空间前途命运应由世界各国共同掌握。",
    "各国应坚持多边参与、多方参与，加强沟通交流，深化务实合作，推动构建网络空间命运共同体。",
    "中国愿同国际社会一道，坚持共商共建共享，携手应对网络安全风险和挑战。",
)


def prose(n: int, seed: int = 0) -> str:
    return "".join(BODY[(seed + i) % len(BODY)] for i in range(n))


# ---------------------------------------------------------------- which file properties count


@pytest.mark.parametrize(
    "title",
    ["about:blank", "", "  ", "Untitled", "untitled", "无标题", "文档1", "Document1", "新建 Microsoft Word 文档 (2)",
     "Microsoft Word - 报告终稿.docx", "报告终稿.docx", "scan_0001.pdf", "https://example.org/a.html", "---"],
)  # fmt: skip
def test_generic_titles(title: str):
    assert is_generic_title(title)


@pytest.mark.parametrize("title", ["携手构建网络空间命运共同体", "2022年数据安全报告", "Annual Report 2022"])
def test_real_titles(title: str):
    assert not is_generic_title(title)


def test_a_title_that_is_the_file_name_is_generic():
    assert is_generic_title("report_v3", Path("docs/report_v3.pdf"))
    assert not is_generic_title("数据安全报告", Path("docs/report_v3.pdf"))


@pytest.mark.parametrize(
    "author", ["python-docx", "Administrator", "Microsoft Office User", "Windows 用户", "Windows User", "微软用户",
               "user", "admin", "Author", "anonymous", "USER1", ""],
)  # fmt: skip
def test_generic_authors(author: str):
    assert is_generic_author(author)


def test_real_authors_and_dates_are_kept():
    assert not is_generic_author("国家互联网信息办公室")
    assert is_template_date("2013-12-23") and not is_template_date("2022-11-07")
    properties = {"title": "about:blank", "source": "python-docx", "date": "2013-12-23"}
    assert usable_file_properties(properties) == {}
    properties = {"title": "数据安全报告", "source": "国家互联网信息办公室", "date": "2022-11-07"}
    assert usable_file_properties(properties) == properties


# ---------------------------------------------------------------- DOCX


def make_docx(path: Path, build) -> Path:
    """A .docx written by python-docx, with its template's core properties left in (author python-docx,
    created 2013-12-23), as a script that generates reports leaves them."""
    import docx

    document = docx.Document()
    build(document)
    document.save(path)
    return path


def test_docx_template_properties_are_not_the_source_or_date(tmp_path: Path):
    def build(document):
        document.add_paragraph("关于推进网络空间治理的报告")
        document.add_paragraph("2022年11月7日")
        document.add_heading("一、总体要求", level=1)
        document.add_paragraph(prose(3))

    path = make_docx(tmp_path / "report.docx", build)
    raw = read_document_file(path, path.name)
    assert raw.file_properties["source"] == "python-docx" and raw.file_properties["date"] == "2013-12-23"
    assert raw.metadata == {}
    document = ingest_file(path, path.name)
    assert (document.title, document.date, document.source) == ("关于推进网络空间治理的报告", "2022-11-07", "")


def test_docx_real_properties_fill_in_where_the_text_says_nothing(tmp_path: Path):
    def build(document):
        document.core_properties.author = "国家互联网信息办公室"
        document.core_properties.title = "数据安全年度报告"
        document.core_properties.created = __import__("datetime").datetime(2023, 3, 1, 9, 0)
        document.add_paragraph(prose(2))  # no title line, no date in the text

    path = make_docx(tmp_path / "notes.docx", build)
    document = ingest_file(path, path.name)
    assert document.title == "数据安全年度报告"
    assert (document.date, document.source) == ("2023-03-01", "国家互联网信息办公室")


def test_a_date_in_the_text_wins_over_the_file_creation_date(tmp_path: Path):
    def build(document):
        document.core_properties.created = __import__("datetime").datetime(2024, 5, 6, 9, 0)
        document.add_paragraph("关于推进网络空间治理的报告")
        document.add_paragraph("（2022年11月）")
        document.add_paragraph(prose(2))

    document = ingest_file(make_docx(tmp_path / "r.docx", build), "r.docx")
    assert document.date == "2022-11"
