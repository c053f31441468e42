"""Checked index files: damage is found at load or by verify, named in one message, and repaired by a build
(real model, real FAISS, a three-document index)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from eval.fault_injection import FILE_KINDS, damage, file_of
from index.build import BuildSettings, build_index
from index.integrity import IndexDamaged, verify_index
from index.passage_index import PassageIndex
from index.search import Searcher
from index.versions import CURRENT
from tests.cli import index_cli
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "corpus_small"
SETTINGS = BuildSettings(max_tokens=64, overlap_tokens=8)
KINDS = dict(FILE_KINDS)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder) -> Path:
    directory = tmp_path_factory.mktemp("checked") / "index"
    build_index(CORPUS, directory, encoder, SETTINGS, progress=False)
    return directory


@pytest.fixture
def index_dir(built, tmp_path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(built, copy)
    return copy


cli = index_cli  # in-process: main(argv)


@pytest.mark.parametrize("mode", ["truncate", "flip", "delete"])
@pytest.mark.parametrize("kind", [kind for kind, _ in FILE_KINDS])
def test_every_damage_is_found_at_load_and_by_verify_naming_the_file(index_dir, kind, mode):
    target = file_of(index_dir, KINDS[kind])
    damage(target, mode)
    with pytest.raises(IndexDamaged) as damaged:
        PassageIndex.load(index_dir)
    message = str(damaged.value)
    named = target.name if kind != "CURRENT pointer" else CURRENT
    assert named in message and "repair it with: python -m index build --corpus" in message
    assert f"--index {index_dir}" in message
    if kind == "CURRENT pointer":
        return
    check = verify_index(index_dir)
    assert not check.ok and any(path.name == target.name for path, _ in check.problems)


@pytest.mark.parametrize("mode", ["truncate", "delete"])
@pytest.mark.parametrize("kind", ["chunks", "documents", "sentence vectors", "keyword postings", "faiss vectors"])
def test_a_large_index_checks_sizes_at_load(index_dir, kind, mode):
    target = file_of(index_dir, KINDS[kind])
    damage(target, mode)
    with pytest.raises(IndexDamaged, match=target.name.replace(".", r"\.")):
        PassageIndex.load(index_dir, full_check_bytes=-1)  # as an index too large to checksum at load


def test_verify_finds_flipped_bytes_that_a_sizes_only_load_cannot(built, tmp_path):
    for kind in ("chunks", "sentence vectors", "faiss vectors", "keyword postings"):
        copy = tmp_path / kind.replace(" ", "-")
        shutil.copytree(built, copy)
        target = file_of(copy, KINDS[kind])
        damage(target, "flip")
        PassageIndex.load(copy, full_check_bytes=-1)  # same sizes: a large index's load does not read whole files
        check = verify_index(copy)
        assert [path.name for path, _ in check.problems] == [target.name], kind
        assert "checksum" in check.problems[0][1]


def test_the_cli_gives_one_message_and_exit_2_for_a_damaged_index(index_dir, tmp_path):
    damage(file_of(index_dir, KINDS["chunks"]), "truncate")
    search = cli("search", "粮食产量", "--index", str(index_dir))
    assert search.returncode == 2 and "Traceback" not in search.stderr
    lines = search.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: index file") and "chunks.jsonl" in lines[0]
    verify = cli("verify", "--index", str(index_dir))
    assert verify.returncode == 1 and "chunks.jsonl" in verify.stderr and "Traceback" not in verify.stderr
    batch = tmp_path / "questions.jsonl"
    batch.write_text("".join(json.dumps({"id": i, "question": "粮食产量"}) + "\n" for i in range(5)), encoding="utf-8")
    run = cli("search", "--batch", str(batch), "--index", str(index_dir))
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1  # once, before any line is read; no line is blamed


def test_a_build_over_damaged_segments_repairs_them(index_dir, encoder):
    damage(file_of(index_dir, KINDS["sentence vectors"]), "flip")
    messages: list[str] = []
    report = build_index(CORPUS, index_dir, encoder, SETTINGS, progress=False, log=messages.append)
    assert any("damaged" in m and "sentence_vectors.npy" in m for m in messages)
    assert report.embedded == 3  # the damaged segment's documents, embedded again
    assert verify_index(index_dir).ok
    index = PassageIndex.load(index_dir)
    assert set(index.documents) == {"law.md", "farm.txt", "5g.txt"}
    assert Searcher(index, encoder).answer("How many 5G base stations had China built?", k=3).hits[0].doc == "5g.txt"


def test_a_build_over_a_damaged_version_builds_a_whole_new_index(index_dir, encoder):
    damage(file_of(index_dir, KINDS["faiss vectors"]), "flip")
    build_index(CORPUS, index_dir, encoder, SETTINGS, progress=False, log=lambda m: None)
    check = verify_index(index_dir)
    assert check.ok and check.recorded
    assert len(PassageIndex.load(index_dir).documents) == 3


def test_an_index_saved_before_checksums_loads_and_verify_says_to_rebuild(index_dir, encoder):
    manifest_path = file_of(index_dir, KINDS["manifest"])
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for key in ("files", "checksum"):
        manifest.pop(key)
    for entry in manifest["segments"]:
        entry.pop("files")
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    assert len(PassageIndex.load(index_dir).documents) == 3
    assert not verify_index(index_dir).recorded
    verify = cli("verify", "--index", str(index_dir))
    assert verify.returncode == 1 and "no checksums recorded" in verify.stderr
    build_index(CORPUS, index_dir, encoder, SETTINGS, progress=False, log=lambda m: None)
    check = verify_index(index_dir)
    assert check.ok and check.recorded and check.files > 10


def test_a_reader_racing_a_prune_reads_the_new_live_version(index_dir, monkeypatch):
    live = (index_dir / CURRENT).read_text().strip()
    newer = "v99999999-000000-newest"
    shutil.copytree(index_dir / live, index_dir / newer)
    real = PassageIndex._load
    calls = []

    def pruned_meanwhile(directory, version_dir, drop, full_check_bytes):
        calls.append(version_dir.name)
        if len(calls) == 1:  # a build switched to ``newer`` and removed ``live`` while this read it
            (index_dir / CURRENT).write_text(newer + "\n")
            shutil.rmtree(index_dir / live)
        return real(directory, version_dir, drop, full_check_bytes)

    monkeypatch.setattr(PassageIndex, "_load", staticmethod(pruned_meanwhile))
    index = PassageIndex.load(index_dir)
    assert calls == [live, newer] and len(index.documents) == 3


def test_a_batch_stops_with_one_message_when_the_index_turns_out_damaged_mid_run(tmp_path):
    """A damaged file found while answering is the index's fault: the run stops once instead of blaming
    each remaining line of the user's file."""
    from index.batch import BatchLine, run_batch

    lines = [BatchLine(n, {"id": n, "question": f"问题{n}"}) for n in (1, 2, 3)]
    asked = []

    def answer(question: str) -> dict:
        asked.append(question)
        if len(asked) == 2:
            raise IndexDamaged(tmp_path / "chunks.jsonl", "checksum differs", tmp_path)
        return {"hits": []}

    results = run_batch(lines, answer)
    assert next(results)["id"] == 1
    with pytest.raises(IndexDamaged, match=r"chunks\.jsonl"):
        next(results)
    assert asked == ["问题1", "问题2"]  # the third line was never asked
