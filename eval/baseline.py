"""The plain recipes every configuration is measured against: raw files split into 500-character pieces,
searched by one method with nothing else — what a first prototype does. No cleaning, no structure, no
script folding, no fusion.

- ``PlainRecipe`` (configuration ``plain``, "plain dense"): the pieces embedded with the same model, exact
  FAISS top-k;
- ``PlainBM25`` (configuration ``plain-bm25``): BM25 (bm25s) over jieba tokens of the pieces and of the
  question as written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np

from index import settings
from index.encoder import Encoder
from index.hits import Hit
from ingest.readers import iter_corpus_files, read_document_file

PIECE_CHARS = 500
WORD = re.compile(r"\w")


def raw_pieces(corpus_dir: Path) -> list[tuple[str, str]]:
    """(file name, text) of each 500-character piece of the raw files (LangChain's recursive splitter)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=PIECE_CHARS, chunk_overlap=0)
    pieces = []
    for path in iter_corpus_files(Path(corpus_dir)):
        doc_id = path.relative_to(corpus_dir).as_posix()
        raw = read_document_file(path, doc_id).text
        pieces += [(doc_id, piece) for piece in splitter.split_text(raw)]
    return pieces


def piece_hits(pieces: list[tuple[str, str]], ids, scores) -> list[Hit]:
    hits = []
    for rank, (i, score) in enumerate(zip(ids, scores, strict=True), 1):
        doc, text = pieces[i]
        hits.append(Hit(rank, float(score), f"plain:{doc}#{i}", doc, doc, (), 0, 0, text, 0, len(text)))
    return hits


class PlainRecipe:
    """Plain dense: the pieces embedded (vectors cached by model and texts: a rerun embeds nothing)."""

    def __init__(self, corpus_dir: Path, encoder: Encoder):
        import faiss

        self.encoder = encoder
        self.pieces = raw_pieces(corpus_dir)
        self.index = faiss.IndexFlatIP(encoder.dimension)
        self.index.add(self.vectors([text for _, text in self.pieces]))

    def vectors(self, texts: list[str]) -> np.ndarray:
        key = hashlib.sha256(json.dumps([self.encoder.info.to_dict(), texts], ensure_ascii=False).encode()).hexdigest()
        path = settings.cache_dir() / "eval-plain" / f"{key[:16]}.npy"
        if path.exists():
            return np.load(path)
        vectors = self.encoder.encode_passages(texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors

    @property
    def passages(self) -> dict[str, str]:
        return {f"plain:{doc}#{i}": text for i, (doc, text) in enumerate(self.pieces)}

    def search(self, question: str, k: int = 10) -> list[Hit]:
        scores, ids = self.index.search(self.encoder.encode_queries([question]), k)
        keep = ids[0] >= 0
        return piece_hits(self.pieces, ids[0][keep], scores[0][keep])


def plain_tokens(text: str) -> list[str]:
    """jieba's default (precise) segmentation, lower-cased; punctuation and spaces left out."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [token for token in jieba.lcut(text.lower()) if WORD.search(token)]


class PlainBM25:
    """Plain BM25: bm25s (its default Lucene scoring) over jieba tokens of the same pieces."""

    def __init__(self, corpus_dir: Path):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.pieces = raw_pieces(corpus_dir)
        self.bm25 = bm25s.BM25()
        self.bm25.index([plain_tokens(text) for _, text in self.pieces], show_progress=False)
        self.vocabulary = self.bm25.vocab_dict

    @property
    def passages(self) -> dict[str, str]:
        return {f"plain:{doc}#{i}": text for i, (doc, text) in enumerate(self.pieces)}

    def search(self, question: str, k: int = 10) -> list[Hit]:
        tokens = [token for token in plain_tokens(question) if token in self.vocabulary]
        if not tokens:
            return []
        scores = np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)
        ids = np.argsort(-scores, kind="stable")[:k]
        ids = ids[scores[ids] > 0]
        return piece_hits(self.pieces, ids, scores[ids])
