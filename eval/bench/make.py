"""Stage ``make``: an index of N passages (real ones first, then synthetic), or the vector store alone above
``--full-index-limit``, with the exact top-10 answers that recall is measured against."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from eval.bench.common import folder_mb, log, peak_rss_mb, questions
from index import settings

MAKE_BATCH = 200_000  # passages a batch when assembling a large index (a segment each)


# ---- stage: an index of N passages -----------------------------------------------------------------------


def stage_make(args: dict) -> dict:
    """Assemble an index of N passages (real ones first, then synthetic), save it, and the exact answers.

    Assembled as a large collection is built: in batches of ``MAKE_BATCH`` passages, the first a new index
    and each further one an update that adds a segment (saved, then the index loaded again), so memory
    holds one batch, not the collection."""
    from eval.bench.data import synthetic_index_parts
    from index.passage_index import PassageIndex

    size = int(args["size"])
    real = PassageIndex.load(Path(args["real_index"]))
    if not args.get("full_index", True):
        return make_vectors_only(real, size, args)
    directory = Path(args["index"])
    shutil.rmtree(directory, ignore_errors=True)
    started = time.perf_counter()
    batches, info = synthetic_index_parts(real, size, seed=size, batch=MAKE_BATCH)
    timings = {"generate": 0.0, "assemble": 0.0, "save": 0.0, "load": 0.0}
    vectors, index = [], None
    while True:
        started = time.perf_counter()
        parts = next(batches, None)
        timings["generate"] += time.perf_counter() - started
        if parts is None:
            break
        parts.sort(key=lambda part: part.document.doc_id)  # a segment's row order: the exact answers use it
        vectors.append(np.concatenate([np.asarray(p.vectors, dtype=np.float32) for p in parts]))
        log(f"size {size}: a batch of {len(vectors[-1]):,} passages; assembling")
        started = time.perf_counter()
        if index is None:
            index = PassageIndex.create(parts, real.model, real.manifest["build"], None, args.get("store"))
        else:
            index = index.update(parts, (), None, args.get("store"))
        timings["assemble"] += time.perf_counter() - started
        del parts
        started = time.perf_counter()
        index.save(directory)
        timings["save"] += time.perf_counter() - started
        started = time.perf_counter()
        index = PassageIndex.load(directory)  # the batch leaves memory: segments are read from disk
        timings["load"] += time.perf_counter() - started
    vectors = np.concatenate(vectors)
    np.save(Path(args["vectors"]), vectors)
    result = {
        "size": size,
        "synthetic": info,
        "store": index.vector_store.describe(),
        "batches": len(index.segments),
        **{f"{name}_seconds": round(value, 1) for name, value in timings.items()},
        "index_mb": folder_mb(directory),
        "files_mb": _files_mb(directory),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    del index
    if args.get("incremental", True):  # off for extra sizes measured only for serving
        try:
            result["incremental"] = incremental_at_size(directory)
        except Exception as error:  # a measurement, not the benchmark's reason to stop
            result["incremental"] = {"error": repr(error)}
    save_exact(vectors, args)
    return result


def written_mb(directory: Path, since: float) -> float:
    """MB of the files under ``directory`` written since the time ``since``."""
    files = [f for f in Path(directory).rglob("*") if f.is_file() and f.stat().st_mtime >= since]
    return round(sum(f.stat().st_size for f in files) / 2**20, 2)


def _files_mb(directory: Path) -> dict[str, float]:
    """MB on disk by file name, summed over segments and the live version."""
    sizes: dict[str, float] = {}
    for path in Path(directory).rglob("*"):
        if path.is_file():
            sizes[path.name] = sizes.get(path.name, 0.0) + path.stat().st_size / 2**20
    return {name: round(mb, 2) for name, mb in sorted(sizes.items(), key=lambda item: -item[1])}


def incremental_at_size(directory: Path) -> dict:
    """Remove one document, then add it back, as an incremental build does (no embedding: its vectors are
    kept): where the time of an update goes at this collection size, and what it writes."""
    from index.passage_index import PassageIndex

    steps = {}
    removed_part = None
    for step in ("remove", "add"):
        timings = {}
        started = time.perf_counter()
        previous = PassageIndex.load(directory)
        timings["load"] = time.perf_counter() - started
        if step == "remove":  # kept aside to add back (outside the timing: a build would embed it anew)
            # The last document: added back, it is last again, so rows keep the order the exact answers use.
            doc_id = previous.chunks[len(previous.chunks) - 1].doc_id
            removed_part = previous.part(doc_id)
            removed_part.vectors = np.asarray(removed_part.vectors, dtype=np.float32)
            removed_part.labels = removed_part.source = None
            chunks = len(removed_part.chunks)
        started = time.perf_counter()
        since = time.time()
        if step == "remove":
            index = previous.update([], {removed_part.document.doc_id})
        else:
            index = previous.update([removed_part], ())
        timings["update"] = time.perf_counter() - started
        started = time.perf_counter()
        index.save(directory)
        timings["save"] = time.perf_counter() - started
        timings["total"] = sum(timings.values())
        steps[step] = {name: round(value, 3) for name, value in timings.items()}
        steps[step]["segments"] = len(index.segments)
        steps[step]["written_mb"] = written_mb(directory, since)
        del previous, index
    steps["document_chunks"] = chunks
    return steps


def make_vectors_only(real, size: int, args: dict) -> dict:
    """The vector store alone for N passages (sizes above ``--full-index-limit``); built by the same
    create_store path PassageIndex.create uses."""
    from eval.bench.data import synthetic_vectors
    from index.stores import create_store

    started = time.perf_counter()
    parts = list(real.parts().values())
    anchors = np.concatenate(
        [np.asarray(p.vectors, dtype=np.float32) for p in parts]
        + [np.asarray(p.sentences.vectors, dtype=np.float32) for p in parts]
    )
    vectors, info = synthetic_vectors(anchors, size, seed=size)
    generate_seconds = time.perf_counter() - started
    log(f"size {size}: {size:,} vectors ready in {generate_seconds:.0f} s; building the store")
    started = time.perf_counter()
    store = create_store(args.get("store"), vectors.shape[1])
    store.add(np.arange(size, dtype=np.int64), vectors)
    assemble_seconds = time.perf_counter() - started
    directory = Path(args["index"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    started = time.perf_counter()
    description = store.save(directory)
    (directory / "store.json").write_text(json.dumps(description))
    save_seconds = time.perf_counter() - started
    np.save(Path(args["vectors"]), vectors)
    result = {
        "size": size,
        "vectors_only": True,
        "synthetic": {"real_passages": 0, "synthetic_passages": size, "vectors": info},
        "store": description,
        "generate_seconds": round(generate_seconds, 1),
        "assemble_seconds": round(assemble_seconds, 1),
        "save_seconds": round(save_seconds, 1),
        "index_mb": folder_mb(directory),
        "files_mb": {f.name: round(f.stat().st_size / 2**20, 2) for f in directory.iterdir()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    del store
    save_exact(vectors, args)
    return result


def save_exact(vectors: np.ndarray, args: dict) -> None:
    """The exact top-10 of the question vectors, for recall (computed with every core)."""
    import faiss

    from index.encoder import Encoder

    encoder = Encoder(backend=settings.backend_name())
    query_vectors = encoder.encode_queries([q.question for q in questions()])
    np.save(Path(args["queries"]), query_vectors)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, exact = flat.search(query_vectors, 10)
    np.save(Path(args["exact"]), exact)
