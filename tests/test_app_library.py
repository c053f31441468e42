"""Library changes behind the app's Library page, on a real fixture index: uploads are checked before anything
is written (a rejected file changes nothing), names are sanitised, and the index is updated incrementally."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import libraries
from index.passage_index import PassageIndex, read_manifest
from index.search import Searcher
from index.versions import CURRENT
from tests.conftest import assert_bundled_corpus_untouched
from tests.e2e.support import UPLOADS, build_fixture_index, build_fixture_library, encoder, shared_index
from ui import library


@pytest.fixture
def index_dir(tmp_path, fake_encoder) -> Path:
    """A fixture index of this test's own, built by the test encoder (changes to it are the subject, not the model)."""
    return build_fixture_index(tmp_path, fake_encoder)


def snapshot(index_dir: Path) -> tuple[str, dict[str, bytes]]:
    corpus = Path(read_manifest(index_dir)["corpus"])
    return (index_dir / CURRENT).read_text(), {p.name: p.read_bytes() for p in sorted(corpus.iterdir())}


@pytest.mark.parametrize(
    ("uploaded", "stored"),
    [
        ("report.txt", "report.txt"),
        ("../../etc/passwd.md", "passwd.md"),
        ("C:\\Users\\me\\文档 说明.MD", "文档_说明.md"),
        ("西湖 龙井?.md", "西湖_龙井.md"),
        (".hidden.md", "hidden.md"),
        ("a<script>b.html", "a_script_b.html"),
        ("CON.txt", "CON_.txt"),
        ("...", "document"),
        ("no-extension", "no-extension"),
        ("x\u202e\x00y.txt", "xy.txt"),
        ("长" * 200 + ".pdf", "长" * 76 + ".pdf"),
    ],
)
def test_file_names_are_sanitised(uploaded, stored):
    assert library.sanitise_filename(uploaded) == stored


def test_free_name_never_overwrites(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "a-2.txt").write_text("x")
    assert library.free_name(tmp_path, "a.txt") == "a-3.txt"
    assert library.free_name(tmp_path, "b.txt", ["b.txt"]) == "b-2.txt"
    assert library.free_name(tmp_path, "c.md") == "c.md"


def test_rejected_uploads_get_a_reason_and_change_nothing(index_dir, fake_encoder):
    before = snapshot(index_dir)
    manifest = read_manifest(index_dir)
    existing = (Path(manifest["corpus"]) / "law.md").read_bytes()
    uploads = [
        ("virus.exe", b"MZ\x90\x00"),
        ("empty.txt", b""),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
        ("nul.md", b"text\x00with\x00nul bytes" * 10),
        ("copy-of-law.md", existing),
        ("scan.pdf", b"%PDF-1.4 not really a pdf"),
        ("blank.html", b"<html><head><title>t</title></head><body><script>x()</script></body></html>"),
    ]
    change = library.add_files(uploads, index_dir, manifest, fake_encoder)
    reasons = {rejected.name: rejected.reason for rejected in change.rejected}
    assert change.added == [] and change.report is None
    assert "unsupported file type '.exe'" in reasons["virus.exe"]
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["photo.txt"] and "PNG" in reasons["photo.txt"]
    assert "binary" in reasons["nul.md"]
    assert "already in the library as law.md" in reasons["copy-of-law.md"]
    assert "PDF" in reasons["scan.pdf"]
    assert "empty" in reasons["blank.html"] or "no text" in reasons["blank.html"]
    assert snapshot(index_dir) == before


def test_too_large_is_rejected_before_reading(tmp_path):
    manifest = read_manifest(shared_index())
    with pytest.raises(library.Rejected, match="too large"):
        library.check_upload("big.txt", "文字".encode() * 100, tmp_path, manifest, max_bytes=100)


def test_upload_is_added_incrementally_and_found(index_dir, fake_encoder):
    manifest = read_manifest(index_dir)
    corpus = Path(manifest["corpus"])
    data = (UPLOADS / "longjing.md").read_bytes()
    bad = ("empty.txt", b"")
    seen = []
    uploads = [("西湖 龙井.md", data), bad, ("again.md", data)]
    change = library.add_files(uploads, index_dir, manifest, fake_encoder, progress=lambda d, t: seen.append((d, t)))
    assert [a.name for a in change.added] == ["西湖_龙井.md"]
    assert change.added[0].document.title == "西湖龙井茶"
    assert {r.name for r in change.rejected} == {"empty.txt", "again.md"}  # the same file twice in one upload
    assert (corpus / "西湖_龙井.md").read_bytes() == data
    assert change.report.embedded == 1  # only the new document was embedded
    assert seen and seen[-1][0] == seen[-1][1]
    assert not [p for p in corpus.iterdir() if p.name.startswith(".")]  # no temporary left behind
    searcher = Searcher(PassageIndex.load(index_dir), fake_encoder)
    assert searcher.search("龙井茶产自哪里？", k=1)[0].doc == "西湖_龙井.md"
    assert read_manifest(index_dir)["build"] == manifest["build"]  # built as before (same chunk size)


def test_same_name_different_content_is_stored_beside(index_dir, fake_encoder):
    manifest = read_manifest(index_dir)
    change = library.add_files([("law.md", (UPLOADS / "longjing.md").read_bytes())], index_dir, manifest, fake_encoder)
    assert [a.name for a in change.added] == ["law-2.md"]
    assert set(read_manifest(index_dir)["documents"]) == {"law.md", "law-2.md", "notes.txt", "reprint.txt"}


def test_remove_document_deletes_its_file_and_updates_the_index(index_dir, fake_encoder):
    manifest = read_manifest(index_dir)
    corpus = Path(manifest["corpus"])
    change = library.remove_document("reprint.txt", index_dir, manifest, fake_encoder)
    assert change.removed == ["reprint.txt"] and change.report.removed == ["reprint.txt"]
    assert change.report.embedded == 0
    assert not (corpus / "reprint.txt").exists()
    assert set(read_manifest(index_dir)["documents"]) == {"law.md", "notes.txt"}


def test_removal_is_refused_for_unknown_outside_or_last_documents():
    index_dir = shared_index()
    before = snapshot(index_dir)
    manifest = read_manifest(index_dir)
    for doc_id, reason in (("missing.md", "no such document"), ("../index/CURRENT", "no such document")):
        with pytest.raises(library.Rejected, match=reason):
            library.remove_document(doc_id, index_dir, manifest, encoder())
    only = {**manifest, "documents": {"law.md": manifest["documents"]["law.md"]}}
    with pytest.raises(library.Rejected, match="only document"):
        library.remove_document("law.md", index_dir, only, encoder())
    assert snapshot(index_dir) == before


def test_without_a_recorded_corpus_nothing_can_be_added():
    manifest = {**read_manifest(shared_index()), "corpus": None}
    change = library.add_files([("a.txt", "文字".encode())], shared_index(), manifest, encoder())
    assert change.added == [] and "no corpus folder" in change.rejected[0].reason


def test_build_settings_come_from_the_manifest():
    settings = library.build_settings(read_manifest(shared_index()))
    assert settings.max_tokens == 128


def test_uploads_into_a_library_land_in_its_folder_in_the_user_data_folder(data_dir, fake_encoder):
    data = (UPLOADS / "longjing.md").read_bytes()
    mine = build_fixture_library(data_dir, "mine", fake_encoder)
    change = library.add_files([("西湖 龙井.md", data)], mine.index, mine.manifest(), fake_encoder, corpus=mine.corpus)
    assert [a.name for a in change.added] == ["西湖_龙井.md"] and change.report.embedded == 1
    assert (data_dir / "libraries" / "mine" / "corpus" / "西湖_龙井.md").read_bytes() == data
    assert "西湖_龙井.md" in mine.manifest()["documents"]

    empty = libraries.create_library(data_dir, "empty")  # no index yet: the first upload builds it
    change = library.add_files([("tea.md", data)], empty.index, empty.manifest(), fake_encoder, corpus=empty.corpus)
    assert [a.name for a in change.added] == ["tea.md"] and empty.built
    assert list(empty.manifest()["documents"]) == ["tea.md"]
    assert Path(empty.manifest()["corpus"]) == empty.corpus.resolve()
    assert_bundled_corpus_untouched()
