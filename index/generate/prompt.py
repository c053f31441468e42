"""The prompt: the question and the top passages, numbered [1]..[n] with their citations, in the reader's language.

Pure functions, no model: ``answer_language`` decides the language of the answer from the question as written
(Chinese characters outweighing English words: Chinese, in Traditional script when the question is written in
it; anything else: English), and ``build_messages`` writes the whole prompt in that language, so an English
question over Chinese passages is asked, and answered, in English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.hits import Hit
from index.script import is_traditional

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]+")

ENGLISH, SIMPLIFIED, TRADITIONAL = "en", "zh-Hans", "zh-Hant"


@dataclass(frozen=True)
class Wording:
    """Everything the prompt says, in one language."""

    system: str
    passages: str  # heading of the numbered passages
    question: str  # label of the question
    not_answered: str  # what the answer says when retrieval finds nothing that answers (the model is not asked)
    colon: str = ": "


WORDING = {
    ENGLISH: Wording(
        system=(
            "You answer questions using only the numbered passages given with the question. Answer in English, "
            "even when the passages are in Chinese. End every sentence with the numbers of the passages it is "
            "based on, in square brackets, such as [1] or [2][3]. Do not use anything that is not in the "
            "passages. If the passages do not answer the question, say plainly that they do not answer it."
        ),
        passages="Passages",
        question="Question",
        not_answered="The documents do not answer this question, so the language model was not asked.",
    ),
    SIMPLIFIED: Wording(
        system=(
            "你只能根据问题后面附上的编号资料回答问题。用简体中文回答。每一句话都必须以它所依据的资料编号结尾，"
            "写在方括号里，例如 [1] 或 [2][3]。不要使用资料以外的任何内容。如果资料不能回答这个问题，就直接说明资料中"
            "没有答案。"
        ),
        passages="资料",
        question="问题",
        not_answered="文档中没有能回答这个问题的内容，因此没有询问语言模型。",
        colon="：",
    ),
    TRADITIONAL: Wording(
        system=(
            "你只能根據問題後面附上的編號資料回答問題。用繁體中文回答。每一句話都必須以它所依據的資料編號結尾，"
            "寫在方括號裡，例如 [1] 或 [2][3]。不要使用資料以外的任何內容。如果資料不能回答這個問題，就直接說明資料中"
            "沒有答案。"
        ),
        passages="資料",
        question="問題",
        not_answered="文件中沒有能回答這個問題的內容，因此沒有詢問語言模型。",
        colon="：",
    ),
}


def answer_language(question: str) -> str:
    """``zh-Hans``/``zh-Hant`` when the question is written in Chinese (its Chinese characters count for more
    than its English words, at two characters a word), else ``en``."""
    han = len(HAN.findall(question))
    if not han or han < 2 * len(LATIN_WORD.findall(question)):
        return ENGLISH
    return TRADITIONAL if is_traditional(question) else SIMPLIFIED


def wording(question: str) -> Wording:
    return WORDING[answer_language(question)]


def passage_block(number: int, hit: Hit) -> str:
    """``[n] citation`` and the passage's text below it."""
    return f"[{number}] {hit.citation}\n{hit.text.strip()}"


def build_messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    """The chat messages: the instructions (system), then the numbered passages and the question (user).
    Passage [n] is ``hits[n-1]``: the numbers the answer cites are positions in ``hits``."""
    words = wording(question)
    passages = "\n\n".join(passage_block(number, hit) for number, hit in enumerate(hits, 1))
    heading = f"{words.passages}{words.colon}".rstrip()
    user = f"{heading}\n\n{passages}\n\n{words.question}{words.colon}{question.strip()}"
    return [{"role": "system", "content": words.system}, {"role": "user", "content": user}]
