"""Reading files: encodings, front matter, refusals with clear reasons, corpus listing, other formats."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingest.pipeline import ingest_file, load_corpus
from ingest.readers import IngestError, decode_text, iter_corpus_files, read_document_file, split_front_matter
from tests.conftest import FIXTURES

INGEST_FIXTURES = FIXTURES / "ingest"
CHINESE = "携手构建网络空间命运共同体。国务院新闻办公室11月7日发布白皮书，介绍新时代中国互联网发展和治理理念与实践。\n"


def test_front_matter_becomes_string_metadata_and_leaves_the_body():
    path = INGEST_FIXTURES / "wechat_000.txt"
    raw = read_document_file(path, "wechat_000.txt")
    assert raw.metadata["title"] == "国务院新闻办公室发布《携手构建网络空间命运共同体》白皮书"
    assert raw.metadata["source"] == "信息安全国家工程研究中心"
    assert raw.metadata["date"] == "2022-11-09"  # a string, not a datetime.date
    assert raw.metadata["url"].startswith("https://mp.weixin.qq.com/s?__biz=")
    assert raw.metadata["url"].endswith("#rd")  # '#' inside the URL is not a YAML comment
    assert not raw.text.lstrip().startswith("---")
    assert "fetch_date" not in raw.text
    assert raw.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert raw.encoding == "utf-8"


def test_text_without_front_matter_is_left_alone():
    metadata, body = split_front_matter("正文第一段。\n---\n不是前言块\n---\n")
    assert metadata == {}
    assert body.startswith("正文第一段。")


def test_invalid_yaml_front_matter_still_yields_key_values():
    metadata, body = split_front_matter("---\ntitle: 标题: 副标题 [未闭合\nsource: 来源\n---\n正文。\n")
    assert metadata["source"] == "来源"
    assert metadata["title"].startswith("标题")
    assert body == "正文。\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_chinese_in_other_encodings_is_decoded(tmp_path: Path, encoding: str):
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(CHINESE.encode(encoding))
    raw = read_document_file(path, path.name)
    assert raw.text == CHINESE
    document = ingest_file(path, path.name)
    assert "国务院新闻办公室11月7日发布白皮书" in document.text


def test_gb18030_only_characters_survive(tmp_path: Path):
    # 𠮷 (U+20BB7) is not in GBK: GB18030 encodes it in four bytes.
    text = "网络空间命运共同体𠮷字测试，数字经济蓬勃发展。\n" * 3
    path = tmp_path / "gb18030.txt"
    path.write_bytes(text.encode("gb18030"))
    raw = read_document_file(path, path.name)
    assert raw.text == text
    assert raw.encoding == "gb18030"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("網絡空間命運共同體，數字經濟蓬勃發展。資訊安全。\n" * 3, "big5"),  # would decode, wrongly, as GB18030
        ("café résumé naïve — “quoted” text in a Windows code page.\n", "cp1252"),
    ],
)
def test_non_chinese_encodings_are_not_mistaken_for_gb18030(tmp_path: Path, text: str, encoding: str):
    path = tmp_path / "other.txt"
    path.write_bytes(text.encode(encoding))
    assert read_document_file(path, path.name).text == text


def test_front_matter_in_gbk_file(tmp_path: Path):
    path = tmp_path / "gbk.md"
    path.write_bytes(("---\ntitle: 网络安全\nsource: 光明日报\n---\n" + CHINESE).encode("gbk"))
    document = ingest_file(path, path.name)
    assert (document.title, document.source) == ("网络安全", "光明日报")


def test_empty_file_is_refused_with_a_reason(tmp_path: Path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match="empty") as caught:
        read_document_file(path, path.name)
    assert caught.value.path == path
    assert str(path) in str(caught.value)


def test_whitespace_only_file_is_refused(tmp_path: Path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\u3000\n\t\n", encoding="utf-8")
    with pytest.raises(IngestError, match="empty"):
        read_document_file(path, path.name)


def test_front_matter_only_file_is_refused(tmp_path: Path):
    path = tmp_path / "meta.md"
    path.write_text("---\ntitle: 只有标题\n---\n\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no text"):
        read_document_file(path, path.name)


def test_only_boilerplate_is_refused(tmp_path: Path):
    path = tmp_path / "chrome.txt"
    path.write_text("预览时标签不可点\n\n微信扫一扫\n关注该公众号\n\n继续滑动看下一个\n\n，\n。\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no text left"):
        ingest_file(path, path.name)


def test_binary_file_with_nul_bytes_is_refused(tmp_path: Path):
    path = tmp_path / "data.txt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(IngestError, match="binary"):
        read_document_file(path, path.name)


def test_renamed_image_is_named_in_the_reason(tmp_path: Path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01\x02" * 100)
    with pytest.raises(IngestError, match="PNG image"):
        read_document_file(path, path.name)


def test_control_characters_mean_binary(tmp_path: Path):
    path = tmp_path / "controls.txt"
    path.write_bytes(("文本" + "\x01\x02\x03\x04\x05" * 20).encode("utf-8"))
    with pytest.raises(IngestError, match="binary"):
        read_document_file(path, path.name)


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path):
    path = tmp_path / "huge.txt"
    path.write_text(CHINESE * 50, encoding="utf-8")
    with pytest.raises(IngestError, match="too large"):
        read_document_file(path, path.name, max_bytes=1000)
    assert read_document_file(path, path.name, max_bytes=10**6).text == CHINESE * 50


def test_unsupported_suffix_lists_supported_ones(tmp_path: Path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"whatever")
    with pytest.raises(IngestError, match=r"unsupported file type '\.xlsx'.*\.txt"):
        read_document_file(path, path.name)


def test_decode_text_rejects_what_is_not_text():
    with pytest.raises(IngestError, match="PDF"):
        decode_text(b"%PDF-1.7 ...")


def test_iter_corpus_files_is_recursive_sorted_and_skips_hidden(tmp_path: Path):
    for name in ["b.txt", "a.md", "sub/c.txt", "sub/d.html", ".hidden.txt", ".git/e.txt", "notes.xlsx"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(CHINESE, encoding="utf-8")
    listed = [p.relative_to(tmp_path).as_posix() for p in iter_corpus_files(tmp_path)]
    assert listed == ["a.md", "b.txt", "sub/c.txt", "sub/d.html"]
    everything = [p.relative_to(tmp_path).as_posix() for p in iter_corpus_files(tmp_path, include_unsupported=True)]
    assert everything == ["a.md", "b.txt", "notes.xlsx", "sub/c.txt", "sub/d.html"]


def test_one_bad_file_does_not_stop_the_corpus(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.txt").write_text(CHINESE, encoding="utf-8")
    (tmp_path / "sub" / "gbk.txt").write_bytes(CHINESE.encode("gbk"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01" * 50)
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    documents, problems = load_corpus(tmp_path)
    assert [d.doc_id for d in documents] == ["good.txt", "sub/gbk.txt"]
    reasons = {p.path.name: p.reason for p in problems}
    assert set(reasons) == {"empty.txt", "binary.txt", "sheet.xlsx"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "unsupported" in reasons["sheet.xlsx"]


def test_html_reader_keeps_text_headings_and_metadata(tmp_path: Path):
    html = """<!doctype html><html><head><meta charset="utf-8"><title>网页标题</title>
    <meta property="og:url" content="https://example.org/a"><style>p {color: red}</style></head>
    <body><script>var x = "不要";</script><h2>一、总体要求</h2><p>第一段正文，内容很重要。</p>
    <p>第二段&amp;正文。</p></body></html>"""
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    document = ingest_file(path, path.name)
    assert (document.title, document.url) == ("网页标题", "https://example.org/a")
    texts = [document.paragraph_text(p) for p in document.paragraphs]
    assert texts == ["一、总体要求", "第一段正文，内容很重要。", "第二段&正文。"]
    assert document.paragraphs[0].is_heading
    assert document.paragraphs[1].section == ("一、总体要求",)


def test_html_in_gbk_is_decoded(tmp_path: Path):
    path = tmp_path / "gbk.htm"
    html = '<html><head><meta charset="gbk"></head><body><p>网络空间命运共同体。</p></body></html>'
    path.write_bytes(html.encode("gbk"))
    assert "网络空间命运共同体。" in ingest_file(path, path.name).text


def test_docx_reader_keeps_order_headings_and_tables(tmp_path: Path):
    import docx

    document = docx.Document()
    document.core_properties.title = "文档标题"
    document.add_heading("前言", level=1)
    document.add_paragraph("第一段正文。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "指标"
    table.rows[0].cells[1].text = "10.51亿"
    document.add_paragraph("表格之后的段落。")
    path = tmp_path / "report.docx"
    document.save(path)
    ingested = ingest_file(path, path.name)
    assert ingested.title == "文档标题"
    texts = [ingested.paragraph_text(p) for p in ingested.paragraphs]
    assert texts == ["前言", "第一段正文。", "指标 | 10.51亿", "表格之后的段落。"]
    assert ingested.paragraphs[0].is_heading


def _minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` in Helvetica, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_reader_extracts_text(tmp_path: Path):
    path = tmp_path / "paper.pdf"
    path.write_bytes(_minimal_pdf("Cyberspace community of shared future."))
    assert "Cyberspace community of shared future." in ingest_file(path, path.name).text


def test_pdf_without_text_is_refused(tmp_path: Path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as out:
        writer.write(out)
    with pytest.raises(IngestError, match="no extractable text"):
        read_document_file(path, path.name)


def test_broken_pdf_is_refused(tmp_path: Path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(IngestError):
        read_document_file(path, path.name)
