"""BM25 keyword index over Chinese word segmentation (jieba) and English words.

bm25s keeps the index as a sparse matrix, so scoring a question is a sparse
row lookup, not a pass over the collection.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from index import lexicon
from index.stored_arrays import StoredArray

WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
# Function words in both languages (index/lexicon/stopwords.txt): in nearly every passage, they rank nothing.
STOP_WORDS = lexicon.words("stopwords.txt")


def keyword_tokens(text: str) -> list[str]:
    """Search-mode jieba segmentation (words and their sub-words), lower-cased, no stop words."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokens = []
    for token in jieba.cut_for_search(text.lower()):
        token = token.strip()
        if token and WORD.search(token) and token not in STOP_WORDS:
            tokens.append(token)
    return tokens


class KeywordIndex:
    """BM25 over each passage's tokens; the tokens are kept so an incremental build reuses them.

    A loaded index memory-maps bm25s's sparse matrix and reads the token lists only when an incremental
    build asks for them (``tokens``): a searching process never needs them, and as Python strings they
    are the largest part of a loaded index (~2 GB at 100k passages).
    """

    def __init__(
        self,
        bm25,
        tokens: list[list[str]] | None = None,
        tokens_file: Path | None = None,
        columns: tuple[StoredArray, StoredArray] | None = None,
    ):
        self.bm25 = bm25
        self._tokens = tokens
        self._tokens_file = tokens_file
        self.vocabulary = bm25.vocab_dict
        # Postings are read straight from the matrix (``postings``); that equals bm25s's own scoring only
        # for methods without a non-occurrence score (the default "lucene" has none).
        self._sparse = getattr(bm25, "nonoccurrence_array", None) is None
        # The matrix's (indices, data) read with pread in a loaded index (``StoredArray``): read through the
        # memory map, every question's columns stayed in the serving process (~30 MB a question at 1M).
        self._columns = columns

    @property
    def tokens(self) -> list[list[str]]:
        if self._tokens is None:
            if self._tokens_file is None:
                raise ValueError("this keyword index holds no token lists")
            with open(self._tokens_file, encoding="utf-8") as lines:
                self._tokens = [line[:-1].split(" ") if line != "\n" else [] for line in lines]
        return self._tokens

    @property
    def passages(self) -> int:
        return int(self.bm25.scores["num_docs"])

    @classmethod
    def from_tokens(cls, tokens: list[list[str]]) -> KeywordIndex:
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        return cls(bm25, tokens)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for these tokens (unknown tokens are ignored)."""
        known = [token for token in query_tokens if token in self.vocabulary]
        if not known:
            return np.zeros(self.bm25.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, BM25 scores) of the passages holding this token, rows ascending: the token's column of
        the sparse matrix, so a question costs what its tokens occur in, not the collection's size.
        The scores are exactly ``scores([token])`` at those rows (float32)."""
        column = self.vocabulary.get(token)
        if column is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if not self._sparse:  # fall back to bm25s's dense scoring
            scores = self.scores([token])
            rows = np.flatnonzero(scores)
            return rows, scores[rows]
        matrix = self.bm25.scores
        start, end = int(matrix["indptr"][column]), int(matrix["indptr"][column + 1])
        indices, data = self._columns or (matrix["indices"], matrix["data"])
        rows = np.asarray(indices[start:end], dtype=np.int64)
        values = np.asarray(data[start:end], dtype=np.float32)
        if len(rows) > 1 and not bool(np.all(rows[1:] > rows[:-1])):
            order = np.argsort(rows, kind="stable")
            rows, values = rows[order], values[order]
        return rows, values

    def frequency(self, token: str) -> int:
        """How many passages hold this token."""
        column = self.vocabulary.get(token)
        if column is None:
            return 0
        if not self._sparse:
            return int(np.count_nonzero(self.scores([token])))
        indptr = self.bm25.scores["indptr"]
        return int(indptr[column + 1] - indptr[column])

    def scores_at(self, token: str, rows: np.ndarray) -> np.ndarray:
        """This token's BM25 scores at these rows (0 where absent): a binary search in its column per row,
        not a merge of the column into the collection's scores (the column is read: a copy from the page
        cache, a few MB for a token held by every passage of a million). The column's rows are ascending
        (bm25s fills the matrix passage by passage; ``postings`` checks it)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), np.float32)
        column = self.vocabulary.get(token)
        if column is None or not len(rows):
            return out
        if not self._sparse:
            return self.scores([token])[rows]
        matrix = self.bm25.scores
        start, end = int(matrix["indptr"][column]), int(matrix["indptr"][column + 1])
        indices, data = self._columns or (matrix["indices"], matrix["data"])
        indices = indices[start:end]
        at = np.searchsorted(indices, rows)
        found = at < len(indices)
        found[found] = indices[at[found]] == rows[found]
        out[found] = data[start:end][at[found]]
        return out

    def save(self, directory: Path) -> None:
        self.bm25.save(str(directory), show_progress=False)
        with open(Path(directory) / "tokens.txt", "w", encoding="utf-8") as out:
            out.writelines(" ".join(tokens) + "\n" for tokens in self.tokens)  # jieba tokens never hold spaces

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        import bm25s

        # Memory-mapped, so loading reads nothing; postings are then read with pread (``columns``).
        bm25 = bm25s.BM25.load(str(directory), show_progress=False, verbosity=0, mmap=True)
        files = [Path(directory) / f"{name}.csc.index.npy" for name in ("indices", "data")]
        columns = (StoredArray(files[0]), StoredArray(files[1])) if all(f.exists() for f in files) else None
        return cls(bm25, tokens_file=Path(directory) / "tokens.txt", columns=columns)
