"""The live view over an index's segments: the rest of CiteLens sees live rows numbered 0..n-1, segment
after segment, and ``LiveChunks``, ``LiveDocuments``, ``LiveSentences`` and ``LiveKeywords`` map them to
segment rows, leaving out the rows of documents deleted since their segment was written.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from index.segments import Segment
from ingest.documents import Chunk, Document


class LiveRows:
    """Which rows of each segment are live, numbered 0..n-1 segment after segment."""

    def __init__(self, segments: list[Segment], deleted: list[frozenset[str]]):
        self.segments = segments
        self.deleted = deleted
        self.local: list[np.ndarray] = []  # per segment: its live rows, ascending
        self.to_live: list[np.ndarray] = []  # per segment: row -> live row (-1: deleted)
        bases = [0]
        for segment, gone in zip(segments, deleted, strict=True):
            mask = np.ones(len(segment), bool)
            for doc_id in gone:
                first, count = segment.document_rows[doc_id]
                mask[first : first + count] = False
            local = np.flatnonzero(mask)
            to_live = np.full(len(mask), -1, np.int64)
            to_live[local] = bases[-1] + np.arange(len(local))
            self.local.append(local)
            self.to_live.append(to_live)
            bases.append(bases[-1] + len(local))
        self.bases = bases  # live rows of segment s are bases[s]:bases[s + 1]

    def __len__(self) -> int:
        return self.bases[-1]

    @property
    def rows(self) -> int:
        """Rows on disk, deleted ones included."""
        return sum(len(segment) for segment in self.segments)

    def locate(self, live_row: int) -> tuple[int, int]:
        """(segment, its row) of a live row."""
        if not 0 <= live_row < self.bases[-1]:
            raise IndexError(f"chunk {live_row} out of range")
        s = bisect.bisect_right(self.bases, live_row) - 1
        return s, int(self.local[s][live_row - self.bases[s]])


class LiveChunks(Sequence[Chunk]):
    """``index.chunks``: live chunk i, read from its segment."""

    def __init__(self, rows: LiveRows):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        s, row = self.rows.locate(i + len(self) if i < 0 else i)
        return self.rows.segments[s].chunks[row]

    def __iter__(self) -> Iterator[Chunk]:
        for segment, to_live in zip(self.rows.segments, self.rows.to_live, strict=True):
            for chunk, live in zip(segment.chunks, to_live, strict=True):  # sequential read, deleted skipped
                if live >= 0:
                    yield chunk


class LiveDocuments(Mapping[str, Document]):
    """``index.documents``: doc_id -> Document, for the live documents of every segment."""

    def __init__(self, rows: LiveRows):
        self.rows = rows
        self.segment_of = {
            doc_id: s
            for s, segment in enumerate(rows.segments)
            for doc_id in segment.document_rows
            if doc_id not in rows.deleted[s]
        }

    def chunk_rows(self, doc_ids: Iterable[str]) -> np.ndarray:
        """The live chunk rows of these documents, ascending (ids of no live document are left out)."""
        found = [np.zeros(0, np.int64)]
        for doc_id in doc_ids:
            if doc_id in self.segment_of:
                s = self.segment_of[doc_id]
                first, count = self.rows.segments[s].document_rows[doc_id]
                found.append(self.rows.to_live[s][first : first + count])
        return np.unique(np.concatenate(found))

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self.segment_of:
            raise KeyError(doc_id)
        return self.rows.segments[self.segment_of[doc_id]].documents[doc_id]

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.segment_of

    def __iter__(self) -> Iterator[str]:
        return iter(self.segment_of)

    def __len__(self) -> int:
        return len(self.segment_of)


class LiveSentences:
    """``index.sentences``: the sentences of live chunks. Sentence rows are numbered over all segments
    (segment s's row r is ``bases[s] + r``); ``rows_of(chunk)`` gives a live chunk's rows, and the columns
    ``start``, ``end`` and ``vectors`` take a row or a slice of one chunk's rows."""

    def __init__(self, rows: LiveRows):
        self.rows = rows
        self.tables = [segment.sentences for segment in rows.segments]
        self.bases = [0]
        for table in self.tables:
            self.bases.append(self.bases[-1] + len(table))
        self.start = _SentenceColumn(self, "start")
        self.end = _SentenceColumn(self, "end")
        self.vectors = _SentenceColumn(self, "vectors")

    def rows_of(self, chunk: int) -> slice:
        s, row = self.rows.locate(chunk)
        local = self.tables[s].rows_of(row)
        return slice(self.bases[s] + local.start, self.bases[s] + local.stop)

    def __len__(self) -> int:
        """Sentences of live chunks."""
        total = 0
        for table, local in zip(self.tables, self.rows.local, strict=True):  # segments' tables carry offsets
            total += int((table.offsets[local + 1] - table.offsets[local]).sum())
        return total

    def _locate(self, row: int) -> tuple[int, int]:
        s = bisect.bisect_right(self.bases, row) - 1
        return s, row - self.bases[s]


class _SentenceColumn:
    def __init__(self, sentences: LiveSentences, name: str):
        self.sentences, self.name = sentences, name

    def __getitem__(self, key):
        if isinstance(key, slice):  # one chunk's rows: always within one segment
            s, start = self.sentences._locate(key.start)
            return getattr(self.sentences.tables[s], self.name)[start : start + (key.stop - key.start)]
        s, row = self.sentences._locate(int(key))
        return getattr(self.sentences.tables[s], self.name)[row]


def lucene_idf(document_frequency: int, documents: int) -> float:
    """BM25's IDF as bm25s's default ("lucene") method computes it."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


class LiveKeywords:
    """``index.keyword``: BM25 over the live rows of every segment.

    Each segment holds a bm25s index whose scores carry that segment's IDF. Postings are rescaled to the
    IDF over all segments (document frequency and count summed, deleted rows included until a merge, as
    Lucene does), so a small new segment's rare words weigh what they weigh in the whole collection. The
    length normalisation stays per segment (its own average passage length): with one segment the scores
    are bm25s's own, to the bit."""

    def __init__(self, rows: LiveRows):
        self.rows = rows
        self.indexes = [segment.keyword for segment in rows.segments]
        self.vocabulary = _Vocabulary([index.vocabulary for index in self.indexes])
        self.documents = sum(index.passages for index in self.indexes)

    @property
    def passages(self) -> int:
        return len(self.rows)

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """(live rows ascending, BM25 scores float32) of the passages holding this token."""
        found = [index.postings(token) for index in self.indexes]
        frequency = sum(len(rows) for rows, _ in found)
        if frequency == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idf = lucene_idf(frequency, self.documents) if len(found) > 1 else 0.0
        all_rows, all_values = [], []
        for s, (rows, values) in enumerate(found):
            if not len(rows):
                continue
            if len(found) > 1:
                scale = idf / lucene_idf(len(rows), self.indexes[s].passages)
                values = values * np.float32(scale) if scale != 1.0 else values
            if self.rows.deleted[s]:  # some rows deleted: map each, drop the deleted
                live = self.rows.to_live[s][rows]
                keep = live >= 0
                rows, values = live[keep], values[keep]
            elif self.rows.bases[s]:  # no deletions: live rows are the segment's rows, shifted
                rows = rows + self.rows.bases[s]
            all_rows.append(rows)
            all_values.append(values)
        if len(all_rows) == 1:
            return all_rows[0], all_values[0]
        return np.concatenate(all_rows), np.concatenate(all_values)

    def frequency(self, token: str) -> int:
        """Passages holding this token, in every segment (deleted rows included until a merge)."""
        return sum(index.frequency(token) for index in self.indexes)

    def scores_at(self, token: str, rows: np.ndarray) -> np.ndarray:
        """This token's BM25 scores at these live rows (0 where absent), without reading its postings."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), np.float32)
        frequency = self.frequency(token) if len(self.indexes) > 1 else 0
        for s, index in enumerate(self.indexes):
            first, last = self.rows.bases[s], self.rows.bases[s + 1]
            inside = (rows >= first) & (rows < last)
            if not inside.any():
                continue
            values = index.scores_at(token, self.rows.local[s][rows[inside] - first])
            own = index.frequency(token) if frequency else 0
            if own:
                scale = lucene_idf(frequency, self.documents) / lucene_idf(own, index.passages)
                values = values * np.float32(scale) if scale != 1.0 else values
            out[inside] = values
        return out

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every live passage for these tokens (unknown tokens are ignored)."""
        total = np.zeros(len(self.rows), np.float32)
        for token in query_tokens:
            rows, values = self.postings(token)
            total[rows] += values
        return total

    @property
    def tokens(self) -> list[list[str]]:
        """Each live passage's keyword tokens (read from disk: for builds, not searches)."""
        out: list[list[str]] = []
        for index, local in zip(self.indexes, self.rows.local, strict=True):
            tokens = index.tokens
            out += [tokens[row] for row in local]
        return out


class _Vocabulary:
    """The union of the segments' vocabularies: membership without building one big dictionary."""

    def __init__(self, vocabularies: list[Mapping[str, int]]):
        self.vocabularies = vocabularies

    def __contains__(self, token: object) -> bool:
        return any(token in vocabulary for vocabulary in self.vocabularies)

    def __iter__(self) -> Iterator[str]:
        if len(self.vocabularies) == 1:
            return iter(self.vocabularies[0])
        return iter(set().union(*self.vocabularies))
