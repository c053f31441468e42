"""An index kept wholly in Milvus: what a search reads is in collections, so any number of search processes
on any machines need only the model and the URI (the index folder holds one pointer file, ``milvus.json``).

Collections, named ``{name}_{generation}_{part}`` (a full build writes a new generation; an update changes
the live one in place):

- ``chunks``: label (INT64 key), chunk vector, document id, text and citation fields, the passage's keyword
  tokens as CiteLens cut them, and its folded keyword text, which Milvus indexes itself for full-text
  search (a BM25 function over a ``jieba`` analyzer into a sparse field);
- ``sentences``: each chunk's sentences (a chunk's labels are consecutive), their offsets and vectors;
- ``documents``: each document's manifest entry and what its hits cite (date, url, source, headings);
- ``terms``: keyword token → passages holding it (the vocabulary the English→Chinese translation and the
  relevance judgement weigh words by).

``{name}_meta`` holds the live generation and the manifest (model, build settings, background, counts);
switching it is one upsert, so a full build goes live at once. The generation before stays until the next
full build, so a process still searching it is not cut off.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.keyword import STOP_WORDS
from index.models import ModelInfo
from index.search.assemble import DocumentInfo
from index.segments import DocumentPart
from index.stores.base import parse_milvus_uri
from index.stores.milvus import MilvusStore, id_filter, milvus_client
from index.translate import QueryTranslator
from index.versions import IndexMismatch, IndexNotFound, check_model
from ingest.documents import Chunk, Document, Paragraph

POINTER = "milvus.json"
FORMAT = "citelens-milvus-1"  # the pointer file's
# The collections' layout and what the keyword text holds; another one is rebuilt by the next build.
# 2: the keyword text lower-cased and without punctuation before Milvus cuts it.
INDEX_FORMAT = "citelens-milvus-2"
# Characters no keyword token keeps (index/keyword.py drops tokens without a word character; jieba keeps
# + # & . _ % - inside words, as in 2.5%): spaces instead, so Milvus's analyzer cuts the passage's words as
# CiteLens does and counts no punctuation in its length.
NOT_KEYWORD = re.compile(r"[^\w+#&.%\-]+")
MAX_TEXT_BYTES = 65_535  # Milvus's longest VARCHAR
BATCH = 1000  # rows a write or a read sends at once
CACHE = 16_384  # chunk and sentence records a process keeps (least recently used go first)
# Milvus's analyzer cuts the keyword text as CiteLens's own keyword side does (index/keyword.py): jieba's search
# mode (words and their sub-words), lower case, CiteLens's stop words.
ANALYZER = {
    "tokenizer": {"type": "jieba", "mode": "search", "hmm": True},
    "filter": ["lowercase", {"type": "stop", "stop_words": sorted(STOP_WORDS)}],
}
BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, as the embedded keyword index has them
PARTS = ("chunks", "sentences", "documents", "terms")


def read_pointer(directory: Path) -> dict | None:
    """The Milvus index an index folder points at, or None when the folder holds none."""
    path = Path(directory) / POINTER
    if not path.is_file():
        return None
    pointer = json.loads(path.read_text(encoding="utf-8"))
    if pointer.get("format") != FORMAT:
        raise IndexMismatch(f"{path} is not a CiteLens Milvus pointer ({FORMAT})")
    return pointer


def index_exists(directory: Path) -> bool:
    """Whether the folder holds an index: embedded (a CURRENT version) or kept in Milvus (a pointer)."""
    from index.integrity import CURRENT

    return (Path(directory) / CURRENT).exists() or (Path(directory) / POINTER).exists()


def same_milvus_index(pointer: dict, uri: str | None) -> bool:
    """Whether the store URI names the Milvus index the pointer points at (same address, same name)."""
    from index import settings
    from index.stores.base import is_milvus

    wanted = settings.vector_store_uri(uri)
    if not is_milvus(wanted):
        return False
    return parse_milvus_uri(wanted)[0] == parse_milvus_uri(pointer["uri"])[0] and index_name(wanted) == pointer["name"]


def write_pointer(directory: Path, uri: str, name: str) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staged = directory / f".{POINTER}.{os.getpid()}"
    staged.write_text(json.dumps({"format": FORMAT, "uri": uri, "name": name}, indent=1) + "\n", encoding="utf-8")
    os.replace(staged, directory / POINTER)


def index_name(uri: str) -> str:
    """The index's name in Milvus: ``?collection=NAME`` of the URI, else "citelens"."""
    return parse_milvus_uri(uri)[1].get("collection", "citelens")


def connect(uri: str):
    """A client for the URI: a milvus-lite folder (one process at a time) or a Milvus server."""
    # milvus-lite keeps no session timestamps for iterators: the client falls back to its own clock, as it
    # should, but warns on every scan.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    address, _ = parse_milvus_uri(uri)
    local = not address.startswith(("http://", "https://", "tcp://", "unix:"))
    if local:
        Path(address).parent.mkdir(parents=True, exist_ok=True)
    return milvus_client(address, "" if local else os.environ.get("MILVUS_TOKEN", ""))


def _varchar(text: str, what: str) -> str:
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise ValueError(f"{what} is longer than Milvus keeps in a field ({MAX_TEXT_BYTES} bytes); use smaller chunks")
    return text


def _quoted(values: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(value, ensure_ascii=False) for value in values) + "]"


@dataclass(frozen=True)
class ChunkRecord:
    chunk: Chunk
    first_sentence: int  # the label of its first sentence; its sentences' labels follow it
    sentences: int


def read_milvus_manifest(pointer: dict) -> dict:
    """The manifest of the live generation (without its documents), read from the meta collection only."""
    client = connect(pointer["uri"])
    try:
        return {**_current(client, pointer["name"], pointer["uri"])["manifest"], "documents": {}}
    finally:
        client.close()


def _current(client, name: str, uri: str) -> dict:
    meta = f"{name}_meta"
    if not client.has_collection(meta):
        raise IndexNotFound(f"No CiteLens index named {name} in Milvus at {parse_milvus_uri(uri)[0]}.")
    client.load_collection(meta)
    rows = client.get(meta, ids=["current"], output_fields=["value"])
    if not rows:
        raise IndexNotFound(f"The CiteLens index {name} in Milvus has no live generation yet (a build stopped?).")
    return rows[0]["value"]


class Records:
    """Records read from a collection by label, kept least recently used first (shared by threads)."""

    def __init__(self, fetch: Callable[[list], dict], size: int = CACHE):
        self.fetch, self.size = fetch, size
        self.kept: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def many(self, labels: Iterable) -> dict:
        labels = list(labels)
        with self.lock:
            found = {label: self.kept[label] for label in labels if label in self.kept}
        missing = [label for label in dict.fromkeys(labels) if label not in found]
        if missing:
            fetched = self.fetch(missing)
            lost = [label for label in missing if label not in fetched]
            if lost:
                raise KeyError(f"not in the Milvus index (removed by an update?): {lost[:5]}")
            found |= fetched
            with self.lock:
                self.kept.update(fetched)
                while len(self.kept) > self.size:
                    self.kept.popitem(last=False)
        return found

    def __getitem__(self, label):
        return self.many([label])[label]

    def clear(self) -> None:
        with self.lock:
            self.kept.clear()


class MilvusChunks(Sequence[Chunk]):
    """``index.chunks``: chunk by label (labels are the rows of a Milvus index), read when asked."""

    def __init__(self, index: MilvusPassageIndex):
        self.index = index

    def __len__(self) -> int:
        return int(self.index.manifest["counts"]["chunks"])

    def __getitem__(self, label) -> Chunk:
        return self.index.chunk_records[int(label)].chunk

    def __iter__(self) -> Iterator[Chunk]:
        for rows in self.index.scan("chunks", ["id"]):
            yield from (record.chunk for record in self.index.chunk_records.many(row["id"] for row in rows).values())


class MilvusSentences:
    """``index.sentences`` as the search stages read it: ``rows_of(chunk)`` and the columns ``start``, ``end``
    and ``vectors`` by sentence label (one label or one chunk's slice)."""

    def __init__(self, index: MilvusPassageIndex):
        self.index = index
        self.start = _SentenceColumn(self, 0)
        self.end = _SentenceColumn(self, 1)
        self.vectors = _SentenceColumn(self, 2)

    def rows_of(self, chunk: int) -> slice:
        record = self.index.chunk_records[int(chunk)]
        return slice(record.first_sentence, record.first_sentence + record.sentences)

    def __len__(self) -> int:
        return int(self.index.manifest["counts"]["sentences"])


class _SentenceColumn:
    def __init__(self, sentences: MilvusSentences, field: int):
        self.sentences, self.field = sentences, field

    def __getitem__(self, key):
        records = self.sentences.index.sentence_records
        if isinstance(key, slice):
            found = records.many(range(key.start, key.stop))
            values = [found[label][self.field] for label in range(key.start, key.stop)]
            return np.stack(values) if self.field == 2 else np.asarray(values)
        return records[int(key)][self.field]


class MilvusDocuments(Mapping[str, Document]):
    """``index.documents``: the live documents. Their text is not kept in Milvus (the chunks hold every cited
    text), so a document read here has its metadata and heading paragraphs only."""

    def __init__(self, index: MilvusPassageIndex):
        self.index = index

    def __getitem__(self, doc_id: str) -> Document:
        entry = self.index.manifest["documents"][doc_id]
        info = self.index.document_info(doc_id)
        headings = [Paragraph(0, start, start, (), True) for start in sorted(info.headings)]
        return Document(doc_id, entry["title"], "", headings, info.source, info.url, info.date, entry["content_hash"])

    def __iter__(self) -> Iterator[str]:
        return iter(self.index.manifest["documents"])

    def __len__(self) -> int:
        return len(self.index.manifest["documents"])

    def chunk_rows(self, doc_ids: Iterable[str]) -> np.ndarray:
        """The labels of these documents' chunks, ascending (the document filter)."""
        wanted = [doc_id for doc_id in doc_ids if doc_id in self.index.manifest["documents"]]
        labels = [np.zeros(0, np.int64)]
        for first in range(0, len(wanted), BATCH):
            expression = f"doc_id in {_quoted(wanted[first : first + BATCH])}"
            for rows in self.index.scan("chunks", ["id"], expression):
                labels.append(np.array([row["id"] for row in rows], np.int64))
        return np.unique(np.concatenate(labels))


class MilvusKeywords:
    """``index.keyword``: which keyword tokens the collection holds and in how many passages."""

    def __init__(self, frequencies: dict[str, int]):
        self.vocabulary = frequencies

    def frequency(self, token: str) -> int:
        return self.vocabulary.get(token, 0)


class MilvusPassageIndex:
    """The PassageIndex a search reads (chunks, sentences, documents, keyword, vectors, translator,
    manifest), over Milvus collections; built and updated from the same ``DocumentPart``s."""

    def __init__(self, client, uri: str, name: str, generation: str, manifest: dict, frequencies: dict[str, int]):
        self.client, self.uri, self.name, self.generation = client, uri, name, generation
        self.manifest = manifest
        self.dimension = int(manifest["model"]["dimension"])
        self.keyword = MilvusKeywords(frequencies)
        self.translator = QueryTranslator.build(frequencies)
        self.chunks = MilvusChunks(self)
        self.sentences = MilvusSentences(self)
        self.documents = MilvusDocuments(self)
        self.chunk_records = Records(self._fetch_chunks)
        self.sentence_records = Records(self._fetch_sentences, CACHE * 8)
        self.info = Records(self._fetch_documents, CACHE)
        self.directory: Path | None = None

    # ---- reading -----------------------------------------------------------------

    def part(self, part: str) -> str:
        return f"{self.name}_{self.generation}_{part}"

    @property
    def model(self) -> ModelInfo:
        return ModelInfo(**self.manifest["model"])

    def check_model(self, model: ModelInfo) -> None:
        check_model(self.manifest["model"], model)

    def keyword_scorer(self):
        from index.search.keyword_milvus import MilvusKeywordScorer

        return MilvusKeywordScorer(self)

    def document_info(self, doc_id: str) -> DocumentInfo:
        return self.info[doc_id]

    def prefetch(self, labels: Collection[int]) -> None:
        """Read these chunks and their sentences in two requests (the stages then ask one at a time)."""
        records = self.chunk_records.many(labels)
        self.sentence_records.many(
            label
            for record in records.values()
            for label in range(record.first_sentence, record.first_sentence + record.sentences)
        )

    @functools.cached_property
    def vectors(self) -> MilvusStore:
        """The chunks collection as a vector store (search, filtered by labels, and vectors by label)."""
        return MilvusStore.load({"uri": self.uri, "collection": self.part("chunks")})

    def dense_search(self, query_vectors: np.ndarray, k: int, rows: np.ndarray | None = None):
        """(scores, labels) of the k nearest chunks per query, among the labels ``rows`` if given."""
        k = min(k, len(self.chunks) if rows is None else len(rows))
        if k < 1:
            empty = np.zeros((len(query_vectors), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        return self.vectors.search(query_vectors, k, rows)

    def full_text(self, texts: list[str], limit: int, rows: np.ndarray | None = None) -> list[dict[int, float]]:
        """Milvus's BM25 of each text (cut by the collection's analyzer): its best ``limit`` chunks, among
        ``rows`` (labels) if given, as label → score."""
        if not texts or limit < 1 or (rows is not None and len(rows) == 0):
            return [{} for _ in texts]
        results = self.client.search(
            self.part("chunks"),
            data=list(texts),
            anns_field="sparse",
            filter="" if rows is None else id_filter(np.asarray(rows, np.int64)),
            limit=min(limit, 16_384),
            search_params={"metric_type": "BM25"},
            output_fields=["id"],  # not the sparse vectors (decoding them was most of a question's time)
        )
        # BM25 is never negative; milvus-lite reports it as a negative distance (smaller is nearer). Milvus's BM25
        # carries Lucene's classic (k1 + 1) factor, which bm25s's "lucene" method leaves out: taken off, so the
        # keyword scores weigh in fusion as the embedded index's do (measured: Milvus's were 2.49× bm25s's).
        scale = 1.0 + BM25["bm25_k1"]
        return [{int(hit["id"]): abs(float(hit["distance"])) / scale for hit in hits} for hits in results]

    def scan(self, part: str, fields: list[str], expression: str = "") -> Iterator[list[dict]]:
        """Every row of a collection (matching ``expression``), a batch at a time."""
        iterator = self.client.query_iterator(
            self.part(part), batch_size=BATCH, filter=expression, output_fields=fields
        )
        try:
            while rows := iterator.next():
                yield rows
        finally:
            iterator.close()

    def _fetch_chunks(self, labels: list[int]) -> dict[int, ChunkRecord]:
        fields = ["text", "chunk", "first_sentence", "sentences"]
        found = {}
        for row in self.client.get(self.part("chunks"), ids=labels, output_fields=fields):
            chunk = Chunk.from_dict({**row["chunk"], "text": row["text"]})
            found[int(row["id"])] = ChunkRecord(chunk, int(row["first_sentence"]), int(row["sentences"]))
        return found

    def _fetch_sentences(self, labels: list[int]) -> dict[int, tuple[int, int, np.ndarray]]:
        found = {}
        for first in range(0, len(labels), BATCH * 4):
            batch = np.asarray(labels[first : first + BATCH * 4], np.int64)
            rows = self.client.query(
                self.part("sentences"), filter=id_filter(batch), output_fields=["start", "end", "vector"]
            )
            for row in rows:
                found[int(row["id"])] = (int(row["start"]), int(row["end"]), np.asarray(row["vector"], np.float32))
        return found

    def _fetch_documents(self, doc_ids: list[str]) -> dict[str, DocumentInfo]:
        rows = self.client.get(self.part("documents"), ids=doc_ids, output_fields=["info"])
        return {
            row["doc_id"]: DocumentInfo(
                row["info"]["date"], row["info"]["url"], row["info"]["source"], frozenset(row["info"]["headings"])
            )
            for row in rows
        }

    @classmethod
    def open(cls, uri: str, name: str) -> MilvusPassageIndex:
        """The live generation of the named index at the URI."""
        client = connect(uri)
        current = _current(client, name, uri)
        if current["manifest"].get("format_version") != INDEX_FORMAT:
            raise IndexMismatch(
                f"The Milvus index {name} is of format {current['manifest'].get('format_version')}, this CiteLens "
                f"reads {INDEX_FORMAT}: rebuild it with python -m index build (a new generation is written)."
            )
        index = cls(client, uri, name, current["generation"], {**current["manifest"], "documents": {}}, {})
        for part in PARTS:
            client.load_collection(index.part(part))
        for rows in index.scan("documents", ["entry"]):
            index.manifest["documents"].update((row["doc_id"], row["entry"]) for row in rows)
        frequencies = {}
        for rows in index.scan("terms", ["df"]):
            frequencies.update((row["token"], int(row["df"])) for row in rows)
        index.keyword = MilvusKeywords(frequencies)
        index.translator = QueryTranslator.build(frequencies)
        return index

    @classmethod
    def load(cls, directory: Path, model: ModelInfo | None = None) -> MilvusPassageIndex:
        pointer = read_pointer(directory)
        if pointer is None:
            raise IndexNotFound(f"{directory} holds no Milvus index pointer ({POINTER}).")
        index = cls.open(pointer["uri"], pointer["name"])
        index.directory = Path(directory)
        if model is not None:
            index.check_model(model)
        return index

    def verify(self) -> list[str]:
        """Where the collections disagree with the counts the meta row records (empty: they agree)."""
        recorded = self.manifest["counts"]
        problems = []
        for part in ("chunks", "sentences", "documents"):
            found = self.client.query(self.part(part), filter="", output_fields=["count(*)"])[0]["count(*)"]
            if found != recorded[part]:
                problems.append(f"{self.part(part)}: {found} {part} in Milvus, {recorded[part]} recorded")
        return problems

    def stale(self) -> bool:
        """Whether a build has changed the index since this process read it (reopen it to see the change)."""
        rows = self.client.get(f"{self.name}_meta", ids=["current"], output_fields=["value"])
        return not rows or rows[0]["value"]["manifest"].get("saved") != self.manifest.get("saved")

    # ---- writing -----------------------------------------------------------------

    @classmethod
    def create(
        cls, parts: list[DocumentPart], model: ModelInfo, build_settings: dict, corpus_dir: Path | None, uri: str
    ) -> MilvusPassageIndex:
        """A new generation holding these parts (live once ``save`` is called)."""
        client = connect(uri)
        manifest = {
            "format_version": INDEX_FORMAT,
            "model": model.to_dict(),
            "build": build_settings,
            "corpus": str(Path(corpus_dir).resolve()) if corpus_dir else None,
            "documents": {},
            "counts": {"documents": 0, "chunks": 0, "sentences": 0},
            "next_label": 0,
            "next_sentence": 0,
            "vector_index": {"store": "milvus", "uri": uri, "name": index_name(uri), "kept": "the whole index"},
            "keyword_index": "Milvus BM25 full-text search over its jieba analyzer",
        }
        index = cls(client, uri, index_name(uri), uuid.uuid4().hex[:8], manifest, {})
        index._create_collections()
        index._add(parts)
        return index

    def update(
        self, parts: list[DocumentPart], removed: Collection[str], corpus_dir=None, vector_store=None, merge_policy=None
    ):
        """This index without the documents ``removed`` and with ``parts`` (a changed document is in both),
        changed in place. Milvus merges its own segments, so ``merge_policy`` has nothing to do here."""
        self._remove(set(removed) | {part.document.doc_id for part in parts})
        self._add(parts)
        if corpus_dir:
            self.manifest["corpus"] = str(Path(corpus_dir).resolve())
        return self

    def merged(self, policy=None) -> MilvusPassageIndex:
        return self

    def spill(self, directory: Path) -> MilvusPassageIndex:
        return self

    def save(self, directory: Path) -> Path:
        """Make this generation live (one upsert of the meta row), point the folder at it, and drop the
        generations before the one it replaces."""
        for part in PARTS:
            self.client.flush(self.part(part))
        meta = f"{self.name}_meta"
        if not self.client.has_collection(meta):
            self._create_collection(meta, [("key", "VARCHAR_KEY"), ("value", "JSON")])
        rows = self.client.get(meta, ids=["current"], output_fields=["value"])
        previous = rows[0]["value"]["generation"] if rows else None
        self.manifest["saved"] = time.strftime("%Y-%m-%dT%H:%M:%S%z") + f"/{uuid.uuid4().hex[:6]}"
        self.manifest["created"] = self.manifest["saved"][:-7]
        stored = {key: value for key, value in self.manifest.items() if key != "documents"}
        value = {"generation": self.generation, "manifest": stored}
        self.client.upsert(meta, [{"key": "current", "value": value, "v": [0.0, 0.0]}])
        self.client.flush(meta)
        for collection, generation in self._generations():
            if generation not in {self.generation, previous}:
                self.client.drop_collection(collection)
        write_pointer(directory, self.uri, self.name)
        _remove_local_index(Path(directory))
        self.directory = Path(directory)
        return Path(directory) / POINTER

    def drop(self) -> None:
        """Every collection of this index in Milvus (``library delete`` and tests)."""
        for collection, _ in self._generations():
            self.client.drop_collection(collection)
        if self.client.has_collection(f"{self.name}_meta"):
            self.client.drop_collection(f"{self.name}_meta")

    def _generations(self) -> list[tuple[str, str]]:
        """(collection, its generation) of every collection of this index but the meta one."""
        own = re.compile(rf"{re.escape(self.name)}_([0-9a-f]{{8}})_({'|'.join(PARTS)})")
        return [(name, found[1]) for name in self.client.list_collections() if (found := own.fullmatch(name))]

    def _create_collection(self, name: str, fields: list[tuple], indexes: list[tuple] = (), function=None) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        kinds = {
            "INT64_KEY": dict(datatype=DataType.INT64, is_primary=True),
            "VARCHAR_KEY": dict(datatype=DataType.VARCHAR, max_length=2048, is_primary=True),
            "INT64": dict(datatype=DataType.INT64),
            "VARCHAR": dict(datatype=DataType.VARCHAR, max_length=MAX_TEXT_BYTES),
            "ANALYZED": dict(
                datatype=DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True, analyzer_params=ANALYZER
            ),
            "JSON": dict(datatype=DataType.JSON),
            "VECTOR": dict(datatype=DataType.FLOAT_VECTOR, dim=self.dimension),
            "SPARSE": dict(datatype=DataType.SPARSE_FLOAT_VECTOR),
        }
        for field, kind in fields:
            schema.add_field(field, **kinds[kind])
        params = self.client.prepare_index_params()
        vector_fields = [field for field, _ in fields if field == "vector"]
        if not vector_fields:  # Milvus needs a vector field in every collection: a placeholder
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            params.add_index("v", index_type="FLAT", metric_type="IP")
        for field, index_type, metric, extra in indexes:
            params.add_index(field, index_type=index_type, metric_type=metric, params=extra)
        if function is not None:
            schema.add_function(function)
        self.client.create_collection(name, schema=schema, index_params=params)

    def _create_collections(self) -> None:
        from pymilvus import Function, FunctionType

        local = not parse_milvus_uri(self.uri)[0].startswith(("http://", "https://", "tcp://", "unix:"))
        vector_index = parse_milvus_uri(self.uri)[1].get("index", "FLAT" if local else "AUTOINDEX")
        dense = ("vector", vector_index, "IP", {})
        self._create_collection(
            self.part("chunks"),
            [
                ("id", "INT64_KEY"),
                ("vector", "VECTOR"),
                ("doc_id", "VARCHAR"),
                ("text", "VARCHAR"),
                ("chunk", "JSON"),
                ("first_sentence", "INT64"),
                ("sentences", "INT64"),
                ("tokens", "VARCHAR"),
                ("keyword_text", "ANALYZED"),
                ("sparse", "SPARSE"),
            ],
            [dense, ("sparse", "SPARSE_INVERTED_INDEX", "BM25", BM25)],
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["keyword_text"],
                output_field_names=["sparse"],
            ),
        )
        self._create_collection(
            self.part("sentences"),
            [("id", "INT64_KEY"), ("vector", "VECTOR"), ("chunk", "INT64"), ("start", "INT64"), ("end", "INT64")],
            [dense],
        )
        self._create_collection(
            self.part("documents"), [("doc_id", "VARCHAR_KEY"), ("entry", "JSON"), ("info", "JSON")]
        )
        self._create_collection(self.part("terms"), [("token", "VARCHAR_KEY"), ("df", "INT64")])

    def _add(self, parts: list[DocumentPart]) -> None:
        from index.build import BuildSettings, folder, keyword_text
        from index.versions import document_entry

        settings = BuildSettings.from_dict(self.manifest["build"])
        label, sentence = int(self.manifest["next_label"]), int(self.manifest["next_sentence"])
        pending: dict[str, list[dict]] = {"sentences": [], "chunks": []}  # written a batch at a time
        document_rows = []
        added: Counter[str] = Counter()
        counts = self.manifest["counts"]
        for part in sorted(parts, key=lambda part: part.document.doc_id):
            document = part.document
            fold = folder(document, settings)
            vectors = np.asarray(part.vectors, np.float32)
            table = part.sentences
            for number, chunk in enumerate(part.chunks):
                mine = np.flatnonzero(table.chunk == number)
                tokens = part.keyword_tokens[number]
                added.update(set(tokens))
                fields = chunk.to_dict()
                del fields["text"]
                pending["chunks"].append(
                    {
                        "id": label,
                        "vector": vectors[number],
                        "doc_id": _varchar(chunk.doc_id, "a document id"),
                        "text": _varchar(chunk.text, f"chunk {chunk.chunk_id}"),
                        "chunk": fields,
                        "first_sentence": sentence,
                        "sentences": len(mine),
                        "tokens": _varchar(" ".join(tokens), f"the keywords of chunk {chunk.chunk_id}"),
                        "keyword_text": _varchar(
                            NOT_KEYWORD.sub(" ", fold(keyword_text(chunk, settings.keyword_context)).lower()),
                            f"chunk {chunk.chunk_id}",
                        ),
                    }
                )
                for row in mine:
                    pending["sentences"].append(
                        {
                            "id": sentence,
                            "vector": np.asarray(table.vectors[row], np.float32),
                            "chunk": label,
                            "start": int(table.start[row]),
                            "end": int(table.end[row]),
                        }
                    )
                    sentence += 1
                label += 1
                for name, rows in pending.items():
                    if len(rows) >= BATCH:
                        self._insert(name, rows)
                        rows.clear()
            headings = sorted(p.start for p in document.paragraphs if p.is_heading)
            info = {"date": document.date, "url": document.url, "source": document.source, "headings": headings}
            entry = document_entry(part, self.generation)
            document_rows.append({"doc_id": document.doc_id, "entry": entry, "info": info, "v": [0.0, 0.0]})
            self.manifest["documents"][document.doc_id] = entry
            counts["chunks"] += len(part.chunks)
            counts["sentences"] += len(table.chunk)
        for name, rows in pending.items():
            self._insert(name, rows)
        self._count_terms(added, +1)
        self._insert("documents", document_rows)  # last: a document is indexed once its row is there
        self.manifest["next_label"], self.manifest["next_sentence"] = label, sentence
        counts["documents"] = len(self.manifest["documents"])

    def _insert(self, part: str, rows: list[dict]) -> None:
        for first in range(0, len(rows), BATCH):
            self.client.upsert(self.part(part), rows[first : first + BATCH])

    def _remove(self, doc_ids: set[str]) -> None:
        """These documents' chunks, sentences and rows, and their words' counts; ids never indexed (or left
        by a stopped update) are looked for too, so an update can always be run again."""
        if not doc_ids:
            return
        removed: Counter[str] = Counter()
        counts = self.manifest["counts"]
        ordered = sorted(doc_ids)
        for first in range(0, len(ordered), BATCH):
            batch = ordered[first : first + BATCH]
            for rows in self.scan("chunks", ["first_sentence", "sentences", "tokens"], f"doc_id in {_quoted(batch)}"):
                labels = [int(row["id"]) for row in rows]
                sentences = [
                    label
                    for row in rows
                    for label in range(int(row["first_sentence"]), int(row["first_sentence"]) + int(row["sentences"]))
                ]
                for row in rows:
                    removed.update(set(row["tokens"].split(" ")) - {""})
                for start in range(0, len(sentences), BATCH):
                    self.client.delete(self.part("sentences"), ids=sentences[start : start + BATCH])
                self.client.delete(self.part("chunks"), ids=labels)
                counts["chunks"] -= len(labels)
                counts["sentences"] -= len(sentences)
            known = [doc_id for doc_id in batch if doc_id in self.manifest["documents"]]
            if known:
                self.client.delete(self.part("documents"), ids=known)
            for doc_id in known:
                del self.manifest["documents"][doc_id]
        self._count_terms(removed, -1)
        counts["documents"] = len(self.manifest["documents"])
        self.chunk_records.clear()
        self.sentence_records.clear()
        self.info.clear()

    def _count_terms(self, tokens: Counter[str], sign: int) -> None:
        """Passages holding each token, changed by ``sign`` × these counts; a token held nowhere is removed."""
        frequencies = self.keyword.vocabulary
        changed, gone = [], []
        for token, count in tokens.items():
            frequency = frequencies.get(token, 0) + sign * count
            if frequency > 0:
                frequencies[token] = frequency
                changed.append({"token": token, "df": frequency, "v": [0.0, 0.0]})
            elif token in frequencies:
                del frequencies[token]
                gone.append(token)
        self._insert("terms", changed)
        for first in range(0, len(gone), BATCH):
            self.client.delete(self.part("terms"), ids=gone[first : first + BATCH])
        if sign > 0:
            self.translator = self.translator.extended(tokens)
        elif gone:
            self.translator = QueryTranslator.build(frequencies)


def _remove_local_index(directory: Path) -> None:
    """The files of an embedded index this folder held before it pointed at Milvus (they are stale now)."""
    import shutil

    from index.integrity import CURRENT, SEGMENTS

    (directory / CURRENT).unlink(missing_ok=True)
    for path in directory.iterdir():
        if path.is_dir() and (
            path.name == SEGMENTS or (path.name.startswith("v") and (path / "manifest.json").exists())
        ):
            shutil.rmtree(path, ignore_errors=True)
