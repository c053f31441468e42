"""An index kept wholly in Milvus (index/milvus_index.py), on milvus-lite and on a Milvus server on loopback:
build → search → add → change → remove → search with nothing but a pointer in the index folder, the results
those of the embedded index built from the same documents, and several processes searching one collection."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from index.build import BuildSettings, build_index
from index.milvus_index import POINTER, MilvusPassageIndex
from index.passage_index import PassageIndex, read_manifest
from index.search import Searcher
from tests.conftest import FIXTURES, PROJECT
from tests.test_incremental import NEW_DOCUMENT, CountingEncoder
from ui.core import index_version

SETTINGS = BuildSettings(max_tokens=64, overlap_tokens=8)
QUESTIONS = (
    "中国制定了哪些数据安全方面的法律？",
    "全国累计建成多少亩高标准农田？",
    "5G基站有多少个？",
    "What does the data security law protect?",
    "how many 5G base stations are there",
    "量子计算机的发展前景如何？",  # asked of documents that do not answer it
)


def build(corpus, directory, encoder, store=None, settings=SETTINGS):
    return build_index(corpus, directory, encoder, settings, progress=False, log=lambda _: None, vector_store=store)


def results(index, encoder, documents=None) -> list[tuple]:
    """Each question's answerable judgement and its hits (chunk, highlighted sentence, rounded scores)."""
    searcher = Searcher(index, encoder)
    out = []
    for question in QUESTIONS:
        answer = searcher.answer(question, k=5, documents=documents)
        hits = [(hit.chunk_id, hit.sentence_start, hit.sentence_end, round(hit.score, 4)) for hit in answer.hits]
        out.append((question, answer.answerable, hits))
    return out


def assert_same_results(milvus: list[tuple], embedded: list[tuple]) -> None:
    """The same passages, in the same order, with the same sentence highlighted; fused scores within .006: after
    an update two passages may swap places in the keyword ranking (the embedded index normalises a passage's
    length by its own segment's average, Milvus by the collection's), which moves a fused score by ~.003."""
    for (question, answerable_m, hits_m), (_, answerable_e, hits_e) in zip(milvus, embedded, strict=True):
        assert answerable_m == answerable_e, question
        assert [hit[:3] for hit in hits_m] == [hit[:3] for hit in hits_e], question
        assert all(abs(m[3] - e[3]) <= 0.006 for m, e in zip(hits_m, hits_e, strict=True)), question


def test_build_search_add_change_remove_on_milvus_lite_as_embedded(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    uri = f"milvus:{tmp_path / 'milvus.db'}?collection=docs"
    in_milvus, embedded = tmp_path / "milvus-index", tmp_path / "embedded-index"
    counting = CountingEncoder(fake_encoder)
    versions = []  # what the app keys its cached searcher by: a new one after every build

    def both(expect_embedded: int) -> MilvusPassageIndex:
        counting.embedded = []
        report = build(corpus, in_milvus, counting, uri)
        assert report.embedded == expect_embedded
        build(corpus, embedded, fake_encoder, "faiss")
        index = PassageIndex.load(in_milvus)
        assert isinstance(index, MilvusPassageIndex)
        versions.append(index_version(in_milvus))
        # nothing on disk but the pointer (and the writer lock builds take)
        assert sorted(path.name for path in in_milvus.iterdir()) == [POINTER, "write.lock"]
        local = PassageIndex.load(embedded)
        assert_same_results(results(index, fake_encoder), results(local, fake_encoder))
        assert len(index.chunks) == len(local.chunks) == index.vectors.count()
        assert set(index.documents) == set(local.documents)
        assert index.keyword.vocabulary == Counter(token for tokens in local.keyword.tokens for token in set(tokens))
        return index

    index = both(expect_embedded=3)
    assert index.verify() == []
    assert (
        index.manifest["counts"]["documents"] == 3
        and read_manifest(in_milvus)["model"]["name"] == "test-hashing-encoder"
    )
    assert Searcher(index, fake_encoder).search("数据安全法", k=1)[0].doc == "law.md"
    index.client.close()

    (corpus / "new.txt").write_text(NEW_DOCUMENT, encoding="utf-8")  # add: only the new document is embedded
    index = both(expect_embedded=1)
    assert all(text.split("\n", 1)[-1] in NEW_DOCUMENT for text in counting.embedded)
    assert Searcher(index, fake_encoder).search("全国累计建成多少亩高标准农田？", k=1)[0].doc == "new.txt"
    index.client.close()

    farm = corpus / "farm.txt"  # change: that document only, its old chunks gone
    farm.write_text(farm.read_text(encoding="utf-8") + "\n\n新的段落：智慧农业示范区达到一百个。\n", encoding="utf-8")
    index = both(expect_embedded=1)
    assert Searcher(index, fake_encoder).search("智慧农业示范区有多少个？", k=1)[0].text.count("智慧农业示范区") == 1
    index.client.close()

    (corpus / "law.md").unlink()  # remove: nothing embedded; the document leaves every collection
    index = both(expect_embedded=0)
    assert "law.md" not in index.documents and index.keyword.frequency("数据安全法") == 0
    assert all(hit.doc != "law.md" for hit in Searcher(index, fake_encoder).search("数据安全法 个人信息保护法", k=10))
    assert index.full_text(["数据安全法"], 10) == [{}]

    assert len(set(versions)) == 4 and all(version.startswith("milvus ") for version in versions)
    # the document filter searches inside the chosen documents, as the embedded index does
    local = PassageIndex.load(embedded)
    for doc_id in index.documents:
        assert_same_results(results(index, fake_encoder, {doc_id}), results(local, fake_encoder, {doc_id}))
        assert {hit[0].split("#")[0] for _, _, hits in results(index, fake_encoder, {doc_id}) for hit in hits} == {
            doc_id
        }
    index.client.close()


def test_a_full_build_goes_live_at_once_and_keeps_the_generation_before(tmp_path, fake_encoder):
    """Other settings make a new generation of collections, live with one meta upsert; the one before stays
    (a process may still be searching it), the one before that is dropped."""
    corpus, directory = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    uri = f"milvus:{tmp_path / 'm.db'}"
    generations = []
    for size in (64, 96, 128):
        build(corpus, directory, fake_encoder, uri, BuildSettings(max_tokens=size, overlap_tokens=8))
        index = PassageIndex.load(directory)
        generations.append(index.generation)
        assert index.manifest["build"]["max_tokens"] == size
        names = index.client.list_collections()
        index.client.close()
    assert len(set(generations)) == 3
    assert {name.split("_")[1] for name in names if name != "citelens_meta"} == set(generations[1:])


def test_an_embedded_index_moves_to_milvus_without_embedding_again(tmp_path, fake_encoder):
    corpus, directory = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    build(corpus, directory, fake_encoder, "faiss")
    before = results(PassageIndex.load(directory), fake_encoder)
    counting = CountingEncoder(fake_encoder)
    report = build(corpus, directory, counting, f"milvus:{tmp_path / 'm.db'}")
    assert report.embedded == 0 and counting.embedded == []  # the vectors came from the embedded index
    assert sorted(path.name for path in directory.iterdir()) == [POINTER, "write.lock"]
    index = PassageIndex.load(directory)
    assert_same_results(results(index, fake_encoder), before)
    index.client.close()
    # a build that names no store keeps the index in Milvus, and finds nothing to do
    assert build(corpus, directory, counting).embedded == 0 and (directory / POINTER).exists()


SEARCH_IN_ANOTHER_PROCESS = """
import json, sys
from index.passage_index import PassageIndex
from index.search import Searcher
from tests.fake_encoder import FakeEncoder
index = PassageIndex.load(sys.argv[1])
hits = Searcher(index, FakeEncoder()).search(sys.argv[2], k=3)
print(json.dumps([hit.chunk_id for hit in hits]))
"""


def test_processes_on_other_machines_need_only_the_pointer_to_a_milvus_server(tmp_path, fake_encoder):
    """A build into a Milvus server (milvus-lite's gRPC server on loopback), then two other processes, each
    with only a copy of the pointer file, search it at once and see what this process sees."""
    from eval.milvus_server import milvus_server

    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    with milvus_server(tmp_path / "milvus-data") as uri:
        build(corpus, tmp_path / "built-here", fake_encoder, f"{uri}?collection=shared")
        pointer = json.loads((tmp_path / "built-here" / POINTER).read_text(encoding="utf-8"))
        assert pointer["uri"].startswith("http://127.0.0.1:") and pointer["name"] == "shared"
        expected = [
            hit.chunk_id
            for hit in Searcher(PassageIndex.load(tmp_path / "built-here"), fake_encoder).search(QUESTIONS[0], k=3)
        ]
        readers = []
        for number in range(2):
            elsewhere = tmp_path / f"machine-{number}"
            elsewhere.mkdir()
            shutil.copy(tmp_path / "built-here" / POINTER, elsewhere / POINTER)
            readers.append(
                subprocess.Popen(
                    [sys.executable, "-c", SEARCH_IN_ANOTHER_PROCESS, str(elsewhere), QUESTIONS[0]],
                    cwd=PROJECT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for reader in readers:
            out, err = reader.communicate(timeout=120)
            assert reader.returncode == 0, err[-2000:]
            assert json.loads(out.splitlines()[-1]) == expected


def test_a_missing_milvus_index_is_one_clear_message(tmp_path):
    from tests.cli import index_cli

    directory = tmp_path / "index"
    directory.mkdir()
    (directory / POINTER).write_text(
        json.dumps({"format": "citelens-milvus-1", "uri": f"milvus:{tmp_path / 'empty.db'}", "name": "gone"}),
        encoding="utf-8",
    )
    ran = index_cli("search", "--index", directory, "数据安全")
    assert ran.returncode == 2 and "No CiteLens index named gone in Milvus" in ran.stderr


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch):
    monkeypatch.delenv("CITELENS_VECTOR_STORE", raising=False)
