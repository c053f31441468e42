"""One comparison form for Chinese text: Simplified script with mainland vocabulary.

Passages and questions are compared in this form (keyword tokens, and the texts that are embedded), so
a Traditional collection (Taiwan, Hong Kong) is searched as well as a Simplified one, and Taiwan words
meet their mainland forms (資料/数据, 網路/网络, 軟體/软件, 程式/程序, 資訊/信息) whichever side they are on.
What is stored, cited and highlighted stays the original text: ``fold_with_offsets`` maps the folded
form back to exact original offsets, and ``term_spans`` marks folded terms on original characters.

The fold depends on the text's script (``is_traditional``):

- Traditional text: OpenCC ``hk2t`` (Hong Kong character variants to the standard forms), then
  ``tw2sp`` (Taiwan phrases to mainland phrases, then to Simplified characters). Measured against
  character-level ``t2s``: README, "Traditional Chinese".
- anything else: OpenCC ``t2s``, which leaves Simplified text as it is (bar a few variant characters).

Taiwan phrases are not looked for in Simplified text: many of them are ordinary mainland words written
with the same characters (文件, 核心, 程序, 建立), and ``tw2sp`` would turn mainland 程序 into 进程.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable

# The fold recorded in an index's build settings: an index built with another fold (or none) is rebuilt,
# never mixed. Change it whenever ``fold`` gives other output for the same text.
FOLD = "zh-mainland-1"

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CJK_RANGES = ((0x3400, 0xA000), (0xF900, 0xFB00))  # unified ideographs (with extension A), compatibility ones

Span = tuple[int, int]


@functools.cache
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def _convert(text: str, traditional: bool) -> str:
    if traditional:
        return _opencc("tw2sp").convert(_opencc("hk2t").convert(text))
    return _opencc("t2s").convert(text)


@functools.cache
def _script_characters() -> tuple[frozenset[str], frozenset[str]]:
    """(characters only Traditional text uses, characters only Simplified text uses): the ones OpenCC's
    ``t2s`` changes, and the ones its ``s2t`` changes, less the characters both change."""
    chars = [chr(code) for first, last in CJK_RANGES for code in range(first, last)]
    joined = "\n".join(chars)  # one call each; phrases never span the line breaks

    def changed(config: str) -> set[str]:
        converted = _opencc(config).convert(joined).split("\n")
        return {c for c, d in zip(chars, converted, strict=True) if c != d}

    to_simplified, to_traditional = changed("t2s"), changed("s2t")
    both = to_simplified & to_traditional
    return frozenset(to_simplified - both), frozenset(to_traditional - both)


def script_counts(text: str) -> tuple[int, int]:
    """How many characters of ``text`` only Traditional, and only Simplified, text uses."""
    traditional, simplified = _script_characters()
    return sum(c in traditional for c in text), sum(c in simplified for c in text)


def is_traditional(text: str) -> bool:
    """Written in Traditional script: it holds more Traditional-only characters than Simplified-only ones."""
    if not CJK.search(text):
        return False
    traditional, simplified = script_counts(text)
    return traditional > simplified


def fold_uncached(text: str, traditional: bool | None = None) -> str:
    """``fold`` without the cache, for the bulk of a build (each text is folded once)."""
    if not CJK.search(text):
        return text
    return _convert(text, is_traditional(text) if traditional is None else traditional)


@functools.lru_cache(maxsize=8192)
def fold(text: str, traditional: bool | None = None) -> str:
    """``text`` in the comparison form: Simplified script, mainland vocabulary (see the module docstring).
    ``traditional`` gives the script when it is known from a larger text (a passage's document), else it
    is read from ``text`` itself. Folding folded text changes nothing."""
    return fold_uncached(text, traditional)


@functools.lru_cache(maxsize=65536)
def _fold_char(char: str, traditional: bool) -> str:
    folded = _convert(char, traditional)
    return folded if len(folded) == 1 else char


def fold_with_offsets(text: str, traditional: bool | None = None) -> tuple[str, list[int], list[int]]:
    """``fold(text)`` and, for each of its characters, the original span it comes from (starts, ends).

    Most of the fold is character for character; where a phrase changes length (部落格 → 博客) the
    folded characters share the original phrase's span proportionally, and a term matching the whole
    converted phrase maps back to exactly the phrase."""
    if traditional is None:
        traditional = is_traditional(text)
    folded = fold(text, traditional)
    n = len(text)
    if folded == text:
        return folded, list(range(n)), list(range(1, n + 1))
    by_char = "".join(_fold_char(c, traditional) if CJK.match(c) else c for c in text)
    if by_char == folded:
        return folded, list(range(n)), list(range(1, n + 1))
    starts: list[int] = []
    ends: list[int] = []
    for i1, i2, j1, j2 in _aligned_pieces(text, by_char, folded, traditional):
        width, count = i2 - i1, j2 - j1
        for j in range(count):  # one to one, or a converted phrase's characters sharing its span in order
            starts.append(i1 + (j * width) // count)
            ends.append(max(starts[-1] + (width > 0), i1 + -((-(j + 1) * width) // count)))
    return folded, starts, ends


ANCHOR_CHARS = 3  # an unchanged run this long separates conversions (a phrase rarely keeps 3 characters)


def _aligned_pieces(text: str, by_char: str, folded: str, traditional: bool) -> list[tuple[int, int, int, int]]:
    """(i1, i2, j1, j2): ``text[i1:i2]`` folds to ``folded[j1:j2]``, pieces in order, covering both.

    Runs that fold character by character and unchanged (difflib against ``by_char``) anchor the
    alignment. A stretch of changes between anchors must fold to its side of the alignment on its own;
    if it does not (a phrase that kept some characters: 烏茲別克 → 乌兹别克斯坦), it takes in its
    neighbours until it does. Each stretch is then cut where its two sides fold apart to the same text, so
    each length-changing phrase (部落格 → 博客, 程式設計 → 编程) ends up a piece of its own and maps back
    to exactly its original characters."""
    matcher = difflib.SequenceMatcher(None, by_char, folded, autojunk=False)
    runs: list[list] = []  # [anchor, i1, i2, j1, j2]
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        anchor = tag == "equal" and i2 - i1 >= ANCHOR_CHARS
        if runs and not anchor and not runs[-1][0]:
            runs[-1][2], runs[-1][4] = i2, j2
        else:
            runs.append([anchor, i1, i2, j1, j2])
    pieces: list[tuple[int, int, int, int]] = []
    at = 0
    while at < len(runs):
        anchor, i1, i2, j1, j2 = runs[at]
        if anchor:
            pieces.append((i1, i2, j1, j2))
            at += 1
            continue
        while _convert(text[i1:i2], traditional) != folded[j1:j2]:
            if pieces:  # take in the piece before
                p1, _, q1, _ = pieces.pop()
                i1, j1 = p1, q1
            elif at + 1 < len(runs):  # or the run after
                at += 1
                i2, j2 = runs[at][2], runs[at][4]
            else:
                break
        pieces += _cut(text, folded, traditional, i1, i2, j1, j2)
        at += 1
    return pieces


def _cut(text: str, folded: str, traditional: bool, i1: int, i2: int, j1: int, j2: int) -> list:
    if i2 - i1 == j2 - j1:
        return [(i1, i2, j1, j2)]
    pieces = []
    while i1 < i2:
        for k in range(i1 + 1, i2 + 1):  # the shortest head that folds apart from the rest to the same text
            head = _convert(text[i1:k], traditional)
            if folded.startswith(head, j1) and (
                k == i2 or _convert(text[k:i2], traditional) == folded[j1 + len(head) : j2]
            ):
                break
        else:  # no cut holds (a conversion across the stretch): the stretch is one piece
            head, k = folded[j1:j2], i2
        pieces.append((i1, k, j1, j1 + len(head)))
        i1, j1 = k, j1 + len(head)
    return pieces


def _lower(text: str) -> str:
    """Lower case, character for character (a few characters lower to two: those stay)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def term_spans(text: str, terms: Iterable[str], min_chars: int = 1) -> list[Span]:
    """Every occurrence of every term in ``text``, compared folded and case-insensitively, as sorted
    (start, end) spans of the original text: a Simplified term marks its Traditional or Taiwan form
    (数据 marks 資料 in a Traditional passage), and a Traditional term its Simplified form."""
    wanted = {_lower(fold(t.strip())) for t in terms if t and len(t.strip()) >= min_chars}
    wanted.discard("")
    if not wanted or not text:
        return []
    folded, starts, ends = fold_with_offsets(text)
    lowered = _lower(folded)
    spans = set()
    for term in wanted:
        at = lowered.find(term)
        while at >= 0:
            spans.add((starts[at], ends[at + len(term) - 1]))
            at = lowered.find(term, at + 1)
    return sorted(spans)


@functools.lru_cache(maxsize=16384)
def regional_forms(word: str) -> tuple[str, ...]:
    """A Simplified word and the form the same word takes in a folded Traditional text (建立 → 创建, 资料 →
    数据, 程序 → 进程): Taiwan usage folds some words that mainland text also uses to other mainland
    words, so a question's word is looked for in both forms."""
    regional = fold(_opencc("s2t").convert(word), True) if CJK.search(word) else word
    return (word, regional) if regional != word else (word,)


def question_word_groups(literal: Iterable[str], folded: Iterable[str]) -> list[tuple[str, ...]]:
    """Keyword groups (synonyms, scored once by the best) of a question's words: each word of its literal
    Simplified form (``t2s``) with its ``regional_forms``, then the words of its folded form that none of
    those hold (a Taiwan phrase folded whole: 程式設計 → 编程)."""
    groups = [regional_forms(word) for word in dict.fromkeys(literal)]
    seen = {term for group in groups for term in group}
    return groups + [(word,) for word in dict.fromkeys(folded) if word not in seen]


def contains_term(text: str, term: str, traditional: bool | None = None) -> bool:
    """``term`` (folded) occurs in ``text`` compared folded and case-insensitively."""
    return _lower(fold(term)) in _lower(fold(text, traditional))
