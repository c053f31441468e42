"""Hostile and odd files (issue 14, item 4): each is read correctly or refused with a clear reason, one bad file
never stops the others, a zip bomb is refused without being expanded, and batch question files in any
encoding or with bad lines give one message per bad line."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tracemalloc
from pathlib import Path

import pytest

from eval.hostile_files import HostileCase, docx_bomb, make_hostile_corpus, marker
from index.__main__ import main as index_main
from index.build import BuildSettings, build_index
from ingest.pipeline import ingest_file, load_corpus
from ingest.readers import ENV_MAX_FILE_MB, IngestError, read_document_file

MB = 2**20


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, list[HostileCase]]:
    folder = tmp_path_factory.mktemp("hostile") / "corpus"
    return folder, make_hostile_corpus(folder, big=False)


@pytest.fixture(scope="module")
def loaded(hostile):
    folder, _ = hostile
    documents, problems = load_corpus(folder)
    return {doc.doc_id: doc for doc in documents}, {problem.name: problem.reason for problem in problems}


def relative(case: HostileCase, folder: Path) -> str:
    return case.path.relative_to(folder).as_posix()


def test_every_case_is_accepted_or_refused_as_expected(hostile, loaded):
    folder, cases = hostile
    documents, reasons = loaded
    refused = {name.rsplit("/", 1)[-1]: reason for name, reason in reasons.items()}
    wrong = []
    for case in cases:
        if case.expected == "accepted":
            doc = documents.get(relative(case, folder))
            if doc is None or case.marker not in doc.text or (case.absent and case.absent in doc.text):
                wrong.append((case.key, "not accepted with its marker", refused.get(case.name)))
        else:
            reason = refused.get(case.name, "")
            if case.reason.lower() not in reason.lower():
                wrong.append((case.key, "not refused for the right reason", reason))
    assert not wrong
    assert len(documents) + len(reasons) == len(cases)  # every file has an outcome


def test_refusals_are_one_clear_line_without_internals(loaded):
    _, reasons = loaded
    for name, reason in reasons.items():
        assert "\n" not in reason and "Traceback" not in reason, name
        assert 10 < len(reason) < 300, (name, reason)
    bomb = reasons[next(name for name in reasons if name.endswith("zip_bomb.docx"))]
    assert "2.0 GB" in bomb and "200 MB" in bomb


def test_non_utf8_names_print_safely(loaded):
    _, reasons = loaded
    name = next(name for name in reasons if "bad" in name and "name.txt" in name)
    assert name.endswith("bad\\xff\\xfename.txt")
    name.encode("utf-8")  # printable: no lone surrogates


def test_encodings_decode_to_the_original_text(loaded):
    documents, _ = loaded
    assert "𠮷" in documents["enc_gb18030_ext.txt"].text
    assert "網絡空間" in documents["enc_big5.txt"].text
    for name in ("enc_utf16le_nobom.txt", "enc_utf16be_nobom.txt", "enc_mixed_utf8_gbk.txt"):
        assert "国务院新闻办公室" in documents[name].text, name


def test_the_zip_bomb_is_refused_with_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.docx"
    docx_bomb(bomb)  # word/document.xml expands to 2 GB
    assert bomb.stat().st_size < 10 * MB
    tracemalloc.start()
    try:
        with pytest.raises(IngestError, match=r"DOCX expands to 2\.0 GB, over the 200 MB limit"):
            ingest_file(bomb, bomb.name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * MB  # the file itself (~5 MB) and a little: nothing was decompressed


def test_a_smaller_bomb_under_the_total_is_caught_by_its_ratio(tmp_path):
    bomb = tmp_path / "bomb.docx"
    docx_bomb(bomb, expanded=150 * MB)
    with pytest.raises(IngestError, match=r"word/document\.xml expands \d+-fold"):
        ingest_file(bomb, bomb.name)


def test_the_size_limit_names_the_setting_that_raises_it(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("网络空间命运共同体。\n" * 100_000, encoding="utf-8")  # ~3 MB, the limit lowered to 1 MB
    monkeypatch.setenv(ENV_MAX_FILE_MB, "1")
    with pytest.raises(
        IngestError, match=rf"too large \(\d\.\d MB; the limit is 1 MB, raised by setting {ENV_MAX_FILE_MB}"
    ):
        read_document_file(path, path.name)
    monkeypatch.setenv(ENV_MAX_FILE_MB, "4")
    assert read_document_file(path, path.name).text.startswith("网络空间")


def test_a_long_single_line_is_chunked_in_linear_time(count_tokens):
    import time

    from ingest.chunking import chunk_document
    from ingest.documents import Document, Paragraph

    text = "网络空间命运共同体的理念得到越来越多国家的认同。" * 6000  # 150k characters, one line, one sentence repeated
    doc = Document("x", "t", text, [Paragraph(1, 0, len(text))])
    started = time.perf_counter()
    chunks = chunk_document(doc, count_tokens, 480, 64)
    assert time.perf_counter() - started < 20
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert all(later.start <= earlier.end for earlier, later in itertools.pairwise(chunks))


def test_html_scripts_and_styles_are_dropped(hostile, loaded):
    documents, _ = loaded
    html = documents["scripts.html"]
    assert marker("html") in html.text and "xqzscriptleak7" not in html.text and "color" not in html.text


def test_a_broken_reader_on_one_file_does_not_stop_the_others(tmp_path, monkeypatch):
    from ingest import readers

    (tmp_path / "good.txt").write_text("网络空间命运共同体。这是正常的文件。\n", encoding="utf-8")
    (tmp_path / "boom.md").write_text("正文。\n", encoding="utf-8")

    def explode(path, data):
        raise RuntimeError("reader bug")

    monkeypatch.setitem(readers.READERS, ".md", explode)
    documents, problems = load_corpus(tmp_path)
    assert [doc.doc_id for doc in documents] == ["good.txt"]
    assert [p.reason for p in problems] == ["could not be read (RuntimeError: reader bug)"]


# ---------------------------------------------------------------- one build, then batch files through the CLI


@pytest.fixture(scope="module")
def built(tmp_path_factory, hostile, encoder) -> tuple[Path, object]:
    """An index of the small hostile cases (the 5 MB line left out: its embedding takes minutes)."""
    folder, _ = hostile
    corpus = tmp_path_factory.mktemp("built") / "corpus"
    shutil.copytree(folder, corpus, symlinks=True)
    (corpus / "one_line_5mb.txt").unlink()
    index = corpus.parent / "index"
    report = build_index(corpus, index, encoder, BuildSettings(max_tokens=128, overlap_tokens=16), progress=False)
    return index, report


def test_a_build_indexes_the_good_files_and_lists_the_refused(hostile, built):
    _, cases = hostile
    _, report = built
    accepted = {case.path.name for case in cases if case.expected == "accepted" and case.key != "oneline"}
    assert set(report.accepted) == accepted
    refused = [case for case in cases if case.expected == "refused"]
    assert len(report.problems) == len(refused)
    assert all(problem.encode("utf-8") for problem in report.problems)  # printable, names included


def write_questions(path: Path, encoding: str, bom: bool = False) -> None:
    lines = [
        json.dumps({"id": "q1", "question": "网络空间命运共同体是什么？"}, ensure_ascii=False),
        "not json",
        json.dumps({"id": "q3"}),
        '{"id": "q4", "question": "\\ud800 lone surrogate"}',
        json.dumps({"id": "q5", "question": ""}),
        json.dumps({"id": "q6", "question": "白皮书介绍了什么？"}, ensure_ascii=False),
    ]
    data = "\n".join(lines).encode(encoding)
    path.write_bytes(("\ufeff".encode(encoding) if bom else b"") + data)


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("utf-16-le", True), ("utf-16-le", False), ("gbk", False)]
)
def test_batch_files_in_any_encoding_report_each_bad_line(built, tmp_path, capsys, encoding, bom):
    index, _ = built
    questions = tmp_path / "questions.jsonl"
    write_questions(questions, encoding, bom)
    assert index_main(["search", "--index", str(index), "--batch", str(questions), "--k", "2"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in out] == ["q1", None, "q3", "q4", "q5", "q6"]
    assert len(out[0]["hits"]) == 2 and len(out[5]["hits"]) == 2 and "error" not in out[0]
    errors = {line["line"]: line["error"] for line in out if "error" in line}
    assert set(errors) == {2, 3, 4, 5}
    assert "not JSON" in errors[2] and "missing field 'question'" in errors[3] and "surrogate" in errors[4]
    assert all(error.startswith(f"line {number}: ") for number, error in errors.items())


def test_a_utf8_batch_file_with_an_undecodable_line_keeps_the_others(built, tmp_path, capsys):
    index, _ = built
    questions = tmp_path / "questions.jsonl"
    good = json.dumps({"id": "a", "question": "网络空间命运共同体是什么？"}, ensure_ascii=False).encode()
    questions.write_bytes(good + b'\n{"id": "b", "question": "\xff\xfe bad bytes"}\n' + good.replace(b'"a"', b'"c"'))
    assert index_main(["search", "--index", str(index), "--batch", str(questions), "--k", "1"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("error", "")[:6] for line in out] == ["", "line 2", ""]
    assert out[2]["id"] == "c" and out[2]["hits"]


@pytest.mark.parametrize("kind", ["missing", "folder", "binary"])
def test_an_unreadable_batch_file_is_one_message_and_exit_2(built, tmp_path, capsys, kind):
    index, _ = built
    path = tmp_path / "questions.jsonl"
    if kind == "folder":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    assert index_main(["search", "--index", str(index), "--batch", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: batch file") and captured.err.count("\n") == 1


def test_leading_dash_and_odd_names_are_searchable(built, capsys):
    index, _ = built
    assert index_main(["search", "--index", str(index), "--json", "--k", "3", "--", marker("dashes")]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["doc"] == "--help -rf.txt"


def test_a_build_cli_run_prints_the_refused_files_last(hostile, tmp_path, capsys, monkeypatch):
    corpus = tmp_path / "-corpus"  # a folder whose name starts with a dash
    corpus.mkdir()
    (corpus / "good.txt").write_text("网络空间命运共同体。这是正常的文件。\n", encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    os.symlink(hostile[0] / "enc_gbk.txt", corpus / "outside.txt")
    assert index_main(["build", f"--corpus={corpus}", "--index", str(tmp_path / "index")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3] == "2 file(s) refused, not indexed:"
    assert "empty.txt: file is empty" in out[-2] and "outside.txt: symlink pointing outside the corpus" in out[-1]


def test_a_document_that_fails_to_chunk_is_reported_and_the_others_are_kept():
    """A failure meeting one odd text while chunking is that document's problem: the others are still chunked."""
    from index.build import BuildSettings, chunk_documents
    from ingest.documents import Document, Paragraph

    class Counter:  # tokens counted as characters (the model is not the subject); one text breaks it
        @staticmethod
        def count_tokens(text: str) -> int:
            if "\ufffd" in text:
                raise ValueError("cannot count this text")
            return len(text)

    texts = {"a.txt": "数据安全法自2021年9月1日起施行。", "odd.txt": "乱码\ufffd乱码。" * 400}
    documents = [
        Document(doc_id=name, title=name, text=text, paragraphs=[Paragraph(1, 0, len(text))])
        for name, text in texts.items()
    ]
    problems: list[str] = []
    chunked = chunk_documents(documents, Counter, BuildSettings(), problems)
    assert [item.document.doc_id for item in chunked] == ["a.txt"]
    assert problems == ["odd.txt: could not be cut into passages (ValueError: cannot count this text)"]
    with pytest.raises(ValueError):  # without a list to report into, the failure is the caller's
        chunk_documents(documents, Counter, BuildSettings())
