"""An inverted file over float16 vectors: the default above ``auto.EXACT_BELOW`` vectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.stores.faiss_base import FaissStore, StoreConfig, breadth, selector

# IVF (float16 codes, L2 metric over unit vectors, flat coarse quantizer): trains and fills 1M vectors in
# minutes instead of HNSW's 11, removes in place, and 768 bytes a vector plus its label. nprobe is the
# one search parameter, measured for recall@10 ≥ .98 at 1M passages (bench/README.md).
IVF_NPROBE = 160
IVF_RETRAIN_GROWTH = 4  # lists trained for n vectors are retrained (a rebuild) once the store holds 4·n
IVF_TRAIN_PER_LIST = 40  # k-means sample: FAISS warns below 39 points a list


@dataclass(frozen=True)
class IVFConfig(StoreConfig):
    nprobe: int = IVF_NPROBE  # lists read per question
    retrain_growth: int = IVF_RETRAIN_GROWTH
    train_per_list: int = IVF_TRAIN_PER_LIST


def ivf_lists(count: int, train_per_list: int = IVF_TRAIN_PER_LIST) -> int:
    """The power of two nearest 4·√count (FAISS's guideline is 4–16·√n), with enough training points a list."""
    lists = 2 ** round(np.log2(max(1.0, 4 * np.sqrt(max(count, 1)))))
    return int(max(1, min(lists, count // train_per_list)))


class IVFStore(FaissStore):
    """``IVF{lists},SQfp16`` with the L2 metric: labels are its own ids (no IDMap), and a hash-table direct
    map gives ``get`` and in-place removal by label. Untrained (no index) until the first vectors arrive:
    the number of lists depends on them."""

    kind = "ivf"
    config_type = IVFConfig
    metric = "L2"

    def __init__(self, dimension: int, config: IVFConfig | None = None):
        self.trained_for = 0  # the collection size the lists were trained for
        super().__init__(dimension, config)

    def factory(self, lists: int = 1) -> str:
        return f"IVF{lists},SQfp16"

    def _empty(self):
        return None

    def _trained(self, vectors: np.ndarray):
        """A trained, empty IVF for a collection like ``vectors``."""
        import faiss

        per_list = self.config.train_per_list
        lists = ivf_lists(len(vectors), per_list)
        index = faiss.index_factory(self.dimension, self.factory(lists), faiss.METRIC_L2)
        sample = vectors
        if len(vectors) > per_list * lists:
            rows = np.random.default_rng(0).choice(len(vectors), per_list * lists, replace=False)
            sample = vectors[np.sort(rows)]
        index.train(sample)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self.trained_for = len(vectors)
        return index

    def labels(self) -> np.ndarray:
        import faiss

        if self.index is None:
            return np.zeros(0, np.int64)
        invlists = self.index.invlists
        return np.concatenate(
            [np.zeros(0, np.int64)]
            + [
                faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                for i in range(self.index.nlist)
                if invlists.list_size(i)
            ]
        )

    def add(self, labels, vectors) -> None:
        labels, vectors = self._checked(labels, vectors)
        total = self.count() + len(labels)
        # IVF lists trained for a much smaller collection grow long (slow) and fit it less well: train again
        if total > self.config.retrain_growth * max(1, self.trained_for):
            old = self.labels()
            labels, vectors = np.concatenate([old, labels]), np.concatenate([self.get(old), vectors])
            self.index = None
            self._forget_base()
        else:
            self._note_added(labels, vectors)
        self._add(labels, vectors)

    def _add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        if len(labels) == 0:
            return
        if self.index is None:
            self.index = self._trained(vectors)
        self.index.add_with_ids(vectors, labels)

    def _remove(self, labels: np.ndarray) -> None:
        import faiss

        if self.index is not None:  # the hash-table direct map removes only through an IDSelectorArray
            self.index.remove_ids(faiss.IDSelectorArray(len(labels), faiss.swig_ptr(labels)))

    def _search_parameters(self, k: int, allowed: np.ndarray | None = None):
        import faiss

        if allowed is None:
            return faiss.SearchParametersIVF(nprobe=self.config.nprobe)
        # more lists as the filter keeps fewer (all for one document): other vectors are skipped unscored
        nprobe = min(self.index.nlist, breadth(self.config.nprobe, self.count(), len(allowed)))
        return faiss.SearchParametersIVF(nprobe=nprobe, sel=selector(allowed))

    def _described(self) -> dict:
        lists = self.index.nlist if self.index is not None else 0
        return {"lists": lists, "nprobe": self.config.nprobe, "trained_for": self.trained_for, "storage": "fp16"}

    def _adopt(self, index):
        import faiss

        return index if isinstance(index, faiss.IndexIVF) else None  # an empty IVF store saves an empty flat index

    def _load_beside(self, directory, description: dict) -> None:
        self.trained_for = int(description.get("trained_for", 0))
