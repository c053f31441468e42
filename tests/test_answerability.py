"""Answerability evidence and its calibration: pure functions, small fixtures (no model)."""

from __future__ import annotations

import json

import pytest

from index.answer_calibration import Background, Calibration, load_calibration
from index.answerability import (
    Evidence,
    answer_slots,
    asked_unit,
    evidence,
    numbers_missing,
    question_terms,
    slot_missing,
)
from index.translate import QueryTranslator

# A tiny collection: keyword token -> passages holding it (100 passages in all).
FREQUENCY = {"网民": 10, "规模": 20, "中国": 90, "互联网": 60, "普及率": 5, "基金": 3, "网络安全": 30, "设立": 8}
PASSAGES = 100


def terms(question: str, translator: QueryTranslator | None = None):
    return question_terms(question, translator, lambda t: FREQUENCY.get(t, 0), PASSAGES, lambda t: [t])


def test_chinese_question_units_leave_out_its_frame_and_weigh_rare_words_most():
    found = terms("请问截至2022年6月，中国网民规模有多少？")
    labels = [unit.label for unit in found.units]
    assert "请问" not in labels and "多少" not in labels and "有" not in labels  # the frame, not the subject
    weights = {unit.label: unit.weight for unit in found.units}
    assert weights["网民"] > weights["规模"] > weights["中国"]  # rarer words say more
    assert found.numbers == ("2022", "6")


def test_words_the_collection_never_holds_are_absent_at_the_highest_weight():
    found = terms("火星探测器是哪一年发射的？")
    assert all(not unit.in_collection for unit in found.units)
    assert found.absent == 1.0
    assert terms("中国网民规模").absent == 0.0


def test_coverage_counts_the_question_by_weight():
    found = terms("中国网民规模")
    assert found.coverage("中国网民规模达10.51亿") == pytest.approx(1.0)
    partial = found.coverage("中国的网民")
    assert 0 < partial < 1
    assert found.coverage("天气晴朗") == 0.0


def test_english_questions_count_through_translations_and_missing_words():
    translator = QueryTranslator({"internet users": ["网民"], "scale": ["规模"]}, {}, {"网民", "规模"})
    found = terms("How many internet users does Jupiter have?", translator)
    by_label = {unit.label.lower(): unit for unit in found.units}
    assert by_label["internet users"].terms == ("网民",) and by_label["internet users"].in_collection
    jupiter = by_label["jupiter"]  # the dictionary knows it (木星), the collection does not: missing
    assert not jupiter.in_collection and jupiter.known
    name = terms("Who is Zorblatt?", translator).units[0]  # neither knows it: a translation gap, weighed less
    assert not name.known and name.weight < jupiter.weight


@pytest.mark.parametrize(
    ("question", "english", "slots"),
    [
        ("中国第一家互联网法院是哪一年在哪座城市设立的？", False, ("place", "year")),
        ("首届大会是2014年几月份举办的？", False, ("month",)),
        ("这个基金规模有多少亿元？", False, ("number",)),
        ("谁提出了这个倡议？", False, ("person",)),
        ("为什么要构建网络空间命运共同体？", False, ()),
        ("How many 5G base stations did China have?", True, ("number",)),
        ("Which city hosted the conference, and when?", True, ("place", "time")),
        ("Who announced the initiative?", True, ("person",)),
    ],
)
def test_answer_slots(question, english, slots):
    assert set(answer_slots(question, english)) == set(slots)


def test_a_number_slot_needs_a_new_number_with_the_unit_asked_for():
    question = terms("网络安全专项基金规模有多少亿元？")
    assert asked_unit(question.text) == "亿元"
    assert slot_missing(question, "设立网络安全专项基金。60余所高校设立网络安全学院。") == 1.0  # a number, wrong unit
    assert slot_missing(question, "设立网络安全专项基金，规模达120亿元。") == 0.0


def test_a_time_slot_needs_a_date_the_question_does_not_already_hold():
    question = terms("首届世界互联网大会是2014年几月份在乌镇举办的？")
    assert slot_missing(question, "2014年以来，中国在浙江乌镇举办世界互联网大会。") == 1.0  # only the year asked with
    assert slot_missing(question, "2014年11月，首届世界互联网大会在浙江乌镇举办。") == 0.0


def test_numbers_of_the_question_missing_from_the_passage():
    question = terms("2021年中国网民规模是多少？")
    assert numbers_missing(question, "2022年中国网民规模达10.51亿") == 1.0
    assert numbers_missing(question, "2021年底中国网民规模") == 0.0


def make_evidence(similarity: float, coverage: float, english: bool = False, second: float | None = None):
    return Evidence(similarity, coverage, 0.0, 0.0, 0.0, english, second)


def calibration(**overrides) -> Calibration:
    coefficients = [0.0] * len(Calibration.FEATURES)
    coefficients[Calibration.FEATURES.index("margin")] = 50.0
    coefficients[Calibration.FEATURES.index("coverage")] = 5.0
    values = {"coefficients": tuple(coefficients), "intercept": -3.0, "features": Calibration.FEATURES}
    return Calibration(**{**values, **overrides})


def test_relevance_rises_with_similarity_over_the_background_and_with_coverage():
    background = Background(0.9, {"zh": {"similarity": 0.85}})
    fitted = calibration()
    low = fitted.relevance(make_evidence(0.84, 0.1), background)
    high = fitted.relevance(make_evidence(0.92, 0.8), background)
    assert 0 < low < 0.1 < 0.9 < high < 1
    # The same similarity means less in a collection where unrelated questions reach it too.
    noisy = Background(0.9, {"zh": {"similarity": 0.91}})
    assert fitted.relevance(make_evidence(0.92, 0.8), noisy) < high
    assert Calibration().relevance(make_evidence(0.92, 0.8), background) is None  # unfitted: unknown, not guessed


def test_thresholds_sit_among_the_background_questions_of_the_collection():
    samples = tuple((make_evidence(0.80 + i / 1000, 0.1),) for i in range(100))
    background = Background(0.9, {"zh": {"similarity": 0.85}}, samples)
    fitted = calibration(background_quantile={"zh": 0.95}, thresholds={"zh": 0.5, "en": 0.4})
    scores = sorted(fitted.question_relevance(hits, background) for hits in samples)
    thresholds = fitted.thresholds_in(background)
    assert scores[90] <= thresholds["zh"] <= scores[96]  # 95% of unrelated questions stay under it
    assert thresholds["en"] == 0.4  # no English background measured: the fixed threshold
    assert fitted.thresholds_in(None) == {"zh": 0.5, "en": 0.4}


def test_calibration_and_background_round_trip_and_refuse_other_features(tmp_path):
    fitted = calibration(background_quantile={"zh": 0.9}, thresholds={"zh": 0.3})
    assert Calibration.from_dict(fitted.to_dict()).coefficients == pytest.approx(fitted.coefficients)
    assert not Calibration.from_dict({**fitted.to_dict(), "features": ["similarity"]}).fitted
    background = Background(0.9, {"zh": {"similarity": 0.85}}, ((make_evidence(0.8, 0.2),),))
    again = Background.from_dict(json.loads(json.dumps(background.to_dict())))
    assert again.levels == background.levels and again.samples[0][0].coverage == pytest.approx(0.2)
    # A calibration fitted beside an index wins over the shipped one.
    (tmp_path / "calibration.json").write_text(json.dumps({"some-model": fitted.to_dict()}), encoding="utf-8")
    assert load_calibration("some-model", tmp_path).background_quantile == {"zh": 0.9}
    assert not load_calibration("some-model", tmp_path / "elsewhere").fitted


def test_evidence_of_a_passage():
    question = terms("中国网民规模有多少？")
    found = evidence(question, "中国网民规模达10.51亿。", 0.9)
    assert found.coverage == pytest.approx(1.0) and found.slot_missing == 0.0 and not found.english


def synthetic_asked(rng, n: int = 60):
    """Answerable questions whose first hit holds the answer and is close; off-topic ones whose hits are not."""
    from eval.calibrate import Asked
    from eval.question_sets import Question
    from index.hits import Hit

    def hit(rank: int, text: str, e: Evidence) -> Hit:
        return Hit(rank, 0.0, f"c{rank}", "d.txt", "t", (), 1, 1, text, 0, len(text), evidence=e)

    asked = []
    for i in range(n):
        english = i % 2 == 1
        good = make_evidence(0.90 + rng.uniform(-0.03, 0.03), rng.uniform(0.5, 1.0), english)
        bad = make_evidence(0.80 + rng.uniform(-0.03, 0.03), rng.uniform(0.0, 0.4), english)
        question = "What is it?" if english else "是什么？"
        answerable = Question(f"a{i}", question, evidence=("答案",))
        asked.append(Asked("c", answerable, "answerable", [hit(1, "答案在此", good), hit(2, "别的", bad)]))
        offtopic = Question(f"o{i}", question, answerable=False)
        asked.append(Asked("c", offtopic, "offtopic", [hit(1, "别的", bad), hit(2, "别的", bad)]))
    return asked


def test_fitting_separates_answering_hits_and_places_thresholds_among_the_background():
    import random

    from eval.calibrate import fit_calibration, rates

    rng = random.Random(7)
    asked = synthetic_asked(rng)
    samples = tuple(
        (make_evidence(0.80 + rng.uniform(-0.03, 0.03), rng.uniform(0.0, 0.4), i % 2 == 1),) for i in range(200)
    )
    background = Background(0.9, {"zh": {"similarity": 0.83, "second": 0.0}, "en": {"similarity": 0.83}}, samples)
    fitted = fit_calibration(asked, {"c": background})
    assert fitted.background_quantile == {"zh": 0.95, "en": 0.95}
    good, bad = asked[0].hits[0].evidence, asked[1].hits[0].evidence
    assert fitted.relevance(good, background) > 0.5 > fitted.relevance(bad, background)
    judged = rates(asked, fitted, {"c": background})
    assert judged[("c", "answerable", "zh")][0] >= 0.9 * judged[("c", "answerable", "zh")][1]
    assert judged[("c", "offtopic", "en")][0] >= 0.85 * judged[("c", "offtopic", "en")][1]
