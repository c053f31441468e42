"""A search configuration: one small config per stage, named, saved and read back as a dict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from index.search.candidates import CandidatesConfig
from index.search.collapse import CollapseConfig
from index.search.fusion import FusionConfig
from index.search.highlight import HighlightConfig
from index.search.keyword_scores import KeywordConfig
from index.search.sentence_scores import SentenceConfig


@dataclass(frozen=True)
class SearchConfig:
    """One named way of searching; the eval harness compares these side by side."""

    name: str = "full"
    candidates: CandidatesConfig = field(default_factory=CandidatesConfig)
    keyword: KeywordConfig = field(default_factory=KeywordConfig)
    sentence: SentenceConfig = field(default_factory=SentenceConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    collapse: CollapseConfig = field(default_factory=CollapseConfig)
    highlight: HighlightConfig = field(default_factory=HighlightConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SearchConfig:
        """The inverse of ``to_dict``; stages or fields left out keep their defaults."""
        types = {f.name: f.default_factory for f in fields(cls) if f.name != "name"}
        stages = {name: kind(**data[name]) for name, kind in types.items() if name in data}
        return cls(name=data.get("name", cls.name), **stages)


def _without(name: str, keyword: bool = True, translate: bool = True, references: bool = True, **stages):
    """A preset: the full configuration with some stages switched off."""
    full = SearchConfig()
    return SearchConfig(
        name,
        keyword=replace(full.keyword, enabled=keyword, translate=translate, document_references=references),
        **stages,
    )


CONFIGS = {
    "dense": _without(
        "dense", keyword=False, translate=False, sentence=SentenceConfig(False), collapse=CollapseConfig(False)
    ),
    "dense+collapse": _without("dense+collapse", keyword=False, translate=False, sentence=SentenceConfig(False)),
    "dense+sentence": _without("dense+sentence", keyword=False, translate=False),
    "hybrid": _without("hybrid", translate=False, references=False),
    "hybrid+translate": _without("hybrid+translate", references=False),
    "full": SearchConfig("full"),
}
DEFAULT_CONFIG = CONFIGS["full"]
