"""Raw text → clean text: paragraphs separated by exactly "\\n\\n", noise removed, content kept.

One pure function per kind of noise; ``clean_text`` composes them. The order matters in two places:
markup is removed before boilerplate (so ``*来源*`` compares as ``来源``), and the hard-wrap decision is
made on the whole document before any line is joined (a per-line guess would break normal documents).
"""

from __future__ import annotations

import functools
import re
import statistics
import unicodedata
from dataclasses import dataclass

from ingest import lexicon

# ---------------------------------------------------------------- character classes

# Ideographs (incl. extension A and the supplementary planes), kana, hangul, CJK radicals.
CJK_CHARS = "\u2e80-\u2fff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
# Full-width punctuation: spaces next to these are never meaningful.
FULLWIDTH_PUNCT = (
    "，。、；：？！…—·“”‘’（）《》〈〉【】「」『』〔〕〖〗～﹃﹄"
    "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
)
SENTENCE_END = "。！？!?；;：:….．"  # a line ending in one of these may end a paragraph
CLOSING = "”’\"'）)】」』》〉"  # may follow the sentence end: 说：“……。”
CLAUSE_PUNCT = "，。；：！？,;"  # prose punctuation; headings rarely contain it

_CJK = f"[{CJK_CHARS}]"
_CJK_OR_PUNCT = f"[{CJK_CHARS}{FULLWIDTH_PUNCT}]"
_LONE_PUNCT_LINE = re.compile(rf"^[\s{FULLWIDTH_PUNCT},.;:!?'\"()\[\]<>\-_=~*#|/\\×·•]+$")
_STARTS_WITH_CLOSING = re.compile(rf"^[{CLOSING}\]，。、；：？！,.;:?!…%％]")

# Heading prefixes, shared with structure.py (which decides the levels).
CHINESE_NUMERAL = "一二三四五六七八九十百零〇"
HEADING_PREFIX = re.compile(
    rf"^(?:[{CHINESE_NUMERAL}]+、"  # 一、
    rf"|[（(][{CHINESE_NUMERAL}]+[）)]"  # （一）
    r"|\d{1,2}[.、．](?!\d)"  # 1. / 1、 (not 10.51)
    r"|[（(]\d{1,2}[）)]"  # （1）
    rf"|第[{CHINESE_NUMERAL}\d]+[章节部篇])"  # 第一章 / 第二部分
)


def strip_spaces(text: str) -> str:
    return re.sub(r"\s+", "", text)


def is_named_heading(text: str) -> bool:
    """A standalone heading without numbering (前言, 结束语 …: lexicon/named_headings.txt), spaces ignored."""
    return strip_spaces(text) in lexicon.word_set("named_headings")


def ends_sentence(text: str) -> bool:
    """True if the text ends like a sentence (closing quotes/brackets after the mark are allowed)."""
    stripped = text.rstrip().rstrip(CLOSING)
    return bool(stripped) and stripped[-1] in SENTENCE_END


def visual_width(text: str) -> float:
    """Width in CJK cells: half-width (Latin, digits) characters count half."""
    return sum(0.5 if ord(ch) < 0x1100 else 1.0 for ch in text)


# ---------------------------------------------------------------- character-level normalisation

# Compatibility characters that NFKC folds to one ordinary character. PDF text layers of CJK fonts hold
# Kangxi radicals and compatibility ideographs where the font draws the same glyph (⼤ U+2F24 for 大), and
# typed text holds full-width digits and letters (２０２２年); both defeat dates, keywords and highlights.
# Only these blocks, and only one-character foldings, so every offset stays valid; full-width punctuation
# (，。：（）) is deliberately left alone: it is how Chinese is written.
_COMPATIBILITY_BLOCKS = (
    (0x2E80, 0x2EFF),  # CJK radicals supplement (two have a compatibility mapping: ⺟ ⻳)
    (0x2F00, 0x2FD5),  # Kangxi radicals
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x2F800, 0x2FA1F),  # CJK compatibility ideographs supplement
    (0xFF10, 0xFF19),  # full-width digits
    (0xFF21, 0xFF3A),  # full-width Latin capitals
    (0xFF41, 0xFF5A),  # full-width Latin small letters
)


def _compatibility_table() -> dict[int, str]:
    table = {}
    for first, last in _COMPATIBILITY_BLOCKS:
        for code in range(first, last + 1):
            folded = unicodedata.normalize("NFKC", chr(code))
            if folded != chr(code) and len(folded) == 1:
                table[code] = folded
    return table


_COMPATIBILITY_FOLD = _compatibility_table()


def fold_compatibility_characters(text: str) -> str:
    """Kangxi radicals, compatibility ideographs, full-width digits and letters → their NFKC character.

    One character in, one character out: ``len`` and every offset are unchanged."""
    return text.translate(_COMPATIBILITY_FOLD)


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\v\f]")
_SEPARATOR_RUN = re.compile("\u3000{2,}")


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")


def normalise_vertical_forms(text: str) -> str:
    """Vertical presentation forms from newspaper layout (﹃﹄︵︶) → their ordinary forms."""
    return re.sub("[\ufe10-\ufe19\ufe30-\ufe4f]", lambda m: unicodedata.normalize("NFKC", m.group()), text)


def split_separator_runs(text: str) -> str:
    """U+3000 runs used as paragraph separators (whole book on one line) → blank lines.

    Only on long lines with several runs: a short line like ``前　　言`` uses them as spacing.
    """

    def split_line(line: str) -> str:
        if len(line) > 200 and len(_SEPARATOR_RUN.findall(line)) >= 3:
            return _SEPARATOR_RUN.sub("\n\n", line)
        return line

    return "\n".join(split_line(line) for line in text.split("\n"))


def normalise_separators(text: str) -> str:
    """NBSP, ideographic and other odd spaces, tabs → plain spaces; zero-width characters removed."""
    return _ODD_SPACES.sub(" ", _INVISIBLE.sub("", text))


_SPACE_BY_DIGIT = re.compile(rf"(?<={_CJK_OR_PUNCT}) +(?=\d)|(?<=\d) +(?={_CJK_OR_PUNCT})")
_SPACE_BY_PUNCT = re.compile(f" +(?=[{FULLWIDTH_PUNCT}])|(?<=[{FULLWIDTH_PUNCT}]) +")
_SPACED_OUT_RUN = re.compile(rf"(?<![^\s]){_CJK}(?: {{1,3}}{_CJK})+(?![^\s])")
_ANY_SPACE_BY_CJK = re.compile(rf"(?<={_CJK_OR_PUNCT}) +| +(?={_CJK_OR_PUNCT})")


def normalise_cjk_spacing(text: str, aggressive: bool = False) -> str:
    """Remove layout spaces around CJK text, line by line.

    Always: ``11 月 7 日`` → ``11月7日``, spaces beside full-width punctuation, spaced-out titles
    (``序 言``, ``携 手 构 建``). ``aggressive`` (typeset newspaper text, where every space next to
    a CJK character is justification) removes all spaces next to CJK characters.
    """
    lines = []
    for line in text.split("\n"):
        line = re.sub(" {2,}", " ", line.strip())
        if aggressive:
            line = _ANY_SPACE_BY_CJK.sub("", line)
        else:
            line = _SPACED_OUT_RUN.sub(lambda m: m.group().replace(" ", ""), line)
            line = _SPACE_BY_PUNCT.sub("", line)
            line = _SPACE_BY_DIGIT.sub("", line)
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------- markup

_IMAGE_LINK = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MARKDOWN_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\((?:https?://|/|#)[^)\n]*\)")
_HEADING_LINE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_BOLD_LINE = re.compile(r"^\s*(\*\*|__)(.+)\1\s*$")
_BLOCKQUOTE = re.compile(r"^ {0,3}> ?", re.MULTILINE)
_ASTERISKS = re.compile(r"\*+")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![A-Za-z0-9_])__(?=\S)|(?<=\S)__(?![A-Za-z0-9_])")  # not in snake__case


def remove_image_links(text: str) -> str:
    """``![alt](url)`` (also empty ``![]()``) → nothing; an image carries no text we can cite."""
    return _IMAGE_LINK.sub("", text)


def remove_markdown_links(text: str) -> str:
    """``[text](url)`` → ``text``."""
    return _MARKDOWN_LINK.sub(r"\1", text)


def _drop_emphasis_marker(match: re.Match[str]) -> str:
    # A run of * between digits/spaces is arithmetic (``3 * 4``, ``2*3``), not emphasis.
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return match.group() if (before.isdigit() or before == " ") and (after.isdigit() or after == " ") else ""


def remove_markdown_emphasis(text: str) -> str:
    """``**bold**``, ``*italic*``, ``__bold__`` → plain text (the words stay)."""
    return _UNDERSCORE_EMPHASIS.sub("", _ASTERISKS.sub(_drop_emphasis_marker, text))


def remove_markdown_heading_markers(text: str) -> str:
    """``## 标题`` → ``标题``; structure.py learns the level from the raw text (``markup_heading_levels``)."""
    lines = []
    for line in text.split("\n"):
        heading = _HEADING_LINE.match(line)
        lines.append(heading.group(2) if heading else line)
    return _BLOCKQUOTE.sub("", "\n".join(lines))


def clean_inline(line: str) -> str:
    """The markup/spacing part of cleaning for one line, so raw headings can be matched to clean paragraphs."""
    line = remove_markdown_heading_markers(fold_compatibility_characters(line))
    line = remove_markdown_emphasis(remove_markdown_links(remove_image_links(line)))
    return normalise_cjk_spacing(normalise_separators(line)).strip()


def markup_heading_levels(raw: str) -> dict[str, int | None]:
    """Clean heading text → level, from markdown ``#`` headings (level = number of #) and whole-line bold
    (level None: decided by its numbering, else 1). Cleaning removes the markup, so this is the only record."""
    levels: dict[str, int | None] = {}
    for line in normalise_newlines(raw).split("\n"):
        heading = _HEADING_LINE.match(line)
        bold = _BOLD_LINE.match(line)
        if heading:
            text, level = clean_inline(heading.group(2)), len(heading.group(1))
        elif bold and "**" not in bold.group(2):
            text, level = clean_inline(bold.group(2)), None
        else:
            continue
        if text:
            levels.setdefault(text, level)
    return levels


# ---------------------------------------------------------------- page boilerplate

# WeChat article page chrome (lexicon/wechat_page_footer.txt, lexicon/wechat_page_words.txt). Footer
# markers never occur in article prose; the words are ordinary ones, so they are removed only after the
# first footer marker.
_BOILERPLATE_PATTERNS = re.compile(
    r"^[“\"]?(?:投稿联系方式|投稿邮箱|商务合作|点击上方.{0,12}关注|长按(?:识别)?二维码|扫码关注|扫描二维码关注)"
)
_LATIN_LOGO = re.compile(r"^[A-Z][A-Z0-9&\-]{1,15}$")  # "NERCIS": an account's logo text in the page header


def is_wechat_page(lines: list[str]) -> bool:
    return len({line.strip() for line in lines} & lexicon.word_set("wechat_page_footer")) >= 2


def _is_body_line(line: str) -> bool:
    return len(line) >= 30 or any(mark in line for mark in "。！？")


def remove_wechat_boilerplate(text: str, title: str = "", account: str = "") -> str:
    """WeChat page chrome: the footer UI, the page header (account name, logo text, repeated title),
    contributor-contact lines. The first copy of the title is kept as the document's first paragraph."""
    lines = text.split("\n")
    if not is_wechat_page(lines):
        return text
    footer_markers, footer_words = lexicon.word_set("wechat_page_footer"), lexicon.word_set("wechat_page_words")
    clean_title = clean_inline(title) if title else ""
    kept: list[str] = []
    in_header, in_footer, title_seen = True, False, False
    for line in lines:
        stripped = line.strip()
        if stripped in footer_markers:
            in_footer = True
            continue
        if _BOILERPLATE_PATTERNS.match(stripped) or (in_footer and stripped in footer_words):
            continue
        if stripped and (in_header or in_footer):
            if account and clean_inline(stripped) == clean_inline(account):
                continue
            if in_header and _LATIN_LOGO.match(stripped):
                continue
            if clean_title and clean_inline(stripped) == clean_title:
                if title_seen:
                    continue
                title_seen = True
        if stripped and _is_body_line(stripped) and clean_inline(stripped) != clean_title:
            in_header = False
        kept.append(line)
    return "\n".join(kept)


_SOURCE_LINK_LABEL = re.compile(r"^\s*原\s*文\s*链\s*接\s*[:：]?\s*(https?://\S+)?\s*$")
_URL_LINE = re.compile(r"^\s*https?://\S+\s*(?:[,，]\s*转载请注明[。.]?)?\s*$")


def remove_source_link_footer(text: str) -> str:
    """``原文链接:`` + URL (+ ``转载请注明``) → removed; the URL is kept as the document's url metadata."""
    lines = text.split("\n")
    kept: list[str] = []
    drop_url = False
    for line in lines:
        label = _SOURCE_LINK_LABEL.match(line)
        if label:
            drop_url = not label.group(1)  # the URL may follow on its own line
            continue
        if drop_url and _URL_LINE.match(line):
            drop_url = False
            continue
        if line.strip():
            drop_url = False
        kept.append(line)
    return "\n".join(kept)


_PAGE_JUMP = re.compile(rf"[ \t]*[（(] *(?:下转|上接|转) *第? *[{CHINESE_NUMERAL}\d]+ *版 *[）)][ \t]*")


def remove_page_jump_notes(text: str) -> str:
    """Newspaper continuation notes ``（下转第十版）`` / ``（上接第一版）`` → removed (layout, not content)."""
    return _PAGE_JUMP.sub("", text)


def remove_lone_punctuation_lines(text: str) -> str:
    """Lines that are only punctuation (``，`` ``。`` ``——``) carry nothing; drop them."""
    return "\n".join(line for line in text.split("\n") if not _LONE_PUNCT_LINE.match(line))


# ---------------------------------------------------------------- news datelines

# A Chinese news report opens with a dateline: <agency><place><month>月<day>日电 (a wire) or 讯 (the
# paper's own reporter), e.g. 新华社北京11月7日电, 本报南京11月7日讯. An agency is recognised by the shape
# of its name (…社, …报, …网, …台) when the date follows, or by name (lexicon/news_agencies.txt), which
# also lets the date be missing (新华社电). 本报 ("this paper") is always known and names no source.
_AGENCY_SHAPE = rf"[{CJK_CHARS}]{{1,10}}?(?:社|报|网|台)"
_DATELINE_TAIL = rf"[{CJK_CHARS}]{{0,8}}?\d{{1,2}}月\d{{1,2}}日(?:电|讯)"
THIS_PAPER = "本报"


@dataclass(frozen=True)
class _DatelinePatterns:
    dated: re.Pattern[str]  # a paragraph opening with a dated dateline
    named: re.Pattern[str]  # a line opening with a listed agency, then a date or 电/讯 soon after
    complete: re.Pattern[str]  # a whole dateline at the start of a paragraph, followed by the report
    anywhere: re.Pattern[str]  # a dated dateline inside a text (also "据新华社…电" and "（新华社…电）")
    dateless: re.Pattern[str]  # a listed agency's dateline without a date ("新华社电")


@functools.cache
def _dateline_patterns(names: tuple[str, ...]) -> _DatelinePatterns:
    listed = "|".join(re.escape(name) for name in sorted({*names, THIS_PAPER}, key=len, reverse=True))
    agency = f"(?P<agency>{listed}|{_AGENCY_SHAPE})"
    return _DatelinePatterns(
        dated=re.compile(agency + _DATELINE_TAIL),
        named=re.compile(rf"(?:{listed})\S{{0,12}}?(?:电|讯|\d)"),
        complete=re.compile(rf"{agency}{_DATELINE_TAIL}(?=[{CJK_CHARS}])"),
        anywhere=re.compile(rf"(?<![{CJK_CHARS}])(?:据)?{agency}{_DATELINE_TAIL}"),
        dateless=re.compile(rf"(?P<agency>{listed})[^\n（()）]{{0,16}}?(?:电|讯)"),
    )


def dateline_patterns() -> _DatelinePatterns:
    return _dateline_patterns(lexicon.words("news_agencies"))


def starts_with_dateline(line: str, following: str = "") -> bool:
    """Does ``line`` open with a news dateline (新华社北京11月7日电 …)? A hard-wrapped line may stop inside
    it (本报北京11 / 月7日讯), so a dated dateline is looked for in ``line`` and the ``following`` line."""
    patterns = dateline_patterns()
    return bool(patterns.named.match(line) or patterns.dated.match(line + following))


def dateline_agency(text: str) -> str:
    """The agency of the first news dateline in ``text`` ('' if none, or if it is 本报, which names no one)."""
    patterns = dateline_patterns()
    found = [match for match in (patterns.anywhere.search(text), patterns.dateless.search(text)) if match]
    if not found:
        return ""
    agency = min(found, key=lambda match: match.start()).group("agency")
    return "" if agency == THIS_PAPER else agency


def restore_dateline_gap(paragraph: str) -> str:
    """The space after a dateline is conventional (``新华社北京11月7日电 学习…``); spacing removal ate it."""
    match = dateline_patterns().complete.match(paragraph)
    return f"{paragraph[: match.end()]} {paragraph[match.end() :]}" if match else paragraph


# ---------------------------------------------------------------- paragraphs in normal documents

_MIN_BROKEN_PARAGRAPH = 15


def _looks_like_heading(text: str) -> bool:
    numbered = bool(HEADING_PREFIX.match(text)) and len(text) <= 40 and not any(mark in text for mark in "。；！？")
    return numbered or is_named_heading(text)


def merge_broken_paragraphs(paragraphs: list[str]) -> list[str]:
    """Rejoin prose split by a stray blank line in mid-sentence (``…造福全人类`` / ``的发展共同体…``).

    Only when the first part is prose (has clause punctuation), stops on an ideograph, and neither
    part looks like a heading — titles and headings also end without punctuation.
    """
    merged: list[str] = []
    for paragraph in paragraphs:
        if merged:
            previous = merged[-1]
            if (
                len(previous) >= _MIN_BROKEN_PARAGRAPH
                and re.search(_CJK + "$", previous)
                and re.match(_CJK, paragraph)
                and any(mark in previous for mark in CLAUSE_PUNCT)
                and not _looks_like_heading(previous)
                and not _looks_like_heading(paragraph)
            ):
                merged[-1] = previous + paragraph
                continue
        merged.append(paragraph)
    return merged


# ---------------------------------------------------------------- hard-wrapped (typeset) text


@dataclass
class _Line:
    text: str
    width: float
    indented: bool  # leading whitespace (or, where blank lines are meaningful, a blank line before): starts a paragraph


_BRACKETED = re.compile(r"^[（(][^（()）]*[）)]$")
_INDENT_TOLERANCE = 1.5  # a first line is indented by two cells; one cell of slack for punctuation squeeze
_WIDTH_WINDOW = 8


def _local_widths(lines: list[_Line]) -> list[float]:
    """Column width around each line: the upper quartile of its neighbours' widths.

    Measured locally because columns differ per article; the upper quartile because full lines are the
    majority of a column while short ones (paragraph ends, text flowing round a picture) pull a median down.
    """
    widths = [line.width for line in lines]
    local = []
    for i in range(len(lines)):
        window = sorted(w for w in widths[max(0, i - _WIDTH_WINDOW) : i + _WIDTH_WINDOW + 1] if w >= 4)
        local.append(window[(3 * len(window)) // 4] if window else widths[i])
    return local


def is_hard_wrapped(text: str) -> bool:
    """Does this document have its paragraphs wrapped into short physical lines (PDF / newspaper text)?

    Yes if most of the prose (by characters) sits in lines that stop mid-sentence, and those lines fill
    their column. Headings are left out (they never end in punctuation), and the fill test keeps a table
    of contents or a page's many short footer lines from passing for wrapped prose.
    """
    lines = [line.strip() for line in text.split("\n") if len(line.strip()) >= 4]
    lines = [line for line in lines if not _looks_like_heading(line)]
    if len(lines) < 8:
        return False
    parsed = [_Line(line, visual_width(line), False) for line in lines]
    local = _local_widths(parsed)
    open_lines = [(line, width) for line, width in zip(parsed, local, strict=True) if not ends_sentence(line.text)]
    open_chars = sum(len(line.text) for line, _ in open_lines)
    full_chars = sum(len(line.text) for line, width in open_lines if line.width >= 0.85 * width)
    return (
        open_chars >= 0.5 * sum(len(line) for line in lines)
        and full_chars >= 0.6 * open_chars
        and statistics.median(line.width for line in parsed) <= 60
    )


def _is_single_ideograph(line: _Line) -> bool:
    return len(line.text) == 1 and bool(re.match(_CJK, line.text))


def unwrap_hard_wrapped_lines(text: str) -> str:
    """Rebuild the paragraphs of hard-wrapped text, deciding at every line break whether a paragraph ends.

    Where every line is followed by a blank line (003) or none is (PDF text), blank lines say nothing and
    the layout decides; where only some are, they are the paragraph breaks. Layout rules:
    - a line ending a sentence that is clearly shorter than its column ends a paragraph;
    - so does one followed by an indented (two cells shorter) line that does not itself end the paragraph;
    - numbered/named headings, datelines (``新华社…电``), indented lines and bracketed lines start one;
    - a heading continues onto the next line only if that line is short and has no clause punctuation;
    - a line starting with punctuation always continues the previous one (vertical captions);
    - runs of single ideographs (a name set vertically: 刘 / 亮) form their own paragraph.
    CJK lines are joined without a space; Latin words across a break get one.
    """
    raw_lines = text.split("\n")
    # Blank lines between some lines only: they are the paragraph breaks, and line widths (ragged in
    # plain-text wrapping) are not evidence. Between every line (003) or nowhere (PDF text): widths are.
    has_blank_lines = any(not line.strip() for line in raw_lines[1:-1])
    blank_lines_are_breaks = has_blank_lines and not _is_double_spaced(raw_lines)
    lines = []
    for index, raw_line in enumerate(raw_lines):
        line_text = normalise_cjk_spacing(raw_line, aggressive=True).strip()
        if line_text:
            after_blank = index > 0 and not raw_lines[index - 1].strip()
            indented = raw_line[:1].isspace() or (blank_lines_are_breaks and after_blank)
            lines.append(_Line(line_text, visual_width(line_text), indented))
    if not lines:
        return ""
    local = _local_widths(lines)
    paragraphs: list[str] = [lines[0].text]
    in_heading = _starts_heading(lines[0].text)
    for i in range(1, len(lines)):
        line = lines[i]
        if _continues(lines, local, i, in_heading, blank_lines_are_breaks):
            paragraphs[-1] += _joiner(paragraphs[-1], line.text) + line.text
        else:
            paragraphs.append(line.text)
            in_heading = _starts_heading(line.text)
    return "\n\n".join(restore_dateline_gap(paragraph) for paragraph in paragraphs)


def _joiner(before: str, after: str) -> str:
    """Nothing between CJK text (a line break inside Chinese is not a space); a space between Latin words."""
    if re.search(_CJK_OR_PUNCT + "$", before) or re.match(_CJK_OR_PUNCT, after) or before.endswith("-"):
        return ""
    return " "


def _is_double_spaced(raw_lines: list[str]) -> bool:
    """Is (nearly) every text line followed by a blank line? Then blank lines say nothing about paragraphs;
    otherwise they are real paragraph breaks and are kept as such."""
    text_lines = [i for i, line in enumerate(raw_lines) if line.strip()]
    if not text_lines:
        return False
    followed_by_blank = sum(1 for i in text_lines if i + 1 < len(raw_lines) and not raw_lines[i + 1].strip())
    return followed_by_blank >= 0.8 * len(text_lines)


def _starts_heading(text: str) -> bool:
    return (bool(HEADING_PREFIX.match(text)) and not any(mark in text for mark in "。；！？")) or is_named_heading(text)


def _continues(
    lines: list[_Line], local: list[float], index: int, in_heading: bool, blank_lines_are_breaks: bool
) -> bool:
    """Does line ``index`` continue the paragraph of the line before it? (``local``: column widths.)"""
    previous, line = lines[index - 1], lines[index]
    following = lines[index + 1] if index + 1 < len(lines) else None
    previous_width, width = local[index - 1], local[index]
    if _STARTS_WITH_CLOSING.match(line.text):
        return True
    vertical_previous, vertical_line = _is_single_ideograph(previous), _is_single_ideograph(line)
    if vertical_previous and vertical_line:
        return True
    if vertical_previous and index >= 2 and _is_single_ideograph(lines[index - 2]):
        return False  # a vertical run just ended
    if vertical_line and following is not None and _is_single_ideograph(following):
        return False  # a vertical run starts
    if (
        line.indented
        or _starts_heading(line.text)
        or is_named_heading(previous.text)
        or starts_with_dateline(line.text, following.text if following else "")
        or _BRACKETED.match(line.text)
        or _BRACKETED.match(previous.text)
    ):
        return False
    if previous.width >= 1.8 * previous_width and previous_width >= 8:
        return False  # a banner line across several columns (a subtitle) stands alone
    if in_heading:
        return (
            not ends_sentence(previous.text)
            and not any(mark in line.text for mark in CLAUSE_PUNCT)
            and line.width <= width - _INDENT_TOLERANCE
            and len(previous.text) + len(line.text) <= 60
        )
    if ends_sentence(previous.text) and not blank_lines_are_breaks:
        previous_is_short = previous.width <= previous_width - _INDENT_TOLERANCE
        line_is_indented = line.width <= width - _INDENT_TOLERANCE and not ends_sentence(line.text)
        if previous_is_short or line_is_indented:
            return False
    return True


# ---------------------------------------------------------------- the whole cleaning


def remove_noise(raw: str, *, title: str = "", source: str = "") -> str:
    """Everything cleaning removes before paragraphs are decided: markup, page chrome, layout notes."""
    text = normalise_vertical_forms(normalise_newlines(fold_compatibility_characters(raw)))
    text = split_separator_runs(text)
    text = normalise_separators(text)
    text = remove_markdown_heading_markers(remove_markdown_links(remove_image_links(text)))
    text = remove_markdown_emphasis(text)
    text = remove_wechat_boilerplate(text, title=title, account=source)
    text = remove_source_link_footer(text)
    return remove_page_jump_notes(text)


@dataclass(frozen=True)
class CleanText:
    """What cleaning makes of a body: the text, and the layout it found (structure reads headings of a
    typeset, hard-wrapped page differently)."""

    text: str  # paragraphs separated by exactly "\\n\\n"
    hard_wrapped: bool  # lines were wrapped inside paragraphs, and have been unwrapped


def clean_text(raw: str, *, title: str = "", source: str = "", hard_wrapped: bool | None = None) -> CleanText:
    """Raw document body → clean text, paragraphs separated by exactly "\\n\\n", and its layout.

    ``title`` and ``source`` (from front matter) let the WeChat header repeats of them be recognised.
    ``hard_wrapped``: whether lines are wrapped inside paragraphs; None decides from the text, False is
    for a reader that already made the paragraphs (one per line).
    """
    text = remove_noise(raw, title=title, source=source)
    wrapped = is_hard_wrapped(text) if hard_wrapped is None else hard_wrapped
    if wrapped:
        paragraphs = unwrap_hard_wrapped_lines(text).split("\n\n")
    else:
        text = remove_lone_punctuation_lines(text)
        paragraphs = [line for line in normalise_cjk_spacing(text).split("\n") if line]
        paragraphs = merge_broken_paragraphs(paragraphs)
    paragraphs = [p for p in (p.strip() for p in paragraphs) if p and not _LONE_PUNCT_LINE.match(p)]
    return CleanText("\n\n".join(paragraphs), wrapped)
