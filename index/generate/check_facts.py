"""The hard facts of an answer sentence (numbers, dates, years, percentages, names) and whether a passage
holds them, across Chinese and English.

Numbers are compared by value, not by spelling: a passage's quantities are read with their scales
(``185.4万``, ``10.51亿``, ``二〇二一年``, ``三千``, ``百分之五``) and an answer's number (``1.854 million``,
``2021``, ``three``, ``74.4%``) is found when a passage quantity equals it to the precision the answer
wrote (``about 1.85 million`` matches ``185.4万``; ``1.854 million`` does not match ``185万``). Names
are found literally (Chinese titles ``《…》``, quoted terms, Latin words, jieba's person and place words,
offices such as 工业和信息化部; not jieba's organisation words, which run on into the next word), through
CC-CEDICT (every headword a gloss has, place glosses before their comma, the index's translator) or by
their pinyin in the passage (``Wuzhen`` → 乌镇); an English name the dictionary cannot translate and that is
not pinyin (``Nexon``, when the passage does not spell it), or an acronym none of whose renderings is there,
cannot be checked and is left out rather than called wrong.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from index.translate import ENGLISH_STOP_WORDS, cedict_entries, word_variants

CJK = re.compile(r"[\u3400-\u9fff]")
ARABIC = re.compile(
    r"(?<![A-Za-z0-9.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
    r"(?:\s*(万亿|亿|万|千|百)|\s+(thousand|million|billion|trillion)\b)?(\s*(?:%|％|percent\b|per cent\b))?",
    re.IGNORECASE,
)
CHINESE_DIGITS = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
CHINESE_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}
DIGIT_CHARS = "〇○零一二两三四五六七八九十百千"
CHINESE_NUMERAL = re.compile(
    rf"(百分之)?((?:[{DIGIT_CHARS}]+(?:亿|万))*[{DIGIT_CHARS}]*(?:点[〇○零一二三四五六七八九]+)?)(万亿|亿|万)?"
)
# A Chinese numeral in an answer counts as a fact before these (三项, 二〇二一年, 第二大); 一些, 十分 do not.
CLASSIFIER = re.compile(r"[年月日号个项次家条种名位亿万千百倍部届批类大层期轮点周岁米吨元所座场件台级只篇章款国省市%]")
ENGLISH_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
CHINESE_SCALES = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "百": 1e2}
NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
    "hundred": 100, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "twice": 2, "double": 2, "half": 0.5,
}  # fmt: skip
NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
MONTHS = "january february march april may june july august september october november december".split()
MONTH = re.compile(r"\b(" + "|".join(m.capitalize() for m in MONTHS) + r")\b")
TITLE = re.compile(r"《([^》]{2,40})》")
QUOTED = re.compile(r"[“「『\"]([^”」』\"]{2,20})[”」』\"]")
LATIN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9.&-]*[A-Za-z0-9]|\b[A-Z]\b")
NAME_RUN = re.compile(r"[A-Z][\w'’.&-]*(?:\s+(?:(?:of|and|the|for|on|de|van|von)\s+)*[A-Z][\w'’.&-]*)*")
NAME_JOINERS = {"of", "and", "the", "for", "on", "de", "van", "von"}


# Acronyms answers use that CC-CEDICT does not gloss as such (its "UN" is "abbr. for 聯合國", left out).
ACRONYMS = {
    "un": ("联合国",), "us": ("美国",), "usa": ("美国",), "uk": ("英国",), "eu": ("欧盟", "欧洲联盟"),
    "g20": ("二十国集团", "G20"), "unesco": ("教科文组织",), "wto": ("世贸组织", "世界贸易组织"),
    "apec": ("亚太经合组织", "APEC"), "brics": ("金砖",), "sco": ("上合组织", "上海合作组织"), "asean": ("东盟",),
    "ai": ("人工智能",), "it": ("信息技术", "IT"), "ict": ("信息通信技术",), "gdp": ("国内生产总值", "GDP"),
    "prc": ("中华人民共和国",), "r&d": ("研发",), "ipr": ("知识产权",),
}  # fmt: skip
# Chinese organisations named by their office (工业和信息化部, 国家发展改革委) after a preposition
CHINESE_OFFICE = re.compile(r"(?:据|由|经|向|与|和|同|是|^)([\u4e00-\u9fff]{2,9}?(?:部|委员会|委|局|署|办公室))")
# forms a gloss gives with a suffix the passage may leave off (荷兰语 → 荷兰, 瑞典人 → 瑞典)
FORM_SUFFIX = re.compile(r"(?<=..)(?:人|语|文|族|的)$")


@dataclass(frozen=True)
class Fact:
    kind: str  # number, year, percent, name
    surface: str  # as the answer wrote it
    value: float | None = None  # numbers: the value
    tolerance: float = 0.0  # numbers: half a unit of the last digit written (1.85 million: 5,000)
    start: int = 0  # where in the answer sentence
    end: int = 0


def _tolerance(fraction: str | None, scale: float) -> float:
    decimals = len(fraction) - 1 if fraction else 0
    return 0.5 * scale / (10**decimals)


def arabic_numbers(text: str) -> list[Fact]:
    facts = []
    for match in ARABIC.finditer(text):
        whole, fraction, chinese_scale, english_scale, percent = match.groups()
        scale = CHINESE_SCALES[chinese_scale] if chinese_scale else 1.0
        if english_scale:
            scale = ENGLISH_SCALES[english_scale.lower()]
        value = float(whole.replace(",", "") + (fraction or "")) * scale
        if percent:
            kind = "percent"
        elif not fraction and scale == 1 and 1000 <= value <= 2100 and "," not in whole:
            kind = "year"
        else:
            kind = "number"
        facts.append(Fact(kind, match.group(0).strip(), value, _tolerance(fraction, scale), *match.span()))
    return facts


def _small_value(whole: str) -> float:
    """A numeral below 10,000: 三千五百 → 3500, 十四 → 14, 二〇二一 → 2021 (digit by digit)."""
    if len(whole) > 1 and all(c in CHINESE_DIGITS for c in whole):
        return float("".join(str(CHINESE_DIGITS[c]) for c in whole))
    value, digit = 0.0, None
    for char in whole:
        if char in CHINESE_DIGITS:
            digit = CHINESE_DIGITS[char]
        else:
            value += (1 if digit is None else digit) * CHINESE_UNITS[char]
            digit = None
    return value + (digit or 0)


def chinese_numeral_value(numeral: str) -> float | None:
    """二〇二一 → 2021, 三千五百 → 3500, 四万八千 → 48000, 十四 → 14, 一点五 → 1.5."""
    whole, _, fraction = numeral.partition("点")
    if not whole.strip("万亿"):
        return None
    value, rest = 0.0, whole
    for unit, factor in (("亿", 1e8), ("万", 1e4)):
        if unit in rest:
            head, _, rest = rest.partition(unit)
            value += (_small_value(head) if head else 1) * factor
    if rest == "两" and value:  # 八万两: eighty thousand taels
        rest = ""
    value += _small_value(rest) if rest else 0
    if fraction:
        value += float("0." + "".join(str(CHINESE_DIGITS[c]) for c in fraction))
    return value


def _pieces(numeral: str) -> list[str]:
    """A passage numeral and, for run-together ones (十三五: the 13th five-year plan), its prefixes and
    suffixes: the passage side reads generously, the answer side strictly."""
    if len(numeral) < 3 or "点" in numeral:
        return [numeral]
    return [numeral] + [numeral[:i] for i in range(1, len(numeral))] + [numeral[i:] for i in range(1, len(numeral))]


def chinese_numbers(text: str, answer: bool) -> list[Fact]:
    facts = []
    for match in CHINESE_NUMERAL.finditer(text):
        if not answer and match.group(2) and not match.group(1) and not match.group(3):
            for piece in _pieces(match.group(2))[1:]:
                value = chinese_numeral_value(piece)
                if value is not None:
                    facts.append(Fact("number", piece, value, 0.5, *match.span()))
        percent, numeral, scale = match.groups()
        if not numeral or not any(c in CHINESE_DIGITS or c == "十" for c in numeral):
            continue
        value = chinese_numeral_value(numeral)
        if value is None:
            continue
        if answer:  # an answer's 一些, 统一, 十分 are words, not facts
            following = text[match.end() : match.end() + 1]
            preceding = text[match.start() - 1 : match.start()]
            if value == 1 or not (CLASSIFIER.match(following) or preceding == "第" or percent or scale):
                continue
        factor = CHINESE_SCALES[scale] if scale else 1.0
        kind = "percent" if percent else ("year" if len(numeral) == 4 and 1000 <= value <= 2100 else "number")
        facts.append(Fact(kind, match.group(0), value * factor, 0.5 * factor, *match.span()))
    return facts


def english_numbers(text: str) -> list[Fact]:
    facts = []
    for match in NUMBER_WORD.finditer(text):
        value = NUMBER_WORDS[match.group(1).lower()]
        facts.append(Fact("number", match.group(0), float(value), 0.0, *match.span()))
    for match in MONTH.finditer(text):
        if match.group(1) == "May" and not re.match(r"\s*\d", text[match.end() :]):
            continue  # "may" the verb at a sentence start
        facts.append(
            Fact("number", match.group(0), float(MONTHS.index(match.group(1).lower()) + 1), 0.0, *match.span())
        )
    return facts


def number_facts(sentence: str) -> list[Fact]:
    """The numbers an answer sentence states (its own words: the passage side reads more freely)."""
    facts = arabic_numbers(sentence) + chinese_numbers(sentence, answer=True)
    if not CJK.search(sentence):
        facts += english_numbers(sentence)
    return facts


@functools.lru_cache(maxsize=1024)
def passage_values(text: str) -> tuple[tuple[float, float], ...]:
    """(value, tolerance) of every quantity a passage writes, Arabic or Chinese numerals."""
    return tuple((f.value, f.tolerance) for f in arabic_numbers(text) + chinese_numbers(text, answer=False))


def number_found(fact: Fact, passage: str) -> bool:
    for value, _ in passage_values(passage):
        if abs(value - fact.value) <= fact.tolerance + 1e-9 * max(1.0, abs(value)):
            return True
        if fact.kind == "percent" and abs(value * 100 - fact.value) <= fact.tolerance + 1e-9:  # 0.25 ↔ 25%
            return True
    return False


# Names


def chinese_names(sentence: str) -> list[Fact]:
    facts = [Fact("name", m.group(1), start=m.start(), end=m.end()) for m in TITLE.finditer(sentence)]
    facts += [Fact("name", m.group(1), start=m.start(), end=m.end()) for m in QUOTED.finditer(sentence)]
    for match in LATIN.finditer(sentence):
        if not re.fullmatch(r"\d.*", match.group(0)):
            facts.append(Fact("name", match.group(0), start=match.start(), end=match.end()))
    for match in CHINESE_OFFICE.finditer(sentence):
        if len(match.group(1)) >= 4:
            facts.append(Fact("name", match.group(1), start=match.start(1), end=match.end(1)))
    position = 0
    for word, flag in _posseg(sentence):
        if flag in ("nr", "ns") and len(word) >= 2 and not any(f.surface == word for f in facts):
            facts.append(Fact("name", word, start=position, end=position + len(word)))
        position += len(word)
    return facts


def _posseg(sentence: str) -> list[tuple[str, str]]:
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return [(pair.word, pair.flag) for pair in jieba.posseg.cut(sentence)]


def english_names(sentence: str) -> list[Fact]:
    """Capitalised runs (Data Security Law, Ministry of Industry and Information Technology, APEC); the
    sentence's first word only when it is part of a longer name or an acronym (The, According, China…
    start sentences)."""
    facts = []
    for match in NAME_RUN.finditer(sentence):
        words = match.group(0).split()
        start = match.start()
        at_start = not sentence[: match.start()].strip(" \"'“‘(")
        if at_start and not words[0].isupper() and (words[0].lower() in ENGLISH_STOP_WORDS or len(words) == 1):
            words = words[1:]
            start = match.start() + match.group(0).find(words[0]) if words else match.end()
        while words and words[0].lower() in NAME_JOINERS:
            words = words[1:]
        if not words or (MONTH.fullmatch(words[0]) and len(words) == 1):
            continue
        if len(words) == 1 and words[0].lower() in ENGLISH_STOP_WORDS:
            continue
        facts.append(Fact("name", " ".join(words).rstrip(".'’"), start=start, end=match.end()))
    return facts


@functools.cache
def gloss_headwords() -> dict[str, tuple[str, ...]]:
    """Every CC-CEDICT gloss (lower case, 1–3 words) → all its simplified headwords."""
    headwords: dict[str, list[str]] = defaultdict(list)
    for simplified, _, keys in cedict_entries():
        for gloss in keys:
            headwords[gloss].append(simplified)
            if gloss.startswith("the ") and len(gloss) > 4:  # "the Netherlands"
                headwords[gloss[4:]].append(simplified)
    return {gloss: tuple(words) for gloss, words in headwords.items()}


@functools.cache
def comma_glosses() -> dict[str, tuple[str, ...]]:
    """Glosses CC-CEDICT writes as "London, capital of United Kingdom": their head (1–3 words) → headwords
    (index.translate keeps glosses of up to three words whole, so these are not in ``gloss_headwords``)."""
    from index.translate import cedict_records

    heads: dict[str, list[str]] = defaultdict(list)
    for simplified, glosses in cedict_records():
        for gloss in glosses:
            first, comma, _ = gloss.partition(", ")
            first = re.sub(r"\([^)]*\)", " ", first).strip().lower()
            if comma and first and len(first.split()) <= 3 and simplified not in heads[first]:
                heads[first].append(simplified)
    return {gloss: tuple(words) for gloss, words in heads.items()}


@functools.cache
def pinyin_syllables() -> frozenset[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    syllables = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = unicodedata.normalize("NFKD", reading)
            syllables.add("".join(c for c in plain if c.isascii() and c.isalpha()).replace("u:", "v"))
    return frozenset(s for s in syllables if s)


def is_pinyin(word: str) -> bool:
    """Whether ``word`` splits into Mandarin syllables (Zhang, Wuzhen, Beidou; not Nexon)."""
    word = word.lower()
    syllables = pinyin_syllables()
    reachable = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        reachable[end] = any(reachable[s] and word[s:end] in syllables for s in range(max(0, end - 6), end))
    return len(word) >= 2 and reachable[-1]


@functools.lru_cache(maxsize=256)
def passage_pinyin(text: str) -> str:
    """The passage's Chinese characters as toneless pinyin, syllables joined (non-Chinese dropped), with a
    separator between runs so that a name cannot span two words cut by punctuation."""
    from pypinyin import Style, lazy_pinyin

    runs = re.findall(r"[\u3400-\u9fff]+", text)
    return "|".join("".join(lazy_pinyin(run, style=Style.NORMAL)) for run in runs)


def word_translations(word: str, translator) -> tuple[list[str], bool]:
    """(Chinese forms of an English word, whether it can be checked at all)."""
    lowered = word.lower().strip(".'’")
    forms: list[str] = []
    glosses = gloss_headwords()
    forms += ACRONYMS.get(lowered, ())
    for variant in word_variants(lowered):
        forms += glosses.get(variant, ())
    if word[:1].isupper():  # names: London, capital of United Kingdom
        forms += comma_glosses().get(lowered, ())
    if not forms and lowered.startswith("re") and len(lowered) > 6:  # rediscovered → discover → 发现
        for variant in word_variants(lowered[2:]):
            forms += glosses.get(variant, ())
    if translator is not None:
        for group in translator.translate(word):
            forms += group.terms
    forms += [FORM_SUFFIX.sub("", form) for form in forms if FORM_SUFFIX.search(form)]
    checkable = bool(forms) or is_pinyin(lowered)  # an acronym nobody glosses (CNCERT) is checked literally only
    return forms, checkable


def name_found(fact: Fact, passage: str, translator, english: bool) -> bool | None:
    """True/False; None when the name cannot be checked (an English word that is neither in the dictionary
    nor pinyin). ``passage`` is in Simplified script."""
    name = fact.surface
    lowered_passage = passage.lower()
    if name.lower() in lowered_passage:
        return True
    if not english:
        compact = re.sub(r"\s+", "", name)
        return compact in passage or compact.lower() in lowered_passage
    phrase = name.lower()
    if any(term in passage for term in gloss_headwords().get(phrase, ()) + ACRONYMS.get(phrase, ())):
        return True
    if translator is not None:
        for group in translator.translate(name):
            if group.source.lower() == phrase and any(term in passage for term in group.terms):
                return True
    pinyin = passage_pinyin(passage)
    squashed = re.sub(r"[^a-z]", "", phrase)
    if is_pinyin(squashed) and squashed in pinyin:
        return True
    verdicts = []
    for word in name.split():
        if word.lower() in NAME_JOINERS or word.lower() in ENGLISH_STOP_WORDS:
            continue
        if word.lower() in lowered_passage:
            verdicts.append(True)
            continue
        forms, checkable = word_translations(word, translator)
        if not checkable:
            continue
        found = any(form in passage for form in forms)
        plain = re.sub(r"[^a-z]", "", word.lower())
        found = found or (is_pinyin(plain) and plain in pinyin)
        if not found and word.isupper():  # an acronym rendered another way (ICT: 信息化) cannot be told wrong
            continue
        verdicts.append(found)
    return None if not verdicts else all(verdicts)


def sentence_facts(sentence: str) -> list[Fact]:
    english = not CJK.search(sentence)
    facts = number_facts(sentence) + (english_names(sentence) if english else chinese_names(sentence))
    # a number inside a name (the 14th Five-Year Plan) is checked as a number only once
    return [f for f in facts if f.kind != "name" or not re.fullmatch(r"[\d.,%]+", f.surface)]


def fact_found(fact: Fact, passage: str, translator, english: bool) -> bool | None:
    if fact.kind == "name":
        return name_found(fact, passage, translator, english)
    return number_found(fact, passage)
