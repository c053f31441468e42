"""Facts in the wrong place: two numbers of one answer sentence that its passages give the other way round
(``A in 2019 and B in 2021`` where the passage has A in 2021 and B in 2019).

Each number of the sentence gets its context — the words of its clause (Chinese: character pairs; English:
the Chinese forms CC-CEDICT gives its content words). Each place a cited passage writes that number gets a
window of text around it; a context fits a place by the words it finds there, nearer ones counting more.
Two numbers are swapped when, at the place of each that either context fits best, the other's context fits
better than its own.
"""

from __future__ import annotations

import re

from index.generate.check_facts import Fact, arabic_numbers, chinese_numbers, word_translations
from index.translate import ENGLISH_STOP_WORDS

BEFORE, AFTER = 20, 40  # characters of a passage before and after a number that can speak of it
NEAR = 5.0  # a word this many characters from the number counts half
CLAUSE_BREAK = re.compile(r"[，；;。：:、]")
ENGLISH_CLAUSE_BREAK = re.compile(r"[;:]|,\s*(?:and|while|whereas|but)\b|\b(?:and|while|whereas|but)\b")
NUMERIC = ("number", "year", "percent")


def _clause(sentence: str, fact: Fact, facts: list[Fact]) -> str:
    """The text around ``fact`` up to the neighbouring facts and clause breaks."""
    left = max([f.end for f in facts if f.end <= fact.start] + [0])
    right = min([f.start for f in facts if f.start >= fact.end] + [len(sentence)])
    before, after = sentence[left : fact.start], sentence[fact.end : right]
    breaks = CLAUSE_BREAK if re.search(r"[\u3400-\u9fff]", sentence) else ENGLISH_CLAUSE_BREAK
    before = breaks.split(before)[-1]
    after = breaks.split(after)[0]
    return before + " " + after


def _units(clause: str, translator, english: bool) -> list[tuple[str, ...]]:
    """Groups of forms; a group counts once when any of its forms is in a window."""
    if not english:
        text = re.sub(r"[\W\d_]", "", clause)
        pairs = {text[i : i + 2] for i in range(len(text) - 1)}
        return [(pair,) for pair in sorted(pairs) if not re.search(r"[年月日]", pair)]
    groups = []
    for word in re.findall(r"[A-Za-z][A-Za-z'-]+", clause):
        if word.lower() in ENGLISH_STOP_WORDS or (len(word) < 3 and not word.isupper()):
            continue
        forms, _ = word_translations(word, translator)
        forms = list(dict.fromkeys(forms))
        # one-character forms (钒, 网) only for words that have no longer one: they match too much
        longer = [f for f in forms if len(f) >= 2]
        groups.append((*(longer or forms), word.lower()))
    return groups


def _fit(units: list[tuple[str, ...]], place: tuple[str, int, int]) -> float:
    """How well a context fits a place: each group found counts 1/(1 + distance/NEAR), by its nearest form."""
    window, start, end = place
    lowered = window.lower()
    total = 0.0
    for group in units:
        distances = []
        for form in group:
            at = lowered.find(form)
            while at >= 0:
                distances.append(max(0, start - (at + len(form)), at - end))
                at = lowered.find(form, at + 1)
        if distances:
            total += 1.0 / (1.0 + min(distances) / NEAR)
    return total


def _places(fact: Fact, passages: list[str]) -> list[tuple[str, int, int]]:
    """(window, start, end of the number in it) for each place a passage writes the fact's number."""
    places = []
    for passage in passages:
        for found in arabic_numbers(passage) + chinese_numbers(passage, answer=False):
            if abs(found.value - fact.value) <= fact.tolerance + 1e-9 * max(1.0, fact.value):
                start, end = max(0, found.start - BEFORE), min(len(passage), found.end + AFTER)
                piece = passage[start:end]
                # stay within the passage sentence that writes the number
                head = max(piece.rfind(c, 0, found.start - start) for c in "。；;")
                tail = [piece.find(c, found.end - start) for c in "。；;"]
                tail = min([t for t in tail if t >= 0] + [len(piece)])
                offset = head + 1
                places.append((piece[offset:tail], found.start - start - offset, found.end - start - offset))
    return places


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
            if _misplaced(contexts[i], contexts[j], places[i]) and _misplaced(contexts[j], contexts[i], places[j]):
                pairs.append((numbers[i].surface, numbers[j].surface))
    return pairs


def _misplaced(own: list[tuple[str, ...]], other: list[tuple[str, ...]], places: list[tuple[str, int, int]]) -> bool:
    """Whether, where the passages speak most of this number (the place either context fits best), the other
    number's context fits better than its own."""
    fits = [(_fit(own, place), _fit(other, place)) for place in places]
    mine, theirs = max(fits, key=lambda pair: (max(pair), pair[1]))
    return theirs > mine
