"""Stage 5, collapse: the same text in several documents becomes one hit with "also in" citations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.search.candidates import Candidate


@dataclass(frozen=True)
class CollapseConfig:
    enabled: bool = True
    duplicate_overlap: float = 0.5  # share of shingles two passages share to count as one
    window: int = 3  # candidates searched for copies after the k-th kept one, times k


def shingles(text: str, size: int = 4) -> set[str]:
    squeezed = "".join(text.split())
    return {squeezed[i : i + size] for i in range(max(1, len(squeezed) - size + 1))}


class Shingles:
    """A passage's shingles (``shingles(text)``) as sorted integer keys: four 16-bit characters packed in
    one uint64, so the keys are exactly the 4-grams, built and intersected in numpy, and small to cache.
    Texts with characters beyond 16 bits, or shorter than a shingle, keep the set of strings."""

    __slots__ = ("keys", "sketch", "strings")

    SKETCH_BITS = 8192

    def __init__(self, text: str, size: int = 4):
        self.strings: set[str] | None = None
        self.keys: np.ndarray | None = None
        squeezed = "".join(text.split())
        if size == 4 and len(squeezed) >= size:
            codes = np.frombuffer(squeezed.encode("utf-32-le"), np.uint32)
            if int(codes.max()) < 1 << 16:
                c = codes.astype(np.uint64)
                keys = np.sort((c[:-3] << 48) | (c[1:-2] << 32) | (c[2:-1] << 16) | c[3:])
                self.keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]  # np.unique's hashing is slower
        # The sketch: one bit per key, hashed into SKETCH_BITS. Two passages' shared shingles each set a
        # shared bit, so the popcount of the AND is at least their intersection (``is_copy``).
        self.sketch: np.ndarray | None = None
        if self.keys is not None:
            bits = np.zeros(self.SKETCH_BITS, bool)
            bits[(self.keys * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - 13)] = True
            self.sketch = np.packbits(bits).view(np.uint64)
        else:
            self.strings = shingles(text, size)

    def __len__(self) -> int:
        return len(self.keys) if self.keys is not None else len(self.strings)

    def as_set(self) -> set[str]:
        if self.strings is None:  # the keys spelled back as 4-character strings
            self.strings = {
                "".join(chr((int(key) >> shift) & 0xFFFF) for shift in (48, 32, 16, 0)) for key in self.keys
            }
        return self.strings


def overlap(a: set[str] | Shingles, b: set[str] | Shingles) -> float:
    if isinstance(a, Shingles) and isinstance(b, Shingles):
        if a.keys is not None and b.keys is not None:
            small, large = (a.keys, b.keys) if len(a.keys) <= len(b.keys) else (b.keys, a.keys)
            at = np.searchsorted(large, small)
            at[at == len(large)] = 0
            return int(np.count_nonzero(large[at] == small)) / max(1, len(small))
        a, b = a.as_set(), b.as_set()
    return len(a & b) / max(1, min(len(a), len(b)))


def is_copy(a: set[str] | Shingles, b: set[str] | Shingles, threshold: float) -> bool:
    """``overlap(a, b) >= threshold``, most pairs decided by the sketches alone: their shared bits bound
    the shared shingles from above, so a bound under the threshold is a sure "no" (exact, not approximate;
    the intersection is computed only when the bound allows a copy)."""
    if isinstance(a, Shingles) and isinstance(b, Shingles) and a.sketch is not None and b.sketch is not None:
        bound = int(np.bitwise_count(a.sketch & b.sketch).sum())
        if bound / max(1, min(len(a), len(b))) < threshold:
            return False
    return overlap(a, b) >= threshold


def collapse(
    ranked: list[Candidate], texts: Sequence[str], k: int, config: CollapseConfig, shingles_of=None
) -> list[list[Candidate]]:
    """The first k distinct passages, in order; a later near-copy of a kept passage (the same text in
    another document) joins its group and becomes an "also in" citation.

    Copies of one text score alike and rank close together, so once k passages are kept only the next
    ``config.window`` × k candidates are searched for copies (comparing every candidate cost ~25 ms a question).
    """
    groups: list[list[Candidate]] = []
    kept: list[set[str]] = []
    full_at = None
    for position, candidate in enumerate(ranked):
        if full_at is not None and position > full_at + config.window * k:
            break
        if not config.enabled:
            groups.append([candidate])
            if len(groups) >= k:
                break
            continue
        own = shingles_of(candidate.chunk) if shingles_of else shingles(texts[candidate.chunk])
        match = next((g for g, other in enumerate(kept) if is_copy(own, other, config.duplicate_overlap)), None)
        if match is not None:
            groups[match].append(candidate)
        elif len(groups) < k:
            groups.append([candidate])
            kept.append(own)
            if len(groups) == k:
                full_at = position
    return groups[:k]
