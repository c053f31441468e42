"""The pieces of bench.md: the targets and their verdicts, number formats, markdown tables, the ANN sweep
tables, quality pooled over question sets."""

from __future__ import annotations

TARGETS = {
    "encode_speedup": ("index building tokens/s ÷ torch fp32", "≥ 3×"),
    "question_p50_ms@100000": ("question end to end p50, 100k passages", "< 50 ms"),
    "question_p95_ms@100000": ("question end to end p95, 100k passages", "< 150 ms"),
    "search_p50_ms_1m": ("search alone p50, 1M passages", "< 5 ms"),
    "recall_at_10_1m": ("recall@10 vs exact, 1M passages", "≥ 0.98"),
    "peak_rss_mb_1m": ("serving process peak RSS, 1M passages", "≤ 2048 MB"),
}


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def ratio(value, base) -> str:
    if value is None or not base:
        return "—"
    return f"{value / base:.2f}×"


SWEPT = {"nprobe": "IVF: nprobe (lists read per question)", "ef_search": "HNSW: efSearch"}


def sweep_tables(sizes: dict) -> list[str]:
    """One table per tuned parameter: recall@10 against exact search and search-alone p50 at each value
    (``hnsw_sweep`` entries of earlier runs hold ``ef_search`` only)."""
    by_parameter: dict[str, dict[str, list[dict]]] = {}
    for size, entry in sizes.items():
        serve = entry.get("serve") or {}
        for e in serve.get("ann_sweep") or serve.get("hnsw_sweep") or []:
            parameter = e.get("parameter", "ef_search")
            value = e.get("value", e.get("ef_search"))
            by_parameter.setdefault(parameter, {}).setdefault(size, []).append(e | {"value": value})
    lines: list[str] = []
    for parameter, sweeps in by_parameter.items():
        values = sorted({e["value"] for sweep in sweeps.values() for e in sweep})
        lines += [
            f"{SWEPT.get(parameter, parameter)}: recall@10 against exact search @ search-alone p50 (real questions):",
            "",
        ]
        rows = []
        for size, sweep in sweeps.items():
            found = {e["value"]: f"{e['recall_at_10']:.4f} @ {e['p50_ms']:.2f} ms" for e in sweep}
            rows.append([f"{int(size):,}"] + [found.get(value, "—") for value in values])
        lines += table(["passages", *[f"{parameter} {value}" for value in values]], rows)
    return lines


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def target_rows(report: dict) -> list[list[str]]:
    sizes = report.get("sizes", {})
    serve_100k = sizes.get("100000", {}).get("serve") or {}
    serve_1m = sizes.get("1000000", {}).get("serve") or {}
    measured = {
        "encode_speedup": report.get("encode_speedup"),
        "question_p50_ms@100000": (serve_100k.get("end_to_end") or {}).get("p50_ms"),
        "question_p95_ms@100000": (serve_100k.get("end_to_end") or {}).get("p95_ms"),
        "search_p50_ms_1m": report.get("search_p50_ms_1m"),
        "recall_at_10_1m": report.get("recall_at_10_1m"),
        "peak_rss_mb_1m": serve_1m.get("memory", {}).get("peak_rss_mb"),
    }
    checks = {
        "encode_speedup": lambda v: v >= 3,
        "question_p50_ms@100000": lambda v: v < 50,
        "question_p95_ms@100000": lambda v: v < 150,
        "search_p50_ms_1m": lambda v: v < 5,
        "recall_at_10_1m": lambda v: v >= 0.98,
        "peak_rss_mb_1m": lambda v: v <= 2048,
    }
    rows = []
    for key, (label, target) in TARGETS.items():
        value = measured[key]
        verdict = "not measured" if value is None else ("met" if checks[key](value) else "**not met**")
        rows.append([label, target, fmt(value, 2), verdict])
    return rows


def pooled(entry: dict, config: str) -> dict | None:
    """One configuration's metrics over the questions of every set together (means weighted by set size)."""
    sets = [entry[key]["all"] for key in entry if key.endswith(f"/{config}") and "all" in (entry[key] or {})]
    total = sum(s["n"] for s in sets)
    if len(sets) < 2 or not total:
        return None
    return {"all": {m: round(sum(s[m] * s["n"] for s in sets) / total, 4) for m in ("hit@5", "mrr@10")} | {"n": total}}
