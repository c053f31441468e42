"""Two word-level signals of the citation check, beside the embeddings:

- ``overlap``: the share of an answer sentence's words its cited passages hold (Chinese: character pairs;
  English: content words, through their CC-CEDICT forms). A Chinese sentence over Chinese passages that
  shares few of their words is not said by them however close their embeddings (e5 puts most Chinese
  sentence pairs of one topic above .85).
- ``negated``: whether a sentence denies (未, 没有, 不再, not, never…). An answer sentence that denies what
  its best supporting sentence affirms, or affirms what it denies, says the opposite.
"""

from __future__ import annotations

import re

from index.generate.check_facts import is_pinyin, passage_pinyin, word_translations
from index.translate import ENGLISH_STOP_WORDS

CHINESE_NEGATION = re.compile(
    r"尚未|并未|从未|未能|未曾|未被|未在|未有|没有|没|并非|不是|不再|从不|绝不|不会|不能|不支持|不同意|不曾|无法|"
    r"未(?![来来知])|不(?![断同仅少久得论过管但足利良宜止])|非(?![洲常法凡物])|无(?![线人论])"
)
ENGLISH_NEGATION = re.compile(
    r"\b(?:not|never|no longer|neither|nor|none|nothing|without|failed to|yet to)\b|n't\b", re.IGNORECASE
)
NOT_CONTENT = ENGLISH_STOP_WORDS | {"also", "about", "more", "than", "over", "some", "such", "into", "which", "their"}


def negated(sentence: str) -> bool:
    if re.search(r"[\u3400-\u9fff]", sentence) and not re.search(r"[A-Za-z]{4,}", sentence):
        return bool(CHINESE_NEGATION.search(sentence))
    return bool(ENGLISH_NEGATION.search(sentence))


def _pairs(text: str) -> set[str]:
    chinese = re.sub(r"[^\u3400-\u9fff]", "", text)
    return {chinese[i : i + 2] for i in range(len(chinese) - 1)}


def overlap(sentence: str, passages: list[str], translator, english: bool) -> float:
    """Share of the sentence's words (Chinese pairs, English content words) found in the passages (folded)."""
    text = "".join(passages)
    lowered = text.lower()
    if not english:
        pairs = _pairs(sentence)
        return sum(pair in text for pair in pairs) / len(pairs) if pairs else 1.0
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", sentence) if w.lower() not in NOT_CONTENT and len(w) > 2]
    if not words:
        return 1.0
    found = 0
    pinyin = "|".join(passage_pinyin(passage) for passage in passages)
    for word in words:
        forms, _ = word_translations(word, translator)
        plain = word.lower().replace("-", "").replace("'", "")
        literal = word.lower() in lowered or any(len(form) >= 2 and form in text for form in forms)
        if literal or (word[:1].isupper() and is_pinyin(plain) and plain in pinyin):  # a name in pinyin: Shicheng
            found += 1
    return found / len(words)
