"""Encoder backends: the ONNX Runtime (and OpenVINO, when installed) exports agree with torch fp32."""

from __future__ import annotations

import numpy as np
import pytest

from index import settings
from index.encoder import Encoder
from index.exports import export_file, prepare_backend
from index.models import resolve_model_path
from index.runtimes import ExportedRuntime, FastTokenizer
from tests.test_model import SAMPLE_TEXTS


@pytest.fixture(scope="module")
def torch_vectors():
    encoder = Encoder(backend="torch")
    return encoder.encode_passages(SAMPLE_TEXTS), encoder.encode_queries(SAMPLE_TEXTS[:5])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "openvino", "openvino-int8"])
def test_backend_embeddings_agree_with_torch_fp32(backend, torch_vectors):
    encoder = Encoder(backend=backend, query_backend=backend)
    passages, queries = torch_vectors
    ours_passages = encoder.encode_passages(SAMPLE_TEXTS)
    ours_queries = encoder.encode_queries(SAMPLE_TEXTS[:5])
    assert ours_passages.shape == passages.shape and ours_passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours_passages, axis=1), 1.0, atol=1e-5)
    assert cosines(ours_passages, passages).min() >= 0.99
    assert cosines(ours_queries, queries).min() >= 0.99
    # the batch contract: order kept, whatever the batching (dynamic int8 scales activations per batch)
    one_by_one = np.stack([encoder.encode_passages([text])[0] for text in SAMPLE_TEXTS[:4]])
    assert cosines(one_by_one, ours_passages[:4]).min() >= (0.99 if backend.endswith("int8") else 0.9999)


def test_quantized_passages_use_full_precision_questions(torch_vectors):
    encoder = Encoder(backend="onnx-int8")
    assert (encoder.backend, encoder.query_backend) == ("onnx-int8", "onnx")
    assert encoder.info.passage_backend == "onnx-int8"
    assert encoder.info.to_dict()["passage_backend"] == "onnx-int8"
    _, queries = torch_vectors
    assert cosines(encoder.encode_queries(SAMPLE_TEXTS[:5]), queries).min() >= 0.9999
    assert "_runtimes" in vars(encoder) and set(encoder._runtimes) == {"onnx"}  # passage runtime not loaded


def test_backend_setting_flag_env_default(monkeypatch):
    monkeypatch.delenv(settings.ENV_BACKEND, raising=False)
    assert settings.backend_name() == settings.DEFAULT_BACKEND
    monkeypatch.setenv(settings.ENV_BACKEND, "ONNX")
    assert settings.backend_name() == "onnx"
    assert settings.backend_name("torch") == "torch"
    with pytest.raises(ValueError, match="Unknown encoder backend"):
        settings.backend_name("tensorrt")


def test_exports_live_beside_the_converted_model_and_are_made_once():
    made = prepare_backend("onnx-int8")
    model_path = resolve_model_path(settings.DEFAULT_MODEL)
    assert export_file("onnx-int8", model_path) in made and export_file("onnx", model_path) in made
    assert all(path.exists() and path.is_relative_to(settings.cache_dir().resolve()) for path in made)
    # weights in a memory-mapped side file, named by the graph file
    assert all(path.with_name(path.name + ".data").exists() for path in made)
    stamps = [path.stat().st_mtime_ns for path in made]
    assert [path.stat().st_mtime_ns for path in prepare_backend("onnx-int8")] == stamps


def test_int8_keeps_sensitive_products_in_fp32():
    import onnx

    model_path = resolve_model_path(settings.DEFAULT_MODEL)
    prepare_backend("onnx-int8")
    graph = onnx.load(str(export_file("onnx-int8", model_path)), load_external_data=False).graph
    fp32 = sorted(node.name for node in graph.node if node.op_type == "MatMul")
    assert fp32 == [f"/encoder/layer.{i}/output/dense/MatMul" for i in range(4, 8)]  # the middle third's FFN output
    assert sum(node.op_type == "MatMulInteger" for node in graph.node) == 12 * 3 - 4
    assert sum(node.op_type == "QAttention" for node in graph.node) == 12  # scores computed in fp32 inside
    assert not any(node.op_type == "DequantizeLinear" for node in graph.node)  # embedding tables stay fp32


def test_token_budget_batches_keep_order_and_match_single_texts():
    model_path = resolve_model_path(settings.DEFAULT_MODEL)
    runtime = ExportedRuntime("onnx", model_path, export_file("onnx", model_path), FastTokenizer(model_path))
    texts = [*SAMPLE_TEXTS * 30, "长" * 600]  # several batches, one text truncated to the model's 512 tokens
    together = runtime.encode(texts, "passage: ", 32)
    alone = np.stack([runtime.encode([text], "passage: ", 32)[0] for text in [*SAMPLE_TEXTS, "长" * 600]])
    assert cosines(together[: len(SAMPLE_TEXTS)], alone[:-1]).min() >= 0.9999
    assert cosines(together[-1:], alone[-1:]).min() >= 0.9999


def test_batches_are_padded_by_the_tokenizer_as_they_were_by_hand():
    """The exported runtimes' batches are truncated and padded by the tokenizer itself (enable_truncation,
    enable_padding): the same ids and attention masks as the hand-made padding it replaced, on mixed-length
    Chinese and English texts (one cut at 512 tokens, one empty)."""
    from tokenizers import Tokenizer

    model_path = resolve_model_path(settings.DEFAULT_MODEL)
    tokenizer = FastTokenizer(model_path)
    texts = ["passage: " + text for text in [*SAMPLE_TEXTS, "长" * 600, "", "数据安全法 Data Security Law", "a"]]
    reference = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    reference.enable_truncation(512)
    rows = [encoding.ids for encoding in reference.encode_batch(texts)]
    width = max(len(row) for row in rows)
    ids, mask = np.full((len(rows), width), 1, np.int64), np.zeros((len(rows), width), np.int64)
    for i, row in enumerate(rows):  # the hand-made padding: ids, then <pad> (id 1) under a 0 mask
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
    padded = tokenizer(texts, truncation=True, max_length=512, padding=True)
    assert width == 512 and tokenizer.pad_token_id == 1 == reference.token_to_id("<pad>")
    assert padded["input_ids"].dtype == padded["attention_mask"].dtype == np.int64
    assert np.array_equal(padded["input_ids"], ids) and np.array_equal(padded["attention_mask"], mask)
    shorter = tokenizer(texts[:3], truncation=True, max_length=512, padding=True)  # a batch pads to its longest
    assert np.array_equal(shorter["input_ids"], ids[:3, : max(len(row) for row in rows[:3])])
    assert tokenizer(texts, truncation=True, max_length=512)["input_ids"] == rows  # no padding unless asked
    assert [min(len(row), 512) for row in tokenizer(texts)["input_ids"]] == [len(row) for row in rows]
