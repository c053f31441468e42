"""Bulk builds on Ray (``python -m index build --executor ray``): files are read, cleaned and chunked, and
passages embedded, in parallel on a Ray cluster with Ray Data; the index is written as by any build.

``RayExecutor`` does the three steps of ``index.build.LocalExecutor`` (``load_corpus``, ``chunk_documents``,
``embed_parts``) on the cluster and returns what they return, so ``index.build`` writes, updates and saves
the index the same way whichever executor ran them (segments or Milvus, incremental builds, refused files):

- reading: one row per file, ``map_batches`` over Ray tasks, each file by ``ingest.pipeline.read_corpus_file``
  (the function ``load_corpus`` reads with): a bad file is that file's problem, reported as today;
- chunking: ``map_batches`` over actors holding the encoder's token counter (``index.build.chunk_documents``);
- embedding: ``embed_parts`` runs here, its encoder call sent to a pool of actors, one model each. The texts
  go in the groups the encoder itself embeds together (``Encoder.passage_batches``): with ``onnx-int8`` a
  text's vector depends a little on the texts batched with it, and these groups make every vector the one a
  local build stores.

Results come back to the driver and are put in their input order, so the index is the one a local build
makes. Each actor builds its encoder once from a picklable factory (``encoder_factory``): model name and
backend for ``index.encoder.Encoder``; tests pass their own (tests/fake_encoder.py). Every node needs this
project's Python environment, the model cache prepared (``python -m index prepare-model``) and the corpus
folder at the same path (README, "Bulk builds on Ray").
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index import settings
from index.build import BuildSettings, ChunkedDocument, chunk_documents, embed_parts
from index.encoder import Encoder
from ingest.documents import Document
from ingest.errors import IngestError
from ingest.readers import iter_corpus_files, max_file_bytes

PROJECT = Path(__file__).resolve().parent.parent
# Object store of a local cluster: rows in flight are texts, documents and vectors, a batch at a time.
OBJECT_STORE_BYTES = 512 * 1024**2
# Texts of an encoder without ``passage_batches`` (any text's vector independent of the others) sent as one.
PLAIN_GROUP = 64
# Rows one task or actor call reads or chunks.
FILES_PER_CALL = 4

EncoderFactory = Callable[[], object]


def encoder_factory(encoder) -> EncoderFactory:
    """A picklable zero-argument callable that makes this encoder again in another process."""
    if isinstance(encoder, Encoder):
        return functools.partial(Encoder, encoder.name, backend=encoder.backend, query_backend=encoder.query_backend)
    raise TypeError(f"give RayExecutor an encoder_factory for {type(encoder).__name__}")


def start_ray(address: str | None, workers: int | None = None) -> bool:
    """Connect to the cluster at ``address`` (``auto``, ``ray://HOST:10001``), or start a local one with
    ``workers`` CPUs (default: this machine's). True when this call started or joined Ray (so it should
    shut it down); False when Ray was already initialized by the caller."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "ignore_reinit_error": True}
    # Where the model cache is, if set here: the same path on every node (README, "Bulk builds on Ray").
    cache = {name: os.environ[name] for name in (settings.ENV_CACHE,) if os.environ.get(name)}
    if address:
        # The driver's own index and ingest code goes to the workers (the same version as the driver's).
        runtime_env = {"py_modules": [str(PROJECT / "index"), str(PROJECT / "ingest")], "env_vars": cache}
        ray.init(address=address, runtime_env=runtime_env, **quiet)
    else:
        path = os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))
        ray.init(
            address="local",  # a new instance, even where $RAY_ADDRESS names another (the CLI reads it, not Ray)
            num_cpus=workers or os.cpu_count(),
            include_dashboard=False,
            object_store_memory=OBJECT_STORE_BYTES,
            runtime_env={"env_vars": {"PYTHONPATH": path, **cache}},
            **quiet,
        )
    quiet_data()
    return True


def quiet_data() -> None:
    """No Ray Data progress bars or per-dataset log lines: the build prints its own progress."""
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    # a small batch has fewer blocks than actors: some stay idle, which is all this warning says
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)


@contextmanager
def ray_executor(
    address: str | None, workers: int | None = None, factory: EncoderFactory | None = None
) -> Iterator[RayExecutor]:
    """A RayExecutor on the cluster at ``address`` (None: a local one of ``workers`` CPUs), shut down after."""
    import ray

    started = start_ray(address, workers)
    try:
        yield RayExecutor(workers, factory)
    finally:
        if started:
            ray.shutdown()


class RayExecutor:
    """``index.build.LocalExecutor``'s steps on a Ray cluster (initialized before use: ``start_ray``).

    ``workers``: embedding (and chunking) actors, default the cluster's CPUs. ``factory``: makes the encoder
    in each actor (default: ``encoder_factory`` of the build's encoder)."""

    def __init__(self, workers: int | None = None, factory: EncoderFactory | None = None):
        self.workers = workers
        self.factory = factory

    def actors(self) -> int:
        import ray

        return self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))

    def _factory(self, encoder) -> EncoderFactory:
        return self.factory or encoder_factory(encoder)

    def load_corpus(self, directory: Path, max_bytes: int | None = None) -> tuple[list[Document], list[IngestError]]:
        """``ingest.pipeline.load_corpus`` with the files read in Ray tasks."""
        import ray

        directory = Path(directory)
        paths = [str(path) for path in iter_corpus_files(directory, include_unsupported=True)]
        if not paths:
            return [], []
        rows = [{"n": n, "path": path} for n, path in enumerate(paths)]
        dataset = ray.data.from_items(rows, override_num_blocks=blocks(len(rows), self.actors()))
        limit = max_file_bytes() if max_bytes is None else max_bytes  # the driver's limit, not a worker's
        read = dataset.map_batches(
            read_files,
            fn_kwargs={"directory": str(directory), "base": os.getcwd(), "max_bytes": limit},
            batch_size=FILES_PER_CALL,
            batch_format="numpy",
        )
        documents, problems = [], []
        for kind, value in collect(read):
            if kind == "document":
                documents.append(value)
            else:
                problems.append(IngestError(*value))
        return documents, problems

    def chunk_documents(
        self, documents: list[Document], encoder, settings: BuildSettings, problems: list[str] | None = None
    ) -> list[ChunkedDocument]:
        """``index.build.chunk_documents`` in Ray actors, each with the encoder's token counter."""
        import ray

        if not documents:
            return []
        rows = [{"n": n, "blob": pickle.dumps(doc)} for n, doc in enumerate(documents)]
        chunked = ray.data.from_items(rows, override_num_blocks=blocks(len(rows), self.actors())).map_batches(
            ChunkActor,
            fn_constructor_args=(self._factory(encoder), settings),
            compute=ray.data.ActorPoolStrategy(size=self.actors()),
            batch_size=FILES_PER_CALL,
            batch_format="numpy",
        )
        out = []
        for kind, value in collect(chunked):
            if kind == "chunked":
                out.append(value)
            elif problems is None:
                raise RuntimeError(value)
            else:
                problems.append(value)
        return out

    def embed_parts(
        self,
        chunked: list[ChunkedDocument],
        encoder,
        settings: BuildSettings,
        progress: Callable[[int], None] | None = None,
    ):
        """``index.build.embed_parts`` with its passages embedded by a pool of Ray actors."""
        return embed_parts(chunked, RayEncoding(self, encoder), settings, progress)

    def encode_passages(
        self, encoder, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """``encoder.encode_passages(texts)``, embedded by ``actors()`` actors, one model each."""
        import ray

        texts = list(texts)
        vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
        if not texts:
            return vectors
        if hasattr(encoder, "passage_batches"):
            groups = encoder.passage_batches(texts, batch_size)
        else:  # an encoder whose vectors do not depend on the texts embedded together
            groups = [
                np.arange(first, min(first + PLAIN_GROUP, len(texts))) for first in range(0, len(texts), PLAIN_GROUP)
            ]
        rows = [{"n": n, "blob": pickle.dumps([texts[i] for i in rows])} for n, rows in enumerate(groups)]
        actors = self.actors()
        embedded = ray.data.from_items(rows, override_num_blocks=blocks(len(rows), actors, per_actor=16)).map_batches(
            EmbedActor,
            fn_constructor_args=(self._factory(encoder), batch_size),
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=None,
            batch_format="numpy",
        )
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            for n, blob in zip(batch["n"], batch["blob"], strict=True):
                done = pickle.loads(blob)
                vectors[groups[int(n)]] = done
                if progress is not None:
                    progress(len(done))
        return vectors


class RayEncoding:
    """The build's encoder, its passages embedded on the cluster (the rest, e.g. ``dimension``, its own)."""

    def __init__(self, executor: RayExecutor, encoder):
        self.executor, self.encoder = executor, encoder

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        return self.executor.encode_passages(self.encoder, texts, batch_size, progress)


def blocks(rows: int, actors: int, per_actor: int = 4) -> int:
    """Blocks to cut ``rows`` into: several per actor, so the work is shared out as it goes."""
    return max(1, min(rows, actors * per_actor))


def collect(dataset) -> list[tuple[str, object]]:
    """The (kind, value) results of a dataset of {n, blob} rows, in input order."""
    rows = dataset.take_all()
    return [pickle.loads(row["blob"]) for row in sorted(rows, key=lambda row: row["n"])]


def read_files(batch: dict[str, np.ndarray], directory: str, base: str, max_bytes: int) -> dict[str, np.ndarray]:
    """Ray task: each file of the batch read as ``load_corpus`` reads it → ("document", Document) or
    ("problem", (path, reason)). Paths are as the driver gave them (its messages name them so), read from
    the driver's working folder ``base``."""
    from ingest.pipeline import read_corpus_file

    def read(path: str) -> tuple[str, object]:
        here = Path(base) / path  # the same file when ``path`` is absolute
        read = read_corpus_file(here, Path(base) / directory, max_bytes)
        if isinstance(read, IngestError):
            return "problem", (Path(path), read.reason)
        return "document", read

    blobs = [pickle.dumps(read(str(path))) for path in batch["path"]]
    return {"n": batch["n"], "blob": np.array(blobs, dtype=object)}


class ChunkActor:
    """Ray actor: documents → ("chunked", ChunkedDocument) or ("problem", why), as ``chunk_documents``."""

    def __init__(self, factory: EncoderFactory, settings: BuildSettings):
        self.encoder, self.settings = factory(), settings

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        blobs = []
        for blob in batch["blob"]:
            problems: list[str] = []
            done = chunk_documents([pickle.loads(blob)], self.encoder, self.settings, problems)
            blobs.append(pickle.dumps(("chunked", done[0]) if done else ("problem", problems[0])))
        return {"n": batch["n"], "blob": np.array(blobs, dtype=object)}


class EmbedActor:
    """Ray actor holding one model: each row's texts, embedded in one call, → their vectors."""

    def __init__(self, factory: EncoderFactory, batch_size: int):
        self.encoder, self.batch_size = factory(), batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        blobs = [
            pickle.dumps(self.encoder.encode_passages(pickle.loads(blob), self.batch_size)) for blob in batch["blob"]
        ]
        return {"n": batch["n"], "blob": np.array(blobs, dtype=object)}
