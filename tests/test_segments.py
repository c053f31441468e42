"""Segments: an incremental build writes only the change (a new segment, deletions in the manifest), the
old segments stay as they were on disk, deleted rows never reach a result, merges drop them, and a build
killed before the switch leaves the previous index in use."""

from __future__ import annotations

import json

import bm25s.scoring
import numpy as np
import pytest

import index.build as build_module
import index.versions as versions
from index.build import BuildSettings, build_index
from index.live_view import lucene_idf
from index.merge_policy import MergePolicy, merge_candidates
from index.passage_index import PassageIndex, read_manifest
from index.search import Searcher
from index.translate import QueryTranslator
from index.versions import SEGMENTS
from ingest.pipeline import load_corpus
from tests.test_incremental import CountingEncoder

SETTINGS = BuildSettings(max_tokens=64, overlap_tokens=8)
TOPICS = ["高标准农田", "数据安全", "基站建设", "乡村振兴", "碳达峰", "跨境电商", "人工智能", "海洋经济", "冰雪运动"]


def write_document(corpus, number: int) -> None:
    topic = TOPICS[number]
    text = (
        f"标题：{topic}工作报告\n\n"
        f"{topic}是本报告的主题。截至2022年底，{topic}方面取得{number + 3}项重要进展。\n\n"
        f"{topic}的下一步工作包括加强统筹协调，完善配套政策。\n"
    )
    (corpus / f"doc{number}.txt").write_text(text, encoding="utf-8")


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for number in range(8):
        write_document(folder, number)
    return folder


class StoppedInThirdBatch(CountingEncoder):
    """Stops a build in its third encoder call (its third batch: one call a batch)."""

    def encode_passages(self, texts, *args, **kwargs):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise KeyboardInterrupt("stopped")
        return super().encode_passages(texts, *args, **kwargs)


def build(corpus, directory, counting: CountingEncoder, **options):
    counting.embedded = []
    return build_index(corpus, directory, counting, SETTINGS, progress=False, log=lambda message: None, **options)


def segment_files(directory, name: str) -> dict[str, tuple[int, int]]:
    folder = directory / SEGMENTS / name
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_an_added_document_is_a_new_segment_and_the_old_one_is_not_rewritten(corpus, tmp_path, fake_encoder):
    directory, counting = tmp_path / "index", CountingEncoder(fake_encoder)
    build(corpus, directory, counting)
    first = read_manifest(directory)["segments"]
    assert len(first) == 1
    before = segment_files(directory, first[0]["name"])

    write_document(corpus, 8)
    report = build(corpus, directory, counting)
    assert report.embedded == 1 and all("冰雪运动" in text for text in counting.embedded)
    segments = read_manifest(directory)["segments"]
    assert [s["name"] for s in segments][:1] == [first[0]["name"]] and len(segments) == 2
    assert segment_files(directory, first[0]["name"]) == before  # not one file of it written again
    added = json.loads((directory / SEGMENTS / segments[1]["name"] / "segment.json").read_text(encoding="utf-8"))
    assert [doc_id for doc_id, _, _ in added["documents"]] == ["doc8.txt"]

    index = PassageIndex.load(directory)
    assert len(index.chunks) == index.vector_store.count() == len(index.keyword.tokens)
    assert index.chunks[len(index.chunks) - 1].doc_id == "doc8.txt"  # live rows: segment after segment
    hits = Searcher(index, fake_encoder).search("冰雪运动取得了几项进展？", k=3)
    assert hits[0].doc == "doc8.txt" and "冰雪运动" in hits[0].text
    # English questions reach the new words: the translator was extended, as a full build would make it
    fresh = QueryTranslator.build(index.keyword.vocabulary)
    assert "冰雪" in index.translator.vocabulary and index.translator.glosses == fresh.glosses
    assert {k: sorted(v) for k, v in index.translator.pinyin.items()} == {k: sorted(v) for k, v in fresh.pinyin.items()}


def test_removed_documents_are_marked_deleted_until_a_merge_drops_them(corpus, tmp_path, fake_encoder):
    directory, counting = tmp_path / "index", CountingEncoder(fake_encoder)
    build(corpus, directory, counting)
    name = read_manifest(directory)["segments"][0]["name"]
    before = segment_files(directory, name)

    (corpus / "doc3.txt").unlink()  # 1 of 8 documents: below the merge threshold
    assert build(corpus, directory, counting).embedded == 0
    manifest = read_manifest(directory)
    assert [{k: v for k, v in s.items() if k != "files"} for s in manifest["segments"]] == [  # files: checksums
        {"name": name, "chunks": manifest["segments"][0]["chunks"], "deleted": ["doc3.txt"]}
    ]
    assert manifest["counts"]["deleted_chunks"] > 0 and "doc3.txt" not in manifest["documents"]
    assert segment_files(directory, name) == before
    index = PassageIndex.load(directory)
    assert "doc3.txt" not in index.documents and all(chunk.doc_id != "doc3.txt" for chunk in index.chunks)
    assert index.keyword.scores(["乡村振兴"]).max() == 0  # only doc3 held it; its rows are still on disk
    assert index.keyword.postings("乡村振兴")[0].size == 0
    hits = Searcher(index, fake_encoder).search("乡村振兴取得了哪些进展？", k=10)
    assert hits and all(hit.doc != "doc3.txt" for hit in hits)

    (corpus / "doc4.txt").unlink()
    (corpus / "doc5.txt").unlink()  # now 3 of 8 documents' rows are deleted: more than a quarter
    assert build(corpus, directory, counting).embedded == 0
    manifest = read_manifest(directory)
    assert len(manifest["segments"]) == 1 and manifest["segments"][0]["deleted"] == []
    assert manifest["segments"][0]["name"] != name and manifest["counts"]["deleted_chunks"] == 0
    assert not (directory / SEGMENTS / name).exists()  # the old segment went with the version that used it
    index = PassageIndex.load(directory)
    assert sorted(index.documents) == ["doc0.txt", "doc1.txt", "doc2.txt", "doc6.txt", "doc7.txt"]
    assert len(index.chunks) == index.vector_store.count() == manifest["counts"]["chunks"]
    hits = Searcher(index, fake_encoder).search("碳达峰取得了几项进展？", k=3)
    assert hits and all(hit.doc != "doc4.txt" for hit in hits)
    assert Searcher(index, fake_encoder).search("人工智能取得了几项进展？", k=3)[0].doc == "doc6.txt"


def test_a_segment_whose_documents_are_all_removed_is_dropped(corpus, tmp_path, fake_encoder):
    directory, counting = tmp_path / "index", CountingEncoder(fake_encoder)
    build(corpus, directory, counting)
    first = read_manifest(directory)["segments"][0]["name"]
    before = segment_files(directory, first)
    write_document(corpus, 8)
    build(corpus, directory, counting)
    (corpus / "doc8.txt").unlink()
    assert build(corpus, directory, counting).embedded == 0
    manifest = read_manifest(directory)
    assert [(s["name"], s["deleted"]) for s in manifest["segments"]] == [(first, [])]
    assert segment_files(directory, first) == before and "doc8.txt" not in manifest["documents"]
    index = PassageIndex.load(directory)
    assert len(index.chunks) == index.vector_store.count() == manifest["counts"]["chunks"]


def test_segments_of_one_size_tier_are_merged_and_a_merge_re_embeds_nothing(corpus, tmp_path, fake_encoder):
    policy = MergePolicy(factor=3)
    directory, counting = tmp_path / "index", CountingEncoder(fake_encoder)
    (corpus / "doc7.txt").unlink()
    (corpus / "doc6.txt").unlink()
    build(corpus, directory, counting, merge_policy=policy)
    write_document(corpus, 6)
    build(corpus, directory, counting, merge_policy=policy)
    assert len(read_manifest(directory)["segments"]) == 2  # two small segments: below the merge factor
    write_document(corpus, 7)
    assert build(corpus, directory, counting, merge_policy=policy).embedded == 1  # the merge re-embeds nothing
    manifest = read_manifest(directory)
    assert len(manifest["segments"]) == 1 and manifest["counts"]["documents"] == 8
    index = PassageIndex.load(directory)
    assert sorted(index.documents) == [f"doc{n}.txt" for n in range(8)]
    assert len(index.chunks) == index.vector_store.count() == len(index.keyword.tokens)
    assert Searcher(index, fake_encoder).search("海洋经济取得了几项进展？", k=3)[0].doc == "doc7.txt"


def test_merges_follow_size_tiers_and_stay_bounded():
    """The policy alone, on segment sizes: equal small segments merge, a large one is left alone, no merge
    passes max_merged_rows, and a segment with over a quarter of its rows deleted is rewritten."""
    policy = MergePolicy(factor=3, max_merged_rows=30_000)
    assert MergePolicy.from_dict(policy.to_dict()) == policy

    def candidates(*segments: int | tuple[int, int]) -> list[int]:  # rows, or (rows, deleted rows)
        sizes = [s if isinstance(s, tuple) else (s, 0) for s in segments]
        return merge_candidates([rows for rows, _ in sizes], [rows - deleted for rows, deleted in sizes], policy)

    assert candidates(50_000, 10, 20) == []  # two small: below the factor
    assert candidates(50_000, 10, 20, 30) == [1, 2, 3]
    # 5,000-row segments are tier 1 (3,000 and up), a 900-row one tier 0: not merged with them
    assert candidates(5_000, 900, 5_000, 6_000) == [0, 2, 3]
    assert candidates(12_000, 12_000, 12_000) == []  # 36,000 rows: over the bound
    assert candidates((1_000, 200), 50) == []  # 20% deleted: kept
    assert candidates((1_000, 300), 50) == [0]  # 30% deleted: rewritten


def test_keyword_scores_use_the_idf_of_all_segments(corpus, tmp_path, fake_encoder):
    assert lucene_idf(3, 10) == pytest.approx(float(bm25s.scoring._score_idf_lucene(3, 10)))
    directory, counting = tmp_path / "index", CountingEncoder(fake_encoder)
    build(corpus, directory, counting)
    write_document(corpus, 8)
    build(corpus, directory, counting)
    index = PassageIndex.load(directory)
    assert len(index.segments) == 2
    token = "报告"  # in every document, so in both segments
    local = [segment.keyword.postings(token) for segment in index.segments]
    frequency = sum(len(rows) for rows, _ in local)
    rows, values = index.keyword.postings(token)
    assert len(rows) == frequency and list(rows) == sorted(rows)
    for s, (segment_rows, segment_values) in enumerate(local):
        passages = index.segments[s].keyword.passages
        scale = lucene_idf(frequency, index.keyword.documents) / lucene_idf(len(segment_rows), passages)
        live = index.live.to_live[s][segment_rows]
        at = [list(rows).index(row) for row in live]
        assert values[at] == pytest.approx(segment_values * scale, rel=1e-5)
    # the new segment's one passage scores as one passage of nine, not as the only one
    assert values[-1] < local[1][1][0]


def test_a_build_killed_before_the_switch_leaves_the_previous_index(corpus, tmp_path, fake_encoder, monkeypatch):
    directory, counting = tmp_path / "index", CountingEncoder(fake_encoder)
    build(corpus, directory, counting)
    chunks = len(PassageIndex.load(directory).chunks)
    write_document(corpus, 8)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as patch:
        patch.setattr(versions.os, "replace", killed)
        with pytest.raises(KeyboardInterrupt):
            build(corpus, directory, counting)
    assert len(list((directory / SEGMENTS).iterdir())) == 2  # the new segment was written, not used
    index = PassageIndex.load(directory)
    assert len(index.chunks) == chunks and "doc8.txt" not in index.documents
    assert Searcher(index, fake_encoder).search("人工智能取得了几项进展？", k=3)[0].doc == "doc6.txt"

    build(corpus, directory, counting)
    manifest = read_manifest(directory)
    assert "doc8.txt" in manifest["documents"]
    assert sorted(p.name for p in (directory / SEGMENTS).iterdir()) == sorted(s["name"] for s in manifest["segments"])


def test_a_large_build_is_saved_batch_by_batch_and_resumes_where_it_stopped(corpus, tmp_path, fake_encoder):
    """Documents are embedded in batches, each saved and made live before the next: a build stopped in its
    third batch leaves the first two batches' documents searchable, and the next run embeds only the rest."""
    directory, stopped = tmp_path / "index", StoppedInThirdBatch(fake_encoder)
    assert {
        len(build_module.chunk_documents([d], fake_encoder, SETTINGS)[0].chunks) for d in load_corpus(corpus)[0]
    } == {1}
    reported = []
    with pytest.raises(KeyboardInterrupt):
        build_index(
            corpus,
            directory,
            stopped,
            SETTINGS,
            progress=lambda *done: reported.append(done),
            log=lambda m: None,
            batch_chunks=2,  # two one-chunk documents a batch
        )
    assert sorted(read_manifest(directory)["documents"]) == ["doc0.txt", "doc1.txt", "doc2.txt", "doc3.txt"]
    index = PassageIndex.load(directory)
    assert Searcher(index, fake_encoder).search("数据安全取得了几项进展？", k=3)[0].doc == "doc1.txt"
    done = [d for d, _ in reported]
    assert done == sorted(done) and len({t for _, t in reported}) == 1  # one total over every batch
    assert done[-1] == len(stopped.embedded) < reported[0][1]

    counting = CountingEncoder(fake_encoder)
    report = build(corpus, directory, counting, batch_chunks=2)
    assert report.embedded == 4 and not any("数据安全" in text for text in counting.embedded)
    manifest = read_manifest(directory)
    assert sorted(manifest["documents"]) == [f"doc{n}.txt" for n in range(8)]
    index = PassageIndex.load(directory)
    assert len(index.chunks) == index.vector_store.count() == manifest["counts"]["chunks"]
    assert Searcher(index, fake_encoder).search("人工智能取得了几项进展？", k=3)[0].doc == "doc6.txt"


def test_a_rebuild_with_other_settings_keeps_the_old_index_live_until_it_is_whole(corpus, tmp_path, fake_encoder):
    directory = tmp_path / "index"
    build(corpus, directory, CountingEncoder(fake_encoder))
    old = read_manifest(directory)

    other, quiet = BuildSettings(max_tokens=48, overlap_tokens=8), {"progress": False, "log": lambda m: None}
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, directory, StoppedInThirdBatch(fake_encoder), other, batch_chunks=2, **quiet)
    assert read_manifest(directory) == old  # the old index, whole, still live
    assert (
        Searcher(PassageIndex.load(directory), fake_encoder).search("人工智能取得了几项进展？", k=3)[0].doc
        == "doc6.txt"
    )

    report = build_index(corpus, directory, CountingEncoder(fake_encoder), other, batch_chunks=2, **quiet)
    manifest = read_manifest(directory)
    assert report.embedded == 8 and manifest["build"]["max_tokens"] == 48 and len(manifest["documents"]) == 8
    assert sorted(p.name for p in (directory / SEGMENTS).iterdir()) == sorted(s["name"] for s in manifest["segments"])


def test_a_build_embeds_the_same_with_a_progress_bar_or_without(corpus, tmp_path, encoder):
    """int8 vectors depend a little on the texts batched together, so reporting progress must not change
    the batches: the CLI (a bar), the app (a callback) and the eval harness (none) build the same index."""
    quiet, reported, shown = tmp_path / "quiet", tmp_path / "reported", []
    sentences = "".join(f"第{n}项措施是加强{TOPICS[n % 9]}的统筹。" for n in range(200))  # hundreds of texts
    (corpus / "measures.txt").write_text(f"标题：两百项措施\n\n{sentences}\n", encoding="utf-8")
    build_index(corpus, quiet, encoder, SETTINGS, progress=False, log=lambda m: None)
    build_index(corpus, reported, encoder, SETTINGS, progress=lambda *done: shown.append(done), log=lambda m: None)
    assert len(shown) > 1 and shown[-1][0] == shown[-1][1]  # step by step, to the end
    one, other = PassageIndex.load(quiet), PassageIndex.load(reported)
    chunks = len(one.chunks)
    rows = np.arange(chunks)
    assert np.array_equal(one.vectors.reconstruct_batch(rows), other.vectors.reconstruct_batch(rows))
    one_sentences, other_sentences = (np.asarray(i.segments[0].sentences.vectors) for i in (one, other))
    assert np.array_equal(one_sentences, other_sentences)
