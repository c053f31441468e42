"""Citation check: each sentence of a generated answer, proven (or not) against the passages it cites.

Interface first (filled in by the checker's own work): ``check_answer`` returns one ``SentenceCheck`` per
answer sentence, in order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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

    def to_dict(self) -> dict:
        return asdict(self)
