"""Stages ``encode`` (embedding throughput of every encoder backend) and ``quality`` (retrieval quality of
indexes embedded by each backend)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from eval.bench.common import BASELINE, build_texts, chunk_texts, log, peak_rss_mb, percentiles, questions
from index import settings

# ---- stage: encoder throughput ----------------------------------------------------------------------


def stage_encode(args: dict) -> dict:
    from index.encoder import Encoder, load_token_counter

    count_tokens = load_token_counter()
    bundled, bundled_chunks = build_texts(settings.BUNDLED_CORPUS, count_tokens)
    large_all = chunk_texts(Path(args["large_corpus"]), count_tokens)
    rng = random.Random(3)
    large = rng.sample(large_all, min(args["large_sample"], len(large_all)))
    if args.get("bundled_limit"):
        bundled = bundled[: args["bundled_limit"]]
    sets = {"bundled": bundled, "large": large}
    encoders = {name: Encoder(backend=name, query_backend=name) for name in args["backends"]}
    tokenizer = next(iter(encoders.values())).tokenizer
    prompt = next(iter(encoders.values())).passage_prompt

    def model_tokens(texts: list[str]) -> int:
        encoded = tokenizer([prompt + t for t in texts], truncation=True, max_length=512)["input_ids"]
        return sum(len(ids) for ids in encoded)

    tokens = {name: model_tokens(texts) for name, texts in sets.items()}
    for encoder in encoders.values():  # load and warm every runtime before timing any
        encoder.encode_passages(bundled[:16])
        encoder.encode_queries(["数据安全法"])
    best: dict[str, dict[str, float]] = {name: {} for name in encoders}
    vectors: dict[str, dict[str, np.ndarray]] = {name: {} for name in encoders}
    for round_number in range(args["rounds"]):
        for set_name, texts in sets.items():
            for name, encoder in encoders.items():  # interleaved: a busy spell hits every backend alike
                started = time.perf_counter()
                vectors[name][set_name] = encoder.encode_passages(texts)
                elapsed = time.perf_counter() - started
                best[name][set_name] = min(best[name].get(set_name, np.inf), elapsed)
                log(f"encode round {round_number + 1} {set_name} {name}: {tokens[set_name] / elapsed:,.0f} tokens/s")
    question_texts = [q.question for q in questions()][:40]
    result: dict = {
        "texts": {name: len(texts) for name, texts in sets.items()},
        "tokens": tokens,
        "bundled_chunks": bundled_chunks,
        "large_corpus_chunks": len(large_all),
        "rounds": args["rounds"],
        "backends": {},
    }
    reference = vectors.get(BASELINE)
    for name, encoder in encoders.items():
        latencies = []
        for text in question_texts:
            started = time.perf_counter()
            encoder.encode_queries([text])
            latencies.append(time.perf_counter() - started)
        entry = {"query_runtime": encoder.query_backend, "question_encode": percentiles(latencies)}
        for set_name, texts in sets.items():
            seconds = best[name][set_name]
            entry[set_name] = {
                "seconds": round(seconds, 3),
                "tokens_per_s": round(tokens[set_name] / seconds, 1),
                "texts_per_s": round(len(texts) / seconds, 2),
            }
            if reference is not None:
                cosine = (vectors[name][set_name] * reference[set_name]).sum(1)
                entry[set_name]["cosine_to_torch_min"] = round(float(cosine.min()), 5)
                entry[set_name]["cosine_to_torch_mean"] = round(float(cosine.mean()), 5)
        result["backends"][name] = entry
    if BASELINE in best:
        for name in encoders:
            for set_name in sets:
                base = result["backends"][BASELINE][set_name]["tokens_per_s"]
                result["backends"][name][set_name]["x_torch"] = round(
                    result["backends"][name][set_name]["tokens_per_s"] / base, 2
                )
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


# ---- stage: retrieval quality per backend ----------------------------------------------------------------


def stage_quality(args: dict) -> dict:
    from eval.harness import evaluate_search
    from eval.question_sets import read_gold_jsonl
    from index.build import build_index
    from index.encoder import Encoder
    from index.passage_index import PassageIndex
    from index.search import CONFIGS, Searcher

    work = Path(args["work"])
    results = {}
    for variant in args["variants"]:  # "passages/questions"
        passage_backend, _, query_backend = variant.partition("/")
        encoder = Encoder(backend=passage_backend, query_backend=query_backend or None)
        directory = work / f"quality-{passage_backend}"
        if not (directory / "CURRENT").exists():
            started = time.perf_counter()
            build_index(settings.BUNDLED_CORPUS, directory, encoder, progress=False, log=lambda m: None)
            build_seconds = round(time.perf_counter() - started, 2)
        else:
            build_seconds = None
        index = PassageIndex.load(directory)
        searcher = Searcher(index, encoder)
        passages = {chunk.chunk_id: chunk.text for chunk in index.chunks}
        entry: dict = {"passage_backend": passage_backend, "query_backend": encoder.query_backend}
        if build_seconds is not None:
            entry["bundled_build_seconds"] = build_seconds
        for qa in args["qa_files"]:
            gold = read_gold_jsonl(Path(qa))
            for config in ("dense", "full"):
                evaluated = evaluate_search(
                    variant, lambda q, k, c=config, s=searcher: s.search(q, k, CONFIGS[c]), gold, passages, 10
                )
                groups = {}
                for group in ("all", "zh", "en"):
                    metrics = evaluated.metrics.get(group)
                    if metrics:
                        groups[group] = {
                            "hit@5": round(metrics["hit_rate@5"], 4),
                            "mrr@10": round(metrics["mrr@10"], 4),
                            "n": int(metrics["questions"]),
                        }
                entry[f"{Path(qa).stem}/{config}"] = groups
        results[variant] = entry
        log(f"quality {variant}: {json.dumps({k: v for k, v in entry.items() if '/' in k})[:300]}")
    return {"variants": results}
