"""The encoder: a sentence-transformers model with its query/passage prompts over one runtime per use.

Where the model comes from is ``index.models``; backend exports are ``index.exports``; the runtimes that run
them are ``index.runtimes``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from index import settings
from index.exports import QUERY_RUNTIME
from index.models import (
    ModelInfo,
    folder_prompts,
    offline_hub,
    plain_transformer,
    pooling_dimension,
    prompts_for,
    resolve_model_path,
)
from index.runtimes import FastTokenizer, Runtime, silent

QUERY_CACHE = 4096  # question vectors kept (1.5 KB each for a 384-dimensional model)


class Encoder:
    """A sentence-transformers model with its query/passage prompts, run by one of several backends.

    ``backend`` (``--backend``, $CITELENS_BACKEND read by the CLIs) names the runtime that embeds passages — where index
    building spends its time. Questions are embedded by the runtime ``QUERY_RUNTIME`` names: ``onnx-int8``'s
    full-precision sibling (its activations are quantized per batch, which costs a one-text question more
    than a batch of passages), ``openvino-int8`` itself (static scales: its questions and passages share
    its rounding, and full-precision questions lost retrieval quality against them; bench/README.md).
    Vectors of every backend of one model are compatible (cosine ≥ .99 to torch fp32). Each runtime is
    loaded when first used, so a search process of ``onnx-int8`` never loads the passage runtime.
    """

    def __init__(self, name: str | None = None, backend: str | None = None, query_backend: str | None = None):
        # None: the bundled model and the measured backend (flags and environment are read by the CLIs and app)
        self.name = name or settings.DEFAULT_MODEL
        self.path = resolve_model_path(self.name)
        self.backend = settings.checked_backend(backend or settings.DEFAULT_BACKEND)
        self.query_backend = settings.checked_backend(query_backend or QUERY_RUNTIME.get(self.backend, self.backend))
        self._runtimes: dict[str, Runtime] = {}
        # Questions asked again (a rerun of the app's page, the background questions of every build) are not
        # encoded again: a bounded cache by text, shared by the threads that ask.
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        if not plain_transformer(self.path):  # models with extra modules (Dense layers, …) run in torch only
            self.backend = self.query_backend = "torch"
        if "torch" in (self.backend, self.query_backend):
            model = self._runtime("torch").model
            self.tokenizer = model.tokenizer
            model_prompts = dict(model.prompts)
            self.dimension = int(model.get_embedding_dimension())
        else:  # the Rust tokenizer alone: no transformers or torch in a search process (~450 MB less)
            self.tokenizer = FastTokenizer(self.path)
            model_prompts = folder_prompts(self.path)
            self.dimension = pooling_dimension(self.path)
        self.query_prompt, self.passage_prompt = prompts_for(self.name, model_prompts)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.dimension, self.query_prompt, self.passage_prompt, self.backend)

    @property
    def model(self):
        """The sentence-transformers model (torch); loaded on first use when another backend is in use."""
        return self._runtime("torch").model

    def _runtime(self, kind: str) -> Runtime:
        if kind not in self._runtimes:
            tokenizer = self.tokenizer if isinstance(getattr(self, "tokenizer", None), FastTokenizer) else None
            self._runtimes[kind] = Runtime.open(kind, self.path, tokenizer)
        return self._runtimes[kind]

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Passage embeddings; ``progress`` hears the number of texts done after each batch. The batches do
        not depend on it: with ``onnx-int8`` a text's vector depends a little on the texts batched with it
        (activations are quantized with one scale per batch), so the same texts give the same vectors
        with a progress bar or without."""
        return self._encode(self._runtime(self.backend), texts, self.passage_prompt, batch_size, progress)

    def passage_batches(self, texts: Sequence[str], batch_size: int = 32) -> list[np.ndarray]:
        """The groups of rows of ``texts`` that ``encode_passages`` embeds together, in its order: each group
        embedded alone (its texts in this order) gets the vectors it gets in the whole call, so a build can
        embed the groups in other processes and still store the same vectors (index/ray_build.py)."""
        return self._runtime(self.backend).batches(list(texts), self.passage_prompt, batch_size)

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
        runtime: Runtime,
        texts: Sequence[str],
        prompt: str,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = runtime.encode(list(texts), prompt, batch_size, progress or silent)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def load_token_counter(name: str | None = None) -> Callable[[str], int]:
    """Token counter of a model's tokenizer alone (cheaper than loading the model)."""
    offline_hub()
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_path(name or settings.DEFAULT_MODEL)))

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count_tokens
