"""Citation check: each sentence of a generated answer, proven (or not) against the passages it cites.

``check_answer`` returns one ``SentenceCheck`` per answer sentence, in order. The model was given the hits
numbered [1]..[n] in the order passed (``hits[0]`` is [1]); each answer sentence closes with its [n]
markers. A sentence is supported when it cites at least one passage that exists; its best sentence among
the cited passages is similar enough to it (cross-lingual embeddings, ``CheckConfig.threshold``) and the
cited passages hold enough of its words (``CheckConfig.min_overlap``, ``check_wording``); each hard fact it
states — numbers, dates, years, percentages, names (``check_facts``) — is in a cited passage, and not
swapped with another number of the sentence (``2019 … 2021`` where the passage says it the other way round:
``check_context``); and it does not deny what its best supporting sentence states (``check_wording``).
``Support`` is the best cited passage sentence by embedding similarity, whether or not the threshold is on.

A sentence that only says the passages do not answer ("The passages do not say.", "文中没有提到") is no
claim: ``no_answer`` is True, ``supported`` is True, and it needs no citation (a citation it has is not
checked). Its ``problems`` are empty.

Speed: one embedding call per answer (the answer sentences and every sentence of every passage they cite,
in one batch); the facts are regular expressions and dictionary look-ups (``bench/citation_check.md``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from index.generate.check_context import swapped_facts
from index.generate.check_facts import CJK, fact_found, sentence_facts
from index.generate.check_wording import negated, overlap


@dataclass(frozen=True)
class Support:
    rank: int  # the cited passage ([n] = rank n of the hits given to the model) holding the best sentence
    sentence: str  # that passage sentence, as in the document
    score: float  # its cross-lingual similarity to the answer sentence


@dataclass(frozen=True)
class SentenceCheck:
    text: str  # the answer sentence without its [n] markers
    citations: list[int]  # the [n] it ends with, in order
    supported: bool
    support: Support | None  # the best supporting passage sentence among the cited (None: nothing cited exists)
    problems: list[str] = field(default_factory=list)  # why not supported, one short reason each
    no_answer: bool = False  # the sentence says the passages do not answer: no claim, supported, needs no [n]
    overlap: float | None = None  # share of its words the cited passages hold (None: nothing cited exists)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckConfig:
    # Both chosen on the dev part of data/eval/citation_check.jsonl (python -m eval.citations; bench/
    # citation_check.md). Below ``threshold`` best-sentence similarity a sentence is "not said" by its
    # citations: 0.0 is off, as dev chose — once numbers, names, swaps, negation and word overlap are
    # checked, no e5 (or USE) threshold flagged a further unsupported sentence without flagging a supported
    # one (e5 puts most same-topic sentence pairs above .8). Below ``min_overlap`` share of its words in the
    # cited passages (check_wording.overlap) a sentence is not said by them either.
    threshold: float = 0.0
    min_overlap: float = 0.17
    encoder: str = "e5"  # "e5": the index's encoder; "use": index.second_encoder; "both": their mean
    check_facts: bool = True
    check_swaps: bool = True
    # a sentence that denies (未, 没有, not, never) what its best supporting sentence states without denial;
    # the other way round is not checked: a passage sentence often denies something else beside its claim
    check_negation: bool = True


# Markers: [1], [1,2], [1-3], [1][2], 【1】, ［１］, 〔1〕 (full-width digits too).
MARKER = re.compile(r"\s*[\[【［〔]\s*([0-9０-９]+(?:\s*[,，、;；\-–~]\s*[0-9０-９]+)*)\s*[\]】］〕]")
# Ends of sentences: Chinese and Latin end punctuation with closing quotes, a full stop before a space, a
# marker or the end (not a decimal point: 1.2), or a line break. Not semicolons: "A；B。[1][2]" is one
# sentence citing both (a passage's semicolons do end its sentences: ingest.sentences).
END = re.compile(r"[。！？!?]+[”’」』）)\"']*|\.[”’\"')]*(?=\s|$|[\[【［〔])|\n+")
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "no", "st", "vs", "e.g", "i.e", "u.s", "u.k", "etc", "fig", "art", "jan"}
ABBREVIATIONS |= {"feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "inc", "co", "ltd"}
SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?。，；：！？、])")

NO_ANSWER = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:passages?|documents?|sources?|texts?|context|excerpts?|materials?|provided information|"
        r"search results?)\b"
        r"[^.]*(?:\b(?:not|no|nothing|never|neither|none)\b|n't\b)[^.]*"
        r"\b(?:say|says|said|state|states|mention|mentions|mentioned|specify|specifies|give|gives|provide|provides|"
        r"contain|contains|include|includes|answer|cover|covers|address|discuss|information|detail|details)\b",
        r"\b(?:is|are|was|were)\s+not\s+(?:mentioned|stated|specified|given|said|provided|covered|found)\s+"
        r"(?:in|by)\s+(?:the|any|these)\s+(?:passages?|documents?|sources?|texts?)",
        r"\b(?:none|neither)\s+of\s+the\s+(?:passages|documents|sources|texts)\b",
        r"^(?:i|we)\s+(?:do not|don't|cannot|can't|could not|couldn't)\s+(?:know|find|tell|answer|say)",
        r"^(?:there is\s+)?no\s+(?:information|answer|mention)\b",
        r"(?:文中|文档|材料|段落|资料|原文|上述|所给|所提供|提供的|检索|参考|来源|引文|文章|文段)"
        r"[^。]{0,15}(?:没有|未|并未|并没有|无|不曾|均未|都没有)"
        r"(?:提到|提及|说明|涉及|给出|记载|写明|明确|相关|交代|回答|说|讲|谈|具体)",
        r"(?:无法|不能|难以)(?:从[^。]{0,15})?(?:回答|得知|确定|判断|找到)",
        r"^(?:没有|未|并未)(?:找到|提到|提及|给出)?(?:相关|有关)(?:信息|内容|资料|说明)",
        r"(?:未|没有)(?:提供|包含)(?:相关|有关|这方面)?(?:信息|内容|资料)",
    )
]


def is_no_answer(sentence: str) -> bool:
    """Whether the sentence says the passages do not answer (no claim of its own)."""
    return any(pattern.search(sentence) for pattern in NO_ANSWER)


def _numbers(markers: str) -> list[int]:
    numbers: list[int] = []
    text = unicodedata.normalize("NFKC", markers)
    for part in re.split(r"\s*[,，、;；]\s*", text):
        if re.fullmatch(r"\d+\s*[-–~]\s*\d+", part):
            first, last = (int(x) for x in re.split(r"\s*[-–~]\s*", part))
            numbers += list(range(first, last + 1)) if 0 <= last - first <= 20 else [first, last]
        elif part.strip().isdigit():
            numbers.append(int(part))
    return numbers


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the full stop at ``dot`` ends an abbreviation (U.S., e.g., Mr., a lone initial)."""
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[:dot])
    if not word:
        return False
    token = word.group(1).lower()
    return token in ABBREVIATIONS or (len(token) == 1 and word.group(1).isupper())


def answer_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """The answer cut into sentences, each with the [n] it cites; markers after a sentence's end
    punctuation (``…法。[1][3]``) belong to it, as do markers inside it (``in 2021 [1].``). The text is
    returned without markers; numbers repeated in one sentence's markers are kept once, in order."""
    sentences: list[tuple[str, list[int]]] = []
    text, cites, closed = "", [], False

    def flush() -> None:
        clean = SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split())).strip()
        if re.search(r"[\w\u3400-\u9fff]", clean):
            sentences.append((clean, list(dict.fromkeys(cites))))
        elif sentences and cites:  # markers alone: they belong to the sentence before
            previous, previous_cites = sentences[-1]
            sentences[-1] = (previous, list(dict.fromkeys(previous_cites + cites)))

    tokens = re.compile(f"(?P<marker>{MARKER.pattern})|(?P<end>{END.pattern})")
    position = 0
    for match in tokens.finditer(answer):
        between = answer[position : match.start()]
        if between.strip():
            if closed:
                flush()
                text, cites, closed = "", [], False
            text += between
        elif between and text:
            text += between
        position = match.end()
        if match.group("marker") is not None:
            cites += _numbers(match.group(2))
            continue
        punctuation = match.group("end")
        if punctuation.startswith(".") and _is_abbreviation(answer, match.start()):
            text += punctuation
            continue
        if punctuation.strip():
            text += punctuation
        closed = closed or bool(text.strip())
    rest = answer[position:]
    if rest.strip() and closed:
        flush()
        text, cites = "", []
    text += rest
    flush()
    return sentences


def _passage_sentences(text: str) -> list[str]:
    from ingest.sentences import sentence_spans

    return [text[start:end] for start, end in sentence_spans(text)] or [text]


def _simplified(text: str) -> str:
    from index.script import fold

    return fold(text)


def _vectors(texts: list[str], encoder, kind: str) -> np.ndarray:
    """Unit vectors of all texts, in one call per model."""
    if kind == "e5":
        return encoder.encode_passages(texts)
    from index import second_encoder  # Multilingual USE v3: its own unit vectors, cached

    if kind == "use":
        return second_encoder.vectors(texts)
    both = np.concatenate([encoder.encode_passages(texts), second_encoder.vectors(texts)], axis=1)
    return both / np.sqrt(2.0)  # the mean of the two cosines


def _score(similarity: float) -> str:
    return f"{similarity:.2f}".lstrip("0") if similarity >= 0 else f"{similarity:.2f}"


def check_answer(
    answer: str, hits: Sequence, encoder, translator, config: CheckConfig | None = None
) -> list[SentenceCheck]:
    """One check per sentence of ``answer`` against the passages it cites (``hits[n-1]`` is [n])."""
    config = config or CheckConfig()
    sentences = answer_sentences(answer)
    if not sentences:  # nothing a reader could check: said, rather than an empty list that looks like no problem
        markers = [int(n) for n in re.findall(r"\d+", answer)]
        why = "the answer holds only citation markers" if answer.strip() else "the model wrote nothing"
        return [SentenceCheck(answer.strip(), markers, False, None, [why])]
    count = len(hits)
    # every sentence of every cited passage, once
    units: dict[int, list[str]] = {}
    for _, cites in sentences:
        for n in cites:
            if 1 <= n <= count and n not in units:
                units[n] = _passage_sentences(hits[n - 1].text)
    claims = [i for i, (text, _) in enumerate(sentences) if not is_no_answer(text)]
    flat = [(n, s) for n, passage in sorted(units.items()) for s in passage]
    texts = [sentences[i][0] for i in claims] + [s for _, s in flat]
    vectors = _vectors(texts, encoder, config.encoder) if any(sentences[i][1] for i in claims) and flat else None
    row_of = {i: row for row, i in enumerate(claims)}
    simplified = {n: _simplified(hits[n - 1].text) for n in units}

    checks = []
    for i, (text, cites) in enumerate(sentences):
        if i not in row_of:
            checks.append(SentenceCheck(text, cites, True, None, [], no_answer=True))
            continue
        problems: list[str] = []
        if not cites:
            problems.append("cites nothing")
        missing = [n for n in cites if not 1 <= n <= count]
        for n in missing:
            problems.append(f"cites [{n}]: there {'is' if count == 1 else 'are'} {count} passage{'s' * (count != 1)}")
        cited = [n for n in cites if 1 <= n <= count]
        support, shared = None, None
        english = not CJK.search(text)
        if cited:
            shared = round(
                overlap(text if english else _simplified(text), [simplified[n] for n in cited], translator, english), 4
            )
        where = "".join(f"[{n}]" for n in cited)
        verb = "does" if len(cited) == 1 else "do"
        if cited and vectors is not None:
            rows = [k for k, (n, _) in enumerate(flat) if n in cited]
            scores = vectors[len(claims) + np.asarray(rows)] @ vectors[row_of[i]]
            best = int(np.argmax(scores))
            n, sentence = flat[rows[best]]
            support = Support(n, sentence, round(float(scores[best]), 4))
            if support.score < config.threshold:
                problems.append(f"{where} {verb} not say this (similarity {_score(support.score)})")
            elif shared is not None and shared < config.min_overlap:
                problems.append(f"{where} {verb} not say this (words in common {shared:.0%})")
            if config.check_negation and negated(text) and not negated(support.sentence):
                problems.append(f"negated, but [{support.rank}] is not")
        if cited and config.check_facts:
            passages = [simplified[n] for n in cited]
            facts = sentence_facts(text if english else _simplified(text))
            for fact in facts:
                verdicts = [fact_found(fact, passage, translator, english) for passage in passages]
                if any(v is False for v in verdicts) and not any(verdicts):
                    problems.append(f"{fact.surface} is not in {where}")
            if config.check_swaps:
                for first, second in swapped_facts(text, facts, passages, translator, english):
                    problems.append(f"{first} and {second} are the other way round in {where}")
        checks.append(SentenceCheck(text, cites, not problems, support, problems, overlap=shared))
    return checks
