"""Folding Chinese text to one comparison form (index/script.py): script, regional vocabulary, offsets."""

from __future__ import annotations

import pytest

from index.keyword import keyword_tokens
from index.script import (
    fold,
    fold_with_offsets,
    is_traditional,
    question_word_groups,
    regional_forms,
    term_spans,
)

REGIONAL = [("資料", "数据"), ("網路", "网络"), ("軟體", "软件"), ("程式", "程序"), ("資訊", "信息")]


def test_script_is_read_from_the_characters():
    assert is_traditional("中國制定了哪些資料安全方面的法律？")
    assert is_traditional("北港島綫的衞生")  # Hong Kong variants
    assert not is_traditional("中国制定了哪些数据安全方面的法律？")
    assert not is_traditional("程式")  # no character tells: read as Simplified
    assert not is_traditional("5G and APEC")


@pytest.mark.parametrize(("taiwan", "mainland"), REGIONAL)
def test_regional_words_fold_to_their_mainland_form(taiwan, mainland):
    sentence = f"我們的{taiwan}很重要"  # a Traditional sentence holding the Taiwan word
    assert mainland in fold(sentence)
    assert fold(f"我们的{mainland}很重要") == f"我们的{mainland}很重要"  # the mainland form stays
    # A Traditional passage with the Taiwan word and a Simplified question with the mainland word meet on
    # the keyword side, and so do a Traditional question and a Simplified passage.
    assert mainland in keyword_tokens(fold(sentence))


def test_fold_is_simplified_script_and_idempotent():
    texts = ["中國制定了資料安全法律", "我的部落格和程式設計", "烏茲別克的軟體", "中国的数据安全", "APEC 5G"]
    for text in texts:
        folded = fold(text)
        assert fold(folded) == folded
        assert not is_traditional(folded)
    assert fold("中國制定了哪些資料安全方面的法律？") == "中国制定了哪些数据安全方面的法律？"
    # Taiwan phrases are not looked for in Simplified text: mainland 程序 and 建立 stay as they are.
    assert fold("法律程序已经建立") == "法律程序已经建立"


def test_fold_with_offsets_maps_every_folded_character_back_to_the_original():
    text = "他說：我的部落格和程式設計，烏茲別克的網路軟體。"
    folded, starts, ends = fold_with_offsets(text)
    assert folded == fold(text) and len(starts) == len(ends) == len(folded)
    assert starts == sorted(starts) and all(0 <= s < e <= len(text) for s, e in zip(starts, ends, strict=True))

    def original(term: str) -> str:
        at = folded.index(term)
        return text[starts[at] : ends[at + len(term) - 1]]

    # Length-changing phrases map back to exactly the phrase; the rest character for character.
    assert original("博客") == "部落格"
    assert original("编程") == "程式設計"
    assert original("乌兹别克斯坦") == "烏茲別克"
    assert original("网络软件") == "網路軟體"
    assert original("他说") == "他說"


def test_term_spans_mark_the_original_characters_in_either_script():
    traditional = "中國制定了《資料安全法》，保護網路與軟體。"
    spans = term_spans(traditional, ["数据安全法", "网络", "软件", "中国"])
    assert [traditional[s:e] for s, e in spans] == ["中國", "資料安全法", "網路", "軟體"]
    simplified = "中国制定了《数据安全法》。"
    spans = term_spans(simplified, ["資料安全", "中國"])  # Traditional terms mark Simplified text
    assert [simplified[s:e] for s, e in spans] == ["中国", "数据安全"]
    assert term_spans("5G基站 and 5g", ["5G"]) == [(0, 2), (9, 11)]  # case-insensitive, as before


def test_question_words_are_looked_for_in_both_regional_forms():
    # Mainland words that Taiwan usage folds to other mainland words are looked for in both forms, so a
    # Simplified question's 建立 still meets a Traditional passage's 建立 (folded to 创建).
    assert regional_forms("建立") == ("建立", "创建")
    assert regional_forms("资料") == ("资料", "数据")
    assert regional_forms("数据") == ("数据",)
    groups = question_word_groups(["程式", "设计"], ["编程"])  # 程式設計: literal words, then the folded phrase
    assert groups == [("程式", "程序"), ("设计",), ("编程",)]
