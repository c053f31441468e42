"""Runtimes that turn prompted texts into normalized embeddings: sentence-transformers on torch, or an exported
graph (ONNX Runtime, OpenVINO) with the model's own Rust tokenizer and pooling around it."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index.exports import ensure_export
from index.models import ModelNotAvailable, max_length, offline_hub, pooling_config

# Padded tokens per batch of an exported runtime: the least padding that is still a large matrix product
# (bench/README.md, "Encoder backend").
TOKEN_BUDGET = 2048


def threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


class FastTokenizer:
    """The model folder's tokenizer.json run by the Rust ``tokenizers`` library, called like a transformers
    tokenizer for what CiteLens needs (same ids: it is the file a transformers fast tokenizer wraps)."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        self.backend.no_truncation()
        self.backend.no_padding()
        # A ``tokenizers.Tokenizer`` whose settings change while another thread encodes with it raises "Already
        # borrowed": each (truncation length, padding) gets its own copy, set once and never changed (shared
        # by threads). A copy costs about a second and 250 MB: the exported runtimes use one.
        self._configured: dict[tuple[int | None, bool], Tokenizer] = {(None, False): self.backend}
        self._lock = threading.Lock()
        config_file = Path(path) / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.exists() else {}
        self.model_max_length = int(config.get("model_max_length") or 512)
        pad_token = config.get("pad_token") or "<pad>"
        self.pad_token = pad_token.get("content", "<pad>") if isinstance(pad_token, dict) else pad_token
        self.pad_token_id = self.backend.token_to_id(self.pad_token) or 0

    def __call__(
        self,
        texts: str | list[str],
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
        padding: bool = False,
        return_tensors: str | None = None,
    ) -> dict:
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        padded = padding or return_tensors is not None
        backend = self._tokenizer((max_length or self.model_max_length) if truncation else None, padded)
        encodings = backend.encode_batch_fast(batch, add_special_tokens=add_special_tokens)
        if not padded:
            ids = [encoding.ids for encoding in encodings]
            return {"input_ids": ids[0] if single else ids}
        width = len(encodings[0]) if encodings else 0  # the tokenizer padded every text to the longest
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(batch), width),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(
                len(batch), width
            ),
        }

    def _tokenizer(self, length: int | None, padded: bool):
        """The tokenizer truncating at ``length`` (None: never; its truncation keeps room for the special
        tokens, as transformers does) and, if ``padded``, padding a batch to its longest text (pad id, mask 0)."""
        found = self._configured.get((length, padded))
        if found is None:
            from tokenizers import Tokenizer

            with self._lock:
                found = self._configured.get((length, padded))
                if found is None:
                    found = Tokenizer.from_str(self.backend.to_str())
                    if length is not None:
                        found.enable_truncation(length)
                    if padded:
                        found.enable_padding(pad_id=self.pad_token_id, pad_token=self.pad_token)
                    self._configured[(length, padded)] = found
        return found


def silent(done: int) -> None:
    pass


class Runtime:
    """Prompted texts → normalized embeddings."""

    kind = "?"

    @staticmethod
    def open(kind: str, path: Path, tokenizer: FastTokenizer | None = None) -> Runtime:
        if kind == "torch":
            return TorchRuntime(path)
        target = ensure_export(kind, path, log=lambda message: print(message, file=sys.stderr))
        return ExportedRuntime(kind, path, target, tokenizer or FastTokenizer(path))

    def encode(
        self, texts: list[str], prompt: str, batch_size: int, progress: Callable[[int], None] = silent
    ) -> np.ndarray:
        raise NotImplementedError

    def batches(self, texts: list[str], prompt: str, batch_size: int) -> list[np.ndarray]:
        """The rows of ``texts`` that ``encode`` runs together, in its order. Encoding each group alone, its
        rows in this order, gives the vectors that encoding all at once does (index/ray_build.py relies on it)."""
        raise NotImplementedError


class TorchRuntime(Runtime):
    kind = "torch"

    def __init__(self, path: Path):
        offline_hub()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # transformers 4.57 warns about a "mistral regex" for any local tokenizer it saved; noise here.
        transformers_logging.set_verbosity_error()
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # transformers' tokenizers change their truncation and padding settings per call, which fails
        # ("Already borrowed") when threads share one: one encoding at a time (torch uses every core anyway).
        self._lock = threading.Lock()

    def batches(self, texts: list[str], prompt: str, batch_size: int) -> list[np.ndarray]:
        order = np.argsort([len(text) for text in texts], kind="stable")
        step = batch_size * 8
        return [order[first : first + step] for first in range(0, len(texts), step)]

    def encode(
        self, texts: list[str], prompt: str, batch_size: int, progress: Callable[[int], None] = silent
    ) -> np.ndarray:
        # In steps that report progress: torch's fp32 vectors do not depend on the texts batched together.
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        for rows in self.batches(texts, prompt, batch_size):
            with self._lock:
                done = self.model.encode(
                    [texts[i] for i in rows],
                    prompt=prompt,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            if vectors.shape[1] == 0:
                vectors = np.zeros((len(texts), done.shape[1]), dtype=np.float32)
            vectors[rows] = done
            progress(len(rows))
        return vectors


class ExportedRuntime(Runtime):
    """An ONNX Runtime session or an OpenVINO compiled model, with the tokenizer and mean pooling around it."""

    def __init__(self, kind: str, path: Path, model_file: Path, tokenizer: FastTokenizer):
        self.kind = kind
        self.tokenizer = tokenizer
        self.max_length = max_length(path, tokenizer)
        pooling = pooling_config(path)
        self.cls_pooling = bool(pooling.get("pooling_mode_cls_token")) or pooling.get("pooling_mode") == "cls"
        if kind.startswith("onnx"):
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Threads that spin while waiting lose when other processes share the cores (bench/README.md).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
            self.inputs = {i.name for i in session.get_inputs()}
            self.run = lambda feed: session.run(None, feed)[0]
        else:
            try:
                import openvino as ov
            except ImportError as err:
                raise ModelNotAvailable(f"Backend '{kind}' needs the openvino package (pip install openvino).") from err
            core = ov.Core()
            compiled = core.compile_model(
                str(model_file), "CPU", {"INFERENCE_NUM_THREADS": threads(), "PERFORMANCE_HINT": "LATENCY"}
            )
            self.inputs = {port.get_any_name() for port in compiled.inputs}
            request = compiled.create_infer_request()
            self.run = lambda feed: next(iter(request.infer(feed).values()))

    def batches(self, texts: list[str], prompt: str, batch_size: int) -> list[np.ndarray]:
        return token_batches(self.tokenizer, self.max_length, [prompt + text for text in texts])

    def encode(
        self, texts: list[str], prompt: str, batch_size: int, progress: Callable[[int], None] = silent
    ) -> np.ndarray:
        """Batches by padded tokens (``TOKEN_BUDGET``), not a count of texts: texts sorted by token length
        are cut into batches whose longest text × size fits the budget, so hundreds of short sentences run
        together while long passages run a few at a time. Padding falls from 1.27× the real tokens
        (32 texts by character length) to 1.10× on the bundled build texts. ``batch_size`` is torch's."""
        prompted = [prompt + text for text in texts]
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for rows in token_batches(self.tokenizer, self.max_length, prompted):
            feed = self.tokenizer(
                [prompted[i] for i in rows], truncation=True, max_length=self.max_length, padding=True
            )
            mask = feed["attention_mask"]
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(mask)
            hidden = np.asarray(self.run(feed), dtype=np.float32)
            if self.cls_pooling:
                pooled = hidden[:, 0]
            else:
                pooled = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled
            progress(len(rows))
        return out


def token_batches(tokenizer: FastTokenizer, limit: int, prompted: list[str]) -> list[np.ndarray]:
    """Rows of ``prompted`` sorted by token length, longest first, cut into batches whose longest text × size
    fits ``TOKEN_BUDGET`` (``ExportedRuntime.encode``)."""
    # Lengths the model sees, to batch by: truncation keeps ``limit`` tokens, special ones included.
    lengths = np.minimum([len(ids) for ids in tokenizer(prompted)["input_ids"]], limit)
    order = np.argsort(-lengths, kind="stable")
    out, first = [], 0
    while first < len(order):
        size = max(1, TOKEN_BUDGET // max(1, int(lengths[order[first]])))
        out.append(order[first : first + size])
        first += size
    return out
