"""Each page of the app through Streamlit's AppTest, over a real fixture index (real model, real FAISS).

Read-only pages get the shared fixture index the way users pass one, through $CITELENS_INDEX; tests that change
documents or libraries get a library of their own in the test's temporary user data folder ($CITELENS_DATA,
conftest.py). The sample library is pointed at the shared fixture index, so the bundled data/index is never
used or built, and the bundled data/corpus is never written (checked).
"""

from __future__ import annotations

import html as html_module
import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from index import libraries, settings
from index.versions import CURRENT
from tests.conftest import assert_bundled_corpus_untouched
from tests.e2e.support import (
    CORPUS,
    FIXTURES,
    PROJECT,
    QUESTIONS,
    UPLOADS,
    build_fixture_library,
    shared_index,
)
from ui import core, evaluation

APP = str(PROJECT / "app.py")
LIBRARY = "ui/pages/library.py"
EVALUATE = "ui/pages/evaluate.py"
TIMEOUT = 180  # the first run in a process loads the model


@pytest.fixture
def shared(monkeypatch) -> Path:
    index = shared_index()
    monkeypatch.setenv("CITELENS_INDEX", str(index))
    return index


@pytest.fixture(autouse=True)
def sample_index(monkeypatch) -> Path:
    """The sample library's index is the shared fixture index here (the real one is a build of data/corpus)."""
    monkeypatch.setenv(settings.ENV_SAMPLE_INDEX, str(shared_index()))
    return shared_index()


@pytest.fixture
def mine(data_dir) -> libraries.Library:
    """A library of this test's own in its temporary data folder, the one the app opens (remembered)."""
    library = build_fixture_library(data_dir, "我的资料")
    libraries.remember(data_dir, library.name)
    return library


def start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input(key="question").input(question).run()
    assert not at.exception, at.exception
    return at


def html(at: AppTest) -> list[str]:
    return [element.value for element in at.html]


def cards(at: AppTest) -> list[str]:
    return [body for body in html(at) if 'class="cl-card-head"' in body]


def card_docs(at: AppTest) -> list[str]:
    return [re.search(r'<span title="file">([^<]*)</span>', card).group(1) for card in cards(at)]


def summary(at: AppTest) -> str:
    return next(body for body in html(at) if 'class="cl-answer' in body)


def passages(at: AppTest) -> list[str]:
    return [body for body in html(at) if body.startswith('<div class="cl-passage">')]


def documents_table(at: AppTest):
    """The Library page's table of documents (the one with a "file" column)."""
    return next(frame.value for frame in at.dataframe if "file" in frame.value.columns)


def visible(markup: str) -> str:
    """What a reader sees of an HTML fragment: the text, tags gone, entities decoded."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", markup))


# ---------------------------------------------------------------- Ask


def test_chinese_question_gets_an_answer_summary_and_cited_cards(shared):
    at = ask(start(), "中国制定了哪些数据安全方面的法律？")
    assert at.title[0].value == "Ask the documents"
    assert len(cards(at)) == 4 and 'id="card-1"' in cards(at)[0]  # 5 passages, one a reprint ("also in")
    assert "网络安全法律体系" in cards(at)[0] and "¶" in cards(at)[0] and "2022-11-07" in cards(at)[0]
    assert 'href="#card-1"' in summary(at) and "Answer from the documents" in summary(at)
    assert any('<mark class="cl-sentence">' in p and 'class="cl-term"' in p for p in passages(at))
    assert any("《数据安全法》" in visible(p) for p in passages(at))
    citations = [code.value for code in at.code]
    assert len(citations) == 4, citations
    assert any(c.startswith("网络安全法律体系 › ") and "https://example.org/law" in c for c in citations), citations
    # The reprint and the law's own passage are one hit: whichever ranks first lists the other as "also in".
    assert any(
        "Also in:" in body and ("转载：网络法治建设" in body or "网络安全法律体系" in body) and "¶" in body
        for body in html(at)
    )
    assert [button.url for button in at.link_button] and all(
        button.url == "https://example.org/law" for button in at.link_button
    )
    assert re.match(r"4 passages · \d+\.\d\d s", at.caption[1].value)


def test_english_and_traditional_chinese_questions(shared):
    at = ask(start(), "How many 5G base stations had China built?")
    assert card_docs(at)[0] == "notes.txt"
    assert "185.4万个" in re.search(r'<mark class="cl-sentence">(.*?)</mark>', passages(at)[0]).group(1)
    assert "5G" in summary(at)
    ask(at, "中國制定了哪些數據安全方面的法律？")
    assert "law.md" in card_docs(at)[:2]
    assert "searched as 中国制定了哪些数据安全方面的法律？" in at.caption[1].value
    assert any('<span class="cl-term">数据安全</span>' in p for p in passages(at))  # marked in Simplified


def test_a_question_the_documents_do_not_answer_is_said_plainly(shared):
    at = ask(start(), "如何做红烧肉？")
    assert "Not answered by these documents" in summary(at) and "cl-ref" not in summary(at)
    assert cards(at)  # the closest passages are still there to check
    assert all("cl-weak" in p or "cl-sentence" not in p for p in passages(at))


def test_documents_are_displayed_as_text_never_html_or_markdown(shared):
    at = ask(start(), "这段脚本应当按原文显示吗？")
    shown = "".join(html(at))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "[官方链接](javascript:alert(2))" in shown
    assert "<script" not in shown.lower() and "javascript:" not in re.sub(r"\]\(javascript:alert\(2\)\)", "", shown)
    assert "数字技术进展 &lt;i&gt;笔记&lt;/i&gt;" in shown and "<i>" not in shown
    assert re.findall(r"<a [^>]*>", shown) == re.findall(r'<a class="cl-ref" href="#card-\d+" [^>]*>', shown)
    assert all(button.url.startswith("https://") for button in at.link_button)  # never the javascript: url
    assert not any("alert(" in element.value for element in at.markdown)  # nothing from documents as markdown


def test_sidebar_passages_filter_and_recent_questions(shared):
    at = start()
    at.slider(key="k").set_value(2).run()
    ask(at, "中国制定了哪些数据安全方面的法律？")
    assert len(cards(at)) == 2
    at.multiselect(key="documents").set_value(["notes.txt"]).run()
    assert set(card_docs(at)) == {"notes.txt"} and cards(at) and 'id="card-1"' in cards(at)[0]
    assert "1 chosen document" in at.caption[1].value
    at.multiselect(key="documents").set_value([]).run()
    ask(at, "How many 5G base stations had China built?")
    recent = [button.label for button in at.sidebar.button if button.key.startswith("recent-")]
    assert recent == ["How many 5G base stations had China built?", "中国制定了哪些数据安全方面的法律？"]
    at.sidebar.button(key="recent-1").click().run()  # ask an earlier question again
    assert at.text_input(key="question").value == "中国制定了哪些数据安全方面的法律？"
    assert "law.md" in card_docs(at)
    at.sidebar.button(key="forget-recent").click().run()
    assert not [button for button in at.sidebar.button if button.key.startswith("recent-")]


def test_surrounding_paragraphs_expand_in_place(shared):
    at = ask(start(), "How many 5G base stations had China built?")
    before = passages(at)[0]
    at.toggle[0].set_value(True).run()
    after = passages(at)[0]
    assert "cl-dim" not in before and "cl-dim" in after
    assert after.count('class="cl-para') > before.count('class="cl-para')
    assert '<mark class="cl-sentence">' in after


def test_first_start_builds_the_index_with_progress(tmp_path):
    def first_start(directory: str, corpus: str) -> None:
        from pathlib import Path

        from ui import core

        core.prepare_index(Path(directory), Path(corpus))

    at = AppTest.from_function(first_start, args=(str(tmp_path / "index"), str(CORPUS)), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert (tmp_path / "index" / CURRENT).exists()
    assert at.get("progress") and at.get("progress")[0].value == 100
    status = at.main.children[0]
    assert status.type == "status" and "Index ready: 3 documents, 5 passages" in str(status.proto)
    assert any("3 to embed" in text.value for text in at.text)  # the build log, as plain text


# ---------------------------------------------------------------- Library


def test_library_lists_documents_and_reads_one_with_its_outline(shared):
    at = start(LIBRARY)
    table = at.dataframe[0].value
    assert sorted(table["file"]) == ["law.md", "notes.txt", "reprint.txt"]
    assert set(table.columns) >= {"title", "source", "date", "paragraphs", "passages"}
    at.selectbox(key="read-doc").set_value("law.md").run()
    bodies = html(at)
    outline = next(body for body in bodies if 'class="cl-outline"' in body)
    assert "一、法律框架" in outline and "二、国际合作" in outline and 'href="#para-2"' in outline
    text = next(body for body in bodies if "cl-doc-text" in body)
    assert 'id="para-4"' in text and "《数据安全法》" in text
    at.selectbox(key="read-doc").set_value("notes.txt").run()
    assert any("&lt;script&gt;" in body for body in html(at))


def test_library_upload_is_checked_indexed_and_found_then_removed(mine, data_dir):
    at = start(LIBRARY)
    assert at.sidebar.selectbox(key="library").value == "我的资料"  # the remembered library
    assert "我的资料" in at.caption[0].value and str(mine.corpus) in at.caption[0].value
    longjing = (UPLOADS / "longjing.md").read_bytes()
    at.file_uploader[0].set_value([("西湖 龙井?.md", longjing, "text/markdown"), ("empty.txt", b"", "text/plain")])
    at.run()
    at.button(key="add").click().run()
    assert not at.exception, at.exception
    assert any("empty.txt was not added" in error.value and "empty" in error.value for error in at.error)
    assert any("Added “西湖龙井茶” (stored as 西湖_龙井.md)" in s.value for s in at.success)
    assert "西湖_龙井.md" in list(documents_table(at)["file"])
    stored = data_dir / "libraries" / "我的资料" / "corpus" / "西湖_龙井.md"  # in the user's data folder
    assert stored.read_bytes() == longjing
    assert_bundled_corpus_untouched()

    at.switch_page("ui/pages/ask.py").run()
    assert at.caption[0].value.startswith("Library 我的资料 · 4 documents")
    ask(at, "龙井茶产自哪里？")
    assert card_docs(at)[0] == "西湖_龙井.md"

    at.switch_page(LIBRARY).run()
    at.selectbox(key="drop-doc").set_value("西湖_龙井.md").run()
    assert at.button(key="drop").disabled  # not before confirming
    at.checkbox(key="drop-sure").check().run()
    at.button(key="drop").click().run()
    assert any("Removed 西湖_龙井.md" in s.value for s in at.success)
    assert "西湖_龙井.md" not in list(documents_table(at)["file"])
    assert not stored.exists()
    assert "西湖_龙井.md" not in mine.manifest()["documents"]
    assert_bundled_corpus_untouched()


def test_libraries_are_created_switched_and_deleted_in_the_app(mine, data_dir):
    at = start(LIBRARY)
    at.text_input(key="new-library-name-0").input("税务 2024").run()
    at.text_input(key="new-library-description-0").input("tax notes").run()
    at.button(key="create-library").click().run()
    assert not at.exception, at.exception
    assert any("Created the library 税务 2024" in s.value for s in at.success)
    assert at.sidebar.selectbox(key="library").value == "税务 2024"  # the new library is the current one
    assert at.sidebar.selectbox(key="library").options == ["sample (sample, read-only)", "我的资料", "税务 2024"]
    folder = data_dir / "libraries" / "税务 2024"
    assert json_of(folder / "library.json")["description"] == "tax notes"
    assert any("no documents yet" in info.value for info in at.info)
    assert libraries.remembered(data_dir) == "税务 2024"

    at.switch_page("ui/pages/ask.py").run()
    assert any("税务 2024 library has no documents yet" in info.value for info in at.info)
    assert not at.main.text_input  # nothing to ask yet (the sidebar holds the language-model settings)

    at.switch_page(LIBRARY).run()  # the first upload builds the new library's index
    at.file_uploader[0].set_value([("龙井.md", (UPLOADS / "longjing.md").read_bytes(), "text/markdown")]).run()
    at.button(key="add").click().run()
    assert not at.exception, at.exception
    assert list(documents_table(at)["file"]) == ["龙井.md"]
    assert (folder / "corpus" / "龙井.md").exists() and (folder / "index" / CURRENT).exists()

    at.sidebar.selectbox(key="library").set_value("我的资料").run()  # switch in the sidebar
    assert sorted(documents_table(at)["file"]) == ["law.md", "notes.txt", "reprint.txt"]
    assert libraries.remembered(data_dir) == "我的资料"
    at.switch_page("ui/pages/ask.py").run()
    ask(at, "龙井茶产自哪里？")
    assert "龙井.md" not in card_docs(at)  # every page uses the current library's index

    at.switch_page(LIBRARY).run()
    at.selectbox(key="open-library").set_value("税务 2024").run()
    at.button(key="open-library-button").click().run()  # and switch on the Library page
    assert at.sidebar.selectbox(key="library").value == "税务 2024"
    at.selectbox(key="delete-library").set_value("税务 2024").run()
    assert at.button(key="delete-library-button").disabled  # not before confirming
    at.checkbox(key="delete-library-sure").check().run()
    at.button(key="delete-library-button").click().run()
    assert not at.exception, at.exception
    assert any("Deleted the library 税务 2024" in s.value for s in at.success)
    assert not folder.exists()
    assert at.sidebar.selectbox(key="library").value == "sample"  # it was the current one
    assert at.sidebar.selectbox(key="library").options == ["sample (sample, read-only)", "我的资料"]
    assert_bundled_corpus_untouched()


def test_the_sample_library_is_read_only():
    at = start(LIBRARY)
    assert at.sidebar.selectbox(key="library").value == "sample"
    assert "(the bundled sample, read-only)" in at.caption[0].value
    read_only = [info.value for info in at.info if "sample library is read-only" in info.value]
    assert len(read_only) == 2 and "Create a library" in read_only[0]  # the Add and the Remove tabs
    assert not at.file_uploader and not [button for button in at.button if button.key in {"add", "drop"}]
    assert not [box for box in at.selectbox if box.key == "delete-library"]  # only the user's can be deleted
    at.text_input(key="new-library-name-0").input("sample").run()
    at.button(key="create-library").click().run()
    assert any("built-in sample library" in error.value for error in at.error)
    assert_bundled_corpus_untouched()


def test_an_index_given_at_start_is_used_as_is_without_library_changes(shared):
    at = start(LIBRARY)
    assert [tab.label for tab in at.tabs] == ["Read a document", "Add documents", "Remove a document"]
    given = [info.value for info in at.info if "given when the app started" in info.value]
    assert len(given) == 2 and "use a library" in given[0]
    assert not at.file_uploader and not [box for box in at.sidebar.selectbox if box.key == "library"]
    assert any(str(shared) in markdown.value and "given at start" in markdown.value for markdown in at.sidebar.markdown)
    assert sorted(documents_table(at)["file"]) == ["law.md", "notes.txt", "reprint.txt"]


def test_an_unknown_library_asked_for_falls_back_to_the_sample_with_a_warning(monkeypatch):
    monkeypatch.setattr("sys.argv", ["app.py", "--library", "不存在"])
    at = start()
    assert at.sidebar.selectbox(key="library").value == "sample"
    assert any("no library named 不存在" in warning.value for warning in at.sidebar.warning)


def json_of(path: Path) -> dict:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- Evaluate


def test_evaluate_bundled_set_with_two_configurations(shared):
    at = start(EVALUATE)
    assert "40 questions" in at.caption[1].value
    at.multiselect(key="configs").set_value(["dense", "full"]).run()
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    metrics = at.dataframe[0].value
    assert set(metrics["configuration"]) == {"dense", "full"}
    assert {"all", "zh", "en"} <= set(metrics["group"]) and any(g.startswith("type:") for g in metrics["group"])
    assert {"hit@1", "hit@5", "mrr@10", "ndcg@10"} <= set(metrics.columns)
    assert at.get("vega_lite_chart")  # the bar chart by language and type
    failures = at.dataframe[1].value  # the fixture corpus answers almost none of the bundled questions
    assert len(failures) > 30 and set(failures.columns) >= {"question", "expected evidence", "retrieved instead"}
    assert failures["retrieved instead"].str.startswith("[1] ").all()
    assert any("no passage of this index" in info.value for info in at.info)


def test_evaluate_says_what_it_waits_for_before_the_metrics(shared, monkeypatch):
    """Should the metrics library still be compiling when an evaluation starts, the page says so first."""
    monkeypatch.setattr(core, "metrics_warmup", lambda: core.Background("metrics", lambda: time.sleep(1)))
    at = start(EVALUATE)
    at.radio(key="set").set_value("Upload a question set").run()
    at.file_uploader(key="set-upload").set_value(("ui.jsonl", QUESTIONS.read_bytes(), "application/json")).run()
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    [status] = at.status
    assert status.label == "Metrics library ready." and status.state == "complete"
    kinds = [child.type for child in at.main.children.values()]
    assert kinds.index("status") < kinds.index("subheader")  # the message, then the metrics
    assert at.dataframe[0].value.set_index("group").loc["all", "hit@5"] == 0.75


def test_the_metrics_library_compiles_in_the_background_from_the_first_page_view(shared):
    from ranx.data_structures import common

    start()
    warmup = core.metrics_warmup()  # the one the app started (one per server process)
    assert warmup is core.metrics_warmup()
    assert warmup.wait(timeout=TIMEOUT) and warmup.error is None
    compiled = [str(signature) for signature in common.create_and_sort.signatures]
    assert any("UnicodeCharSeq(10)" in signature for signature in compiled), compiled  # the ids scores use


def test_evaluate_an_uploaded_gold_set(shared):
    at = start(EVALUATE)
    at.radio(key="set").set_value("Upload a question set").run()
    at.file_uploader(key="set-upload").set_value(("ui.jsonl", QUESTIONS.read_bytes(), "application/json")).run()
    assert "4 questions (4 answerable)" in at.caption[1].value
    at.button(key="run").click().run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.set_index("group").loc["all", "hit@5"] == 0.75
    failures = at.dataframe[1].value
    assert list(failures["id"]) == ["ui4"]  # the tea document is not in this index
    at.file_uploader(key="set-upload").set_value(("bad.jsonl", b"{not json", "application/json")).run()
    assert "cannot be used" in at.error[0].value


# ---------------------------------------------------------------- question sets (pure)


def beir_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (FIXTURES / "beir").rglob("*"):
            if path.is_file():
                archive.write(path, "mini/" + path.relative_to(FIXTURES / "beir").as_posix())
        archive.writestr("../evil.txt", "outside")
    return buffer.getvalue()


def test_beir_sets_upload_as_zip_or_files_and_run_on_their_own_index(tmp_path):
    from tests.e2e.support import encoder

    as_zip = evaluation.read_question_upload([("mini.zip", beir_zip())])
    files = [(p.name, p.read_bytes()) for p in sorted((FIXTURES / "beir").rglob("*")) if p.is_file()]
    as_files = evaluation.read_question_upload(files)
    assert [q.id for q in as_zip.questions] == [q.id for q in as_files.questions] == ["q1", "q2", "q3"]
    assert as_zip.questions[2].relevant_docs == (("d%002f3.txt", 1),)  # named as the indexed files are
    assert "3 documents" in as_zip.describe()
    directory = evaluation.beir_index(as_zip.beir, encoder(), cache=tmp_path)
    from index.passage_index import PassageIndex
    from index.search import Searcher

    searcher = Searcher(PassageIndex.load(directory), encoder())
    [result] = evaluation.run_evaluation(searcher, as_zip.questions, ["full"], k=3)
    assert result.metrics["all"]["hit_rate@3"] == 1.0
    assert evaluation.metrics_rows([result])[0]["questions"] == 3


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "No file"),
        ([("x.zip", b"not a zip")], "not a readable zip"),
        ([("notes.txt", b"hello")], "upload one gold .jsonl"),
        ([("queries.jsonl", b'{"_id": "q", "text": "t"}\n')], "corpus.jsonl is missing"),
        ([("gold.jsonl", b"\xff\xfe\x00bad")], "not"),
    ],
)
def test_unusable_question_sets_are_refused_with_a_reason(files, message):
    with pytest.raises(evaluation.BadQuestionSet, match=message):
        evaluation.read_question_upload(files)
