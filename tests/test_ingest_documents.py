"""PDF and Word files as users have them: junk file properties, CJK fonts, running headers, pages.

Every file is generated here (python-docx, reportlab), never committed: small, several pages, Chinese.
"""

from __future__ import annotations

import bisect
import itertools
import re
from pathlib import Path

import pytest

from ingest import pdf
from ingest.chunking import chunk_document
from ingest.pdf import Line
from ingest.pipeline import ingest_file
from ingest.readers import IngestError, read_document_file
from ingest.structure import is_generic_author, is_generic_title, is_template_date, usable_file_properties
from tests.document_factory import Block, PdfLayout, kangxi_text_layer, make_pdf, report_blocks

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


def _custom_heading_style(document, name: str, outline_level: int):
    """A paragraph style like a Chinese template's 标题 1: not named Heading, but with an outline level."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), str(outline_level))
    style.element.get_or_add_pPr().append(level)
    return style


def test_docx_headings_as_a_reader_sees_them(tmp_path: Path):
    from docx.shared import Pt

    def build(document):
        document.add_paragraph("携手构建网络空间命运共同体", style="Title")
        document.add_paragraph("2022年11月7日")
        document.add_paragraph(prose(2))
        document.add_heading("一、总体要求", level=1)  # styled
        document.add_paragraph("（一）坚持多边参与").runs[0].bold = True  # bold, numbered: level by numbering
        document.add_paragraph(prose(3, 1))
        bold_sentence = document.add_paragraph("各方一致认为，今年的工作取得了积极成效。")  # bold prose: no heading
        bold_sentence.runs[0].bold = True
        document.add_paragraph("国际交流合作").runs[0].bold = True  # bold, unnumbered
        document.add_paragraph(prose(2, 2))
        table = document.add_table(rows=2, cols=2)
        for row, cells in zip(table.rows, (("指标", "数值"), ("网民规模", "10.51亿")), strict=True):
            row.cells[0].text, row.cells[1].text = cells
        document.add_paragraph("二、主要任务", style=_custom_heading_style(document, "标题一（自定义）", 0))
        document.add_paragraph(prose(2))
        larger = document.add_paragraph("附件说明")  # larger type, no style
        larger.runs[0].font.size = Pt(16)
        document.add_paragraph(prose(1))

    path = make_docx(tmp_path / "report.docx", build)
    raw = read_document_file(path, path.name)
    assert raw.metadata == {"title": "携手构建网络空间命运共同体"}  # the Title style is declared by the author
    document = ingest_file(path, path.name)
    assert (document.title, document.date, document.source) == ("携手构建网络空间命运共同体", "2022-11-07", "")
    texts = [document.paragraph_text(p) for p in document.paragraphs]
    assert texts[:3] == ["携手构建网络空间命运共同体", "2022年11月7日", prose(2)]
    assert "指标 | 数值" in texts and "网民规模 | 10.51亿" in texts  # tables stay, in place
    assert texts.index("网民规模 | 10.51亿") == texts.index("二、主要任务") - 1
    headings = {document.paragraph_text(p): p.section for p in document.paragraphs if p.is_heading}
    assert headings == {
        "一、总体要求": ("一、总体要求",),
        "（一）坚持多边参与": ("一、总体要求", "（一）坚持多边参与"),
        "国际交流合作": ("一、总体要求", "（一）坚持多边参与", "国际交流合作"),
        "二、主要任务": ("二、主要任务",),
        "附件说明": ("二、主要任务", "附件说明"),
    }
    sections = {document.paragraph_text(p): p.section for p in document.paragraphs}
    assert sections[prose(2, 2)] == ("一、总体要求", "（一）坚持多边参与", "国际交流合作")
    assert sections["各方一致认为，今年的工作取得了积极成效。"] == ("一、总体要求", "（一）坚持多边参与")


@pytest.mark.parametrize("damage", ["not a zip", "zip without a document", "truncated", "old .doc"])
def test_a_malformed_docx_is_refused_with_a_message(tmp_path: Path, damage: str):
    import zipfile

    good = make_docx(tmp_path / "good.docx", lambda document: document.add_paragraph(prose(2))).read_bytes()
    path = tmp_path / "bad.docx"
    if damage == "zip without a document":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
    else:
        broken = {"not a zip": b"PK\x03\x04" + bytes(range(256)) * 8, "truncated": good[: len(good) // 2]}
        broken["old .doc"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)
        path.write_bytes(broken[damage])
    with pytest.raises(IngestError) as caught:
        ingest_file(path, path.name)
    assert "docx" in caught.value.reason or ".doc" in caught.value.reason


# ---------------------------------------------------------------- PDF


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory) -> tuple[Path, PdfLayout, list[Block]]:
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    blocks = report_blocks()
    layout = make_pdf(path, blocks)
    assert layout.pages == 3 and layout.continued_pages() == [1, 2]  # paragraphs run over both page breaks
    return path, layout, blocks


def test_pdf_title_date_and_source_come_from_the_text_not_the_junk_properties(report_pdf):
    path, _, _ = report_pdf
    raw = read_document_file(path, path.name)
    assert raw.file_properties["title"] == "about:blank" and raw.file_properties["source"] == "anonymous"
    document = ingest_file(path, path.name)
    assert (document.title, document.date, document.source) == ("携手构建网络空间命运共同体", "2022-11-07", "")


def test_pdf_running_header_and_page_numbers_are_gone(report_pdf):
    path, _, _ = report_pdf
    document = ingest_file(path, path.name)
    assert "网络空间治理研究报告" not in document.text and "内部资料" not in document.text
    assert not re.search(r"-\s*\d\s*-", document.text)


def test_pdf_paragraphs_are_rebuilt_across_lines_and_pages(report_pdf):
    path, _, blocks = report_pdf
    document = ingest_file(path, path.name)
    assert [document.paragraph_text(p) for p in document.paragraphs] == [block.text for block in blocks]


def test_pdf_headings_come_from_the_type_size(report_pdf):
    path, _, blocks = report_pdf
    document = ingest_file(path, path.name)
    headings = [document.paragraph_text(p) for p in document.paragraphs if p.is_heading]
    assert headings == [block.text for block in blocks if block.kind in ("h1", "h2")]  # the title is not one

    def section(opening: str) -> tuple[str, ...]:
        return next(p.section for p in document.paragraphs if document.paragraph_text(p).startswith(opening))

    assert section("第1次专题会议") == ("一、总体要求", "指导思想")
    assert section("第7次专题会议") == ("二、主要任务", "加强基础设施建设")
    assert section("第13次专题会议") == ("三、保障措施",)
    assert section("第0次专题会议") == ()


def _truth_page(layout: PdfLayout, text: str, offset: int) -> int:
    """The 1-based page the character at ``offset`` of the document text was printed on, found by looking
    up the text from there (long enough to be unique) in what the generator put on each page."""
    printed = "".join(layout.page_text(p) for p in range(layout.pages))
    page_ends = list(itertools.accumulate(len(layout.page_text(p)) for p in range(layout.pages)))
    following, preceding = re.sub(r"\s+", "", text[offset:]), re.sub(r"\s+", "", text[: offset + 1])
    for width in range(12, len(text) + 12, 4):
        if printed.count(following[:width]) == 1:
            return bisect.bisect_right(page_ends, printed.index(following[:width])) + 1
        probe = preceding[-width:]
        if printed.count(probe) == 1:  # near the end of the text: look back instead
            return bisect.bisect_right(page_ends, printed.index(probe) + len(probe) - 1) + 1
    raise AssertionError(f"not printed once: {following[:40]!r}")


def test_pdf_pages_start_where_the_printed_pages_start(report_pdf):
    path, layout, _ = report_pdf
    document = ingest_file(path, path.name)
    assert len(document.page_starts) == 3 and document.page_starts[0] == 0
    for page in range(layout.pages):
        first_line = layout.lines[page][0].text
        assert document.text[document.page_starts[page] :].startswith(first_line)


def test_every_chunk_is_cited_by_the_pages_its_text_was_printed_on(report_pdf, count_tokens):
    path, layout, _ = report_pdf
    document = ingest_file(path, path.name)
    chunks = chunk_document(document, count_tokens, max_tokens=96, overlap_tokens=16)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.page_start == _truth_page(layout, document.text, chunk.start), chunk.text[:20]
        last_line = _truth_page(layout, document.text, chunk.end - 1)  # the page of its last character
        assert chunk.page_end == last_line, chunk.text[-20:]
    assert any(chunk.page_end > chunk.page_start for chunk in chunks)


def test_kangxi_radicals_in_a_pdf_text_layer_are_folded(report_pdf, tmp_path: Path):
    path, _, _ = report_pdf
    kangxi = tmp_path / "kangxi.pdf"
    kangxi.write_bytes(kangxi_text_layer(path.read_bytes(), {"大": "⼤", "日": "⽇", "月": "⽉", "一": "⼀"}))
    raw = read_document_file(kangxi, kangxi.name)
    assert "2022年11⽉7⽇" in raw.text and "⼤家⼀致认为" in raw.text  # what the text layer says
    document, plain = ingest_file(kangxi, kangxi.name), ingest_file(path, path.name)
    assert document.text == plain.text
    assert document.date == "2022-11-07" and document.page_starts == plain.page_starts
    assert "大家一致认为" in document.text and not re.search("[\u2f00-\u2fdf]", document.text)


def test_a_pdf_encrypted_without_a_user_password_is_read(report_pdf, tmp_path: Path):
    """Restricted (owner password only), encrypted with AES as export tools do: opens with no password."""
    from pypdf import PdfReader, PdfWriter

    path, _, _ = report_pdf
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-256")
    protected = tmp_path / "protected.pdf"
    with protected.open("wb") as out:
        writer.write(out)
    assert b"/Encrypt" in protected.read_bytes()
    document = ingest_file(protected, protected.name)
    assert document.text == ingest_file(path, path.name).text
    assert document.title == "携手构建网络空间命运共同体" and len(document.page_starts) == 3


def test_a_pdf_whose_text_the_layout_reader_cannot_map_is_read_plainly(tmp_path: Path):
    """ReportLab's own encryption leaves the CID font's /Registry and /Ordering unencrypted, so pdfminer
    decrypts them into garbage and maps no character ("(cid:3962)…"); pypdf reads the codes directly."""
    path = tmp_path / "rl-protected.pdf"
    layout = make_pdf(path, report_blocks(), encrypt_owner_password="owner-secret")
    document = ingest_file(path, path.name)
    assert "(cid:" not in document.text
    assert document.title == "携手构建网络空间命运共同体" and document.date == "2022-11-07"
    assert "网络空间治理研究报告" not in document.text
    assert len(document.page_starts) == layout.pages
    for page in range(layout.pages):
        assert document.text[document.page_starts[page] :].startswith(layout.lines[page][0].text)


def test_a_pdf_that_needs_a_password_is_refused_clearly(tmp_path: Path):
    path = tmp_path / "locked.pdf"
    make_pdf(path, report_blocks()[:4], user_password="user-secret")
    with pytest.raises(IngestError, match="password"):
        read_document_file(path, path.name)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "no xref"])
def test_a_corrupt_pdf_is_refused_with_a_message(report_pdf, tmp_path: Path, damage: str):
    path, _, _ = report_pdf
    data = path.read_bytes()
    broken = {
        "truncated": data[: len(data) // 3],
        "garbage": b"%PDF-1.7\n" + bytes(range(256)) * 40,
        "no xref": data.replace(b"xref", b"xxxx").replace(b"/Root", b"/Rxxx"),
    }[damage]
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(broken)
    with pytest.raises(IngestError) as caught:
        ingest_file(corrupt, corrupt.name)
    assert "PDF" in caught.value.reason


def _line(page: int, top: float, text: str, *, x0: float = 72.0, size: float = 11.0, bold: bool = False) -> Line:
    x1 = min(523.0, x0 + size * len(text))
    return Line(page, text, x0, x1, top, top + size, size, bold, top < 100 or top > 740)


def test_bold_lines_at_body_size_are_headings_and_numbered_ones_keep_their_numbering():
    """Headings set bold at the body size (黑体 / Bold), the way many Chinese documents set them."""
    body = "网络空间是人类共同的活动空间，网络空间前途命运应由世界各国共同掌握。各国应坚持多边"
    lines = [
        _line(0, 120, "一、总体要求", bold=True),
        _line(0, 140, body[:36], x0=94),
        _line(0, 158, body[:40]),
        _line(0, 176, "深化务实合作。"),
        _line(0, 200, "国际合作", bold=True),
        _line(0, 220, body[:36], x0=94),
        _line(0, 238, "共同掌握。"),
    ]
    body_style = pdf.body_style([lines])
    paragraphs = pdf.build_paragraphs([lines], body_style)
    assert pdf.heading_markup(paragraphs, body_style) == [
        "**一、总体要求**",
        body[:36] + body[:40] + "深化务实合作。",
        "# 国际合作",
        body[:36] + "共同掌握。",
    ]


def test_a_line_in_larger_type_with_sentence_punctuation_is_not_a_heading():
    lines = [
        _line(0, 120, "注意：本通知自发布之日起施行。", size=14),
        _line(0, 150, "网络空间是人类共同的活动空间，网络空间前途命运应由世界各国共同掌握。", x0=94),
    ]
    body_style = pdf.body_style([lines])
    marked = pdf.heading_markup(pdf.build_paragraphs([lines], body_style), body_style)
    assert marked[0] == "注意：本通知自发布之日起施行。"


def test_running_footer_that_counts_pages_is_furniture_but_numbered_body_lines_are_not():
    def page(n: int) -> list[Line]:
        body = [_line(n, 60, f"第{3 * n + 1}次会议纪要的开头，各方一致同意。")]  # numbered, but not by page
        body += [_line(n, 80 + 20 * i, f"第{3 * n + 1}次会议的第{i}项内容。") for i in range(4)]
        return [*body, _line(n, 790, f"数据安全报告 · 第 {n + 1} 页")]

    pages = [page(n) for n in range(4)]
    kept = pdf.remove_furniture(pages)
    assert [[line.text for line in page] for page in kept] == [[line.text for line in page[:-1]] for page in pages]


def test_fake_bold_headings_are_read_once_and_as_headings(tmp_path: Path):
    """Chinese fonts without a bold face (宋体) are emboldened by drawing each character twice."""
    blocks = [Block("bold" if block.kind == "h2" else block.kind, block.text) for block in report_blocks()]
    path = tmp_path / "fake-bold.pdf"
    make_pdf(path, blocks)
    document = ingest_file(path, path.name)
    assert [document.paragraph_text(p) for p in document.paragraphs] == [block.text for block in blocks]
    headings = [document.paragraph_text(p) for p in document.paragraphs if p.is_heading]
    assert headings == [block.text for block in blocks if block.kind in ("h1", "bold")]
    assert next(p.section for p in document.paragraphs if p.is_heading and p.section[-1] == "基本原则") == (
        "一、总体要求",
        "基本原则",
    )
