"""The same N passages (the real index's, then synthetic ones: ``eval/bench/data.py``) kept three ways — the
embedded index, an index in milvus-lite inside the process, and an index in a Milvus server on loopback
(milvus-lite's gRPC server, as a Milvus standalone is reached) — each then asked the 126 gold questions as a
new searcher: time to write and question latency. (Quality is compared on real builds: ``python -m eval
--milvus URI``; the synthetic passages' keyword tokens are their sentences', not their text's with its title.)

    python -m eval.bench.milvus_scale --size 100000 --real-index data/index --out bench/milvus_scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from eval.bench.common import environment, folder_mb, log, peak_rss_mb, percentiles, questions

KINDS = ("embedded", "milvus-lite", "milvus-server")


def write_index(real, size: int, directory: Path, store: str) -> dict:
    """The N passages written as a build writes batches: a new index, then updates, each saved."""
    from eval.bench.data import synthetic_index_parts
    from index.passage_index import PassageIndex

    shutil.rmtree(directory, ignore_errors=True)
    batches, info = synthetic_index_parts(real, size, seed=size, batch=50_000)
    started, index = time.perf_counter(), None
    for parts in batches:
        parts.sort(key=lambda part: part.document.doc_id)
        if index is None:
            index = PassageIndex.create(parts, real.model, real.manifest["build"], None, store)
        else:
            index = index.update(parts, (), None, store)
        index.save(directory)
        index = PassageIndex.load(directory)
        log(f"{store}: {len(index.chunks):,} passages written")
    return {"passages": len(index.chunks), "write_seconds": round(time.perf_counter() - started, 1), **info}


def ask_all(directory: Path, passes: int, every: int = 1, background: bool = True) -> dict:
    """A new searcher over the index: its background measured once (300 questions; ``background`` False: not
    measured, the search path alone timed), then every ``every``-th gold question ``passes`` times, each as a
    new question (no vector cached)."""
    from index import second_encoder
    from index.encoder import Encoder
    from index.passage_index import PassageIndex
    from index.search import Searcher

    started = time.perf_counter()
    index = PassageIndex.load(directory)
    encoder = Encoder()
    searcher = Searcher(index, encoder)
    opened = time.perf_counter() - started
    texts = [q.question for q in questions()][::every]
    searcher._background_pending = searcher._background_pending and background
    started = time.perf_counter()
    searcher.search(texts[0], k=10)  # measures the background the bench index has not recorded
    measured = time.perf_counter() - started
    for text in texts[:5]:
        searcher.search(text, k=10)
    latencies = []
    for _ in range(passes):
        for text in texts:
            encoder.forget_queries()
            second_encoder.forget()
            started = time.perf_counter()
            searcher.answer(text, k=10)
            latencies.append(time.perf_counter() - started)
    return {
        "open_seconds": round(opened, 1),
        "first_question_seconds": round(measured, 1),  # with the background measurement, when it is made
        "questions": len(latencies),
        "latency": percentiles(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.milvus_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--real-index", type=Path, default=Path("data/index"))
    parser.add_argument("--work", type=Path, default=Path("bench-output/milvus-scale"))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--every", type=int, default=1, help="ask every N-th gold question (a slow store)")
    parser.add_argument("--no-background", action="store_true", help="time the search path only (no background)")
    parser.add_argument("--ask-only", action="store_true", help="ask the indexes --work already holds")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from eval.milvus_server import milvus_server
    from index.passage_index import PassageIndex

    real = PassageIndex.load(args.real_index)
    args.work.mkdir(parents=True, exist_ok=True)
    result = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_at_start": os.getloadavg(),
        "environment": environment(),
        "size": args.size,
        "kinds": {},
    }
    for kind in args.kinds:
        directory = args.work / kind
        data = args.work / f"{kind}-data"
        if not args.ask_only:
            shutil.rmtree(data, ignore_errors=True)
        asking = (directory, args.passes, args.every, not args.no_background)
        if kind == "milvus-server":
            with milvus_server(data) as uri:
                written = {} if args.ask_only else write_index(real, args.size, directory, f"{uri}?collection=scale")
                asked = ask_all(*asking)
        else:
            store = "faiss" if kind == "embedded" else f"milvus:{data / 'milvus.db'}?collection=scale"
            written = {} if args.ask_only else write_index(real, args.size, directory, store)
            asked = ask_all(*asking)
        on_disk = folder_mb(data) if data.exists() else folder_mb(directory)
        result["kinds"][kind] = {**written, **asked, "disk_mb": on_disk, "peak_rss_mb": round(peak_rss_mb(), 1)}
        log(f"{kind}: {json.dumps(result['kinds'][kind])}")
    result["load_at_end"] = os.getloadavg()
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
