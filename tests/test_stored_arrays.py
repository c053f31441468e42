"""Index arrays read by row ranges (pread): the same values as the .npy file, and nothing of the largest
files mapped into a searching process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.passage_index import PassageIndex
from index.search import Searcher
from index.stored_arrays import StoredArray
from tests.test_index import built_index  # noqa: F401 (fixture)


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.float32])
def test_rows_read_equal_the_saved_array(tmp_path, dtype):
    array = (np.arange(7 * 5).reshape(7, 5) * 3).astype(dtype)
    np.save(tmp_path / "a.npy", array)
    stored = StoredArray(tmp_path / "a.npy")
    assert len(stored) == 7 and stored.shape == (7, 5) and stored.dtype == array.dtype
    assert np.array_equal(stored[2:5], array[2:5]) and stored[5:2].shape == (0, 5)
    assert np.array_equal(stored[-1], array[-1]) and np.array_equal(stored[3], array[3])
    assert np.array_equal(np.asarray(stored), array) and np.array_equal(stored[[0, 6]], array[[0, 6]])
    assert np.array_equal(np.concatenate([stored, stored]), np.concatenate([array, array]))
    with pytest.raises(IndexError):
        stored[7]
    column = np.arange(10, dtype=np.int32)
    np.save(tmp_path / "c.npy", column)
    assert np.array_equal(StoredArray(tmp_path / "c.npy")[4:9], column[4:9])


def resident_kb_by_file() -> dict[str, int]:
    """Resident memory of each file mapped into this process (Linux smaps)."""
    resident: dict[str, int] = {}
    name = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            name = Path(parts[5]).name if len(parts) > 5 else None
        elif parts and parts[0] == "Rss:" and name:
            resident[name] = resident.get(name, 0) + int(parts[1])
    return resident


def test_a_search_holds_no_pages_of_sentence_vectors_or_postings(built_index, encoder):  # noqa: F811
    index = PassageIndex.load(built_index)
    searcher = Searcher(index, encoder)
    hits = searcher.search("中国制定了哪些数据安全方面的法律？", k=3)
    assert hits and hits[0].sentence  # sentence scores and highlights were read
    resident = resident_kb_by_file()
    assert "sentence_vectors.npy" not in resident  # read with pread, never mapped
    # bm25s maps its matrix; postings are read with pread, so none of its pages are in this process
    assert resident.get("data.csc.index.npy", 0) == resident.get("indices.csc.index.npy", 0) == 0
    table = index.segments[0].sentences
    saved = np.load(index.segments[0].directory / "sentence_vectors.npy")
    assert np.array_equal(table.vectors[3:9], saved[3:9])
