"""Corpus folder → PassageIndex on disk, in one step (ingest, chunk, embed, save)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import settings as settings_module
from index.encoder import Encoder
from index.integrity import IndexDamaged, verify_index
from index.keyword import keyword_tokens
from index.merge_policy import DEFAULT_MERGE_POLICY, MergePolicy
from index.milvus_index import MilvusPassageIndex, index_exists, read_pointer, same_milvus_index
from index.passage_index import PassageIndex
from index.script import FOLD, fold_uncached, is_traditional
from index.segments import DocumentPart, SentenceTable
from index.versions import CURRENT, IndexMismatch, IndexNotFound
from index.writer_lock import writer_lock
from ingest.chunking import ChunkSettings
from ingest.documents import Chunk, Document
from ingest.pipeline import INGEST_VERSION, load_corpus
from ingest.sentences import sentence_spans

CHUNKS = ChunkSettings()


@dataclass(frozen=True)
class BuildSettings:
    # How documents are cut into chunks: ingest.chunking.ChunkSettings holds the defaults and says why.
    max_tokens: int = CHUNKS.max_tokens
    overlap_tokens: int = CHUNKS.overlap_tokens
    # Embed "title › section" in front of each chunk (the cited text stays the exact source text; sentences
    # are embedded without it). Measured on dev + held-out questions together and left off: README.
    context: bool = False
    # Index title and section path words with each chunk's keywords.
    keyword_context: bool = True
    intro_tokens: int = CHUNKS.intro_tokens
    # Passages are compared with questions in one folded form (index/script.py: Simplified script, mainland
    # vocabulary): their keyword tokens always, the texts embedded when ``fold_embeddings`` (measured: README,
    # "Traditional Chinese"). The stored, cited and highlighted text is the original. "" = no folding (indexes
    # built before it existed); the name changes whenever the fold does, so such an index is rebuilt, not mixed.
    fold: str = FOLD
    fold_embeddings: bool = True
    ingest: int = INGEST_VERSION  # how documents were read (ingest.pipeline): another version reads them again

    @property
    def chunking(self) -> ChunkSettings:
        return ChunkSettings(self.max_tokens, self.overlap_tokens, self.intro_tokens)

    def to_dict(self) -> dict:
        return {"splitter": "langchain_text_splitters.RecursiveCharacterTextSplitter", **asdict(self)}

    @classmethod
    def from_dict(cls, recorded: dict) -> BuildSettings:
        """The settings recorded in a manifest; one recorded before a setting existed gets the value that
        means "as built then" (no folding), not today's default."""
        known = {name for name in cls.__dataclass_fields__}
        values = {key: value for key, value in recorded.items() if key in known}
        if "fold" not in values:
            values |= {"fold": "", "fold_embeddings": False}
        values.setdefault("ingest", 1)
        return cls(**values)


@dataclass
class BuildReport:
    index_dir: Path
    documents: int
    chunks: int
    problems: list[str] = field(default_factory=list)
    embedded: int = 0  # documents (re-)embedded by this build
    removed: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # doc ids of the files read; ``problems``: those refused


ProgressCallback = Callable[[int, int], None]  # (texts embedded, texts to embed in all)

# Chunks embedded between two saves (memory and time per batch: bench/README.md, "Builds go in batches").
# Not a BuildSettings field: the batch size does not change the index, so it must not force a rebuild.
BATCH_CHUNKS = 10_000


class EmptyCorpus(RuntimeError):
    pass


def embedding_text(chunk: Chunk, context: bool) -> str:
    if not context:
        return chunk.text
    return " › ".join([chunk.title, *chunk.section]) + "\n" + chunk.text


def keyword_text(chunk: Chunk, context: bool) -> str:
    # Titles and section paths are keyword fields too: questions name the document or part they mean.
    return " ".join([chunk.title, *chunk.section, chunk.text]) if context else chunk.text


def sentence_rows(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chunk_ids, starts, ends = [], [], []
    for number, chunk in enumerate(chunks):
        for start, end in sentence_spans(chunk.text, base=chunk.start) or [(chunk.start, chunk.end)]:
            chunk_ids.append(number)
            starts.append(start)
            ends.append(end)
    return np.array(chunk_ids, np.int32), np.array(starts, np.int32), np.array(ends, np.int32)


@dataclass
class ChunkedDocument:
    """A document cut into chunks and their sentences: what a build embeds for it."""

    document: Document
    chunks: list[Chunk]
    sentence_chunk: np.ndarray  # per sentence: its chunk
    sentence_start: np.ndarray  # per sentence: offsets in the document text
    sentence_end: np.ndarray

    @property
    def texts(self) -> int:
        """Texts to embed: the chunks, then their sentences."""
        return len(self.chunks) + len(self.sentence_chunk)


def chunk_documents(
    documents: list[Document], encoder: Encoder, settings: BuildSettings, problems: list[str] | None = None
) -> list[ChunkedDocument]:
    """Each document cut into chunks; one that fails to chunk is reported in ``problems`` and left out, so
    one bad document never stops the others."""
    chunked = []
    for doc in documents:
        try:
            chunks = settings.chunking.chunk(doc, encoder.count_tokens)
        except Exception as error:  # a bug meeting an odd text: this document's problem, not the build's
            if problems is None:
                raise
            problems.append(f"{doc.doc_id}: could not be cut into passages ({type(error).__name__}: {error})")
            continue
        chunked.append(ChunkedDocument(doc, chunks, *sentence_rows(chunks)))
    return chunked


def batches(chunked: list[ChunkedDocument], chunks: int) -> list[list[ChunkedDocument]]:
    """Consecutive documents in batches of at least ``chunks`` chunks (the last may be smaller); a document
    is never split. No documents: one empty batch (an update that only removes)."""
    out: list[list[ChunkedDocument]] = [[]]
    size = 0
    for item in chunked:
        if size >= chunks:
            out.append([])
            size = 0
        out[-1].append(item)
        size += len(item.chunks)
    return out


def folder(document: Document, settings: BuildSettings) -> Callable[[str], str]:
    """Text of this document → the form it is compared in: folded in the document's own script (a short
    sentence of a Traditional document may hold no character that tells), or as it is without folding."""
    if not settings.fold:
        return str
    traditional = is_traditional(document.text)
    return lambda text: fold_uncached(text, traditional)


def embed_parts(
    chunked: list[ChunkedDocument],
    encoder: Encoder,
    settings: BuildSettings,
    progress: Callable[[int], None] | None = None,
) -> list[DocumentPart]:
    """Embed (chunks and their sentences, in one call) and tokenize chunked documents; ``progress`` hears
    the number of texts embedded after each encoder batch."""
    texts: list[str] = []
    folds = [folder(item.document, settings) for item in chunked]
    for item, fold in zip(chunked, folds, strict=True):
        embedded = fold if settings.fold_embeddings else str
        texts += [embedded(embedding_text(chunk, settings.context)) for chunk in item.chunks]
        spans = zip(item.sentence_start, item.sentence_end, strict=True)
        texts += [embedded(item.document.text[start:end]) for start, end in spans]
    vectors = encoder.encode_passages(texts, progress=progress)
    parts, first = [], 0
    for item, fold in zip(chunked, folds, strict=True):
        n, sentences = len(item.chunks), len(item.sentence_chunk)
        sentence_vectors = vectors[first + n : first + n + sentences].astype(np.float16)
        parts.append(
            DocumentPart(
                item.document,
                item.chunks,
                vectors[first : first + n],
                SentenceTable(item.sentence_chunk, item.sentence_start, item.sentence_end, sentence_vectors),
                [keyword_tokens(fold(keyword_text(chunk, settings.keyword_context))) for chunk in item.chunks],
            )
        )
        first += n + sentences
    return parts


class LocalExecutor:
    """Where a build reads, chunks and embeds documents: here, in this process (the default). Another executor
    (``index.ray_build.RayExecutor``) does the same three steps elsewhere and returns the same results; what
    a build writes, and how, does not depend on it."""

    load_corpus = staticmethod(load_corpus)
    chunk_documents = staticmethod(chunk_documents)
    embed_parts = staticmethod(embed_parts)


LOCAL = LocalExecutor()


class BuildProgress:
    """One progress report over every batch of a build: a terminal bar, a callback(done, total), or none."""

    def __init__(self, progress: bool | ProgressCallback, total: int):
        self.progress, self.total, self.done = progress, total, 0
        self.bar = tqdm(total=total, desc="Embedding passages", unit="text") if progress is True else None

    def advance(self, texts: int) -> None:
        self.done += texts
        if self.bar is not None:
            self.bar.update(texts)
        elif callable(self.progress):
            self.progress(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def previous_index(
    index_dir: Path,
    encoder: Encoder,
    settings: BuildSettings,
    log: Callable[[str], None] = print,
    vector_store: str | None = None,
) -> PassageIndex | MilvusPassageIndex | None:
    """The existing index, when it was built the same way (same model, same settings) and can be updated.

    Its files are verified first (full checksums): damaged segments are left out, so their documents are
    embedded again; a damaged version (manifest, vectors) means a whole new index. An index kept in Milvus
    is reused when ``vector_store`` names that index (``same_milvus_index``)."""
    if read_pointer(index_dir):
        if not same_milvus_index(read_pointer(index_dir), vector_store):
            return None
        try:
            previous = MilvusPassageIndex.load(index_dir)
        except IndexMismatch as error:  # another format: a whole new generation
            log(f"{error}")
            return None
        for problem in (damaged := previous.verify()):
            log(f"damaged: {problem}")
        if damaged:
            log("The index in Milvus does not match its records: building a whole new generation.")
            return None
        same = previous.model == encoder.info and previous.manifest.get("build") == settings.to_dict()
        return previous if same else None
    if not (Path(index_dir) / CURRENT).exists():
        return None
    try:
        check = verify_index(index_dir)
    except (IndexDamaged, KeyError, TypeError) as error:  # a manifest of the wrong shape
        log(f"The existing index cannot be reused ({error}); building a whole new index.")
        return None
    for path, reason in check.problems:
        log(f"damaged: {path} ({reason})")
    if check.version_damaged:
        log("The index's own files are damaged: building a whole new index.")
        return None
    if check.damaged_segments:
        log(f"{len(check.damaged_segments)} damaged segment(s): their documents are indexed again.")
    try:
        previous = PassageIndex.load(index_dir, drop=check.damaged_segments)
    except (IndexNotFound, IndexMismatch, IndexDamaged, OSError, ValueError, KeyError) as error:
        log(f"The existing index cannot be reused ({error}); building a whole new index.")
        return None
    if previous.model != encoder.info or previous.manifest.get("build") != settings.to_dict():
        return None
    return previous


def note_background(index: PassageIndex, encoder: Encoder) -> None:
    """Record in the manifest what unrelated questions score in this index: the answerability judgement
    compares each question with it (``index.answer_calibration.Background``)."""
    from index.search import Searcher

    background = Searcher(index, encoder).measure_background()
    index.manifest["background"] = background.to_dict() if background else None


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    settings: BuildSettings = BuildSettings(),
    progress: bool | ProgressCallback = True,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    incremental: bool = True,
    vector_store: str | None = None,
    lock_timeout: float | None = None,
    batch_chunks: int = BATCH_CHUNKS,
    merge_policy: MergePolicy = DEFAULT_MERGE_POLICY,
    executor: LocalExecutor = LOCAL,
) -> BuildReport:
    """Build, or update: documents whose content hash is unchanged keep their chunks and vectors.

    New and changed documents are embedded in batches of ``batch_chunks`` chunks, each written as a segment
    before the next is embedded, so memory holds one batch whatever the corpus size. Each batch is also made
    live, so a build that is stopped leaves the last saved batch live and resumes after it when run again
    (saved documents are unchanged by their content hash); every such version is a whole index, each
    document in it at its old or its new content. Only when the folder holds an index built another way
    (another model or settings) does it stay live until the new one is complete.

    ``vector_store`` is a store URI (default $CITELENS_VECTOR_STORE, else FAISS in the index folder).
    The build holds the index folder's writer lock (``index.writer_lock``): another writer waits for it
    (``lock_timeout`` None), or fails with ``IndexBusy`` at once (0) or after that many seconds.
    ``merge_policy``: when an update merges segments (``index.merge_policy``). ``executor``: where documents
    are read, chunked and embedded (``index.ray_build.RayExecutor``: a Ray cluster)."""
    if not Path(corpus_dir).is_dir():  # before the lock: a mistyped folder leaves no index folder behind
        raise EmptyCorpus(f"Corpus folder {corpus_dir} does not exist or is not a folder.")
    if vector_store is None and (pointer := read_pointer(index_dir)):  # an index in Milvus stays there
        vector_store = settings_module.given_vector_store() or pointer["uri"]
    with writer_lock(index_dir, "build", lock_timeout, log):
        options = (incremental, vector_store, batch_chunks, merge_policy, executor)
        return _build(corpus_dir, index_dir, encoder, settings, progress, log, *options)


def _build(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    settings: BuildSettings,
    progress: bool | ProgressCallback,
    log: Callable[[str], None],
    incremental: bool,
    vector_store: str | None,
    batch_chunks: int,
    merge_policy: MergePolicy,
    executor: LocalExecutor,
) -> BuildReport:
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise EmptyCorpus(f"Corpus folder {corpus_dir} does not exist or is not a folder.")
    documents, errors = executor.load_corpus(corpus_dir)
    problems = [str(error) for error in errors]
    for problem in problems:
        log(f"skipped: {problem}")
    if not documents:
        raise EmptyCorpus(f"No readable documents in {corpus_dir}; the existing index (if any) is unchanged.")
    previous = previous_index(index_dir, encoder, settings, log, vector_store) if incremental else None
    known = previous.manifest["documents"] if previous else {}
    changed = [doc for doc in documents if known.get(doc.doc_id, {}).get("content_hash") != doc.content_hash]
    removed = sorted(set(known) - {doc.doc_id for doc in documents})
    report = BuildReport(Path(index_dir), len(documents), 0, problems, len(changed), removed)
    report.accepted = [doc.doc_id for doc in documents]
    log(
        f"{len(documents)} documents: {len(changed)} to embed, {len(documents) - len(changed)} unchanged, "
        f"{len(removed)} removed; model {encoder.name}"
    )
    unchunked: list[str] = []  # a document that fails to chunk keeps its previous copy, if it had one
    chunked = executor.chunk_documents(changed, encoder, settings, unchunked)
    for problem in unchunked:
        log(f"skipped: {problem}")
    report.problems += unchunked
    failed = {problem.split(": ", 1)[0] for problem in unchunked}
    report.accepted = [doc_id for doc_id in report.accepted if doc_id not in failed]
    del documents, changed  # from here on a document is held by its batch only
    work = batches(chunked, batch_chunks)
    progress_report = BuildProgress(progress, sum(item.texts for item in chunked))
    del chunked
    # Each batch is made live as it is saved, unless an index built another way (model, settings) is there:
    # that one stays live until the new one is whole.
    publish_batches = previous is not None or not index_exists(index_dir)
    index, gone, known_ids = previous, set(removed), set(known)
    try:
        for number in range(len(work)):
            batch, work[number] = work[number], []
            parts = executor.embed_parts(batch, encoder, settings, progress_report.advance)
            del batch
            if index is None:
                index = PassageIndex.create(parts, encoder.info, settings.to_dict(), corpus_dir, vector_store)
            else:  # a new segment of this batch; the old copies of its documents, and removed ones, deleted
                gone |= {part.document.doc_id for part in parts} & known_ids
                index = index.update(parts, gone, corpus_dir, vector_store, merge_policy)
                gone = set()
            del parts
            last = number + 1 == len(work)
            if last or publish_batches:
                note_background(index, encoder)
                index.save(index_dir)
            if not last:
                state = "searchable so far" if publish_batches else "written; the previous index stays live"
                log(f"Batch {number + 1} of {len(work)}: {len(index.chunks)} chunks {state}.")
                index = index.spill(index_dir)  # segments read back from disk: the batch leaves memory
    finally:
        progress_report.close()
    report.chunks = len(index.chunks)
    log(f"Index saved to {index_dir}: {report.chunks} chunks.")
    return report
