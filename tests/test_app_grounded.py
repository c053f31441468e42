"""The Ask page's grounded answers (issue 16) through Streamlit's AppTest, against a real llama.cpp server on
loopback (tests/llm_server.py) and the real fixture index; and ui/grounded.py's fragments.

What is proven: with an endpoint named by the environment the page shows the model's answer with a ✓/✗ row per
sentence and [n] links to the cards, and the cards; a question the documents do not answer is said plainly in
its language and no request reaches the server (counted at a proxy); with no endpoint the page is the extractive
one of today; a bad endpoint is one error line and the cards still show; the key is never on the page.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest

from index import settings
from index.generate.check import SentenceCheck, Support
from index.generate.endpoint import NoEndpoint
from tests.e2e.support import PROJECT, shared_index
from tests.llm_server import (
    CountingProxy,
    free_port,
    llm_server_fixture,  # noqa: F401  (registers the session fixture llm_server)
)
from ui import grounded

APP = str(PROJECT / "app.py")
TIMEOUT = 300  # the first run loads the embedding model; an answer of 48 tokens on 2 loaded cores
ANSWERABLE = "截至2022年6月，中国建成了多少5G基站？"  # the 0.5B model writes a sentence for it
ANSWERABLE_EN = "How many 5G base stations had China built?"
UNANSWERABLE = "如何做红烧肉？"
ENV = ("CITELENS_LLM_URL", "CITELENS_LLM_MODEL", "CITELENS_LLM_KEY", "CITELENS_LLM_MAX_TOKENS")


@pytest.fixture(autouse=True)
def shared(monkeypatch):
    index = shared_index()
    monkeypatch.setenv("CITELENS_INDEX", str(index))
    monkeypatch.setenv(settings.ENV_SAMPLE_INDEX, str(index))
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return index


def endpoint(monkeypatch, llm, max_tokens: int = 48) -> None:
    monkeypatch.setenv("CITELENS_LLM_URL", llm.url)
    monkeypatch.setenv("CITELENS_LLM_MODEL", llm.model)
    monkeypatch.setenv("CITELENS_LLM_KEY", llm.key)
    monkeypatch.setenv("CITELENS_LLM_MAX_TOKENS", str(max_tokens))


def ask(question: str, k: int = 3) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    at.slider(key="k").set_value(k).run()
    at.text_input(key="question").input(question).run()
    assert not at.exception, at.exception
    return at


def html(at: AppTest) -> list[str]:
    return [element.value for element in at.html]


def grounded_block(at: AppTest) -> str:
    return next(body for body in html(at) if 'class="cl-grounded' in body)


def cards(at: AppTest) -> list[str]:
    return [body for body in html(at) if 'class="cl-card-head"' in body]


def everything_shown(at: AppTest) -> str:
    """Every text of the page a reader (or the browser) gets, widgets' values included."""
    parts = [str(e.value) for kind in ("html", "markdown", "caption", "error", "warning", "info", "code", "title")
             for e in getattr(at, kind)]  # fmt: skip
    parts += [str(e.value) for e in at.text_input] + [str(e.placeholder) for e in at.text_input]
    parts += [str(e.label) for e in at.button]
    return "\n".join(parts)


@pytest.mark.parametrize("question", [ANSWERABLE, ANSWERABLE_EN])
def test_an_answer_is_written_checked_and_linked_to_the_cards(monkeypatch, llm_server, question):
    endpoint(monkeypatch, llm_server)
    at = ask(question)
    block = grounded_block(at)
    assert "cl-checked" in block, block  # the check replaced the streamed text
    rows = re.findall(r'<div class="cl-gsent (cl-ok|cl-bad)"', block)
    assert rows, block  # one row per sentence…
    marks = re.findall(r'<span class="cl-mark"[^>]*>(.)</span>', block)
    assert len(marks) == len(rows) and set(marks) <= {"✓", "✗"}  # …each with its mark
    assert all((kind == "cl-ok") == (mark == "✓") for kind, mark in zip(rows, marks, strict=True))
    text = re.sub(r"<[^>]+>", "", block)
    if question == ANSWERABLE:
        assert re.search(r"[\u4e00-\u9fff]", text)  # asked in Chinese, answered in Chinese
    assert re.search(r"\d+ of \d+ sentences? supported", text)
    assert len(cards(at)) >= 2  # the cards stay
    for target in re.findall(r'<a class="cl-ref" href="#(card-\d+)"', block):  # every [n] link names a card
        assert any(f'id="{target}"' in card for card in cards(at)), target
    assert not [
        body for body in html(at) if body.startswith('<div class="cl-answer')
    ]  # the written answer replaces the summary
    assert not at.error
    assert llm_server.key not in everything_shown(at)


def test_an_unanswerable_question_is_said_plainly_and_never_sent(monkeypatch, llm_server):
    with CountingProxy(llm_server) as proxy:
        endpoint(monkeypatch, proxy.settings)
        at = ask(UNANSWERABLE)
        block = grounded_block(at)
        assert "cl-not-asked" in block
        assert "文档中没有能回答这个问题的内容，因此没有询问语言模型。" in block  # in the question's language
        assert cards(at)  # the closest passages are still there to check
        assert proxy.requests == []  # not one request reached the server


def test_an_english_unanswerable_question_is_said_in_english(monkeypatch, llm_server):
    with CountingProxy(llm_server) as proxy:
        endpoint(monkeypatch, proxy.settings)
        block = grounded_block(ask("How do I cook braised pork belly?"))
        assert "The documents do not answer this question, so the language model was not asked." in block
        assert proxy.requests == []


def test_without_an_endpoint_the_page_is_as_before(monkeypatch):
    at = ask(ANSWERABLE)
    assert not [body for body in html(at) if "cl-grounded" in body]
    summary = next(body for body in html(at) if body.startswith('<div class="cl-answer'))
    assert "Answer from the documents" in summary and 'href="#card-1"' in summary
    assert cards(at) and not at.error
    assert at.text_input(key="llm-url").value == ""


def test_a_bad_endpoint_is_one_error_line_and_the_cards_still_show(monkeypatch, llm_server):
    closed = llm_server.__class__(url=f"http://127.0.0.1:{free_port()}/v1", model="m", key=llm_server.key)
    endpoint(monkeypatch, closed)
    at = ask(ANSWERABLE)
    assert len(at.error) == 1
    message = at.error[0].value
    assert "\n" not in message and "Cannot reach the language-model endpoint" in message, message
    assert len(cards(at)) >= 2
    assert llm_server.key not in everything_shown(at)


def test_settings_that_cannot_work_are_one_error_line_and_the_extractive_answer_stays(monkeypatch):
    monkeypatch.setenv("CITELENS_LLM_URL", "localhost:8080")  # no scheme
    monkeypatch.setenv("CITELENS_LLM_MODEL", "m")
    at = ask(ANSWERABLE)
    assert len(at.error) == 1 and "http://" in at.error[0].value
    assert any(body.startswith('<div class="cl-answer') for body in html(at)) and cards(at)


def test_a_refused_key_typed_in_the_sidebar_is_never_shown(monkeypatch, llm_server):
    endpoint(monkeypatch, llm_server)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert at.text_input(key="llm-key").value == ""  # the environment's key is not put into the field
    wrong = "sk-wrong-" + "7" * 20
    at.text_input(key="llm-key").input(wrong).run()
    at.text_input(key="question").input(ANSWERABLE).run()
    assert len(at.error) == 1 and "refused" in at.error[0].value, [e.value for e in at.error]
    shown = "\n".join(str(e.value) for kind in ("html", "markdown", "caption", "error") for e in getattr(at, kind))
    assert wrong not in shown and llm_server.key not in shown
    assert cards(at)


# ---------------------------------------------------------------- ui/grounded.py (no server)


def hits(n: int):
    return [SimpleNamespace(rank=rank) for rank in range(1, n + 1)]


def test_settings_from_fields():
    assert grounded.settings_from_fields("", "", "", {}) is None  # off
    settings = grounded.settings_from_fields(" http://h:1/v1/ ", "m", "", {"CITELENS_LLM_KEY": "env-key"}, 64)
    assert (settings.url, settings.model, settings.key, settings.max_tokens) == ("http://h:1/v1", "m", "env-key", 64)
    assert grounded.settings_from_fields("http://h:1/v1", "m", "typed", {"CITELENS_LLM_KEY": "env"}).key == "typed"
    with pytest.raises(NoEndpoint):
        grounded.settings_from_fields("http://h:1/v1", "", "", {})
    with pytest.raises(NoEndpoint):
        grounded.settings_from_fields("", "m", "", {})


def test_checked_html_marks_links_and_escapes():
    ok = SentenceCheck("数据安全法<b>已施行</b>。", [1, 3], True, Support(1, "《数据安全法》施行。", 0.91))
    bad = SentenceCheck("It has 9 laws.", [7], False, None, ["cites [7]: there are 3 passages"])
    none = SentenceCheck("文中没有提到。", [], True, None, [], no_answer=True)
    result = SimpleNamespace(sentences=[ok, bad, none], text="", model="m")
    page = grounded.checked_html(result, hits(3), "q")
    assert page.count('<span class="cl-mark"') == 3 and page.count("✓") == 2 and page.count("✗") == 1
    assert '<a class="cl-ref" href="#card-1"' in page and '<a class="cl-ref" href="#card-3"' in page
    assert '<span class="cl-badref"' in page and "[7]" in page  # a number naming no passage: no link
    assert "&lt;b&gt;" in page and "<b>" not in page  # the model's text is shown, never interpreted
    assert "cites [7]: there are 3 passages" in page
    assert "Closest sentence of [1] (similarity 0.91): 《数据安全法》施行。" in page  # the hover
    assert "1 of 2 sentences supported" in page  # the no-answer sentence is no claim


def test_streaming_html_escapes_and_shows_the_cursor():
    page = grounded.streaming_html("<script>x</script> [1]", "q", "m")
    assert "<script>" not in page and grounded.CURSOR in page and "[1]" in page
    assert grounded.CURSOR not in grounded.streaming_html("done", "q", "m", done=True)


def test_evaluate_page_shows_the_answers_beside_the_retrieval_metrics(monkeypatch, llm_server):
    endpoint(monkeypatch, llm_server, max_tokens=32)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("ui/pages/evaluate.py").run()
    at.number_input(key="answers-limit").set_value(1).run()
    at.button(key="run").click().run(timeout=900)
    assert not at.exception, at.exception
    frames = [frame.value for frame in at.dataframe]
    answers = next(frame for frame in frames if "citation precision" in frame.columns)
    assert list(answers["model"]) == [llm_server.model] and list(answers["asked"]) + list(answers["not asked"])
    assert any("hit@1" in frame.columns or "mrr@10" in frame.columns for frame in frames)  # retrieval, as before
    assert llm_server.key not in everything_shown(at)
