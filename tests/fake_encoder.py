"""A small deterministic encoder for tests where the model is not the subject (fusion, segments, incremental
builds, libraries, locks, damaged files): it loads in milliseconds and gives the same vectors on every machine.

A text's vector is its character unigrams and bigrams hashed into ``DIMENSION`` buckets, unit length: texts
sharing words are near, so a question still finds the passage about its topic. Tokens are counted by the
default model's own tokenizer file, so chunks are the ones a real build makes.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from index.models import ModelInfo

DIMENSION = 96
NAME = "test-hashing-encoder"
WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9\W]|[\u3400-\u9fff]", re.IGNORECASE)


@cache
def _bucket(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % DIMENSION, 1.0 if digest[4] & 1 else -1.0


def hashed_vector(text: str) -> np.ndarray:
    units = WORD.findall(text.lower())
    vector = np.zeros(DIMENSION, np.float32)
    for feature in units + [a + b for a, b in itertools.pairwise(units)]:
        bucket, sign = _bucket(feature)
        vector[bucket] += sign
    norm = float(np.linalg.norm(vector))
    if norm == 0:  # no characters at all: a fixed direction, so the vector is still unit length
        vector[0], norm = 1.0, 1.0
    return vector / norm


@cache
def reference_token_counter() -> Callable[[str], int]:
    from tokenizers import Tokenizer

    from tests.conftest import reference_tokenizer_path

    tokenizer = Tokenizer.from_file(str(reference_tokenizer_path()))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


class FakeEncoder:
    """The parts of ``index.encoder.Encoder`` that building and searching use."""

    name = NAME
    dimension = DIMENSION
    backend = query_backend = "hashing"
    query_prompt, passage_prompt = "query: ", "passage: "

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.dimension, self.query_prompt, self.passage_prompt, self.backend)

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        vectors = self._encode(texts)
        if progress is not None and len(texts):
            progress(len(texts))
        return vectors

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts)

    def forget_queries(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return reference_token_counter()(text)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, DIMENSION), np.float32)
        return np.stack([hashed_vector(text) for text in texts])
