"""Exact search: every stored vector scored against the question (``IDMap2,Flat``, inner product)."""

from __future__ import annotations

from dataclasses import dataclass

from index.stores.faiss_base import FaissStore, StoreConfig


@dataclass(frozen=True)
class FlatConfig(StoreConfig):
    """Exact search has nothing to tune."""


class FlatStore(FaissStore):
    """IndexFlatIP under an IDMap2: recall 1, cost linear in the store's size (see auto.EXACT_BELOW)."""

    kind = "flat"
    config_type = FlatConfig
    metric = "INNER_PRODUCT"

    def factory(self) -> str:
        return "IDMap2,Flat"
