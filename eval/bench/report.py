"""bench.json → bench.md (tables) and bench.png (chart)."""

from __future__ import annotations

from pathlib import Path

from eval.bench.tables import fmt, pooled, ratio, sweep_tables, table, target_rows


def write_report(report: dict, out: Path) -> None:
    env = report["environment"]
    lines = [
        f"# CiteLens benchmark{' (quick)' if report.get('quick') else ''}",
        "",
        f"{env['cores']} cores ({env['cpu']}; {', '.join(env['cpu_flags'])}), {env['memory_gb']} GiB; "
        f"load average {env['load_average_start']} at the start, {env.get('load_average_end')} at the end; "
        f"run took {report.get('seconds', 0) / 60:.0f} min. Default encoder backend: `{report['default_backend']}`. "
        "Ratios are to the plain path measured in the same run (torch fp32; exact IndexFlatIP search).",
        "",
    ]
    reused = report.get("reused")
    if reused:
        earlier = reused["environment"]
        lines += [
            f"Stages {', '.join(reused['stages'])} come from an earlier run of the same command "
            f"(started {earlier.get('started', '?')}, load average {earlier.get('load_average_start')} at its "
            f"start; `--reuse {Path(reused['from']).name}`), the rest from this one.",
            "",
        ]
    lines += [
        "## Targets",
        "",
    ]
    lines += table(["figure", "target", "measured", ""], target_rows(report))

    encode = report.get("encode")
    if encode and "backends" in encode:
        lines += [
            "## Encoder throughput (index building)",
            "",
            f"Bundled corpus: {encode['texts']['bundled']} texts (chunks and sentences as a build embeds them), "
            f"{encode['tokens']['bundled']:,} tokens. Generated corpus ({encode['large_corpus_chunks']:,} chunks of "
            f"shuffled bundled paragraphs): a fixed sample of {encode['texts']['large']:,} chunks, "
            f"{encode['tokens']['large']:,} tokens. Best of {encode['rounds']} interleaved rounds, batch 32.",
            "",
        ]
        rows = []
        for name, entry in encode["backends"].items():
            rows.append(
                [
                    f"`{name}`",
                    f"`{entry['query_runtime']}`",
                    fmt(entry["bundled"]["tokens_per_s"], 0),
                    fmt(entry["bundled"].get("x_torch"), 2),
                    fmt(entry["large"]["tokens_per_s"], 0),
                    fmt(entry["large"]["texts_per_s"], 1),
                    fmt(entry["large"].get("x_torch"), 2),
                    fmt(entry["large"].get("cosine_to_torch_min"), 4),
                    fmt(entry["question_encode"]["p50_ms"], 1),
                ]
            )
        lines += table(
            [
                "passages by",
                "questions by",
                "bundled tok/s",
                "× torch",
                "generated tok/s",
                "chunks/s",
                "× torch",
                "cosine to torch (min)",
                "one question (ms)",
            ],
            rows,
        )

    quality = report.get("quality", {}).get("variants")
    if quality:
        lines += [
            "## Retrieval quality by backend",
            "",
            "Each question set, and `all/full`: every question of the sets together (hit@5 and MRR@10 are means "
            "over questions, so this is their mean weighted by the sets' sizes; one question of 117 is .0085, "
            "where it is .026 of the dev set alone and .013 of the held-out set).",
            "",
        ]
        quality = {name: entry | {"all/full": pooled(entry, "full")} for name, entry in quality.items()}
        keys = sorted({k for entry in quality.values() for k in entry if "/" in k and entry[k]})
        header = ["passages / questions"] + [f"{k} {m}" for k in keys for m in ("hit@5", "MRR@10")]
        base = quality.get("torch", {})
        rows = []
        for name, entry in quality.items():
            row = [f"`{entry['passage_backend']}` / `{entry['query_backend']}`"]
            for key in keys:
                for metric in ("hit@5", "mrr@10"):
                    value = (entry.get(key) or {}).get("all", {}).get(metric)
                    reference = (base.get(key) or {}).get("all", {}).get(metric)
                    delta = (
                        "" if reference is None or name == "torch" or value is None else f" ({value - reference:+.3f})"
                    )
                    row.append(fmt(value, 3) + delta)
            rows.append(row)
        lines += table(header, rows)
        lines += [
            "Bundled-corpus build time per backend: "
            + ", ".join(
                f"`{entry['passage_backend']}` {fmt(entry['bundled_build_seconds'], 1)} s"
                for entry in quality.values()
                if entry.get("bundled_build_seconds") is not None
            )
            + ".",
            "",
        ]

    build = report.get("build")
    if build and "incremental" in build:
        lines += [
            "## Build and incremental updates",
            "",
            f"Generated corpus of {build['documents']} documents, {build['chunks']:,} chunks, backend "
            f"`{build['backend']}`: full build {build['build_seconds']:.1f} s ({build['chunks_per_s']:.1f} chunks/s), "
            f"index {build['index_mb']} MB.",
            "",
        ]
        rows = []
        for step, entry in build["incremental"].items():
            rows.append(
                [
                    step,
                    fmt(entry["seconds"], 2),
                    f"{100 * entry['x_full_build']:.1f}%",
                    str(entry["documents_embedded"]),
                    str(entry["texts_embedded"]),
                    fmt(entry["embedding_seconds"], 2),
                    fmt(entry["other_seconds"], 2),
                ]
            )
        lines += table(
            ["update", "seconds", "of a full build", "documents embedded", "texts embedded", "embedding s", "rest s"],
            rows,
        )

    scale = report.get("scale_build")
    if scale and "batches" in scale:
        lines += [
            "## A larger build, batch by batch",
            "",
            f"`python -m index build`'s path over {scale['documents']} generated documents: {scale['chunks']:,} chunks "
            f"and {scale['texts_embedded']:,} texts embedded (chunks and sentences) by `{scale['backend']}` in "
            f"{scale['seconds']:,.0f} s ({scale['chunks_per_s']:.1f} chunks/s, {scale['texts_per_s']:.0f} texts/s), "
            f"saved in batches of {scale['batch_chunks']:,} chunks (default {scale['default_batch_chunks']:,}), "
            f"{scale['segments']} segment(s) at the end, index {scale['index_mb']} MB. Peak RSS of the building "
            "process after each saved batch (a batch's texts, vectors and tokens leave memory once it is saved):",
            "",
        ]
        lines += table(
            ["batch", "seconds since start", "peak RSS MB"],
            [[str(n), fmt(b["seconds"], 1), fmt(b["peak_rss_mb"], 0)] for n, b in enumerate(scale["batches"], 1)],
        )

    sizes = report.get("sizes")
    if sizes:
        lines += [
            "## Collections of 1k to 1M passages",
            "",
            "Each size: one process assembles and saves the index (real passages first, then synthetic ones, "
            "eval/bench/data.py) as a large collection is built, in segments of at most 200,000 passages (the first a "
            "new index, each further one an incremental update); a fresh serving process loads it and answers "
            "every dev and held-out question; the plain path (torch fp32 questions, exact IndexFlatIP) runs in a "
            "third process.",
            "",
        ]
        whole = [f"{int(size):,}" for size, e in sizes.items() if (e.get("make") or {}).get("vectors_only")]
        if whole:
            lines += [
                f"At {', '.join(whole)} passages (above `--full-index-limit`) the serving process holds the "
                "vector store and the question encoder only (no end-to-end figure).",
                "",
            ]
        if report.get("sizes_note"):
            lines += [report["sizes_note"], ""]
        rows = []
        for size, entry in sizes.items():
            make, serve, base = entry.get("make", {}), entry.get("serve", {}), entry.get("baseline", {})
            e2e, alone = serve.get("end_to_end") or {}, serve.get("search_alone") or {}
            b_e2e, b_alone = base.get("end_to_end") or {}, base.get("search_alone") or {}
            store = make.get("store", {})
            rows.append(
                [
                    f"{int(size):,}",
                    f"{store.get('store', '?')} {store.get('kind', '')}",
                    fmt(make.get("assemble_seconds"), 1),
                    fmt(make.get("index_mb"), 1),
                    f"{fmt(e2e.get('p50_ms'))} / {fmt(e2e.get('p95_ms'))} / {fmt(e2e.get('p99_ms'))}",
                    ratio(e2e.get("p50_ms"), b_e2e.get("p50_ms")),
                    f"{fmt(alone.get('p50_ms'), 2)} / {fmt(alone.get('p95_ms'), 2)} / {fmt(alone.get('p99_ms'), 2)}",
                    ratio(alone.get("p50_ms"), b_alone.get("p50_ms")),
                    fmt(serve.get("recall_at_10"), 4),
                    fmt(serve.get("memory", {}).get("peak_rss_mb"), 0),
                    fmt(base.get("memory", {}).get("peak_rss_mb"), 0),
                ]
            )
        lines += table(
            [
                "passages",
                "store",
                "assemble s",
                "index MB",
                "question p50/p95/p99 ms",
                "× plain",
                "search alone p50/p95/p99 ms",
                "× plain",
                "recall@10",
                "peak RSS MB",
                "plain peak RSS MB",
            ],
            rows,
        )
        lines += ["Where a question's time goes (ms per question, default path):", ""]
        steps = sorted({s for e in sizes.values() for s in (e.get("serve") or {}).get("profile_ms_per_question", {})})
        rows = [
            [f"{int(size):,}"]
            + [fmt((e.get("serve") or {}).get("profile_ms_per_question", {}).get(s), 2) for s in steps]
            for size, e in sizes.items()
        ]
        lines += table(["passages", *steps], rows)
        lines += [
            "Memory of the serving process (MB RSS): at start, index loaded, question encoder loaded, peak; "
            "and after the questions, split into anonymous memory (the process's own) and file-backed pages "
            "(mapped files: libraries, the ONNX weights, offset tables; shared with the page cache, dropped by the "
            "OS under pressure). Sentence vectors, postings, chunks and documents are read with pread, not mapped:",
            "",
        ]
        rows = []
        for size, e in sizes.items():
            memory = e.get("serve", {}).get("memory", {})
            keys = ("start_rss_mb", "after_index_rss_mb", "after_encoder_rss_mb", "peak_rss_mb")
            keys += ("end_anon_rss_mb", "end_file_rss_mb")
            rows.append([f"{int(size):,}"] + [fmt(memory.get(k), 0) for k in keys])
        lines += table(
            ["passages", "start", "index loaded", "encoder loaded", "peak", "end: anonymous", "end: file-backed"],
            rows,
        )
        lines += sweep_tables(sizes)
        updates = {size: e.get("make", {}).get("incremental") for size, e in sizes.items()}
        updates = {size: u for size, u in updates.items() if u and "remove" in u}
        if updates:
            lines += [
                "An update of one document at each size (remove the last document, add it back; embedding "
                "excluded): time, and what the save wrote (the new segment, if any, and the version: vector "
                "store, labels, manifest):",
                "",
            ]
            rows = []
            for size, update in updates.items():
                for step in ("remove", "add"):
                    timing = update[step]
                    rows.append(
                        [f"{int(size):,}", step, str(update["document_chunks"])]
                        + [fmt(timing.get(k), 2) for k in ("load", "update", "save", "total")]
                        + [fmt(timing.get("written_mb"), 2), str(timing.get("segments", "—"))]
                    )
            lines += table(
                ["passages", "update", "chunks", "load s", "update s", "save s", "total s", "MB written", "segments"],
                rows,
            )
        lines += ["Index files (MB):", ""]
        for size, e in sizes.items():
            files = e.get("make", {}).get("files_mb", {})
            lines.append(
                f"- {int(size):,}: "
                + ", ".join(f"{name} {mb}" for name, mb in sorted(files.items(), key=lambda x: -x[1])[:8])
            )
        lines.append("")
    (Path(out) / "bench.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        chart(report, Path(out) / "bench.png")
    except Exception as error:  # the tables matter more than the picture
        print(f"chart not drawn: {error}")


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    encode = report.get("encode", {}).get("backends", {})
    if encode:
        names = list(encode)
        axes[0].bar(names, [encode[n]["large"]["tokens_per_s"] for n in names], color="#4878a8")
        axes[0].set_title(f"Index building, tokens/s ({report['environment']['cores']} cores)")
        axes[0].tick_params(axis="x", rotation=30)
        for i, n in enumerate(names):
            axes[0].text(
                i,
                encode[n]["large"]["tokens_per_s"],
                f"{encode[n]['large'].get('x_torch', 0):.2f}×",
                ha="center",
                va="bottom",
            )
    sizes = report.get("sizes", {})
    if sizes:
        for label, source, style in (("default", "serve", "-o"), ("plain", "baseline", "--s")):
            for metric, axis in (("end_to_end", axes[1]), ("search_alone", axes[2])):
                keys = [k for k in sizes if (sizes[k].get(source) or {}).get(metric)]
                x = [int(k) for k in keys]
                p50 = [sizes[k][source][metric]["p50_ms"] for k in keys]
                p95 = [sizes[k][source][metric]["p95_ms"] for k in keys]
                if keys:
                    axis.plot(x, p50, style, label=f"{label} p50")
                    axis.plot(x, p95, style, alpha=0.5, label=f"{label} p95")
        for axis, title in ((axes[1], "Question end to end (ms)"), (axes[2], "Search alone (ms)")):
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlabel("passages")
            axis.set_title(title)
            axis.legend()
            axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
