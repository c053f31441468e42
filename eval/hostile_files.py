"""Hostile and odd files, generated on the spot (issue 14, item 4): encodings, binary and empty files, huge
files, broken and encrypted PDFs, a DOCX zip bomb, odd names, links out of the corpus.

``make_hostile_corpus(folder)`` writes them and says, per case, whether ingest must accept or refuse it, a
marker word an accepted file's text must contain, and a word that must be found in a refusal's reason.
Everything is written by streaming, so generating stays small in memory (the 2 GB bomb is ~2 MB on disk).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GB = 2**30
MB = 2**20
BOMB_BYTES = 2 * GB  # what the zip bomb's word/document.xml expands to

SIMPLIFIED = (
    "国务院新闻办公室发布白皮书，介绍新时代中国互联网发展和治理理念与实践。"
    "网络空间是人类共同的活动空间，网络空间前途命运应由世界各国共同掌握。"
)
TRADITIONAL = "國務院新聞辦公室發布白皮書，介紹新時代中國互聯網發展和治理理念與實踐。網絡空間是人類共同的活動空間。"


@dataclass
class HostileCase:
    key: str  # short id, also in the marker
    path: Path  # where it was written (may hold bytes that are not UTF-8)
    expected: str  # "accepted" or "refused"
    description: str
    marker: str = ""  # accepted text: this word must be in the ingested text (and found by search)
    reason: str = ""  # refused: this must appear (case-insensitively) in the reason given
    absent: str = ""  # a word that must NOT be in the ingested text (e.g. inside <script>)

    @property
    def name(self) -> str:
        """The path relative to the corpus, printable (undecodable bytes as \\xff)."""
        return os.fsencode(self.path.name).decode("utf-8", "backslashreplace")


def marker(key: str) -> str:
    """A word found nowhere else: lower-case ASCII letters and digits, one keyword token."""
    return f"xqz{key.replace('_', '')}7"


def chinese_text(key: str, script: str = SIMPLIFIED) -> str:
    """A paragraph of Chinese, then one with the case's marker and a registry number of its own: most of the
    text differs from case to case, so search never folds one case's passage into another's as a near-copy."""
    digits = str(int(hashlib.sha512(key.encode()).hexdigest(), 16))[:120]
    number = " ".join(digits[start : start + 4] for start in range(0, len(digits), 4))
    saying = "本文件的暗號是 {} ，登記號：{}。" if script == TRADITIONAL else "本文件的暗号是 {} ，登记号：{}。"
    return f"{script}\n\n{saying.format(marker(key), number)}\n"


# ---------------------------------------------------------------- PDF and DOCX


def text_pdf(text: str) -> bytes:
    """A one-page PDF drawing ``text`` (Chinese allowed: reportlab's built-in CID font STSong-Light)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842))
    pdf.setFont("STSong-Light", 11)
    y = 780
    for line in text.splitlines():
        while line:
            cut = min(40, len(line))
            while (
                1 < cut < len(line) and line[cut - 1 : cut + 1].isascii() and line[cut - 1 : cut + 1].isalnum()
            ):  # no word split
                cut -= 1
            pdf.drawString(60, y, line[:cut])
            line, y = line[cut:], y - 18
        y -= 8
    pdf.save()
    return out.getvalue()


def drawing_pdf() -> bytes:
    """A PDF page with only shapes (as a scan has only an image): no text layer at all."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842))
    for step in range(20):
        pdf.setFillGray(step / 20)
        pdf.rect(60 + step * 20, 400, 18, 200, fill=1, stroke=0)
    pdf.save()
    return out.getvalue()


def encrypted_pdf(data: bytes, algorithm: str, user_password: str) -> bytes:
    """``data`` encrypted by pypdf (AES-256, RC4-128…); an empty user password opens without asking."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)
_DOCUMENT_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)


def write_docx(path: Path, body: Callable[[Callable[[bytes], object]], None]) -> None:
    """A minimal DOCX whose word/document.xml is streamed by ``body(write)`` (deflated as it is written)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as document:
            body(document.write)


def docx_bomb(path: Path, expanded: int = BOMB_BYTES) -> None:
    """A DOCX whose word/document.xml expands to ``expanded`` bytes (< 4 GB) of one paragraph repeated.

    Written by hand in about a second: deflate's state is reset after each 1 MB chunk (Z_FULL_FLUSH), so every
    chunk compresses to the same ~2.5 kB, which is computed once and written ``expanded / 1 MB`` times."""
    paragraph = b"<w:p><w:r><w:t>" + b"A" * 1000 + b"</w:t></w:r></w:p>"
    chunk = paragraph * (MB // len(paragraph))
    head, tail, repeats = _DOCUMENT_HEAD.encode(), b"</w:body></w:document>", expanded // len(chunk)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(tail) + deflate.flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + repeats * len(chunk) + len(tail)
    compressed = len(first) + repeats * len(repeated) + len(last)

    def pieces():
        yield first
        for _ in range(repeats):
            yield repeated
        yield last

    small = [(name, text.encode()) for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS))]
    entries = [(name, [data], zlib.crc32(data), len(data), len(data), 0) for name, data in small]
    entries.append(("word/document.xml", pieces(), crc, compressed, size, 8))
    _write_zip(path, entries)


def _write_zip(path: Path, entries: list) -> None:
    """A ZIP archive of (name, pieces of stored data, crc32, stored size, size, method 0 stored / 8 deflated)."""
    central, offset = [], 0
    with path.open("wb") as out:
        for name, pieces, crc, stored, size, method in entries:
            encoded = name.encode()
            fields = struct.pack("<HHHHHIIIH", 20, 0, method, 0, 0x21, crc, stored, size, len(encoded))
            out.write(b"PK\x03\x04" + fields + b"\x00\x00" + encoded)
            for piece in pieces:
                out.write(piece)
            central.append(
                b"PK\x01\x02"
                + struct.pack(
                    "<HHHHHHIIIHHHHHII",
                    20,
                    20,
                    0,
                    method,
                    0,
                    0x21,
                    crc,
                    stored,
                    size,
                    len(encoded),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + encoded
            )
            offset = out.tell()
        directory = b"".join(central)
        out.write(directory)
        out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(central), len(central), len(directory), offset, 0))


def docx_malformed(path: Path) -> None:
    """A DOCX whose word/document.xml is cut off mid-element: not well-formed XML."""
    write_docx(path, lambda write: write((_DOCUMENT_HEAD + "<w:p><w:r><w:t>网络空间</w:t></w:r><w:p").encode()))


# ---------------------------------------------------------------- big text


def write_big_text(path: Path, size: int, line_break: bool = True, key: str = "") -> None:
    """``size`` bytes of Chinese sentences, streamed; one single line when ``line_break`` is False. The marker
    of ``key`` is written last, so it is found only if the whole file was read."""
    sentence = "网络空间命运共同体的理念得到越来越多国家的认同。".encode()
    block = (sentence + (b"\n" if line_break else b"")) * 2000
    with path.open("wb") as out:
        written = 0
        while written + len(block) < size:
            out.write(block)
            written += len(block)
        if key:
            out.write(f"最后一句的暗号是 {marker(key)} 。\n".encode())


# ---------------------------------------------------------------- the corpus


def make_hostile_corpus(directory: Path, big: bool = True) -> list[HostileCase]:
    """Write every hostile case into ``directory`` (created if needed); ``big``: also the 100 MB text.
    A link target outside the corpus is written beside it, in ``<directory>-outside``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cases: list[HostileCase] = []

    def add(key: str, name: str | bytes, expected: str, description: str, data: bytes | None = None, **kw) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(directory), os.fsencode(name))))
        if data is not None:
            path.write_bytes(data)
        if expected == "accepted" and "marker" not in kw:
            kw["marker"] = marker(key)
        cases.append(HostileCase(key, path, expected, description, **kw))
        return path

    accepted, refused = "accepted", "refused"
    for key, encoding in (("gbk", "gbk"), ("gb18030", "gb18030"), ("utf16bom", "utf-16")):
        add(key, f"enc_{key}.txt", accepted, f"Chinese text in {encoding}", chinese_text(key).encode(encoding))
    gb18030 = chinese_text("gb18030ext").replace("登记号", "𠮷字登记号")  # 𠮷: only in GB18030, not in GBK
    add("gb18030ext", "enc_gb18030_ext.txt", accepted, "GB18030 four-byte character", gb18030.encode("gb18030"))
    add(
        "big5",
        "enc_big5.txt",
        accepted,
        "Traditional Chinese in Big5",
        chinese_text("big5", TRADITIONAL).encode("big5"),
    )
    for key, encoding in (("utf16le", "utf-16-le"), ("utf16be", "utf-16-be")):
        add(key, f"enc_{key}_nobom.txt", accepted, f"{encoding} without BOM", chinese_text(key).encode(encoding))
    mixed = "这一行是UTF-8编码的。".encode() + b"\n\n" + chinese_text("mixed").encode("gbk")
    add("mixed", "enc_mixed_utf8_gbk.txt", accepted, "UTF-8 lines then GBK lines", mixed)
    noise = bytes(range(256)) * 64
    add("binary", "binary_renamed.txt", refused, "binary bytes renamed .txt", noise, reason="binary")
    add(
        "elf",
        "program_renamed.md",
        refused,
        "an executable renamed .md",
        b"\x7fELF\x02\x01\x01\x00" + noise,
        reason="binary",
    )
    add("empty", "empty.txt", refused, "0 bytes", b"", reason="empty")
    add("blank", "whitespace_only.txt", refused, "only spaces and newlines", " \n\u3000\n\t\n".encode(), reason="empty")
    if big:
        path = add("huge", "huge_100mb.txt", refused, "a 100 MB text (over the size limit)", reason="too large")
        write_big_text(path, 100 * MB)
    path = add("oneline", "one_line_5mb.txt", accepted, "a single 5 MB line")
    write_big_text(path, 5 * MB, line_break=False, key="oneline")

    add(
        "scan",
        "scanned_no_text.pdf",
        refused,
        "PDF with only drawings (no text layer)",
        drawing_pdf(),
        reason="no text layer",
    )
    plain = text_pdf(chinese_text("pdf"))
    add("pdf", "plain.pdf", accepted, "ordinary PDF", plain)
    for algorithm in ("AES-256", "RC4-128"):
        tag = algorithm.split("-")[0].lower()
        locked = encrypted_pdf(text_pdf(chinese_text(f"{tag}locked")), algorithm, "secret")
        add(
            f"{tag}locked",
            f"encrypted_{tag}_password.pdf",
            refused,
            f"{algorithm} PDF needing a password",
            locked,
            reason="encrypted",
        )
        open_pdf = encrypted_pdf(text_pdf(chinese_text(f"{tag}open")), algorithm, "")
        add(
            f"{tag}open",
            f"encrypted_{tag}_no_password.pdf",
            accepted,
            f"{algorithm} PDF with an empty user password",
            open_pdf,
        )
    add("badpdf", "corrupt.pdf", refused, "a PDF header and then garbage", b"%PDF-1.7\n" + noise[:4000], reason="PDF")
    add("cutpdf", "truncated.pdf", refused, "a PDF cut off after its header", plain[:200], reason="PDF")

    docx_bomb(add("bomb", "zip_bomb.docx", refused, "DOCX expanding to 2 GB (zip bomb)", reason="expands"))
    docx_malformed(add("badxml", "malformed_xml.docx", refused, "DOCX with malformed XML", reason="malformed XML"))
    add(
        "badzip",
        "corrupt.docx",
        refused,
        "DOCX that is not a ZIP archive",
        b"PK\x03\x04" + noise[:2000],
        reason="corrupt DOCX",
    )

    html = (
        "<html><head><title>脚本页面</title><style>p {color: red} .xqzstyleleak7 {}</style>"
        "<script>var secret = 'xqzscriptleak7'; document.write('<p>xqzscriptleak7</p>');</script></head>"
        "<body><script>alert('xqzscriptleak7')</script><p>"
        + "</p><p>".join(chinese_text("html").split("\n\n"))
        + "</p>"
        "<noscript>xqzscriptleak7</noscript></body></html>"
    )
    add("html", "scripts.html", accepted, "HTML with scripts and styles", html.encode(), absent="xqzscriptleak7")

    names = {"spaces": "name with  spaces.txt", "chinese": "中文文件名（测试）.txt", "dashes": "--help -rf.txt"}
    names["long"] = "long_" + "n" * 241 + ".txt"  # 250 characters: near the file-system limit of 255 bytes
    for key, name in names.items():
        add(key, name, accepted, f"file name: {name[:40]}", chinese_text(key).encode())

    outside = directory.parent / f"{directory.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text(chinese_text("linked"), encoding="utf-8")
    link = add("link", "link_outside.txt", refused, "symlink to a file outside the corpus", reason="outside the corpus")
    link.unlink(missing_ok=True)
    link.symlink_to(outside / "secret.txt")
    folder_link = add("dirlink", "linked_folder", refused, "symlink to a folder outside the corpus", reason="outside")
    folder_link.unlink(missing_ok=True)
    folder_link.symlink_to(outside, target_is_directory=True)

    add(
        "badname",
        b"bad\xff\xfename.txt",
        refused,
        "file name not valid UTF-8",
        chinese_text("badname").encode(),
        reason="UTF-8",
    )
    return cases
