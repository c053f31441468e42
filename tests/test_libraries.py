"""Named libraries (index/libraries.py) and their CLI (``python -m index library …``, ``--library NAME``), in a
temporary user data folder: created, listed, used, switched and deleted; the sample is read-only; the user's
files never go into the repository."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from index import libraries, settings
from index.__main__ import main
from index.libraries import SAMPLE, LibraryError, ReadOnlyLibrary, UnknownLibrary
from index.passage_index import read_manifest
from tests.conftest import BUNDLED_CORPUS, assert_bundled_corpus_untouched
from tests.e2e.support import CORPUS, UPLOADS, build_fixture_library, encoder
from ui import library as uploads

QUESTION = "中国制定了哪些数据安全方面的法律？"


# ---------------------------------------------------------------- the data folder


def test_the_data_folder_is_a_flag_else_the_environment_else_the_platforms(monkeypatch, tmp_path):
    from platformdirs import user_data_dir

    assert settings.data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.setenv(settings.ENV_DATA, str(tmp_path / "env"))
    assert settings.data_dir() == tmp_path / "env"
    assert settings.data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv(settings.ENV_DATA)
    assert settings.data_dir() == Path(user_data_dir("citelens", appauthor=False))
    assert not settings.data_dir().resolve().is_relative_to(settings.PROJECT_ROOT)


def test_every_test_has_a_temporary_data_folder(data_dir):
    assert Path(os.environ[settings.ENV_DATA]) == data_dir and settings.data_dir() == data_dir
    assert not data_dir.resolve().is_relative_to(settings.PROJECT_ROOT)
    assert list(data_dir.iterdir()) == []


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("laws", "laws"),
        ("法律法规", "法律法规"),
        ("  政策 2024 ", "政策 2024"),
        ("Ｒｅｐｏｒｔｓ", "Reports"),  # full-width letters: NFKC
        ("a.b-c_d", "a.b-c_d"),
    ],
)
def test_names_in_any_language_are_allowed(name, stored):
    assert libraries.validate_name(name) == stored


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("a/b", "cannot be used"),
        ("..", "cannot be used"),
        (".hidden", "cannot be used"),
        ("_x", "cannot be used"),
        ("a:b", "cannot be used"),
        ("ends.", "cannot be used"),
        ("tab\there", "cannot be used"),
        ("con", "reserved on Windows"),
        ("LPT1.txt", "reserved on Windows"),
        ("长" * 65, "too long"),
    ],
)
def test_unsafe_names_are_refused_with_a_reason(name, message):
    with pytest.raises(LibraryError, match=message):
        libraries.validate_name(name)


# ---------------------------------------------------------------- the module


def test_create_list_find_and_delete_libraries(data_dir):
    assert [lib.name for lib in libraries.list_libraries(data_dir)] == [SAMPLE]
    empty = libraries.create_library(data_dir, "法律法规", "laws and rules")
    assert empty.root == data_dir / "libraries" / "法律法规"
    assert empty.corpus == empty.root / "corpus" and empty.corpus.is_dir() and empty.files() == []
    assert empty.index == empty.root / "index" and not empty.built and empty.manifest() == {}
    info = json.loads((empty.root / "library.json").read_text(encoding="utf-8"))
    assert info["name"] == "法律法规" and info["description"] == "laws and rules" and info["created"]
    copied = libraries.create_library(data_dir, "copy", source=CORPUS)
    assert copied.files() == ["law.md", "notes.txt", "reprint.txt"] and copied.source == str(CORPUS.resolve())
    assert [lib.name for lib in libraries.list_libraries(data_dir)] == [SAMPLE, "copy", "法律法规"]
    assert libraries.library(data_dir, "法律法规") == empty
    assert not [path for path in (data_dir / "libraries").iterdir() if path.name.startswith(".")]  # no leftovers

    with pytest.raises(LibraryError, match="already exists"):
        libraries.create_library(data_dir, "COPY")  # names differ by more than case
    libraries.delete_library(data_dir, "copy")
    assert not (data_dir / "libraries" / "copy").exists()
    assert [lib.name for lib in libraries.list_libraries(data_dir)] == [SAMPLE, "法律法规"]
    assert (CORPUS / "law.md").exists()  # the folder it was copied from is untouched


def test_an_unknown_library_is_a_clear_error(data_dir):
    libraries.create_library(data_dir, "mine")
    for name in ("nope", "../mine", ".", ""):
        with pytest.raises(UnknownLibrary, match=r"No library named .*Libraries: sample, mine\. Create one with"):
            libraries.library(data_dir, name)


def test_the_sample_is_the_bundled_corpus_and_read_only(data_dir):
    sample = libraries.library(data_dir, SAMPLE)
    assert sample.read_only and sample.corpus == BUNDLED_CORPUS and sample.index == settings.BUNDLED_INDEX
    assert sample.root is None and len(sample.files()) == 5
    for doomed in (lambda: libraries.delete_library(data_dir, SAMPLE), sample.require_writable):
        with pytest.raises(ReadOnlyLibrary, match="read-only: create a library"):
            doomed()
    for name in (SAMPLE, "Sample"):
        with pytest.raises(LibraryError, match="built-in sample"):
            libraries.create_library(data_dir, name)
    assert libraries.is_protected(BUNDLED_CORPUS) and libraries.is_protected(BUNDLED_CORPUS / "sub")
    assert not libraries.is_protected(data_dir)
    assert_bundled_corpus_untouched()


def test_nothing_is_ever_written_into_the_bundled_corpus(tmp_path):
    from tests.e2e.support import build_fixture_index

    index = build_fixture_index(tmp_path)  # any index: the target folder alone decides
    manifest = read_manifest(index)
    change = uploads.add_files(
        [("tea.md", (UPLOADS / "longjing.md").read_bytes())], index, manifest, encoder(), corpus=BUNDLED_CORPUS
    )
    assert change.added == [] and "read-only sample data" in change.rejected[0].reason
    bundled = {**manifest, "corpus": str(BUNDLED_CORPUS)}  # an index of the sample, as data/index records it
    change = uploads.add_files([("tea.md", b"# Tea\n\nGreen tea.")], index, bundled, encoder())
    assert "create a library" in change.rejected[0].reason
    with pytest.raises(uploads.Rejected, match="read-only sample data"):
        uploads.remove_document("law.md", index, bundled, encoder())
    assert_bundled_corpus_untouched()


def test_creating_from_a_folder_copies_its_documents_only(data_dir, tmp_path):
    source = tmp_path / "mine"
    (source / "sub").mkdir(parents=True)
    (source / "a.md").write_text("# A\n\n甲。", encoding="utf-8")
    (source / "sub" / "b.txt").write_text("乙。", encoding="utf-8")
    (source / ".hidden.md").write_text("hidden", encoding="utf-8")
    (source / "photo.png").write_bytes(b"\x89PNG")
    created = libraries.create_library(data_dir, "mine", source=source)
    assert created.files() == ["a.md", "sub/b.txt"]
    with pytest.raises(LibraryError, match="is not a folder"):
        libraries.create_library(data_dir, "nothing", source=source / "sub" / "b.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LibraryError, match="holds no documents"):
        libraries.create_library(data_dir, "nothing", source=tmp_path / "empty")
    assert [lib.name for lib in libraries.list_libraries(data_dir)] == [SAMPLE, "mine"]


def test_a_library_is_built_used_and_a_removed_document_leaves_its_index(data_dir, fake_encoder):
    from index.passage_index import PassageIndex
    from index.search import Searcher

    mine = build_fixture_library(data_dir, "mine", fake_encoder)
    assert mine.built and set(mine.manifest()["documents"]) == {"law.md", "notes.txt", "reprint.txt"}
    assert Path(mine.manifest()["corpus"]) == mine.corpus.resolve()
    change = uploads.remove_document("law.md", mine.index, mine.manifest(), fake_encoder, corpus=mine.corpus)
    assert change.removed == ["law.md"] and not (mine.corpus / "law.md").exists()
    assert set(mine.manifest()["documents"]) == {"notes.txt", "reprint.txt"}
    hits = Searcher(PassageIndex.load(mine.index), fake_encoder).search(QUESTION, k=10)
    assert hits and "law.md" not in {hit.doc for hit in hits}
    assert "law.md" not in {other.get("doc") for hit in hits for other in hit.also_in}
    assert_bundled_corpus_untouched()


def test_the_apps_choice_is_remembered_in_the_data_folder(data_dir):
    assert libraries.remembered(data_dir) is None
    libraries.create_library(data_dir, "mine")
    libraries.remember(data_dir, "mine")
    assert libraries.remembered(data_dir) == "mine"
    libraries.delete_library(data_dir, "mine")
    assert libraries.remembered(data_dir) is None
    (data_dir / libraries.STATE).write_text("not json")
    assert libraries.remembered(data_dir) is None


# ---------------------------------------------------------------- the CLI


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_creates_builds_searches_lists_and_deletes_a_library(capsys, data_dir, tmp_path):
    other = tmp_path / "elsewhere"  # --data-dir wins over $CITELENS_DATA
    code, out, _ = run(capsys, "library", "create", "数据 法规", "--from", str(CORPUS), "--data-dir", str(other))
    assert code == 0 and "Created library 数据 法规 (3 files)" in out and "3 documents" in out
    assert (other / "libraries" / "数据 法规" / "index" / "CURRENT").exists()
    assert [lib.name for lib in libraries.list_libraries(data_dir)] == [SAMPLE]

    code, out, _ = run(capsys, "search", QUESTION, "--library", "数据 法规", "--data-dir", str(other), "--json")
    answer = json.loads(out)
    assert code == 0 and answer["hits"][0]["doc"] == "law.md"

    library = libraries.library(other, "数据 法规")
    (library.corpus / "law.md").unlink()  # a file removed by hand: the next build drops it from the index
    code, out, _ = run(capsys, "build", "--library", "数据 法规", "--data-dir", str(other))
    assert code == 0 and "2 documents" in out
    code, out, _ = run(capsys, "search", QUESTION, "--library", "数据 法规", "--data-dir", str(other), "--json")
    assert "law.md" not in {hit["doc"] for hit in json.loads(out)["hits"]}

    code, out, _ = run(capsys, "library", "list", "--json", "--data-dir", str(other))
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(item["name"], item["read_only"], item["documents"]) for item in listed][1] == ("数据 法规", False, 2)
    assert listed[0]["name"] == SAMPLE and listed[0]["read_only"]
    code, out, _ = run(capsys, "library", "list", "--data-dir", str(other))
    assert "数据 法规" in out and "2 documents indexed" in out and "built-in, read-only" in out

    code, _, err = run(capsys, "library", "delete", "数据 法规", "--data-dir", str(other))  # stdin is no terminal
    assert code == 2 and "add --yes" in err and library.root.exists()
    code, out, _ = run(capsys, "library", "delete", "数据 法规", "--yes", "--data-dir", str(other))
    assert code == 0 and "Deleted library 数据 法规" in out and not library.root.exists()
    code, _, err = run(capsys, "search", QUESTION, "--library", "数据 法规", "--data-dir", str(other))
    assert code == 2 and "No library named '数据 法规'" in err
    assert_bundled_corpus_untouched()


def test_cli_library_errors_are_one_clear_line(capsys, data_dir):
    code, out, _ = run(capsys, "library", "create", "empty")  # the data folder from $CITELENS_DATA
    assert code == 0 and "python -m index build --library empty" in out
    assert (data_dir / "libraries" / "empty" / "corpus").is_dir()
    for argv, message in (
        (("search", "问题", "--library", "empty"), "has no index yet"),
        (("search", "问题", "--library", "missing"), "No library named 'missing'"),
        (("library", "create", "a/b"), "cannot be used"),
        (("library", "create", "empty"), "already exists"),
        (("library", "create", "x", "--from", str(data_dir / "none")), "is not a folder"),
        (("library", "delete", SAMPLE, "--yes"), "sample library is read-only"),
        (("build", "--library", "missing"), "No library named"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.startswith("error: ") and message in err, (argv, err)
    assert [lib.name for lib in libraries.list_libraries(data_dir)] == [SAMPLE, "empty"]


@pytest.mark.parametrize(
    "argv",
    [
        ("search", "问题", "--library", "x", "--index", "/tmp/i"),
        ("build", "--library", "x", "--corpus", "/tmp/c"),
        ("build", "--library", "x", "--index", "/tmp/i"),
    ],
)
def test_cli_library_and_folders_are_not_mixed(capsys, argv):
    with pytest.raises(SystemExit) as stopped:
        main(list(argv))
    assert stopped.value.code == 2 and "give --library or --corpus/--index" in capsys.readouterr().err


def test_cli_index_and_corpus_flags_work_as_before(capsys, tmp_path):
    code, out, _ = run(capsys, "build", "--corpus", str(CORPUS), "--index", str(tmp_path / "index"))
    assert code == 0 and "3 documents" in out
    code, out, _ = run(capsys, "search", QUESTION, "--index", str(tmp_path / "index"), "--json", "--k", "1")
    assert code == 0 and json.loads(out)["hits"][0]["doc"] == "law.md"
    assert list((Path(os.environ[settings.ENV_DATA])).iterdir()) == []  # no library involved


def test_a_library_made_from_a_folder_does_not_copy_links_leading_out_of_it(data_dir, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "inside.txt").write_text("数据安全法自2021年9月1日起施行。", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("不该被复制的内容", encoding="utf-8")
    (source / "link.txt").symlink_to(secret)
    copied = libraries.create_library(data_dir, "links", source=source)
    assert copied.files() == ["inside.txt"]
