"""Bulk builds on Ray (index/ray_build.py) on a real local Ray instance of 2 CPUs: the index a Ray build writes
is the one a local build writes (documents, chunks, sentences, keyword tokens, vectors, refused files, search
results), for a first build, an incremental one and the CLI with the real model."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

from index.build import BuildSettings, build_index
from index.passage_index import PassageIndex
from index.search import Searcher
from tests.cli import index_cli
from tests.conftest import FIXTURES
from tests.fake_encoder import FakeEncoder

ray = pytest.importorskip("ray")

# Small chunks and batches: several chunks a document and several batches (segments) a build.
SETTINGS = BuildSettings(max_tokens=64, overlap_tokens=8)
BATCH_CHUNKS = 60
QUESTIONS = ["全国累计建成多少亩高标准农田？", "5G基站有多少个？", "网络安全法什么时候施行？", "微信公众号文章说了什么"]
NEW_DOCUMENT = "标题：高标准农田建设\n\n截至2022年底，全国累计建成高标准农田10亿亩，稳定保障1万亿斤以上粮食产能。\n"


@pytest.fixture(scope="module", autouse=True)
def cluster():
    """One local Ray instance (2 CPUs) for the module, as the CLI starts one; shut down at the end."""
    from index.ray_build import start_ray

    assert start_ray(None, 2)
    yield
    ray.shutdown()


def quiet(message: str) -> None:
    pass


def make_corpus(folder):
    """The small and ingest fixtures (8 documents), a PDF, and two files that must be refused."""
    from tests.document_factory import make_pdf, report_blocks

    shutil.copytree(FIXTURES / "corpus_small", folder)
    for path in (FIXTURES / "ingest").glob("*.txt"):
        shutil.copy(path, folder / path.name)
    (folder / "reports").mkdir()
    make_pdf(folder / "reports" / "网络空间.pdf", report_blocks())
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n\x00\x01 not a pdf at all")
    (folder / "notes.xyz").write_text("an unsupported type", encoding="utf-8")
    return folder


def build(corpus, index_dir, executor=None):
    from index.build import LOCAL

    return build_index(
        corpus,
        index_dir,
        FakeEncoder(),
        SETTINGS,
        progress=False,
        log=quiet,
        batch_chunks=BATCH_CHUNKS,
        executor=executor or LOCAL,
    )


def ray_executor(workers=2):
    from index.ray_build import RayExecutor

    return RayExecutor(workers, FakeEncoder)


def contents(index: PassageIndex) -> dict:
    """Everything a build stored, by document: document, chunks, vectors, sentences and keyword tokens."""
    out = {}
    for doc_id, part in sorted(index.parts().items()):
        out[doc_id] = {
            "document": part.document,
            "chunks": [chunk.to_dict() for chunk in part.chunks],
            "vectors": np.asarray(part.vectors, dtype=np.float32),
            "sentences": [np.asarray(column) for column in (part.sentences.chunk, part.sentences.start)]
            + [np.asarray(part.sentences.end), np.asarray(part.sentences.vectors)],
            "tokens": part.keyword_tokens,
        }
    return out


def assert_same_index(local_dir, ray_dir, encoder=None) -> None:
    local, other = PassageIndex.load(local_dir), PassageIndex.load(ray_dir)
    assert [chunk.chunk_id for chunk in other.chunks] == [chunk.chunk_id for chunk in local.chunks]
    assert [chunk.text for chunk in other.chunks] == [chunk.text for chunk in local.chunks]
    mine, theirs = contents(local), contents(other)
    assert list(theirs) == list(mine)
    for doc_id, part in mine.items():
        got = theirs[doc_id]
        assert got["document"] == part["document"], doc_id
        assert got["chunks"] == part["chunks"], doc_id
        assert got["tokens"] == part["tokens"], doc_id
        np.testing.assert_array_equal(got["vectors"], part["vectors"], err_msg=doc_id)
        for column, expected in zip(got["sentences"], part["sentences"], strict=True):
            np.testing.assert_array_equal(column, expected, err_msg=doc_id)

    def entries(index):  # what the manifest says of each document (its segment's name is a fresh one)
        return {doc_id: {**entry, "segment": None} for doc_id, entry in index.manifest["documents"].items()}

    assert entries(other) == entries(local)
    encoder = encoder or FakeEncoder()
    for question in QUESTIONS:
        expected = [(hit.chunk_id, hit.score) for hit in Searcher(local, encoder).search(question, k=5)]
        assert [(hit.chunk_id, hit.score) for hit in Searcher(other, encoder).search(question, k=5)] == expected


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The same corpus built by the local executor and on Ray (2 embedding actors)."""
    root = tmp_path_factory.mktemp("ray-build")
    corpus = make_corpus(root / "corpus")
    local = build(corpus, root / "local")
    on_ray = build(corpus, root / "ray", ray_executor())
    return root, corpus, local, on_ray


def test_ray_build_stores_what_a_local_build_stores(built):
    root, _, local, on_ray = built
    assert on_ray.documents == local.documents == 9  # 8 texts and the PDF
    assert on_ray.chunks == local.chunks > BATCH_CHUNKS  # more than one batch: several segments
    assert on_ray.accepted == local.accepted
    assert len(PassageIndex.load(root / "ray").segments) == len(PassageIndex.load(root / "local").segments) > 1
    assert_same_index(root / "local", root / "ray")


def test_bad_files_are_refused_as_by_a_local_build(built):
    _, corpus, local, on_ray = built
    assert on_ray.problems == local.problems
    assert len(on_ray.problems) == 2
    assert on_ray.problems[0].startswith(f"{corpus / 'broken.pdf'}: ")
    assert on_ray.problems[1].startswith(f"{corpus / 'notes.xyz'}: unsupported file type")
    assert "reports/网络空间.pdf" in on_ray.accepted


def test_incremental_ray_build_embeds_only_what_changed(tmp_path):
    """The same first build and update, on Ray and locally: the same documents embedded again, the same index."""
    corpus = make_corpus(tmp_path / "corpus")
    first = build(corpus, tmp_path / "ray", ray_executor())
    assert first.embedded == first.documents == 9
    build(corpus, tmp_path / "local")
    # change one document, remove one, add one
    farm = corpus / "farm.txt"
    farm.write_text(farm.read_text(encoding="utf-8") + "\n\n新的段落：智慧农业示范区达到一百个。\n", encoding="utf-8")
    (corpus / "5g.txt").unlink()
    (corpus / "new.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    again = build(corpus, tmp_path / "ray", ray_executor(workers=1))
    assert again.embedded == 2 and again.removed == ["5g.txt"]
    assert again.documents == 9
    index = PassageIndex.load(tmp_path / "ray")
    assert "5g.txt" not in index.manifest["documents"]
    assert Searcher(index, FakeEncoder()).search("全国累计建成多少亩高标准农田？", k=3)[0].doc == "new.txt"
    local = build(corpus, tmp_path / "local")
    assert (local.embedded, local.removed, local.chunks) == (again.embedded, again.removed, again.chunks)
    assert_same_index(tmp_path / "local", tmp_path / "ray")
    # nothing changed: nothing embedded
    assert build(corpus, tmp_path / "ray", ray_executor()).embedded == 0


class PidEncoder(FakeEncoder):
    """The fake encoder, its first component replaced by the id of the process that embedded the text; each
    call takes a little time, as a model's does, so the second actor is up before the first has done all."""

    def encode_passages(self, texts, batch_size=32, progress=None):
        time.sleep(0.25)
        vectors = super().encode_passages(texts, batch_size, progress)
        vectors[:, 0] = os.getpid()
        return vectors


def test_passages_are_embedded_by_the_actors_in_parallel():
    from index.ray_build import PLAIN_GROUP, RayExecutor

    texts = [f"第{number}段：数字技术日新月异。" for number in range(PLAIN_GROUP * 40)]
    heard = []
    vectors = RayExecutor(2, PidEncoder).encode_passages(FakeEncoder(), texts, progress=heard.append)
    pids = set(vectors[:, 0].astype(int).tolist())
    assert len(pids) == 2 and os.getpid() not in pids  # two actors, neither of them this process
    np.testing.assert_array_equal(vectors[:, 1:], FakeEncoder().encode_passages(texts)[:, 1:])  # in input order
    assert sum(heard) == len(texts)


def test_encoder_groups_embedded_alone_give_the_same_vectors(encoder):
    """``passage_batches``: each group embedded on its own gives exactly the vectors of one call over all the
    texts (with onnx-int8, a text's vector depends a little on the texts batched with it)."""
    texts = [
        path.read_text(encoding="utf-8")[:n]
        for path in sorted((FIXTURES / "ingest").glob("*.txt"))
        for n in (20, 90, 400)
    ]
    texts += [f"第{number}句。" for number in range(70)]
    together = encoder.encode_passages(texts)
    groups = encoder.passage_batches(texts)
    assert sorted(np.concatenate(groups).tolist()) == list(range(len(texts)))
    assert len(groups) > 1
    alone = np.zeros_like(together)
    for rows in groups:
        alone[rows] = encoder.encode_passages([texts[i] for i in rows])
    np.testing.assert_array_equal(alone, together)
    # other groups (halves) would not do: the vectors of a text depend on the texts embedded with it
    half = len(texts) // 2
    halves = np.concatenate([encoder.encode_passages(texts[:half]), encoder.encode_passages(texts[half:])])
    assert not np.array_equal(halves, together)


def test_cli_ray_build_with_the_real_model(tmp_path, encoder):
    from index.ray_build import PLAIN_GROUP

    """``python -m index build --executor ray`` on the running local cluster, with the default model: the same
    index as a local build with the same model (vectors equal, not only close)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    for path in sorted((FIXTURES / "ingest").glob("*.txt"))[:3]:
        shutil.copy(path, corpus / path.name)
    (corpus / "notes.xyz").write_text("an unsupported type", encoding="utf-8")
    ran = index_cli("build", "--executor", "ray", "--workers", 2, "--corpus", corpus, "--index", tmp_path / "ray")
    assert ran.returncode == 0, ran.stderr
    assert "6 documents" in ran.stdout and "1 file(s) refused" in ran.stdout and "notes.xyz" in ran.stdout
    build_index(corpus, tmp_path / "local", encoder, progress=False, log=quiet)
    assert PassageIndex.load(tmp_path / "ray").model == PassageIndex.load(tmp_path / "local").model
    assert_same_index(tmp_path / "local", tmp_path / "ray", encoder)
    local = PassageIndex.load(tmp_path / "local")
    assert len(local.chunks) + len(local.sentences) > PLAIN_GROUP  # more texts than one group: they were split


def test_cli_refuses_an_unknown_executor(tmp_path):
    ran = index_cli("build", "--executor", "spark", "--corpus", FIXTURES / "corpus_small", "--index", tmp_path)
    assert ran.returncode == 2 and "invalid choice" in ran.stderr
    ran = index_cli("build", "--workers", 2, "--corpus", FIXTURES / "corpus_small", "--index", tmp_path)
    assert ran.returncode == 2 and "--workers N (N ≥ 1) goes with --executor ray" in ran.stderr
