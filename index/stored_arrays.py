"""Arrays of an index read from their .npy files by row range, with ``pread``: nothing is mapped into the
searching process.

A question reads a few hundred small pieces of the largest files (candidates' sentence vectors, its
words' keyword postings) from anywhere in them. Memory-mapped, each read also maps the pages around it
(the kernel's read-ahead and fault-around: 64-128 KB for a piece of 8 KB), so a serving process's resident
memory grew with every question until it held most of the file (5.3 GB of a 1M-passage index after 252
questions). Read with ``pread``, the pages stay in the OS page cache, shared by every process and dropped
under memory pressure, and the process holds only what it is using.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from index.integrity import IndexDamaged, reading

# numpy parses .npy headers with ast.literal_eval, which CPython 3.11 does not make safe across threads:
# every header of an index is parsed under this one lock (a few microseconds each).
NPY_HEADER_LOCK = threading.RLock()


def load_npy(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """``np.load`` of one .npy file, its header parsed under ``NPY_HEADER_LOCK``; a plain ndarray."""
    with NPY_HEADER_LOCK:
        return np.asarray(np.load(path, mmap_mode=mmap_mode, allow_pickle=False))


class StoredArray:
    """A .npy file's array read by row ranges (``array[start:stop]``) or whole (``np.asarray(array)``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with reading(self.path), NPY_HEADER_LOCK, open(self.path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            self.offset = handle.tell()
            if fortran or dtype.hasobject:
                raise ValueError("only C-ordered arrays of plain numbers can be read by rows")
            self.shape: tuple[int, ...] = tuple(shape)
            self.dtype = dtype
            self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * dtype.itemsize
            if os.fstat(handle.fileno()).st_size < self.offset + len(self) * self.row_bytes:
                raise ValueError("shorter than its header says")
        self._file = open(self.path, "rb")  # noqa: SIM115 (kept open for the index's lifetime; reads use pread)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self))
            return self.rows(start, max(start, stop))
        if isinstance(key, int | np.integer):
            index = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= index < len(self):
                raise IndexError(f"row {key} out of range for {len(self)} rows")
            return self.rows(index, index + 1)[0]
        return np.asarray(self)[key]  # anything else: read whole (builds and merges, never a search)

    def rows(self, start: int, stop: int) -> np.ndarray:
        count = stop - start
        data = os.pread(self._file.fileno(), count * self.row_bytes, self.offset + start * self.row_bytes)
        if len(data) != count * self.row_bytes:  # the file shrank after it was opened
            raise IndexDamaged(self.path, "shorter than its header says")
        return np.frombuffer(data, dtype=self.dtype).reshape((count, *self.shape[1:]))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self.rows(0, len(self))
        return whole if dtype is None else whole.astype(dtype)

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()
