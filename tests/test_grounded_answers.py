"""Grounded answers (index/generate: endpoint, prompt, ask; python -m index ask) against a real model on loopback.

The server is llama.cpp's with a 0.5B GGUF model, both from PyPI (tests/llm_server.py); nothing of the endpoint
is mocked. The tests assert what the code does with the server and with the model's output — streaming, the
language of the prompt on the wire, which questions reach the server (counted at a loopback proxy), the JSON
contract, one-line errors that never hold the key — not what the model knows.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

import pytest

from index.__main__ import main
from index.build import BuildSettings, build_index
from index.generate.ask import Checked, GroundedAnswer, Retrieved, Token, ask, ask_once
from index.generate.endpoint import (
    AuthRefused,
    ChatClient,
    EndpointTimeout,
    EndpointUnreachable,
    LLMError,
    LLMSettings,
    ModelUnknown,
    NoEndpoint,
)
from index.generate.prompt import ENGLISH, SIMPLIFIED, TRADITIONAL, WORDING, answer_language, build_messages
from index.hits import Hit
from index.passage_index import PassageIndex
from index.search import Searcher
from tests.conftest import FIXTURES
from tests.llm_server import (
    CountingProxy,
    free_port,
    llm_server_fixture,  # noqa: F401  (registers the session fixture llm_server)
)

ANSWERABLE = "5G移动电话用户数是多少？"
ANSWERABLE_EN = "How many 5G mobile phone users are there?"
UNANSWERABLE = "火星上有多少座火山？"
K = 2  # two short passages: a prompt of a few hundred tokens, answered in seconds on 2 cores


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, encoder):
    directory = tmp_path_factory.mktemp("grounded-index")
    settings = BuildSettings(max_tokens=64, overlap_tokens=8)
    build_index(FIXTURES / "corpus_small", directory, encoder, settings, progress=False)
    return directory


@pytest.fixture(scope="module")
def searcher(index_dir, encoder) -> Searcher:
    return Searcher(PassageIndex.load(index_dir), encoder)


@pytest.fixture
def same_searcher(searcher):
    """This module's searcher, over the index the CLI opens too (the CLI loads its own encoder: nothing patched)."""
    return searcher


@pytest.fixture
def no_llm_env(monkeypatch):
    for name in ("CITELENS_LLM_URL", "CITELENS_LLM_MODEL", "CITELENS_LLM_KEY"):
        monkeypatch.delenv(name, raising=False)


def hit(rank: int, text: str, title: str = "网络安全法律体系", section=("一、法律框架",)) -> Hit:
    return Hit(rank, 1.0, f"c{rank}", "law.md", title, section, rank, rank, text, 0, len(text), date="2022-11-07")


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    """The one ``error:`` line of a failed command (jieba may have said it was loading its dictionary before)."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert err.rstrip("\n").endswith(errors[0])  # the last thing said
    return errors[0]


# --- no server: the prompt and the settings -------------------------------------------------------------------


def test_answer_language_follows_the_question_as_written():
    assert answer_language("数据安全法什么时候施行？") == SIMPLIFIED
    assert answer_language("資料安全法什麼時候施行？") == TRADITIONAL
    assert answer_language("When did the Data Security Law take effect?") == ENGLISH
    assert answer_language("What does 数据安全法 say about exports?") == ENGLISH  # English words outweigh 5 characters
    assert answer_language("GDPR和个人信息保护法有什么区别？") == SIMPLIFIED
    assert answer_language("2022?") == ENGLISH


def test_prompt_numbers_the_passages_with_their_citations_in_the_questions_language():
    hits = [hit(1, "制定《个人信息保护法》，保护个人信息权益。"), hit(2, "中国发布《全球数据安全倡议》。")]
    english = build_messages("Which law protects personal information?", hits)
    assert [m["role"] for m in english] == ["system", "user"]
    assert english[0]["content"] == WORDING[ENGLISH].system
    assert "Answer in English" in english[0]["content"] and "[1]" in english[0]["content"]
    user = english[1]["content"]
    assert f"[1] {hits[0].citation}\n{hits[0].text}" in user and f"[2] {hits[1].citation}\n{hits[1].text}" in user
    assert user.index("[1]") < user.index("[2]") < user.index("Question: Which law protects personal information?")

    chinese = build_messages("哪部法律保护个人信息？", hits)
    assert chinese[0]["content"] == WORDING[SIMPLIFIED].system and "简体中文" in chinese[0]["content"]
    assert chinese[1]["content"].startswith("资料：") and chinese[1]["content"].endswith("问题：哪部法律保护个人信息？")
    assert not any(word in chinese[0]["content"] for word in ("Answer", "passages", "English"))

    traditional = build_messages("哪部法律保護個人資訊？", hits)
    assert traditional[0]["content"] == WORDING[TRADITIONAL].system and "繁體中文" in traditional[0]["content"]
    assert traditional[1]["content"].endswith("問題：哪部法律保護個人資訊？")


def test_settings_come_from_flags_then_environment_and_the_key_is_never_shown():
    secret = "sk-live-DO-NOT-SHOW-123456"
    environ = {"CITELENS_LLM_URL": "http://env:1/v1", "CITELENS_LLM_MODEL": "env-model", "CITELENS_LLM_KEY": secret}
    settings = LLMSettings.from_env(environ)
    assert (settings.url, settings.model, settings.key, settings.temperature) == (
        "http://env:1/v1",
        "env-model",
        secret,
        0,
    )
    flagged = LLMSettings.from_env(environ, url="http://flag:2/v1/", model="flag-model", key="")
    assert (flagged.url, flagged.model, flagged.key) == ("http://flag:2/v1", "flag-model", "")
    assert LLMSettings.from_env({}) is None  # off by default: the extractive answer stays
    for shown in (repr(settings), str(settings), json.dumps(settings.to_json()), repr(ChatClient(settings))):
        assert secret not in shown
    assert settings.to_json()["key_set"] is True
    assert settings.scrub(f"bad key {secret}\nsecond line") == "bad key *** second line"
    with pytest.raises(NoEndpoint, match="no endpoint"):
        LLMSettings.from_env({"CITELENS_LLM_MODEL": "m"})
    with pytest.raises(NoEndpoint, match="http"):
        LLMSettings(url="localhost:11434", model="m")
    with pytest.raises(NoEndpoint, match="No language model named"):
        LLMSettings(url="http://localhost:11434/v1", model=" ")


def test_ask_without_an_endpoint_is_one_line_and_exit_2(capsys, no_llm_env, index_dir):
    code, out, err = run_cli(["ask", ANSWERABLE, "--index", str(index_dir)], capsys)
    assert code == 2 and out == ""
    assert error_line(err).startswith("error: No language-model endpoint configured")


def test_unreachable_endpoint_is_one_line_without_the_key(capsys, monkeypatch, no_llm_env, same_searcher, index_dir):
    secret = "sk-unreachable-SECRET-9876"
    monkeypatch.setenv("MY_LLM_KEY", secret)
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    argv = [
        "ask",
        ANSWERABLE,
        "--llm-url",
        url,
        "--model",
        "m",
        "--llm-key-env",
        "MY_LLM_KEY",
        "--index",
        str(index_dir),
    ]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert error_line(err).startswith(f"error: Cannot reach the language-model endpoint {url}")
    assert secret not in out + err
    with pytest.raises(EndpointUnreachable) as raised:
        ChatClient(LLMSettings(url=url, model="m", key=secret)).complete([{"role": "user", "content": "hi"}])
    assert secret not in str(raised.value) and secret not in repr(raised.value)


# --- against the real server on loopback ----------------------------------------------------------------------


def test_stream_yields_the_answer_piece_by_piece(llm_server, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, the client's and its HTTP library's, at its most talkative
    messages = build_messages(ANSWERABLE_EN, [hit(1, "截至2022年6月，5G移动电话用户数达4.55亿。")])
    started = time.monotonic()
    arrivals = []
    for piece in ChatClient(replace(llm_server, max_tokens=48)).stream(messages):
        arrivals.append((time.monotonic() - started, piece))
    assert len(arrivals) >= 5, arrivals  # many pieces, not one block at the end
    assert all(isinstance(piece, str) and piece for _, piece in arrivals)
    assert arrivals[0][0] < arrivals[-1][0]  # the first piece came before the last was written
    assert caplog.records and llm_server.key not in caplog.text  # logged, but never the key


def test_unanswerable_question_never_reaches_the_server(llm_server, searcher):
    with CountingProxy(llm_server) as proxy:
        events = list(ask(searcher, UNANSWERABLE, proxy.settings, k=K))
        assert proxy.requests == []  # nothing at all reached the server
        assert [type(e) for e in events] == [Retrieved, Checked]
        result = events[-1].result
        assert result.asked is False and result.sentences == [] and not result.search.answerable
        assert result.text == WORDING[SIMPLIFIED].not_answered  # said, in the question's language
        english = ask_once(searcher, "Who won the 1998 football World Cup?", proxy.settings, k=K)
        assert english.asked is False and english.text == WORDING[ENGLISH].not_answered
        assert proxy.requests == []

        # the same proxy counts a question that is sent: the model list once, then one chat request
        asked = list(ask(searcher, ANSWERABLE_EN, replace(proxy.settings, max_tokens=32), k=K))
        assert [path for _, path in proxy.requests] == ["/v1/models", "/v1/chat/completions"]
        assert any(isinstance(e, Token) for e in asked)


def test_the_prompt_on_the_wire_is_in_the_questions_language(llm_server, searcher):
    with CountingProxy(llm_server) as proxy:
        client = ChatClient(replace(proxy.settings, max_tokens=8))
        for question, language in ((ANSWERABLE_EN, ENGLISH), (ANSWERABLE, SIMPLIFIED)):
            hits = searcher.answer(question, k=K).hits
            "".join(client.stream(build_messages(question, hits)))
            body = json.loads(proxy.bodies[-1])
            system, user = body["messages"]
            assert system == {"role": "system", "content": WORDING[language].system}
            assert user["content"].endswith(question) and "[1] " + hits[0].citation in user["content"]
            assert body["stream"] is True and body["temperature"] == 0 and body["model"] == llm_server.model
        assert [path for _, path in proxy.requests].count("/v1/models") == 1  # the model is checked once


def test_ask_streams_tokens_then_the_checked_answer(llm_server, searcher):
    events = list(ask(searcher, ANSWERABLE_EN, replace(llm_server, max_tokens=64), k=K))
    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Checked)
    tokens = [e.text for e in events[1:-1]]
    assert len(tokens) >= 2 and all(isinstance(e, Token) for e in events[1:-1])
    result = events[-1].result
    assert isinstance(result, GroundedAnswer) and result.asked and result.language == ENGLISH
    assert result.text == "".join(tokens).strip()  # the answer is exactly what was streamed
    assert result.search is events[0].answer
    for sentence in result.sentences:
        assert all(isinstance(n, int) for n in sentence.citations)


def test_ask_json_contract(llm_server, capsys, monkeypatch, no_llm_env, index_dir):
    """Through main(argv), fully (no searcher patched): every field present and typed, hits as search --json."""
    monkeypatch.setenv("CITELENS_LLM_KEY", llm_server.key)
    argv = ["ask", ANSWERABLE, "--llm-url", llm_server.url, "--model", llm_server.model, "--index", str(index_dir)]
    code, out, err = run_cli([*argv, "--json", "--k", str(K), "--max-tokens", "64"], capsys)
    assert code == 0, err
    assert out.count("\n") == 1 and llm_server.key not in out + err
    answer = json.loads(out)
    assert answer["question"] == ANSWERABLE and isinstance(answer["answer"], str) and answer["answer"]
    assert answer["asked"] is True and answer["answerable"] is True and isinstance(answer["relevance"], float)
    assert answer["model"] == llm_server.model and answer["language"] == SIMPLIFIED
    for sentence in answer["sentences"]:
        assert isinstance(sentence["text"], str) and isinstance(sentence["supported"], bool)
        assert all(isinstance(n, int) for n in sentence["citations"])
        if sentence["support"] is not None:
            support = sentence["support"]
            assert isinstance(support["rank"], int) and isinstance(support["sentence"], str)
            assert isinstance(support["score"], float)
    code, out, _ = run_cli(["search", ANSWERABLE, "--index", str(index_dir), "--json", "--k", str(K)], capsys)
    assert answer["hits"] == json.loads(out)["hits"]  # exactly the search contract


def test_ask_text_streams_then_marks_and_citations(
    llm_server, capsys, monkeypatch, no_llm_env, same_searcher, index_dir
):
    monkeypatch.setenv("CITELENS_LLM_URL", llm_server.url)
    monkeypatch.setenv("CITELENS_LLM_MODEL", llm_server.model)
    monkeypatch.setenv("CITELENS_LLM_KEY", llm_server.key)
    code, out, err = run_cli(
        ["ask", ANSWERABLE_EN, "--k", str(K), "--max-tokens", "48", "--index", str(index_dir)], capsys
    )
    assert code == 0, err
    assert llm_server.key not in out + err
    hits = same_searcher.answer(ANSWERABLE_EN, k=K).hits
    for number, cited in enumerate(hits, 1):
        assert f"[{number}] {cited.citation}" in out
    marks = [line for line in out.splitlines() if line[:1] in ("✓", "✗")]
    assert all(line[2:3] == "[" or "(no citation)" in line for line in marks)  # each mark, then its [n]
    if marks:
        assert f"of {len(marks)} sentences supported by the passages they cite" in out
    assert out.index("\n\n") < out.index("[1] " + hits[0].citation)  # the streamed text first, then the citations

    code, out, _ = run_cli(["ask", UNANSWERABLE, "--k", str(K), "--index", str(index_dir)], capsys)
    assert code == 0 and "the model was not asked" in out and WORDING[SIMPLIFIED].not_answered in out


@pytest.mark.parametrize("failure", ["model", "timeout", "auth"])
def test_endpoint_errors_are_one_line_exit_2_without_the_key(
    failure, llm_server, capsys, monkeypatch, no_llm_env, same_searcher, index_dir
):
    wrong = "sk-wrong-SECRET-5555"
    key = wrong if failure == "auth" else llm_server.key
    monkeypatch.setenv("CITELENS_LLM_KEY", key)
    model = "no-such-model" if failure == "model" else llm_server.model
    argv = ["ask", ANSWERABLE, "--llm-url", llm_server.url, "--model", model, "--k", str(K), "--index", str(index_dir)]
    if failure == "timeout":
        argv += ["--llm-timeout", "0.001"]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    expected = {
        "model": "has no model 'no-such-model' (it serves: qwen2.5-coder-0.5b-instruct)",
        "timeout": "did not answer within 0.001 s (timeout)",
        "auth": "refused the request (401) with the key given",
    }[failure]
    assert expected in error_line(err)
    assert key not in out + err and llm_server.key not in out + err
    error_type = {"model": ModelUnknown, "timeout": EndpointTimeout, "auth": AuthRefused}[failure]
    settings = replace(llm_server, model=model, key=key, timeout=0.001 if failure == "timeout" else 60)
    with pytest.raises(error_type) as raised:
        ChatClient(settings).complete(build_messages(ANSWERABLE, []))
    assert isinstance(raised.value, LLMError) and key not in f"{raised.value!s}{raised.value!r}"
