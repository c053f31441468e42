"""One loaded model and index answer questions from many threads at once (as Streamlit's sessions do)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from index.build import BuildSettings, build_index
from index.passage_index import PassageIndex
from index.search import Searcher
from tests.conftest import FIXTURES

QUESTIONS = [
    "中国累计建成开通多少个5G基站？",
    "How many 5G base stations has China built?",
    "哪部法律对个人信息处理活动作出全面规范？",
    "Which law regulates personal information?",
    "粮食产量怎么样？",
    "What did farmers use for sowing?",
    "制止餐饮浪费倡导什么行动？",
    "中國制定了哪些資料安全方面的法律？",
]


def ask_from_threads(
    searcher: Searcher, threads: int, per_thread: int, serial_first: bool = True
) -> tuple[Counter, int, dict]:
    """(errors by kind, answers that differ from the serial ones, the serial answers). ``serial_first``
    False: the threads are the first to ask (the serial answers are taken after)."""

    def answers() -> dict:
        return {q: [(h.chunk_id, h.relevance) for h in searcher.answer(q, k=5).hits] for q in QUESTIONS}

    serial = answers() if serial_first else {}
    errors: Counter = Counter()
    got_all: list[tuple[str, list]] = []
    start = threading.Barrier(threads)

    def work(offset: int) -> None:
        start.wait()  # all threads ask at once
        for i in range(per_thread):
            question = QUESTIONS[(offset + i) % len(QUESTIONS)]
            try:
                got = [(h.chunk_id, h.relevance) for h in searcher.answer(question, k=5).hits]
            except Exception as error:  # the test counts every failure, whatever it is
                errors[f"{type(error).__name__}: {error}"] += 1
                continue
            got_all.append((question, got))

    searcher.encoder.forget_queries()  # every thread encodes: the tokenizer is shared, the cache is not hit
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not any(worker.is_alive() for worker in workers), "a thread did not finish"
    serial = serial or answers()
    return errors, sum(got != serial[question] for question, got in got_all), serial


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder) -> PassageIndex:
    directory = tmp_path_factory.mktemp("concurrent-index")
    build_index(
        FIXTURES / "corpus_dup", directory, encoder, BuildSettings(max_tokens=64, overlap_tokens=8), progress=False
    )
    return PassageIndex.load(directory)


def test_eight_threads_answer_together_without_errors_and_as_one_would(built, encoder):
    searcher = Searcher(built, encoder)
    errors, differ, serial = ask_from_threads(searcher, threads=8, per_thread=25)
    assert not errors and differ == 0
    assert all(serial.values())


def test_an_index_without_a_recorded_background_is_measured_once_for_all_threads(built, encoder):
    built.manifest.pop("background", None)  # as an index saved before backgrounds were recorded
    searcher = Searcher(built, encoder)
    measured = []
    original = searcher.measure_background

    def counting():
        measured.append(threading.get_ident())
        return original()

    searcher.measure_background = counting
    errors, differ, _ = ask_from_threads(searcher, threads=8, per_thread=5, serial_first=False)
    assert not errors and differ == 0  # no thread answered before the background was there
    assert len(measured) == 1 and searcher.background is not None


def test_the_torch_backend_is_safe_from_threads_too(built):
    from index.encoder import Encoder

    searcher = Searcher(built, Encoder(backend="torch"))
    errors, differ, _ = ask_from_threads(searcher, threads=8, per_thread=4)
    assert not errors and differ == 0
