"""Bytes → text: BOMs, UTF-16 without a BOM, UTF-8, GB18030, files mixing UTF-8 and GBK lines, then
charset-normalizer's guess; binary content is refused with a reason."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ingest.errors import IngestError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),  # before utf-16: the UTF-32-LE BOM starts with the UTF-16-LE one
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# Magic numbers of formats people commonly rename by mistake; named so the message can say what it is.
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF file"),
    (b"PK\x03\x04", "a ZIP/Office file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old Office (OLE) file"),
)

_CJK_OR_FULLWIDTH = re.compile(
    "[\u2000-\u206f\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002ffff]"
)


def _is_common_hanzi(ch: str) -> bool:
    """In GB2312 level 1: the 3,755 most frequent characters of simplified Chinese."""
    try:
        lead = ch.encode("gb2312")[0]
    except UnicodeEncodeError:
        return False
    return 0xB0 <= lead <= 0xD7


def _looks_like_chinese(text: str) -> bool:
    """GB18030 decodes almost any byte soup (Big5, Shift-JIS…) into *some* CJK characters; accept it only
    if the non-ASCII part is mostly CJK and its ideographs are mostly common ones, as real Chinese is."""
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    if not non_ascii:
        return True
    if sum(1 for ch in non_ascii if _CJK_OR_FULLWIDTH.match(ch)) < 0.8 * len(non_ascii):
        return False
    hanzi = [ch for ch in non_ascii if "\u4e00" <= ch <= "\u9fff"]
    return not hanzi or sum(1 for ch in hanzi if _is_common_hanzi(ch)) >= 0.8 * len(hanzi)


# charset-normalizer often finds several encodings equally plausible; prefer the common ones.
_PREFERRED_ENCODINGS = (
    "utf_8", "gb18030", "gbk", "big5", "big5hkscs", "cp1252", "latin_1", "shift_jis", "cp932", "euc_jp",
    "euc_kr", "cp949", "cp1251", "koi8_r", "cp1250", "iso8859_2",
)  # fmt: skip


def _guess_encoding(data: bytes, path: Path | str) -> tuple[str, str]:
    from charset_normalizer import from_bytes  # imported lazily: only odd files need it

    matches = list(from_bytes(data))
    if not matches:
        raise IngestError(path, "unknown text encoding (not UTF-8, GBK/GB18030, or anything charset-normalizer knows)")
    least_chaos = min(match.chaos for match in matches)
    plausible = [match for match in matches if match.chaos <= least_chaos + 0.01]

    def preference(match) -> tuple[int, float]:
        rank = _PREFERRED_ENCODINGS.index(match.encoding) if match.encoding in _PREFERRED_ENCODINGS else 99
        return rank, -match.coherence

    best = min(plausible, key=preference)
    return str(best), best.encoding


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch not in "\n\r\t\f")
    return controls / len(text)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without a BOM (Windows "Unicode"): NUL bytes at odd offsets (LE) or even ones (BE),
    as ASCII characters leave them. Decoded only if the result reads as text."""
    if len(data) % 2 or b"\x00" not in data:
        return None
    sample = data[:65536]
    odd = sample[1::2].count(0)
    even = sample[0::2].count(0)
    for encoding, fits in (("utf-16-le", odd > 9 * even), ("utf-16-be", even > 9 * odd)):
        if not fits:
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            return None
        return text if _control_ratio(text[:65536]) <= 0.02 else None
    return None


def _mixed_lines(data: bytes) -> str | None:
    """A file whose lines are partly UTF-8 and partly GBK/GB18030 (pieces pasted together): each line is
    decoded on its own; used only when every line decodes and the whole reads as Chinese."""
    lines, utf8, gbk = [], 0, 0
    for line in data.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
            utf8 += not line.isascii()
        except UnicodeDecodeError:
            try:
                lines.append(line.decode("gb18030"))
                gbk += 1
            except UnicodeDecodeError:
                return None
    text = "\n".join(lines)
    return text if utf8 and gbk and _looks_like_chinese(text) else None


def decode_text(data: bytes, path: Path | str = "<bytes>") -> tuple[str, str]:
    """Bytes → (text, encoding). Order: BOM, UTF-16 without BOM, strict UTF-8, GB18030 (⊃ GBK ⊃ GB2312),
    UTF-8 and GBK lines mixed, charset-normalizer."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as error:
                reason = f"starts with a {encoding} byte-order mark but is not valid {encoding}"
                raise IngestError(path, reason) from error
    for signature, kind in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise IngestError(path, f"binary file (looks like {kind}), not text; give it the matching file extension")
    if b"\x00" in data:
        text = _utf16_without_bom(data)
        if text is not None:
            return text, "utf-16"
        raise IngestError(path, "not a text file (binary content: contains NUL bytes)")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        if _looks_like_chinese(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    text = _mixed_lines(data)
    if text is not None:
        return text, "utf-8+gb18030"
    return _guess_encoding(data, path)


def check_is_text(text: str, path: Path | str) -> None:
    if not text.strip():
        raise IngestError(path, "file is empty (no text)")
    if _control_ratio(text) > 0.02:
        raise IngestError(path, "not a text file (binary content: too many control characters)")
