"""The second encoder (Multilingual USE v3, ``index.second_encoder``) as unit vectors for a batch of texts,
so the citation check can compare it with the index's encoder (``CheckConfig.encoder``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def use_vectors(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of ``texts``, one forward pass (the model and its lock are the second encoder's)."""
    from index import second_encoder

    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    with second_encoder._lock:
        vectors = np.asarray(second_encoder._model().encode(list(texts)), dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
