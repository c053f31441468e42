"""Facts in the wrong place: two numbers of one answer sentence that its passages give the other way round
(``A in 2019 and B in 2021`` where the passage has A in 2021 and B in 2019).

Each number of the sentence gets its context — the words of its clause (Chinese: character pairs; English:
the Chinese forms CC-CEDICT gives its content words). Each place a cited passage writes that number gets a
window of text around it. Two numbers are swapped when every place of the first fits the second's context
better than its own, and every place of the second fits the first's better than its own.
"""

from __future__ import annotations

import re

from index.generate.check_facts import Fact, arabic_numbers, chinese_numbers, word_translations
from index.translate import ENGLISH_STOP_WORDS

WINDOW = 14  # characters either side of a number in a passage
CLAUSE_BREAK = re.compile(r"[，,；;。：:、]|\band\b|\bwhile\b|\bwhereas\b|\bbut\b")
NUMERIC = ("number", "year", "percent")


def _clause(sentence: str, fact: Fact, facts: list[Fact]) -> str:
    """The text around ``fact`` up to the neighbouring facts and clause breaks."""
    left = max([f.end for f in facts if f.end <= fact.start] + [0])
    right = min([f.start for f in facts if f.start >= fact.end] + [len(sentence)])
    before, after = sentence[left : fact.start], sentence[fact.end : right]
    before = CLAUSE_BREAK.split(before)[-1] if CLAUSE_BREAK.search(before) else before
    after = CLAUSE_BREAK.split(after)[0] if CLAUSE_BREAK.search(after) else after
    return before + " " + after


def _units(clause: str, translator, english: bool) -> list[tuple[str, ...]]:
    """Groups of forms; a group counts once when any of its forms is in a window."""
    if not english:
        text = re.sub(r"[\W\d_]", "", clause)
        pairs = {text[i : i + 2] for i in range(len(text) - 1)}
        return [(pair,) for pair in sorted(pairs) if not re.search(r"[年月日]", pair)]
    groups = []
    for word in re.findall(r"[A-Za-z][A-Za-z'-]+", clause):
        if word.lower() in ENGLISH_STOP_WORDS or len(word) < 3:
            continue
        forms, _ = word_translations(word, translator)
        forms = (*tuple(f for f in dict.fromkeys(forms) if len(f) >= 2), word.lower())
        groups.append(forms)
    return groups


def _fit(units: list[tuple[str, ...]], window: str) -> int:
    lowered = window.lower()
    return sum(any(form in lowered for form in group) for group in units)


def _places(fact: Fact, passages: list[str]) -> list[str]:
    windows = []
    for passage in passages:
        for found in arabic_numbers(passage) + chinese_numbers(passage, answer=False):
            if abs(found.value - fact.value) <= max(found.tolerance, fact.tolerance) + 1e-9 * max(1.0, fact.value):
                start, end = max(0, found.start - WINDOW), min(len(passage), found.end + WINDOW)
                piece = passage[start:end]
                # stay within the passage sentence that writes the number
                head = max(piece.rfind(c, 0, found.start - start) for c in "。；;")
                tail = [piece.find(c, found.end - start) for c in "。；;"]
                tail = min([t for t in tail if t >= 0] + [len(piece)])
                windows.append(piece[head + 1 : tail])
    return windows


def swapped_facts(
    sentence: str, facts: list[Fact], passages: list[str], translator, english: bool
) -> list[tuple[str, str]]:
    """Pairs of numbers (as the sentence writes them) that the passages give the other way round."""
    numbers = [f for f in facts if f.kind in NUMERIC]
    numbers = [f for f in numbers if not any(f.value == g.value and f is not g for g in numbers)]
    if len(numbers) < 2:
        return []
    contexts = [_units(_clause(sentence, f, numbers), translator, english) for f in numbers]
    places = [_places(f, passages) for f in numbers]
    pairs = []
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            if not places[i] or not places[j] or numbers[i].kind != numbers[j].kind:
                continue
            i_misplaced = all(_fit(contexts[j], w) > _fit(contexts[i], w) for w in places[i])
            j_misplaced = all(_fit(contexts[i], w) > _fit(contexts[j], w) for w in places[j])
            if i_misplaced and j_misplaced:
                pairs.append((numbers[i].surface, numbers[j].surface))
    return pairs
