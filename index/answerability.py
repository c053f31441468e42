"""Does the collection answer the question? The evidence each hit gives, and a calibrated judgement.

A reader trusts a passage as an answer when it is about what the question asks and holds what it asks
for. The evidence here is of that kind, and none of it depends on a particular collection:

- **similarity** of the question to the passage and to its best sentence, also as a margin over the
  collection's *background*: the similarity that unrelated questions reach in this index (``Background``,
  measured at build time), since what counts as "similar" differs between collections and languages;
- **coverage**: the share of the question the passage contains, each word weighted by how informative it
  is in this collection (IDF); English words count through their Chinese translations, and a word found
  nowhere in the collection counts as missing, at the highest weight;
- **absent**: the share of the question (by weight) that occurs nowhere in the collection at all;
- **the answer slot**: a question asking who, where, when or how many is answered only by a passage
  whose matching sentences hold a name, place, date or number that the question does not already hold;
- **numbers** of the question (years, amounts) that the passage lacks.

``index.answer_calibration`` turns them into a judgement: ``Calibration`` maps them to P(the passage
answers), and the question is answerable when its best hit reaches the calibration's threshold.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from index import lexicon
from index.keyword import STOP_WORDS
from index.script import regional_forms
from index.translate import ENGLISH_STOP_WORDS, ENGLISH_WORD, QueryTranslator, in_dictionary
from ingest.sentences import sentence_spans

CJK = re.compile(r"[\u3400-\u9fff]")
WORD = re.compile(r"[\w\u3400-\u9fff]")
LETTER = re.compile(r"[^\W\d_]")  # a letter of any script (CJK included), not a digit
NUMBER = re.compile(r"\d+(?:\.\d+)?")
SLOT_TAGS = {"person": ("nr", "nrfg", "nrt", "nt"), "place": ("ns",)}
# An English word that neither the collection nor the dictionary knows (a name, a coined word) may be a
# translation gap rather than a missing subject: it weighs this share of a missing word.
UNKNOWN_WORD_SHARE = 0.5
SLOT_SENTENCES = 3  # a passage's sentences that hold most of the question are checked for the slot


INTERROGATIVE = re.compile(r"^(?:几|哪|多少|什么|怎么|怎样|为什么|为何|是否|何)")


@functools.cache
def question_words() -> frozenset[str]:
    """Words that frame a question rather than say what it is about (lexicon/question_words.txt)."""
    return lexicon.words("question_words.txt") | STOP_WORDS


@functools.cache
def slot_patterns() -> tuple[tuple[str, str, re.Pattern], ...]:
    """(slot, language, pattern) from lexicon/answer_slots.tsv."""
    return tuple(
        (row[0], row[1], re.compile(row[2], re.IGNORECASE)) for row in lexicon.table("answer_slots.tsv") if len(row) > 2
    )


def answer_slots(question: str, english: bool) -> tuple[str, ...]:
    """The kinds of answer the question asks for: person, place, time, number (none for "why", "how")."""
    language = "en" if english else "zh"
    return tuple(dict.fromkeys(slot for slot, lang, p in slot_patterns() if lang == language and p.search(question)))


@dataclass(frozen=True)
class Unit:
    """One thing the question is about: a Chinese word, or an English word with its Chinese terms."""

    label: str
    terms: tuple[str, ...]  # lower-case, in the collection's (folded) script
    weight: float  # IDF in the collection; the highest IDF when it occurs nowhere
    in_collection: bool
    known: bool = True  # False: an English word the dictionary cannot translate (a name, a rare form)


@dataclass(frozen=True)
class QuestionTerms:
    """What answerability looks for in a passage, worked out once a question."""

    text: str  # the question as searched (folded script)
    english: bool
    units: tuple[Unit, ...]
    numbers: tuple[str, ...]
    slots: tuple[str, ...]

    @property
    def weight(self) -> float:
        return sum(unit.weight for unit in self.units)

    @property
    def has_subject(self) -> bool:
        """Whether the question names anything to look for: a word, not only numbers and symbols (a year
        alone, ``' OR 1=1 --``); a question without one is not answered by any passage."""
        return any(LETTER.search(unit.label) for unit in self.units)

    @property
    def absent(self) -> float:
        """Share of the question (by weight) that occurs nowhere in the collection."""
        total = self.weight
        return sum(unit.weight for unit in self.units if not unit.in_collection) / total if total else 1.0

    def coverage(self, text: str) -> float:
        """Share of the question (by weight) the text holds."""
        total = self.weight
        if not total:
            return 0.0
        lowered = text.lower()
        return sum(unit.weight for unit in self.units if any(term in lowered for term in unit.terms)) / total


def question_terms(
    text: str,
    translator: QueryTranslator | None,
    frequency: Callable[[str], int],
    passages: int,
    tokens: Callable[[str], list[str]],
) -> QuestionTerms:
    """The question's units with their weights in this collection.

    ``frequency(token)`` is how many passages hold a keyword token, ``tokens(word)`` a word's keyword
    tokens (a word the index holds only in parts weighs by its rarest part)."""
    import jieba

    english = not CJK.search(text)
    highest = math.log(passages + 1) + 1.0

    def weight(term: str) -> float | None:
        parts = [term] if frequency(term) else [t for t in tokens(term) if frequency(t)]
        if not parts:
            return None
        return math.log((passages + 1) / (min(frequency(t) for t in parts) + 1)) + 1.0

    units: list[Unit] = []
    if english:
        covered: set[str] = set()
        for group in translator.translate(text) if translator else []:
            # A synonym group is as common as its commonest term (China → 中国, not the rare 瓷器).
            weights = [w for w in (weight(term) for term in group.terms) if w is not None]
            units.append(
                Unit(group.source, tuple(t.lower() for t in group.terms), min(weights, default=highest), bool(weights))
            )
            covered |= {word.lower() for word in ENGLISH_WORD.findall(group.source)}
        for token in ENGLISH_WORD.findall(text):
            word = token.lower().removesuffix("'s").removesuffix("’s")
            if word in covered or word in ENGLISH_STOP_WORDS or word in question_words() or len(word) < 3:
                continue
            covered.add(word)
            found = weight(word)
            if found is not None:
                units.append(Unit(word, (word,), found, True))
            else:  # a word the dictionary translates but the collection lacks says more than an unknown one
                known = in_dictionary(word)
                units.append(Unit(word, (word,), highest if known else UNKNOWN_WORD_SHARE * highest, False, known))
    else:
        seen: set[str] = set()
        for token in (part for word in jieba.lcut(text.lower()) for part in word_parts(word)):
            token = token.strip()
            if not token or token in seen or not WORD.search(token) or token in question_words():
                continue
            if INTERROGATIVE.match(token):  # 几月份, 哪一天, 多少亿: the question's frame, not its subject
                continue
            if CJK.search(token) and len(token) == 1:  # one character alone says little (a measure word, 年)
                continue
            seen.add(token)
            found = weight(token)
            # Also the form the word takes in a folded Traditional passage (资料 → 数据: index/script.py).
            forms = regional_forms(token)
            units.append(Unit(token, forms, found if found is not None else highest, found is not None))
    return QuestionTerms(
        text, english, tuple(units), tuple(dict.fromkeys(NUMBER.findall(text))), answer_slots(text, english)
    )


def word_parts(word: str) -> list[str]:
    """A compound (中国网民) as the words it is made of (中国, 网民) when they make it up exactly: a passage
    may hold them apart (中国的网民), and each says something on its own."""
    import jieba

    if len(word) < 3 or not CJK.search(word):
        return [word]
    parts = [part for part in jieba.cut_for_search(word) if len(part) == 2 and part != word]
    covered = set()
    for part in parts:
        at = word.find(part)
        covered.update(range(at, at + 2))
    return parts if len(covered) == len(word) and "".join(parts) == word else [word]


NUMERAL = r"(?:\d[\d,]*(?:\.\d+)?|[一二两三四五六七八九十百千万亿零〇]+)"
YEAR = re.compile(r"(?<!\d)(?:1[5-9]|20)\d\d(?!\d)|[一二三四五六七八九〇零]{4}年")
MONTH = re.compile(
    r"(?<![\d.])\d{1,2}\s*月|[一二三四五六七八九十]{1,3}月|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
    re.I,
)
DAY = re.compile(r"(?<![\d.])\d{1,2}\s*[日号]|[一二三四五六七八九十]{1,3}[日号]|\d{4}-\d{1,2}-\d{1,2}")
ASKED_UNIT = re.compile(r"(?:多少|几)([\u4e00-\u9fff]{1,4})")


@functools.cache
def units() -> tuple[str, ...]:
    """Measure words and units (lexicon/units.txt), longest first."""
    return tuple(sorted(lexicon.words("units.txt"), key=len, reverse=True))


def asked_unit(question: str) -> str | None:
    """The unit a Chinese question puts after 多少/几 ("多少亿元" → 亿元), if it names one."""
    for match in ASKED_UNIT.finditer(question):
        following = match.group(1)
        for unit in units():
            if following.startswith(unit):
                return unit
    return None


def _new(pattern: re.Pattern, sentence: str, question: str) -> bool:
    return any(m.group().strip() not in question for m in pattern.finditer(sentence))


def _holds_slot(sentence: str, slot: str, question: str) -> bool:
    """Does the sentence hold an answer of this kind that the question does not already hold?"""
    if slot == "year":
        return _new(YEAR, sentence, question)
    if slot == "month":
        return _new(MONTH, sentence, question)
    if slot == "day":
        return _new(DAY, sentence, question)
    if slot == "time":
        return any(_new(p, sentence, question) for p in (YEAR, MONTH, DAY))
    if slot == "number":
        unit = asked_unit(question)
        pattern = re.compile(NUMERAL + (r"\s*[万亿千百]*\s*" + re.escape(unit) if unit else ""))
        return any(
            m.group() not in question and re.search(r"\d|[一二两三四五六七八九十百千万亿]", m.group())
            for m in pattern.finditer(sentence)
        )
    import jieba.posseg

    tags = SLOT_TAGS[slot]
    return any(
        pair.flag in tags and len(pair.word) > 1 and pair.word not in question for pair in jieba.posseg.cut(sentence)
    )


def slot_missing(terms: QuestionTerms, passage: str) -> float:
    """1 when the question asks for a kind of answer that the passage's best-matching sentences lack: the
    sentences holding most of the question (at least half as much as the best one), up to SLOT_SENTENCES."""
    if not terms.slots:
        return 0.0
    scored = sorted(
        ((terms.coverage(passage[s:e]), passage[s:e]) for s, e in sentence_spans(passage)), key=lambda x: -x[0]
    )
    if not scored or scored[0][0] <= 0:
        return 1.0
    best = [sentence for score, sentence in scored[:SLOT_SENTENCES] if score >= 0.5 * scored[0][0]]
    return float(not all(any(_holds_slot(s, slot, terms.text) for s in best) for slot in terms.slots))


def numbers_missing(terms: QuestionTerms, passage: str) -> float:
    """Share of the question's numbers (years, amounts) the passage does not hold."""
    if not terms.numbers:
        return 0.0
    return sum(number not in passage for number in terms.numbers) / len(terms.numbers)


@dataclass(frozen=True)
class Evidence:
    """What one hit says about whether it answers the question, as measured (the calibration's inputs;
    the background of the collection is applied when they are weighed)."""

    similarity: float  # best cosine of the passage or one of its sentences with the question
    coverage: float
    absent: float
    slot_missing: float
    numbers_missing: float
    english: bool
    # The second encoder's cosine of the question with the highlighted sentence (None: not read, a later hit).
    second: float | None = None

    def to_dict(self) -> dict:
        return {key: round(value, 5) if isinstance(value, float) else value for key, value in asdict(self).items()}


def evidence(terms: QuestionTerms, passage: str, similarity: float, second: float | None = None) -> Evidence:
    """``passage`` in the collection's folded script (as the question terms are); ``second`` the second
    encoder's similarity (None when it did not read this hit)."""
    return Evidence(
        similarity=similarity,
        coverage=terms.coverage(passage),
        absent=terms.absent,
        slot_missing=slot_missing(terms, passage),
        numbers_missing=numbers_missing(terms, passage),
        english=terms.english,
        second=second,
    )
