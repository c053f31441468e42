"""``ask``: retrieval → prompt → the model's answer, streamed → each sentence checked against the passages it cites.

The one API the CLI (``python -m index ask``), the app's streaming view and the answer evaluation call. ``ask``
yields, in order: ``Retrieved`` once (the search's ``Answer``, as soon as retrieval is done); then, only when
retrieval judges the question answerable, a ``Token`` for each piece of text the server streams; then
``Checked`` once, with the ``GroundedAnswer``. A question the collection does not answer is never sent to the
model: the ``GroundedAnswer`` says so (``asked`` False) in the question's language.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from index.generate.check import SentenceCheck
from index.generate.endpoint import ChatClient, LLMSettings
from index.generate.prompt import answer_language, build_messages, wording

if TYPE_CHECKING:
    from index.search.config import SearchConfig
    from index.search.searcher import Answer, Searcher


@dataclass(frozen=True)
class Retrieved:
    answer: Answer  # the search: hits (passage [n] is hits[n-1]), answerable, relevance


@dataclass(frozen=True)
class Token:
    text: str  # the next piece of the answer, as the server streamed it


@dataclass(frozen=True)
class Checked:
    result: GroundedAnswer


AskEvent = Retrieved | Token | Checked


@dataclass
class GroundedAnswer:
    question: str  # as asked
    search: Answer
    text: str  # the model's answer; when not asked, the sentence saying why
    sentences: list[SentenceCheck]  # one per answer sentence, in order (empty when not asked)
    asked: bool  # False: retrieval judged the question unanswerable and the model was not asked
    model: str = ""  # the model that wrote the answer
    language: str = field(default="")  # en, zh-Hans or zh-Hant: the language the answer was asked in

    @property
    def supported(self) -> bool:
        """Every sentence proven by a passage it cites (and there is at least one)."""
        return bool(self.sentences) and all(sentence.supported for sentence in self.sentences)

    def to_json(self) -> dict:
        """The ``ask --json`` contract (fields may be added, never removed): the answer, its sentences with
        their check, and the search exactly as ``search --json`` gives it."""
        search = self.search
        relevance = None if search.relevance is None else round(float(search.relevance), 4)
        return {
            "question": self.question,
            "answer": self.text,
            "asked": self.asked,
            "model": self.model,
            "language": self.language,
            "sentences": [sentence_json(sentence) for sentence in self.sentences],
            "answerable": search.answerable,
            "relevance": relevance,
            "hits": [hit.to_json() for hit in search.hits],
        }


def sentence_json(sentence: SentenceCheck) -> dict:
    support = sentence.support
    return {
        "text": sentence.text,
        "citations": [int(n) for n in sentence.citations],
        "supported": bool(sentence.supported),
        "support": None
        if support is None
        else {"rank": int(support.rank), "sentence": support.sentence, "score": round(float(support.score), 4)},
        "problems": list(sentence.problems),
        "no_answer": bool(sentence.no_answer),
    }


def ask(
    searcher: Searcher,
    question: str,
    llm: LLMSettings,
    k: int = 5,
    config: SearchConfig | None = None,
    documents: Collection[str] | None = None,
    client: ChatClient | None = None,
) -> Iterator[AskEvent]:
    """Retrieve, then (only if answerable) stream the model's answer from the top ``k`` passages, then check it.

    ``client`` reuses one ``ChatClient`` across questions (its model check is done once); by default each call
    makes its own from ``llm``."""
    answer = searcher.answer(question, k=k, config=config, documents=documents)
    yield Retrieved(answer)
    language = answer_language(question)
    if not answer.answerable or not answer.hits:
        text = wording(question).not_answered
        yield Checked(GroundedAnswer(question, answer, text, [], asked=False, model=llm.model, language=language))
        return
    client = client or ChatClient(llm)
    pieces = []
    for piece in client.stream(build_messages(question, answer.hits)):
        pieces.append(piece)
        yield Token(piece)
    text = "".join(pieces).strip()
    from index.generate.check import check_answer  # the citation check (index/generate/check.py)

    sentences = check_answer(text, answer.hits, searcher.encoder, searcher.index.translator)
    yield Checked(
        GroundedAnswer(question, answer, text, list(sentences), asked=True, model=llm.model, language=language)
    )


def ask_once(
    searcher: Searcher,
    question: str,
    llm: LLMSettings,
    k: int = 5,
    config: SearchConfig | None = None,
    documents: Collection[str] | None = None,
    client: ChatClient | None = None,
) -> GroundedAnswer:
    """``ask`` consumed: the checked answer."""
    result = None
    for event in ask(searcher, question, llm, k, config, documents, client):
        if isinstance(event, Checked):
            result = event.result
    assert result is not None  # ask always ends with Checked (or raises)
    return result
