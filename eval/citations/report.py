"""The citation check's report as Markdown and JSON (bench/citation_check.{md,json})."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
from pathlib import Path

from eval.citations.measure import SPLITS

SPLIT_NAMES = {"dev": "dev (thresholds chosen here)", "heldout": "held-out", "fresh": "fresh held-out"}


def machine() -> dict:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        flags = sorted(set(re.findall(r"\b(avx2|avx512f|avx512_vnni)\b", cpuinfo)))
        model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    except OSError:
        flags, model = [], None
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model.group(1).strip() if model else "",
        "cpu_flags": flags,
        "uptime": uptime,
    }


def _pr(block: dict) -> str:
    if not block["n"]:
        return "–"
    return f"{block['precision']:.2f} / {block['recall']:.2f} / {block['f1']:.2f}"


def markdown(report: dict) -> str:
    lines = [
        "# Citation check (measured)",
        "",
        f"Set: `{report['set']}` — "
        + ", ".join(
            f"{SPLIT_NAMES[s]}: {report['items'][s]} items "
            f"({', '.join(f'{v} {k}' for k, v in report['labels'][s].items())})"
            for s in SPLITS
        ),
        "",
    ]
    if "machine" in report:
        m = report["machine"]
        lines += [
            f"Run {m['date']} on {m['cpu']} (flags: {' '.join(m['cpu_flags']) or 'none'}); load: `{m['uptime']}`",
            "",
        ]
    lines += [
        'Precision / recall / F1 of each decision ("unsupported": the sentence is flagged; "supported": it '
        "is passed; no-answer sentences count as not unsupported).",
        "",
        "| encoder | similarity ≥ | overlap ≥ | split | unsupported P / R / F1 | supported P / R / F1 | "
        "facts only: unsupported | similarity only (≥ its own threshold): unsupported |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in report["encoders"].items():
        for split in SPLITS:
            f = entry[split]
            lines.append(
                f"| {name} | {entry['threshold']:.3f} | {entry['min_overlap']:.2f} | {split} | "
                f"{_pr(f['all']['unsupported'])} | {_pr(f['all']['supported'])} | "
                f"{_pr(f['facts_only']['unsupported'])} | "
                f"{_pr(f['similarity_only']['unsupported'])} ({entry['similarity_only_threshold']:.3f}) |"
            )
    for name, entry in report["encoders"].items():
        lines += ["", f"## {name}: per language and per kind", ""]
        lines += ["| split | language | unsupported P / R / F1 | supported P / R / F1 |", "|---|---|---|---|"]
        for split in SPLITS:
            for language, block in entry[split]["languages"].items():
                lines.append(f"| {split} | {language} | {_pr(block['unsupported'])} | {_pr(block['supported'])} |")
        lines += [
            "",
            "| kind | label | " + " | ".join(f"{SPLIT_NAMES[s].split(' (')[0]}: right / n" for s in SPLITS) + " |",
            "|---|---|" + "---|" * len(SPLITS),
        ]
        labels = {k: v["label"] for s in SPLITS for k, v in entry[s]["kinds"].items()}
        kinds = sorted(labels, key=lambda k: (labels[k], k))
        for kind in kinds:
            cells = []
            for split in SPLITS:
                k = entry[split]["kinds"].get(kind)
                cells.append(f"{k['correct']} / {k['n']}" if k else "–")
            lines.append(f"| {kind} | {labels[kind]} | " + " | ".join(cells) + " |")
        speed = entry["speed"]
        lines += [
            "",
            f"Speed ({name}): {speed['ms_per_answer_median']} ms per answer (median of {speed['answers']} answers of "
            f"{speed['sentences_per_answer']} sentences on average; mean {speed['ms_per_answer_mean']} ms); "
            f"{entry['ms_per_sentence_item_median']} ms per one-sentence item (median).",
        ]
    return "\n".join(lines) + "\n"


def write(report: dict, out: Path) -> None:
    report = {**report, "machine": machine()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
