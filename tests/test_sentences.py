"""Sentence spans used to rescore and highlight passages."""

from ingest.sentences import sentence_spans


def test_sentences_keep_their_punctuation_and_closing_quotes():
    text = "（七）网络空间安全有效保障\n\n加强顶层设计，《网络安全法》形成。"
    text += "连续开展“净网”专项行动！是否有效？ok. Next one"
    pieces = [text[s:e] for s, e in sentence_spans(text)]
    assert pieces == [
        "（七）网络空间安全有效保障",
        "加强顶层设计，《网络安全法》形成。",
        "连续开展“净网”专项行动！",
        "是否有效？ok.",
        "Next one",
    ]


def test_offsets_shift_by_base_and_skip_punctuation_only_pieces():
    text = "促进网络空间规范发展。....  推动网络安全教育。"
    spans = sentence_spans(text, base=100)
    assert [text[s - 100 : e - 100] for s, e in spans] == ["促进网络空间规范发展。", "推动网络安全教育。"]
    assert sentence_spans("") == [] and sentence_spans("。。") == []
