"""Named search configurations, run over a question set side by side.

A configuration is a search preset from ``index.search.CONFIGS``, optionally on an
index built another way, written ``NAME[@MAX_TOKENS/OVERLAP][+context|+nocontext][+nointro][+nofold|+keywordfold]``
(``full@128/16``, ``dense+nocontext``: chunks embedded without their title and section path,
``full+nointro``: short section intros not joined to their first subsection, ``full+nofold``: passages
not folded to one script and vocabulary, ``full+keywordfold``: folded for keywords only, embedded as
written), or a plain baseline recipe: ``plain`` (dense) or ``plain-bm25``.
Indexes for other build settings are built once from the same corpus and cached.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from eval.baseline import PlainBM25, PlainRecipe
from eval.harness import EvalResult, evaluate_search
from eval.question_sets import Question
from index import settings
from index.build import BuildSettings, build_index
from index.encoder import Encoder
from index.passage_index import PassageIndex, read_manifest
from index.script import FOLD
from index.search import CONFIGS, SearchConfig, Searcher

SPEC = re.compile(
    r"^(?P<name>[\w+.-]+?)(?:@(?P<size>\d+)/(?P<overlap>\d+))?(?P<context>\+(?:no)?context)?(?P<nointro>\+nointro)?"
    r"(?P<fold>\+nofold|\+keywordfold)?$"
)
BASELINES = {  # eval/baseline.py
    "plain": "plain dense: raw 500-char pieces, dense only",
    "plain-bm25": "plain BM25: raw 500-char pieces, jieba tokens",
}
DEFAULT_CONFIGURATIONS = ("plain", "dense", "dense+sentence", "hybrid", "hybrid+translate", "full")


class UnknownConfiguration(ValueError):
    pass


@dataclass(frozen=True)
class Configuration:
    label: str
    search: SearchConfig | None  # None: a plain baseline recipe
    build: BuildSettings | None  # None: the index as given


def parse_configuration(spec: str, base: BuildSettings) -> Configuration:
    if spec in BASELINES:
        return Configuration(spec, None, None)
    match = SPEC.match(spec)
    if not match or match["name"] not in CONFIGS:
        raise UnknownConfiguration(
            f"unknown configuration '{spec}'; known: {', '.join(BASELINES)}, {', '.join(CONFIGS)} "
            "(optionally @MAX_TOKENS/OVERLAP, +context or +nocontext, +nointro, and +nofold or +keywordfold)"
        )
    build = None
    if match["size"] or match["context"] or match["nointro"] or match["fold"]:
        fold = {"+nofold": ("", False), "+keywordfold": (FOLD, False)}.get(match["fold"] or "")
        build = replace(
            base,
            max_tokens=int(match["size"] or base.max_tokens),
            overlap_tokens=int(match["overlap"] or base.overlap_tokens),
            context=match["context"] == "+context" if match["context"] else base.context,
            intro_tokens=0 if match["nointro"] else base.intro_tokens,
            **(dict(zip(("fold", "fold_embeddings"), fold, strict=True)) if fold else {}),
        )
    return Configuration(spec, CONFIGS[match["name"]], build)


def variant_index(corpus_dir: Path, build: BuildSettings, encoder: Encoder, milvus: str | None = None) -> Path:
    """An index of the same corpus built another way, cached by corpus, settings and model; with ``milvus``
    (a Milvus URI) kept in Milvus, as an index of its own there, beside the embedded one."""
    key = json.dumps([str(Path(corpus_dir).resolve()), build.to_dict(), encoder.info.to_dict()], sort_keys=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    store = None
    if milvus:
        store = f"{milvus.partition('?')[0]}?collection=eval_{name}"
        name += "-milvus"
    directory = settings.cache_dir() / "eval-indexes" / name
    build_index(corpus_dir, directory, encoder, build, progress=False, log=lambda _: None, vector_store=store)
    return directory


def run_configurations(
    specs: list[str],
    questions: list[Question],
    index_dir: Path,
    encoder: Encoder,
    k: int = 10,
    milvus: str | None = None,
) -> list[EvalResult]:
    manifest = read_manifest(index_dir)
    corpus_dir = Path(manifest["corpus"]) if manifest.get("corpus") else settings.BUNDLED_CORPUS
    base_build = BuildSettings.from_dict(manifest["build"])
    base_index = PassageIndex.load(index_dir, encoder.info)
    results = []
    for spec in specs:
        configuration = parse_configuration(spec, base_build)
        if configuration.search is None:
            plain = PlainRecipe(corpus_dir, encoder) if spec == "plain" else PlainBM25(corpus_dir)
            results.append(evaluate_search(spec, plain.search, questions, plain.passages, k))
            continue
        index = base_index
        if configuration.build is not None and configuration.build != base_build:
            index = PassageIndex.load(variant_index(corpus_dir, configuration.build, encoder, milvus), encoder.info)
        searcher = Searcher(index, encoder, configuration.search)
        passages = {chunk.chunk_id: chunk.text for chunk in index.chunks}
        results.append(evaluate_search(spec, searcher.search, questions, passages, k))
    return results
