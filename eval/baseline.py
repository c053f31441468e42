"""The plain recipe every configuration is measured against: raw files split into
500-character pieces, embedded with the same model, exact FAISS top-k. No cleaning,
no structure, no keywords — what a first prototype does."""

from __future__ import annotations

from pathlib import Path

from index.encoder import Encoder
from index.hits import Hit
from ingest.readers import iter_corpus_files, read_document_file

PIECE_CHARS = 500


class PlainRecipe:
    def __init__(self, corpus_dir: Path, encoder: Encoder):
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=PIECE_CHARS, chunk_overlap=0)
        self.encoder = encoder
        self.pieces: list[tuple[str, str]] = []  # (file name, text)
        for path in iter_corpus_files(Path(corpus_dir)):
            doc_id = path.relative_to(corpus_dir).as_posix()
            raw = read_document_file(path, doc_id).text
            self.pieces += [(doc_id, piece) for piece in splitter.split_text(raw)]
        self.index = faiss.IndexFlatIP(encoder.dimension)
        self.index.add(encoder.encode_passages([text for _, text in self.pieces]))

    @property
    def passages(self) -> dict[str, str]:
        return {f"plain:{doc}#{i}": text for i, (doc, text) in enumerate(self.pieces)}

    def search(self, question: str, k: int = 10) -> list[Hit]:
        scores, ids = self.index.search(self.encoder.encode_queries([question]), k)
        hits = []
        for rank, (i, score) in enumerate(zip(ids[0], scores[0], strict=True), 1):
            if i < 0:
                continue
            doc, text = self.pieces[i]
            hits.append(Hit(rank, float(score), f"plain:{doc}#{i}", doc, doc, (), 0, 0, text, 0, len(text)))
        return hits
