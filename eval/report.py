"""Side-by-side reports of several configurations: a table, paired significance
tests against the first configuration (ranx compare: Fisher's randomization test),
a bar chart, and the failed questions with what was retrieved instead."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eval.harness import HIGHLIGHT, METRICS, EvalResult

LABELS = {"hit_rate@1": "hit@1", "hit_rate@3": "hit@3", "hit_rate@5": "hit@5", "hit_rate@10": "hit@10"}
TESTED = ("hit_rate@5", "mrr@10")
SIGNIFICANT = 0.05
FAILURE_DEPTH = 5


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def significance(results: list[EvalResult]) -> dict[str, dict[str, float]]:
    """p-values of each configuration against the first, paired by question (all configurations answer the
    same questions: the first one's qrels)."""
    from eval.harness import compare_runs

    runs = {result.name: result.run for result in results}
    pairs = compare_runs(results[0].qrels, runs, TESTED, SIGNIFICANT)
    return {result.name: pairs[results[0].name, result.name] for result in results[1:]}


def groups_of(results: list[EvalResult]) -> list[str]:
    seen: list[str] = []
    for result in results:
        seen += [g for g in result.metrics if g not in seen]
    order = {"all": 0, "zh": 1, "en": 2}
    return sorted(seen, key=lambda g: (order.get(g, 3), g))


def markdown_table(results: list[EvalResult], tests: dict[str, dict[str, float]]) -> str:
    groups = groups_of(results)
    lines = []
    for group in groups:
        n = int(results[0].metrics.get(group, {}).get("questions", 0))
        lines += [f"**{group}** ({n} questions)", ""]
        lines.append("| configuration | " + " | ".join(label(m) for m in METRICS) + f" | {HIGHLIGHT} |")
        lines.append("|---" * (len(METRICS) + 2) + "|")
        for result in results:
            values = result.metrics.get(group)
            if not values:
                continue
            cells = []
            for metric in METRICS:
                cell = f"{values[metric]:.3f}"
                p = tests.get(result.name, {}).get(metric) if group == "all" else None
                if p is not None and p < SIGNIFICANT:
                    cell += "†"
                cells.append(cell)
            cells.append(f"{values[HIGHLIGHT]:.3f}" if HIGHLIGHT in values else "–")
            lines.append(f"| {result.name} | " + " | ".join(cells) + " |")
        lines.append("")
    if tests:
        lines.append(
            f"† differs from `{results[0].name}` with p < {SIGNIFICANT} (Fisher's randomization test, paired by "
            f"question, 1000 permutations; tested on {', '.join(label(m) for m in TESTED)} over all questions)."
        )
    return "\n".join(lines)


def failures(result: EvalResult, depth: int = FAILURE_DEPTH) -> list[dict]:
    failed = []
    for r in result.results:
        if r.first_relevant is not None and r.first_relevant <= depth:
            continue
        failed.append(
            {
                "id": r.question.id,
                "lang": r.question.lang,
                "type": r.question.type,
                "question": r.question.question,
                "evidence": list(r.question.evidence) or [d for d, _ in r.question.relevant_docs],
                "first_relevant_rank": r.first_relevant,
                "retrieved": [
                    {"rank": h.rank, "doc": h.doc, "section": h.section_path, "text": h.text[:160]} for h in r.hits[:3]
                ],
            }
        )
    return failed


def bar_chart(results: list[EvalResult], path: Path, metrics: tuple[str, ...] = ("hit_rate@5", "mrr@10")) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = groups_of(results)
    figure, axes = plt.subplots(len(metrics), 1, figsize=(max(8, 1.1 * len(groups) * len(results) / 2), 7))
    width = 0.8 / len(results)
    for axis, metric in zip(np.atleast_1d(axes), metrics, strict=True):
        for i, result in enumerate(results):
            values = [result.metrics.get(g, {}).get(metric, 0.0) for g in groups]
            axis.bar(np.arange(len(groups)) + i * width, values, width, label=result.name)
        axis.set_xticks(np.arange(len(groups)) + width * (len(results) - 1) / 2, groups, fontsize=8)
        axis.set_ylim(0, 1)
        axis.set_ylabel(label(metric))
        axis.grid(axis="y", alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8, ncols=min(len(results), 4))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(results: list[EvalResult], out_dir: Path, title: str, extra: dict | None = None) -> dict:
    """report.json, report.md and metrics.png in out_dir; returns the JSON data."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tests = significance(results) if len(results) > 1 else {}
    data = {
        "title": title,
        "configurations": [r.name for r in results],
        "metrics": {r.name: r.metrics for r in results},
        "significance_vs_first": tests,
        "unreachable": {r.name: r.unreachable for r in results if r.unreachable},
        "failures": {r.name: failures(r) for r in results},
        **(extra or {}),
    }
    (out_dir / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    bar_chart(results, out_dir / "metrics.png")
    last = results[-1]
    lines = [f"# {title}", "", markdown_table(results, tests), "", "![metrics](metrics.png)", ""]
    lines += [f"## Failed questions of `{last.name}` (no relevant passage in the top {FAILURE_DEPTH})", ""]
    for failure in data["failures"][last.name]:
        lines.append(f"- **{failure['id']}** ({failure['lang']}, {failure['type']}) {failure['question']}")
        lines.append(f"  - evidence: {' / '.join(failure['evidence'])}")
        for hit in failure["retrieved"]:
            lines.append(f"  - got [{hit['rank']}] {hit['doc']} › {hit['section']}: {hit['text'][:80]}…")
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data
