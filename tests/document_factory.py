"""Real PDF and Word files for the tests, generated on the spot (nothing binary is committed).

PDFs are laid out with reportlab and its built-in CID font STSong-Light (no font file needed): paragraphs
wrapped to the column with the first line indented two characters, headings in larger type, a running
header and page numbers, and the junk information dictionary a PDF printed from a browser carries.
``kangxi_text_layer`` then rewrites a PDF's text layer the way browsers' CJK fonts do (Identity-H codes
and a ToUnicode map that sends some glyphs to Kangxi radicals: 大 → ⼤ U+2F24).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FONT = "STSong-Light"
PAGE_WIDTH, PAGE_HEIGHT = 595.0, 842.0
LEFT, RIGHT = 72.0, 523.0
TOP, BOTTOM = 770.0, 90.0
SIZES = {"title": 18.0, "h1": 15.0, "h2": 13.0, "p": 11.0, "bold": 11.0}


@dataclass
class Block:
    kind: str  # "title", "h1", "h2" (larger type), "bold" (body size, "fake bold": drawn twice), "p" (body)
    text: str


@dataclass
class PlacedLine:
    kind: str
    text: str
    block: int  # index of its block
    first: bool  # the block's first line


@dataclass
class PdfLayout:
    """What was put on each page (without header and page number), to check the reader against."""

    lines: list[list[PlacedLine]] = field(default_factory=list)  # per page, top to bottom

    def page_text(self, page: int) -> str:
        return "".join(line.text for line in self.lines[page])

    def continued_pages(self) -> list[int]:
        """0-based pages that start inside a paragraph begun on the page before."""
        return [n for n, lines in enumerate(self.lines) if n and lines and not lines[0].first]

    @property
    def pages(self) -> int:
        return len(self.lines)


def _wrap(text: str, size: float, width: float, indent: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, current = [], ""
    available = width - indent
    for ch in text:
        if current and stringWidth(current + ch, FONT, size) > available:
            lines.append(current)
            current, available = "", width
        current += ch
    if current:
        lines.append(current)
    return lines


def make_pdf(
    path: Path,
    blocks: list[Block],
    *,
    title: str = "about:blank",
    author: str | None = None,
    header: str | None = "网络空间治理研究报告（内部资料）",
    header_from_page: int = 2,
    page_numbers: bool = True,
    encrypt_owner_password: str | None = None,
    user_password: str | None = None,
) -> PdfLayout:
    """Write ``blocks`` as a PDF at ``path``; return what went on each page."""
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    encrypt = None
    if encrypt_owner_password or user_password:
        encrypt = StandardEncryption(user_password or "", ownerPassword=encrypt_owner_password or "owner", strength=128)
    pdf = canvas.Canvas(str(path), pagesize=(PAGE_WIDTH, PAGE_HEIGHT), encrypt=encrypt, invariant=1)
    pdf.setTitle(title)
    if author is not None:
        pdf.setAuthor(author)
    layout = PdfLayout([[]])
    y = TOP

    def furniture(page: int) -> None:
        pdf.setFont(FONT, 9)
        if header and page >= header_from_page:
            pdf.drawString(LEFT, PAGE_HEIGHT - 50, header)
        if page_numbers:
            pdf.drawCentredString(PAGE_WIDTH / 2, 40, f"- {page} -")

    def new_page() -> None:
        nonlocal y
        furniture(len(layout.lines))
        pdf.showPage()
        layout.lines.append([])
        y = TOP

    for index, block in enumerate(blocks):
        size = SIZES[block.kind]
        leading = size * 1.6
        if block.kind != "p":
            y -= size * 0.6  # space above a heading
        indent = 2 * size if block.kind == "p" else 0.0
        lines = _wrap(block.text, size, RIGHT - LEFT, indent)
        for number, line in enumerate(lines):
            if y < BOTTOM:
                new_page()
            pdf.setFont(FONT, size)
            if block.kind == "title":
                pdf.drawCentredString(PAGE_WIDTH / 2, y, line)
            elif block.kind == "bold":  # a font without a bold face is emboldened by drawing it twice
                pdf.drawString(LEFT, y, line)
                pdf.drawString(LEFT + 0.4, y, line)
            else:
                pdf.drawString(LEFT + (indent if number == 0 else 0.0), y, line)
            layout.lines[-1].append(PlacedLine(block.kind, line, index, number == 0))
            y -= leading
        if block.kind != "p":
            y -= size * 0.3
    furniture(len(layout.lines))
    pdf.showPage()
    pdf.save()
    return layout


def kangxi_text_layer(pdf_bytes: bytes, substitutions: dict[str, str]) -> bytes:
    """The same PDF with its STSong-Light text re-encoded as browsers write CJK text: Identity-H codes (the
    glyph ids) and a ToUnicode map, in which the glyphs of ``substitutions``' keys map to their values
    (Kangxi radicals or compatibility ideographs that the font draws with the same glyph)."""
    from io import BytesIO

    from pdfminer.cmapdb import CMapDB
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ByteStringObject, DecodedStreamObject, NameObject, TextStringObject
    from pypdf.generic._data_structures import ContentStream

    cmap = CMapDB.get_cmap("UniGB-UCS2-H")
    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf_bytes)))
    to_unicode: dict[int, str] = {}
    cid_fonts = []
    for page in writer.pages:
        fonts = page["/Resources"]["/Font"]
        cid_names = {name for name, ref in fonts.items() if ref.get_object().get("/Encoding") == "/UniGB-UCS2-H"}
        cid_fonts += [fonts[name].get_object() for name in cid_names]
        content = ContentStream(page.get_contents(), writer)
        current = None
        for operands, operator in content.operations:
            if operator == b"Tf":
                current = operands[0]
            elif operator in (b"Tj", b"'", b'"') and current in cid_names:
                index = len(operands) - 1
                original = operands[index]
                data = original.original_bytes if isinstance(original, TextStringObject) else bytes(original)
                codes = []
                for unit in range(0, len(data), 2):
                    char = data[unit : unit + 2].decode("utf-16-be")
                    cid = next(iter(cmap.decode(data[unit : unit + 2])))
                    to_unicode[cid] = substitutions.get(char, char)
                    codes.append(cid.to_bytes(2, "big"))
                operands[index] = ByteStringObject(b"".join(codes))
        page.replace_contents(content)
    entries = [f"<{cid:04X}> <{''.join(f'{ord(c):04X}' for c in text)}>" for cid, text in sorted(to_unicode.items())]
    blocks = []
    for start in range(0, len(entries), 100):
        part = entries[start : start + 100]
        blocks.append(f"{len(part)} beginbfchar\n" + "\n".join(part) + "\nendbfchar")
    cmap_text = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    )
    stream = DecodedStreamObject()
    stream.set_data(cmap_text.encode("ascii"))
    reference = writer._add_object(stream)
    for font in {id(f): f for f in cid_fonts}.values():
        font[NameObject("/Encoding")] = NameObject("/Identity-H")
        font[NameObject("/ToUnicode")] = reference
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------- a report, in blocks

SENTENCES = (
    "网络空间是人类共同的活动空间，网络空间前途命运应由世界各国共同掌握。",
    "各国应坚持多边参与、多方参与，加强沟通交流，深化务实合作。",
    "中国愿同国际社会一道，坚持共商共建共享，携手应对网络安全风险和挑战。",
    "数字技术日新月异，深刻改变着人们的生产生活方式，也带来新的治理课题。",
)


def paragraph(number: int, sentences: int = 5) -> str:
    """A paragraph of Chinese prose; ``number`` makes its first sentence unique (第N次会议…)."""
    body = "".join(SENTENCES[(number + i) % len(SENTENCES)] for i in range(sentences - 1))
    return f"第{number}次专题会议指出，{body}大家一致认为，今年的工作取得了积极成效。"


def report_blocks() -> list[Block]:
    """A report over three pages: a title, a date line, numbered and unnumbered headings in larger type,
    and paragraphs that run over both page breaks (``PdfLayout.continued_pages``)."""
    blocks = [Block("title", "携手构建网络空间命运共同体"), Block("p", "2022年11月7日"), Block("p", paragraph(0, 8))]
    number = 0
    for heading, subheadings in (
        ("一、总体要求", ("指导思想", "基本原则")),
        ("二、主要任务", ("加强基础设施建设", "深化国际交流合作")),
        ("三、保障措施", ()),
    ):
        blocks.append(Block("h1", heading))
        for sub in subheadings or ("",):
            if sub:
                blocks.append(Block("h2", sub))
            for _ in range(3):
                number += 1
                blocks.append(Block("p", paragraph(number, 4 + number % 3)))
    return blocks
