"""Benchmark data: a larger corpus of realistic Chinese text, and synthetic vectors that resemble real ones.

Both are generated from the bundled documents, deterministically (a seed), so every run of the
benchmark measures the same texts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from index import settings

PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n|\u3000\u3000")


def bundled_paragraphs(corpus_dir: Path = settings.BUNDLED_CORPUS) -> list[str]:
    paragraphs = []
    for path in sorted(Path(corpus_dir).glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        paragraphs += [p.strip() for p in PARAGRAPH_BREAK.split(text) if len(p.strip()) >= 20]
    return paragraphs


def generate_corpus(out_dir: Path, target_chars: int, seed: int = 7, paragraphs_per_document: int = 60) -> Path:
    """Documents of shuffled bundled paragraphs (with a title line), until ``target_chars`` of text.

    Each document is a random draw of paragraphs, so the text is real Chinese prose in realistic
    proportions while the documents (and so the chunks) differ from one another.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paragraphs = bundled_paragraphs()
    rng = random.Random(seed)
    written, number = 0, 0
    while written < target_chars:
        body = rng.sample(paragraphs, min(paragraphs_per_document, len(paragraphs)))
        title = body[0][:18].rstrip("，。；：、")
        text = f"{title}\n\n" + "\n\n".join(body) + "\n"
        (out_dir / f"gen_{number:05d}.txt").write_text(text, encoding="utf-8")
        written += len(text)
        number += 1
    return out_dir


MIX = 0.5  # share of the covariance drawn fresh; the rest comes from a real anchor vector


def _draw(real: np.ndarray, mean: np.ndarray, n: int, basis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    anchors = real[rng.integers(0, len(real), n)] - mean
    noise = rng.standard_normal((n, basis.shape[0]), dtype=np.float32) @ basis
    vectors = mean + np.sqrt(1 - MIX) * anchors + np.sqrt(MIX) * noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def synthetic_vectors(real: np.ndarray, n: int, seed: int = 11, chunk: int = 100_000) -> tuple[np.ndarray, dict]:
    """``n`` unit vectors that keep the real embeddings' mean and covariance and some of their clusters.

    Each is mean + √(1-MIX)·(a real vector − mean) + √MIX·(Gaussian noise with the real covariance),
    renormalized: halfway between a real neighbour and an independent draw of the same distribution.
    """
    rng = np.random.default_rng(seed)
    real = np.asarray(real, dtype=np.float32)
    mean = real.mean(0)
    _, singular, axes = np.linalg.svd(real - mean, full_matrices=False)
    basis = (singular[:, None] * axes / np.sqrt(len(real))).astype(np.float32)  # z @ basis ~ N(0, covariance)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for first in range(0, n, chunk):
        out[first : first + chunk] = _draw(real, mean, min(chunk, n - first), basis, rng)
    sample = out[rng.choice(n, min(n, 2000), replace=False)]
    real_sample = real[rng.choice(len(real), min(len(real), 2000), replace=False)]
    info = {
        "method": "mean + sqrt(1-m)*(real vector - mean) + sqrt(m)*N(0, real covariance), renormalized",
        "m": MIX,
        "real_vectors": len(real),
        "mean_pairwise_cosine_real": round(float(np.mean(real_sample @ real_sample.T)), 4),
        "mean_pairwise_cosine_synthetic": round(float(np.mean(sample @ sample.T)), 4),
    }
    return out, info


def synthetic_index_parts(
    real, size: int, seed: int = 5, chunks_per_document: int = 50, batch: int | None = None
) -> tuple[Iterator[list], dict]:
    """Document parts of ``size`` passages, in lists of about ``batch`` passages (one list when None): the
    real index's own first, then synthetic ones. Returns (the lists, as they are made; facts about them).

    A synthetic passage is a run of consecutive real sentences (as many as real passages hold), with
    those sentences' real embeddings and keyword tokens; its passage vector is drawn by
    ``synthetic_vectors`` from the real passage vectors. Documents group ``chunks_per_document``.
    """
    from index.keyword import keyword_tokens
    from index.segments import DocumentPart, SentenceTable

    rng = np.random.default_rng(seed)
    real_parts = list(real.parts().values())
    kept, taken = [], 0
    for part in real_parts:
        if taken >= size:
            break
        keep = min(len(part.chunks), size - taken)
        rows = part.sentences.chunk < keep
        kept.append(
            DocumentPart(
                part.document,
                part.chunks[:keep],
                np.asarray(part.vectors, dtype=np.float32)[:keep],
                SentenceTable(
                    part.sentences.chunk[rows],
                    part.sentences.start[rows],
                    part.sentences.end[rows],
                    part.sentences.vectors[rows],
                ),
                part.keyword_tokens[:keep],
            )
        )
        taken += keep
    info: dict = {"real_passages": taken, "synthetic_passages": max(0, size - taken)}
    missing = size - taken
    if missing <= 0:
        return iter([kept]), info
    texts = [
        part.document.text[s:e]
        for part in real_parts
        for s, e in zip(part.sentences.start, part.sentences.end, strict=True)
    ]
    sentence_vectors = np.concatenate([np.asarray(part.sentences.vectors) for part in real_parts])
    tokens = [keyword_tokens(text) for text in texts]
    per_chunk = np.concatenate([np.bincount(part.sentences.chunk, minlength=len(part.chunks)) for part in real_parts])
    per_chunk = per_chunk[per_chunk > 0]
    # Real passage-side embeddings to draw around: the passages' and their sentences' (thousands, not hundreds).
    real_vectors = np.concatenate(
        [np.asarray(part.vectors, dtype=np.float32) for part in real_parts] + [sentence_vectors.astype(np.float32)]
    )
    vectors, vector_info = synthetic_vectors(real_vectors, missing, seed=seed)
    info["vectors"] = vector_info

    def batches() -> Iterator[list]:
        parts, passages = list(kept), taken
        made, number = 0, 0
        while made < missing:
            count = min(chunks_per_document, missing - made)
            parts.append(
                _synthetic_document(
                    number, count, seed, texts, tokens, sentence_vectors, per_chunk, rng, vectors[made : made + count]
                )
            )
            made += count
            passages += count
            number += 1
            if batch and passages >= batch and made < missing:
                yield parts
                parts, passages = [], 0
        yield parts

    return batches(), info


def _synthetic_document(number, count, seed, texts, tokens, sentence_vectors, per_chunk, rng, vectors):
    """One synthetic document of ``count`` passages of runs of real sentences (see synthetic_index_parts)."""
    from index.segments import DocumentPart, SentenceTable
    from ingest.documents import Chunk, Document, Paragraph

    pool = len(texts)
    doc_id = f"synthetic/{number:06d}.txt"
    title = f"合成文档{number}"
    chunk_texts, chunk_rows = [], []
    for _ in range(count):
        k = int(per_chunk[rng.integers(len(per_chunk))])
        first = int(rng.integers(pool))
        rows = [(first + j) % pool for j in range(k)]
        chunk_rows.append(rows)
        chunk_texts.append("".join(texts[r] for r in rows))
    text = "\n\n".join(chunk_texts)
    chunks, paragraphs, sentence_chunk, starts, ends, sentence_rows, chunk_tokens = [], [], [], [], [], [], []
    offset = 0
    for i, (chunk_text, rows) in enumerate(zip(chunk_texts, chunk_rows, strict=True)):
        end = offset + len(chunk_text)
        chunks.append(Chunk(f"{doc_id}#{i}", doc_id, title, chunk_text, offset, end, i + 1, i + 1))
        paragraphs.append(Paragraph(i + 1, offset, end))
        position = offset
        for r in rows:
            sentence_chunk.append(i)
            starts.append(position)
            position += len(texts[r])
            ends.append(position)
            sentence_rows.append(r)
        chunk_tokens.append([token for r in rows for token in tokens[r]])
        offset = end + 2
    document = Document(doc_id, title, text, paragraphs, content_hash=f"synthetic-{seed}-{number}")
    return DocumentPart(
        document,
        chunks,
        vectors,
        SentenceTable(
            np.array(sentence_chunk, np.int32),
            np.array(starts, np.int32),
            np.array(ends, np.int32),
            sentence_vectors[np.array(sentence_rows)],
        ),
        chunk_tokens,
    )
