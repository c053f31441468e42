"""Incremental builds: adding, changing or removing a document re-embeds only that document, updates the
keyword index, and updates the vector store in place (FAISS exact, FAISS HNSW; an index in Milvus:
tests/test_milvus_index.py)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from index.build import BuildSettings, build_index
from index.passage_index import PassageIndex
from index.search import Searcher
from tests.conftest import FIXTURES

SETTINGS = BuildSettings(max_tokens=64, overlap_tokens=8)
NEW_DOCUMENT = (
    "标题：高标准农田建设\n\n"
    "截至2022年底，全国累计建成高标准农田10亿亩，稳定保障1万亿斤以上粮食产能。\n\n"
    "高标准农田建设项目优先安排在粮食生产功能区和重要农产品生产保护区。\n"
)


class CountingEncoder:
    """An encoder, counting the passages it embeds."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.embedded: list[str] = []

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode_passages(self, texts, *args, **kwargs):
        self.embedded += list(texts)
        return self.encoder.encode_passages(texts, *args, **kwargs)


def build(corpus, directory, counting: CountingEncoder):
    counting.embedded = []
    return build_index(corpus, directory, counting, SETTINGS, progress=False, log=lambda message: None)


@pytest.mark.parametrize("store", ["faiss", "faiss:hnsw"])  # an index in Milvus: tests/test_milvus_index.py
def test_add_change_remove_touch_only_that_document(store, tmp_path, monkeypatch, fake_encoder):
    monkeypatch.setenv("CITELENS_VECTOR_STORE", store)
    corpus, directory = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(FIXTURES / "corpus_small", corpus)
    counting = CountingEncoder(fake_encoder)

    first = build(corpus, directory, counting)
    assert first.embedded == 3
    index = PassageIndex.load(directory)
    kind = index.vector_store.describe()
    assert kind["store"] == "faiss"
    law_labels = {
        int(label) for chunk, label in zip(index.chunks, index.vectors.labels, strict=True) if chunk.doc_id == "law.md"
    }

    # add: only the new document's chunks and sentences are embedded
    (corpus / "new.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    added = build(corpus, directory, counting)
    assert added.embedded == 1 and added.removed == []
    # (a chunk is embedded after its "title › section" line, by default)
    assert counting.embedded and all(text.split("\n", 1)[-1] in NEW_DOCUMENT for text in counting.embedded)
    index = PassageIndex.load(directory)
    assert len(index.vectors.labels) == index.vector_store.count() == len(index.chunks) == len(index.keyword.tokens)
    kept = {
        int(label) for chunk, label in zip(index.chunks, index.vectors.labels, strict=True) if chunk.doc_id == "law.md"
    }
    assert kept == law_labels  # unchanged documents keep their vectors: the store was updated, not rebuilt
    hits = Searcher(index, fake_encoder).search("全国累计建成多少亩高标准农田？", k=3)
    assert hits[0].doc == "new.txt"

    # change: only the changed document is re-embedded
    farm = corpus / "farm.txt"
    farm.write_text(farm.read_text(encoding="utf-8") + "\n\n新的段落：智慧农业示范区达到一百个。\n", encoding="utf-8")
    changed = build(corpus, directory, counting)
    assert changed.embedded == 1
    farm_text = PassageIndex.load(directory).documents["farm.txt"].text
    assert counting.embedded and all(text.split("\n", 1)[-1] in farm_text for text in counting.embedded)

    # remove: nothing is embedded; the document leaves the vectors, the keyword index and the results
    (corpus / "law.md").unlink()
    removed = build(corpus, directory, counting)
    assert removed.embedded == 0 and removed.removed == ["law.md"] and counting.embedded == []
    index = PassageIndex.load(directory)
    assert "law.md" not in index.documents and all(chunk.doc_id != "law.md" for chunk in index.chunks)
    assert index.vector_store.count() == len(index.chunks) == len(index.keyword.tokens)
    assert index.keyword.scores(["数据安全法"]).max() == 0  # a term only law.md held
    _, found = index.vector_store.search(fake_encoder.encode_queries(["数据安全法 个人信息保护法"]), 50)
    assert not {int(label) for label in found[0]} & law_labels
    hits = Searcher(index, fake_encoder).search("中国制定了哪些数据安全方面的法律？", k=5)
    assert hits and all(hit.doc != "law.md" for hit in hits)
    # a filter in live rows reaches the store as the labels of those rows (documents were deleted)
    query = fake_encoder.encode_queries(["全国累计建成多少亩高标准农田？"])
    for doc_id in index.documents:
        rows = index.documents.chunk_rows([doc_id])
        _, found = index.dense_search(query, 3, rows)
        best = rows[np.argsort(-(index.vectors.reconstruct_batch(rows) @ query[0]))[:3]]
        assert found[0].tolist() == best.tolist() and {index.chunks[int(i)].doc_id for i in found[0]} == {doc_id}

    # nothing changed: nothing embedded, same vectors
    before = index.vectors.labels.copy()
    again = build(corpus, directory, counting)
    assert again.embedded == 0 and counting.embedded == []
    assert np.array_equal(PassageIndex.load(directory).vectors.labels, before)
    index.vector_store.close()
