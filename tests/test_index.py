"""Index round trip, manifest checks, atomic saves, and the search CLI contracts (real model, real FAISS)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.build import BuildSettings, EmptyCorpus, build_index
from index.models import ModelInfo
from index.passage_index import PassageIndex
from index.search import BadQuestion, Searcher
from index.settings import PROJECT_ROOT
from index.versions import CURRENT, IndexMismatch, IndexNotFound, live_version
from tests.cli import index_cli
from tests.conftest import FIXTURES

SMALL_CORPUS = FIXTURES / "corpus_small"


@pytest.fixture(scope="module")
def built_index(tmp_path_factory, encoder) -> Path:
    directory = tmp_path_factory.mktemp("index")
    build_index(SMALL_CORPUS, directory, encoder, BuildSettings(max_tokens=64, overlap_tokens=8), progress=False)
    return directory


def test_round_trip_keeps_chunks_documents_and_manifest(built_index, encoder):
    index = PassageIndex.load(built_index, encoder.info)
    manifest = index.manifest
    assert manifest["model"] == encoder.info.to_dict()
    assert manifest["build"]["max_tokens"] == 64
    assert set(manifest["documents"]) == {"law.md", "farm.txt", "5g.txt"}
    assert all(len(entry["content_hash"]) == 64 for entry in manifest["documents"].values())
    assert manifest["counts"]["documents"] == 3 and manifest["counts"]["chunks"] == len(index.chunks)
    assert manifest["counts"]["sentences"] == len(index.sentences) >= len(index.chunks)
    assert len(index.vectors.labels) == len(index.chunks)
    law = index.documents["law.md"]
    assert (law.title, law.date, law.source) == ("网络安全法律体系", "2022-11-07", "测试来源")
    assert law.url == "https://example.org/law"
    for chunk in index.chunks:  # the cited text is exactly the source text at its offsets
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


def test_search_finds_the_answering_passage_in_both_languages(built_index, encoder):
    searcher = Searcher(PassageIndex.load(built_index), encoder)
    zh = searcher.search("中国制定了哪些数据安全方面的法律？", k=3)
    en = searcher.search("How many 5G base stations had China built?", k=3)
    assert any("《数据安全法》" in hit.text for hit in zh) and zh[0].doc == "law.md"
    assert en[0].doc == "5g.txt" and "185.4万个" in en[0].text
    assert [hit.rank for hit in zh] == [1, 2, 3]
    assert zh[0].score >= zh[1].score >= zh[2].score
    framework = next(hit for hit in zh if "《数据安全法》" in hit.text)
    assert framework.section == ("一、法律框架",) and framework.paragraph >= 1


def test_bad_questions_get_clear_errors(built_index, encoder):
    searcher = Searcher(PassageIndex.load(built_index), encoder)
    for question in ("", "   \n", None, "问" * 5000):
        with pytest.raises(BadQuestion):
            searcher.search(question)


def test_loading_with_another_model_is_refused(built_index):
    other = ModelInfo("some-other-model", 768, "", "")
    with pytest.raises(IndexMismatch, match="built with model 'multilingual-e5-small'"):
        PassageIndex.load(built_index, other)


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexNotFound, match="python -m index build"):
        PassageIndex.load(tmp_path / "nothing-here")


def test_a_failed_build_leaves_the_last_good_index(built_index, tmp_path, encoder):
    copy = tmp_path / "index"
    shutil.copytree(built_index, copy)
    before = live_version(copy)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpus):
        build_index(tmp_path / "empty", copy, encoder, progress=False)
    # a build killed while writing leaves only a .partial folder; the live version is untouched
    (copy / ".v-killed.partial").mkdir()
    assert live_version(copy) == before
    assert len(PassageIndex.load(copy).chunks) > 0


def test_save_switches_versions_atomically(built_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(built_index, copy)
    index = PassageIndex.load(copy)
    old = live_version(copy)
    new = index.save(copy)
    assert new != old and not old.exists()
    assert (copy / CURRENT).read_text().strip() == new.name
    assert len(PassageIndex.load(copy).chunks) == len(index.chunks)


def test_batch_search_contract(built_index, tmp_path):
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            [
                json.dumps({"id": "q1", "question": "中国制定了哪些数据安全方面的法律？"}, ensure_ascii=False),
                json.dumps({"id": "q2", "question": "Which laws protect personal information?", "lang": "en"}),
                json.dumps({"id": "q3"}),
                "not json",
            ]
        ),
        encoding="utf-8",
    )
    result = index_cli("search", "--index", str(built_index), "--batch", str(questions), "--k", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["q1", "q2", "q3", None]
    for line in lines[:2]:
        assert len(line["hits"]) == 2
        for hit in line["hits"]:
            assert {"rank", "score", "doc", "title", "section", "paragraph", "text", "start", "end"} <= set(hit)
            assert isinstance(hit["score"], float) and isinstance(hit["paragraph"], int)
    document = PassageIndex.load(built_index).documents[lines[0]["hits"][0]["doc"]]
    first = lines[0]["hits"][0]
    assert document.text[first["start"] : first["end"]] == first["text"]
    assert "missing field" in lines[2]["error"] and "not JSON" in lines[3]["error"]


def test_search_cli_text_and_mismatch(built_index):
    result = index_cli("search", "--index", str(built_index), "How many 5G base stations?", "--k", "1")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "5g.txt" not in result.stdout and "数字基础设施" in result.stdout
    mismatch = index_cli("search", "--index", str(built_index), "--model", "no-such/model", "x")
    assert mismatch.returncode == 2 and "not available offline" in mismatch.stderr


def test_python_m_index_runs_as_a_program(built_index):
    """The other tests call ``main(argv)`` in-process; this one runs the module as users do: exit code and output
    of a real process (verify loads no model, so it is quick)."""
    result = subprocess.run(
        [sys.executable, "-m", "index", "verify", "--index", str(built_index)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "match their checksums" in result.stdout
