"""Issue 13, part 4: on documents unrelated to the bundled corpus, CiteLens retrieves no worse than the plain
baselines (BM25 over jieba tokens of 500-character pieces; the same model over those pieces).

A real index (the default model) of 20 Simplified (CMRC 2018 trial) and 20 Traditional (DRCD dev) Wikipedia
articles in one collection, asked every question about them."""

from __future__ import annotations

import json
import shutil

import pytest

from eval.baseline import PlainBM25, PlainRecipe
from eval.harness import evaluate_search, score
from eval.question_sets import read_gold_jsonl
from eval.suite import EXTERNAL
from index.build import build_index
from index.passage_index import PassageIndex
from index.search import Searcher

ARTICLES = 20  # of each set


@pytest.fixture(scope="module")
def unrelated(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("unrelated-corpus")
    questions = []
    for name in ("cmrc_trial", "drcd_dev"):
        files = sorted((EXTERNAL / name / "corpus").glob("*.md"))[-ARTICLES:]
        for path in files:
            shutil.copy(path, corpus / path.name)
        chosen = {path.name for path in files}
        path = EXTERNAL / name / "qa.jsonl"
        records = {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
        questions += [
            q
            for q in read_gold_jsonl(path)
            if q.question.strip() and {d for e in records[q.id]["evidence"] for d in e["docs"]} <= chosen
        ]
    return corpus, questions


def test_citelens_is_not_worse_than_plain_bm25_or_plain_dense_on_unrelated_documents(
    unrelated, tmp_path, encoder, monkeypatch
):
    corpus, questions = unrelated
    assert len(questions) >= 120
    build_index(corpus, tmp_path / "index", encoder, progress=False, log=lambda _: None)
    searcher = Searcher(PassageIndex.load(tmp_path / "index"), encoder)
    passages = {chunk.chunk_id: chunk.text for chunk in searcher.index.chunks}
    citelens = evaluate_search("full", searcher.search, questions, passages)
    encoder.encode_passages(["温度"])  # the plain recipe's vectors are cached in a temporary cache
    monkeypatch.setenv("CITELENS_CACHE", str(tmp_path / "cache"))
    bm25, dense = PlainBM25(corpus), PlainRecipe(corpus, encoder)
    baselines = [evaluate_search(n, p.search, questions, p.passages) for n, p in (("bm25", bm25), ("dense", dense))]
    ours = citelens.metrics["all"]
    for baseline in baselines:
        theirs = baseline.metrics["all"]
        for metric in ("hit_rate@5", "mrr@10"):
            assert ours[metric] >= theirs[metric], (baseline.name, metric, ours[metric], theirs[metric])
    # Both scripts are searched alike: neither half of the collection falls behind.
    for prefix in ("cmrctrial", "drcddev"):
        ids = [q.id for q in questions if q.id.startswith(prefix)]
        half = score({i: citelens.qrels[i] for i in ids}, {i: citelens.run[i] for i in ids}, ["hit_rate@5"])
        assert half["hit_rate@5"] >= 0.9, (prefix, half)
