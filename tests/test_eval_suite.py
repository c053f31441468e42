"""The named question sets ``python -m eval`` runs, and the plain BM25 baseline beside the plain dense one."""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

import eval.suite as suite
from eval.baseline import PIECE_CHARS, PlainBM25, plain_tokens, raw_pieces
from eval.question_sets import read_gold_jsonl, squeeze
from eval.runner import UnknownConfiguration, parse_configuration
from index.build import BuildSettings
from tests.conftest import FIXTURES


def test_plain_bm25_ranks_raw_pieces_by_jieba_tokens():
    bm25 = PlainBM25(FIXTURES / "corpus_small")
    assert bm25.pieces == raw_pieces(FIXTURES / "corpus_small")
    assert all(len(text) <= PIECE_CHARS for _, text in bm25.pieces)
    hits = bm25.search("今年粮食产量怎么样？", k=3)
    assert hits[0].doc == "farm.txt" and "粮食产量创历史新高" in hits[0].text
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score > 0 for a, b in itertools.pairwise(hits))
    assert hits[0].chunk_id in bm25.passages and bm25.passages[hits[0].chunk_id] == hits[0].text
    assert bm25.search("火星探测器", k=3) == []  # no word of the question in any piece
    # Plain: jieba's precise mode as written, no folding, only punctuation and spaces left out.
    assert plain_tokens("中國的資料，5G！") == ["中國", "的", "資料", "5g"]


def test_baselines_are_configurations():
    base = BuildSettings()
    assert parse_configuration("plain-bm25", base).search is None
    assert parse_configuration("plain", base).search is None
    assert parse_configuration("full+nofold", base).build.fold == ""
    keyword_only = parse_configuration("full+keywordfold", base).build
    assert keyword_only.fold == base.fold and not keyword_only.fold_embeddings
    with pytest.raises(UnknownConfiguration):
        parse_configuration("plain-tfidf", base)


@pytest.mark.parametrize("question_set", suite.QUESTION_SETS, ids=lambda s: s.name)
def test_every_named_set_is_bundled_and_its_evidence_is_in_its_corpus(question_set):
    """The sets run from a fresh clone: question files and corpora are in the repository."""
    questions = read_gold_jsonl(question_set.questions)
    texts = {path.name: squeeze(path.read_text(encoding="utf-8")) for path in question_set.corpus.iterdir()}
    assert questions and texts
    records = [json.loads(line) for line in question_set.questions.read_text(encoding="utf-8").splitlines()]
    for record in records:
        for evidence in record["evidence"]:
            assert all(squeeze(evidence["quote"]) in texts[doc] for doc in evidence["docs"]), record["id"]


def test_the_suite_runs_named_sets_beside_the_baselines_and_writes_one_report(tmp_path, encoder, monkeypatch):
    """A small run: two DRCD articles and their questions as a named set (indexes cached in a temporary
    cache, as the real sets are in the user's)."""
    encoder.encode_passages(["温度"])  # the encoder's runtimes are opened from the real cache first
    encoder.encode_queries(["温度"])
    monkeypatch.setenv("CITELENS_CACHE", str(tmp_path / "cache"))
    drcd = suite.question_set("drcd")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(drcd.corpus.iterdir())[:2]:
        shutil.copy(path, corpus / path.name)
    lines = [
        line
        for line in drcd.questions.read_text(encoding="utf-8").splitlines()
        if all(doc in {p.name for p in corpus.iterdir()} for e in json.loads(line)["evidence"] for doc in e["docs"])
    ]
    lines.append(json.dumps({"id": "blank", "question": " ", "evidence": [{"quote": "溫度", "docs": []}]}))
    (tmp_path / "qa.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    small = suite.QuestionSet("drcd-small", tmp_path / "qa.jsonl", corpus, "two DRCD articles")
    runs = suite.run_suite([small], list(suite.SUITE_CONFIGURATIONS), encoder)
    assert [r.name for r in runs[0].results] == ["full", "plain-bm25", "plain"]
    assert runs[0].extra["left_out"] == ["blank"]  # a question without text is left out, and said so
    for result in runs[0].results:
        assert result.metrics["all"]["questions"] == len(lines) - 1
    assert runs[0].results[0].metrics["all"]["hit_rate@5"] >= 0.9
    text = suite.suite_text(runs)
    assert text.startswith("drcd-small: two DRCD articles") and "hit@1" in text and "plain-bm25" in text
    suite.write_suite_report(runs, tmp_path / "out", 1.0)
    summary = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert set(summary["sets"]["drcd-small"]["metrics"]) == {"full", "plain-bm25", "plain"}
    assert "| plain-bm25 |" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert (tmp_path / "out" / "drcd-small" / "report.md").exists()
