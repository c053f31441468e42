"""The citation check (index/generate/check.py) and its measurement (python -m eval.citations)."""

from __future__ import annotations

import json

import pytest

from eval.citations.measure import Outcome, choose_threshold, figures, hits_of, passage_translator, read_set
from index.generate.check import CheckConfig, answer_sentences, check_answer, is_no_answer
from index.generate.check_facts import chinese_numeral_value, sentence_facts

PASSAGES = [
    {
        "rank": 1,
        "text": "信息基础设施建设规模日益扩大。截至2022年6月，中国网民规模达10.51亿，互联网普及率提升到74.4%。"
        "截至2022年6月，中国累计建成开通5G基站185.4万个，5G移动电话用户数达4.55亿，建成全球规模最大5G网络。",
    },
    {
        "rank": 2,
        "text": "北斗三号全球卫星导航系统建成开通。2020年7月，北斗三号全球卫星导航系统正式开通，向全球提供服务。"
        "2021年，中国卫星导航与位置服务总体产业规模达到4690亿元。",
    },
    {
        "rank": 3,
        "text": "芙蓉洞位于重庆武隆县江口镇的芙蓉江畔，距武隆县城20公里。芙蓉洞于1993被发现，1994年对游人开放。"
        "芙蓉洞全长2846米，以竖井众多、洞穴沉积物类型齐全著称。",
    },
]


@pytest.fixture(scope="module")
def translator():
    return passage_translator([{"passages": PASSAGES}])


@pytest.fixture(scope="module")
def check(encoder, translator):
    def run(answer: str, config: CheckConfig | None = None):
        return check_answer(answer, hits_of(PASSAGES), encoder, translator, config)

    return run


# Sentences and markers


def test_sentences_close_with_their_markers():
    answer = (
        "中国于2021年制定了数据安全法。[1][3]第二句说的是别的【2】。"
        "China passed it in 2021 [1]. The U.S. did not [2, 3]."
    )
    assert answer_sentences(answer) == [
        ("中国于2021年制定了数据安全法。", [1, 3]),
        ("第二句说的是别的。", [2]),
        ("China passed it in 2021.", [1]),
        ("The U.S. did not.", [2, 3]),
    ]


def test_marker_forms():
    assert answer_sentences("范围 [1-3]。全角［１］［２］。重复[2][2]。") == [
        ("范围。", [1, 2, 3]),
        ("全角。", [1, 2]),
        ("重复。", [2]),
    ]
    assert answer_sentences("It grew 1.2 billion [1,2]") == [("It grew 1.2 billion", [1, 2])]
    assert answer_sentences("没有引用。") == [("没有引用。", [])]
    # a semicolon does not end an answer sentence: both halves cite what the sentence ends with
    assert answer_sentences("A是1；B是2。[1][2]") == [("A是1；B是2。", [1, 2])]


def test_facts_read_across_scripts_and_scales():
    assert chinese_numeral_value("二〇二一") == 2021
    assert chinese_numeral_value("四万八千") == 48000
    assert chinese_numeral_value("三千五百") == 3500
    facts = {(f.kind, f.value) for f in sentence_facts("About 1.2 billion users, 74.4% of them, in June 2021.")}
    assert {("number", 1.2e9), ("percent", 74.4), ("year", 2021.0), ("number", 6.0)} <= facts


def test_no_answer_sentences_are_recognised():
    for sentence in (
        "The passages do not say.",
        "文中没有提到。",
        "None of the passages mention it.",
        "无法从材料中确定。",
    ):
        assert is_no_answer(sentence), sentence
    assert not is_no_answer("The law does not apply to individuals.")
    assert not is_no_answer("该法未规定罚款数额。")


# Each unsupported kind on a small fixture


def test_supported_paraphrase_and_translation(check):
    zh, en, multi = check(
        "截至2022年6月，中国网民规模达到10.51亿，互联网普及率为74.4%。[1] "
        "As of June 2022, China had 1.051 billion internet users and 1.854 million 5G base stations [1]. "
        "北斗三号于2020年7月正式开通，芙蓉洞全长2846米。[2][3]"
    )
    assert zh.supported and zh.support.rank == 1, zh
    assert en.supported and en.support.rank == 1, en
    assert multi.supported and not multi.problems, multi


def test_wrong_number(check):
    (result,) = check("截至2022年6月，中国网民规模达11.51亿。[1]")
    assert not result.supported
    assert "11.51亿 is not in [1]" in result.problems


def test_wrong_number_in_english(check):
    (result,) = check("China had 1.954 million 5G base stations by June 2022 [1].")
    assert not result.supported
    assert any(p.startswith("1.954 million is not in") for p in result.problems)


def test_swapped_years(check):
    (result,) = check("芙蓉洞于1994年被发现，1993年对游人开放。[3]")
    assert not result.supported
    assert "1994 and 1993 are the other way round in [3]" in result.problems


def test_nonexistent_citation(check):
    (result,) = check("截至2022年6月，中国网民规模达10.51亿。[7]")
    assert not result.supported and result.support is None
    assert result.problems == ["cites [7]: there are 3 passages"]


def test_no_citation(check):
    (result,) = check("芙蓉洞全长2846米。")
    assert not result.supported
    assert result.problems == ["cites nothing"]


def test_wrong_citation(check):
    (result,) = check("芙蓉洞于1993年被发现，全长2846米。[1]")
    assert not result.supported
    assert any("is not in [1]" in p for p in result.problems)
    assert any("does not say this" in p for p in result.problems), "the similarity objects too"


def test_wrong_citation_without_numbers_is_a_similarity_matter(check):
    """No fact to miss: only the similarity to the cited passage can tell."""
    (right,) = check("芙蓉洞以竖井众多、洞穴沉积物类型齐全著称。[3]")
    (wrong,) = check("芙蓉洞以竖井众多、洞穴沉积物类型齐全著称。[2]")
    assert right.supported
    assert wrong.support.score < right.support.score
    assert not wrong.supported and "[2] does not say this" in wrong.problems[0]


def test_no_answer_sentence_needs_no_citation(check):
    claim, statement = check("中国网民规模达10.51亿。[1] The passages do not say how many there were in 2023.")
    assert claim.supported
    assert statement.no_answer and statement.supported and not statement.problems and statement.support is None


def test_one_embedding_call_per_answer(encoder, translator):
    calls = []

    class Counting:
        def encode_passages(self, texts):
            calls.append(len(texts))
            return encoder.encode_passages(texts)

    check_answer("网民规模达10.51亿。[1] 北斗三号于2020年7月开通。[2][1]", hits_of(PASSAGES), Counting(), translator)
    assert len(calls) == 1


# The measurement


def _outcome(label: str, score: float | None, fact: bool = False, citation: bool = False, no_answer: bool = False):
    item = {"id": "x", "label": label, "kind": label, "lang": "zh"}
    return Outcome(item, no_answer, citation, fact, score, 0.0)


def test_figures_are_computed_correctly():
    outcomes = [
        _outcome("supported", 0.9),  # passed: right
        _outcome("supported", 0.7),  # flagged by the threshold .8: a false alarm
        _outcome("unsupported", 0.6),  # flagged: right
        _outcome("unsupported", 0.95, fact=True),  # flagged by its fact: right
        _outcome("unsupported", 0.9),  # passed: missed
        _outcome("no_answer", None, no_answer=True),  # never flagged
    ]
    f = figures(outcomes, 0.8)
    unsupported, supported = f["all"]["unsupported"], f["all"]["supported"]
    assert (unsupported["precision"], unsupported["recall"]) == (round(2 / 3, 4), round(2 / 3, 4))
    # passed: the .9 supported, the missed one and the no-answer sentence; 2 of them rightly
    assert (supported["precision"], supported["recall"]) == (round(2 / 3, 4), round(2 / 3, 4))
    assert f["kinds"]["no_answer"]["rate"] == 1.0
    assert figures(outcomes, 0.8, similarity=False)["all"]["unsupported"]["recall"] == round(1 / 3, 4)
    # the best mean F1 flags the .6 alone: flagging the supported .7 too costs more than it gains
    threshold, least_overlap = choose_threshold(outcomes)
    assert 0.6 < threshold <= 0.7 and least_overlap == 0.0


def test_labelled_set_is_bundled_and_split():
    items = read_set()
    assert 150 <= len(items) <= 300
    assert {item["split"] for item in items} == {"dev", "heldout", "fresh"}
    splits_of_scene = {}
    for item in items:
        splits_of_scene.setdefault(item["scene"], set()).add(item["split"])
    assert all(len(splits) == 1 for splits in splits_of_scene.values()), "scenes are split whole"
    assert {"corpus", "cmrc", "drcd"} <= {i["source"] for i in items}
    assert {i["lang"] for i in items} == {"zh", "en"}


def test_measurement_runs_on_a_slice(tmp_path, capsys):
    from eval.citations.__main__ import main

    assert main(["--encoder", "e5", "--limit", "4", "--threshold", "0.8", "--json", "--out", str(tmp_path / "c")]) == 0
    report = json.loads(capsys.readouterr().out)
    entry = report["encoders"]["e5"]
    assert report["items"] == {"dev": 4, "heldout": 4, "fresh": 4}
    assert entry["threshold"] == 0.8 and entry["chosen_on"] == "given"
    for split in ("dev", "heldout", "fresh"):
        scores = entry["scores"][split]
        flagged = sum(s["fact_problem"] or s["score"] is None or s["score"] < 0.8 for s in scores)
        assert entry[split]["all"]["unsupported"]["n"] == len(scores) == 4
        passed = entry[split]["all"]["supported"]
        # the slice holds supported items only: recall of "supported" is the share passed
        assert passed["recall"] == round((4 - flagged) / 4, 4)
    assert (tmp_path / "c.md").read_text().startswith("# Citation check")


def test_an_answer_with_no_sentence_is_one_unsupported_row_saying_why():
    """Only markers, or nothing at all: one unsupported row that says so (never an empty, problem-free list)."""
    [markers] = check_answer("[1][2]", [], None, None)
    assert (
        not markers.supported
        and markers.citations == [1, 2]
        and markers.problems == ["the answer holds only citation markers"]
    )
    [empty] = check_answer("  ", [], None, None)
    assert not empty.supported and empty.problems == ["the model wrote nothing"]
