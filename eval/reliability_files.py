"""``python -m eval.reliability_files``: the hostile corpus through the real CLI (issue 14, item 4).

Generates every hostile case (eval/hostile_files.py) beside two normal Chinese documents, runs
``python -m index build`` on them as a child process with the default model (offline), measures the child's
peak RSS, and checks per case: accepted or refused as expected, the reason given, an accepted file's marker
found by ``python -m index search``. Then batch question files (encodings, BOM, bad lines, a missing file, a
folder) go through ``python -m index search --batch``. No output may hold a traceback.

The 5 MB single line is read and chunked in this process (timed) and left out of the build: embedding its
~80k sentences takes ~15 minutes on 2 cores, which says nothing about robustness.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from eval.hostile_files import SIMPLIFIED, HostileCase, make_hostile_corpus

PROJECT = Path(__file__).resolve().parent.parent
NORMAL = {
    "normal_5g.txt": (
        "截至2022年6月底，我国累计建成开通5G基站185.4万个，5G移动电话用户达到4.55亿户。",
        "5G基站建成了多少个？",
    ),
    "normal_law.md": (
        "---\ntitle: 网络安全法律体系\n---\n我国先后制定了《网络安全法》《数据安全法》《个人信息保护法》。",
        "中国制定了哪些数据安全方面的法律？",
    ),
}


def run(args: list[str], workdir: Path, name: str) -> dict:
    """Run ``python -m …`` as a child; its exit code, output, seconds and peak RSS.

    The peak is the child's own VmHWM, read while it runs: the kernel's ru_maxrss of a child starts from
    its parent's peak at fork, so a large parent (this one, after chunking the 5 MB line) would show."""
    out, err = workdir / f"{name}.out", workdir / f"{name}.err"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PROJECT), "PYTHONIOENCODING": "utf-8"}
    started = time.perf_counter()
    peak_kb = 0
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen([sys.executable, "-m", *args], stdout=stdout, stderr=stderr, cwd=PROJECT, env=env)
        while child.poll() is None:
            peak_kb = max(peak_kb, high_water_kb(child.pid))
            time.sleep(0.05)
    return {
        "exit": child.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_kb / 1024),
        "stdout": out.read_text("utf-8", "replace"),
        "stderr": err.read_text("utf-8", "replace"),
    }


def high_water_kb(pid: int) -> int:
    """A running process's peak resident memory so far (0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def single_line_case(case: HostileCase) -> dict:
    """Read and chunk the 5 MB line here, with the model's tokenizer: it must take seconds, not minutes."""
    from index.encoder import load_token_counter
    from ingest.chunking import ChunkSettings
    from ingest.pipeline import ingest_file

    started = time.perf_counter()
    document = ingest_file(case.path, case.path.name)
    chunks = ChunkSettings().chunk(document, load_token_counter())
    seconds = time.perf_counter() - started
    found = case.marker in chunks[-1].text
    message = f"read and chunked in-process: {len(chunks)} chunks in {seconds:.0f} s (not embedded)"
    return {"outcome": "accepted", "message": message, "found": found}


def refusal(stdout: str, case: HostileCase) -> str:
    """The reason the build printed for this case's file ("  refused: PATH: reason"), or ""."""
    for line in stdout.splitlines():
        if line.startswith("  refused: ") and f"/{case.name}: " in line:
            return line.split(f"/{case.name}: ", 1)[1]
    return ""


def search_batch(workdir: Path, index: Path, name: str, lines: list[str], encoding: str = "utf-8") -> dict:
    path = workdir / f"{name}.jsonl"
    path.write_bytes("\n".join(lines).encode(encoding))
    result = run(["index", "search", "--index", str(index), "--k", "5", f"--batch={path}"], workdir, name)
    result["lines"] = [json.loads(line) for line in result["stdout"].splitlines() if line.startswith("{")]
    return result


def check_cases(cases: list[HostileCase], corpus: Path, build: dict, accepted: set[str], found: dict) -> list[dict]:
    rows = []
    for case in cases:
        if case.key == "oneline":  # read and chunked in this process, not built
            row = {**found["oneline"], "key": case.key}
        else:
            relative = case.path.relative_to(corpus).as_posix() if case.expected == "accepted" else case.name
            outcome = "accepted" if relative in accepted else "refused"
            message = refusal(build["stdout"], case) if outcome == "refused" else ""
            row = {"key": case.key, "outcome": outcome, "message": message, "found": found.get(case.key)}
        ok = row["outcome"] == case.expected
        if case.expected == "accepted":
            ok = ok and bool(row["found"])
        else:
            ok = ok and case.reason.lower() in row["message"].lower()
        rows.append({**row, "file": case.name, "expected": case.expected, "description": case.description, "ok": ok})
    return rows


def batch_cases(workdir: Path, index: Path) -> list[dict]:
    """Question files in several encodings and with bad lines; a missing file and a folder."""
    good = [
        json.dumps({"id": "q1", "question": "5G基站建成了多少个？"}, ensure_ascii=False),
        json.dumps({"id": "q2", "question": "網絡空間是什麼？"}, ensure_ascii=False),
    ]
    bad = ["not json", json.dumps({"id": "q4"}), '{"id": "q5", "question": "\\udc80 lone surrogate"}', "[1, 2]"]
    rows = []
    for name, encoding, lines, bom in (
        ("utf-8", "utf-8", good, ""),
        ("utf-8 with BOM", "utf-8", good, "\ufeff"),
        ("UTF-16 with BOM", "utf-16", good, ""),
        ("UTF-16-LE without BOM", "utf-16-le", good, ""),
        ("GBK", "gbk", good[:1], ""),
        ("Big5", "big5", good[1:], ""),
        ("bad lines", "utf-8", [good[0], *bad, good[1]], ""),
    ):
        lines = [bom + lines[0], *lines[1:]]
        result = search_batch(workdir, index, f"batch-{encoding}-{len(rows)}", lines, encoding)
        errors = [line for line in result["lines"] if "error" in line]
        answered = [line for line in result["lines"] if line.get("hits")]
        wanted_errors = len(bad) if name == "bad lines" else 0
        ok = result["exit"] == 0 and len(errors) == wanted_errors and len(answered) == len(lines) - wanted_errors
        summary = "; ".join(line["error"] for line in errors) or f"{len(answered)} answered"
        rows.append({"case": name, "exit": result["exit"], "ok": ok, "message": summary, "result": result})
    (workdir / "a-folder.jsonl").mkdir(exist_ok=True)
    for name, path in (("missing file", workdir / "missing.jsonl"), ("folder", workdir / "a-folder.jsonl")):
        result = run(["index", "search", "--index", str(index), f"--batch={path}"], workdir, f"batch-{name}")
        ok = result["exit"] == 2 and result["stderr"].startswith("error: batch file") and not result["stdout"]
        rows.append(
            {"case": name, "exit": result["exit"], "ok": ok, "message": result["stderr"].strip(), "result": result}
        )
    return rows


def check(workdir: Path, quick: bool = False) -> dict:
    """Everything above; a JSON-serialisable result (``table`` renders it). ``quick``: no 100 MB file."""
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    corpus, aside, index = workdir / "corpus", workdir / "aside", workdir / "index"
    cases = make_hostile_corpus(corpus, big=not quick)
    for name, (text, _) in NORMAL.items():
        (corpus / name).write_text(f"{text}\n\n{SIMPLIFIED}\n", encoding="utf-8")
    found: dict = {}
    line_case = next(case for case in cases if case.key == "oneline")
    found["oneline"] = single_line_case(line_case)
    aside.mkdir()
    line_case.path = line_case.path.rename(aside / line_case.path.name)

    build = run(["index", "build", f"--corpus={corpus}", "--index", str(index)], workdir, "build")
    from index.passage_index import PassageIndex

    accepted = set(PassageIndex.load(index).manifest["documents"]) if build["exit"] == 0 else set()
    questions = [
        json.dumps({"id": f"normal:{name}", "question": q}, ensure_ascii=False) for name, (_, q) in NORMAL.items()
    ]
    questions += [json.dumps({"id": case.key, "question": case.marker}) for case in cases if case.marker]
    questions += [json.dumps({"id": "absent:html", "question": "xqzscriptleak7"})]
    search = search_batch(workdir, index, "markers", questions)
    hits = {line["id"]: line.get("hits", []) for line in search["lines"]}
    for case in cases:
        if case.marker and case.key != "oneline":
            documents = [hit["doc"] for hit in hits.get(case.key, [])[:3] if case.marker in hit["text"]]
            found[case.key] = case.path.relative_to(corpus).as_posix() in documents
    normal = {name: bool(hits.get(f"normal:{name}")) and hits[f"normal:{name}"][0]["doc"] == name for name in NORMAL}
    leaked = any("xqzscriptleak7" in hit["text"] for hit in hits.get("absent:html", []))
    rows = check_cases(cases, corpus, build, accepted, found)
    batches = batch_cases(workdir, index)
    outputs = [build, search, *(row.pop("result") for row in batches)]
    tracebacks = sum("Traceback" in result["stdout"] + result["stderr"] for result in outputs)
    return {
        "quick": quick,
        "build": {key: build[key] for key in ("exit", "seconds", "peak_rss_mb")} | {"documents": len(accepted)},
        "search_peak_rss_mb": search["peak_rss_mb"],
        "normal_documents_found": normal,
        "script_text_leaked": leaked,
        "tracebacks": tracebacks,
        "cases": rows,
        "batch": batches,
        "ok": all(row["ok"] for row in rows + batches) and all(normal.values()) and not leaked and not tracebacks,
    }


def table(result: dict) -> str:
    """The result as Markdown: a summary, one row per file case, one row per batch case."""
    build = result["build"]
    cell = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = [
        f"Build: exit {build['exit']}, {build['documents']} documents indexed in {build['seconds']} s, "
        f"**peak RSS {build['peak_rss_mb']} MB**; batch search peak RSS {result['search_peak_rss_mb']} MB; "
        f"normal documents found: {all(result['normal_documents_found'].values())}; "
        f"script text leaked: {result['script_text_leaked']}; outputs with a traceback: {result['tracebacks']}; "
        f"all checks passed: **{result['ok']}**" + (" (quick: no 100 MB file)" if result["quick"] else ""),
        "",
        "| case | file | expected | outcome | ok | message |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["cases"]:
        message = row["message"] or ("marker found by search" if row["found"] else "marker NOT found")
        lines.append(
            f"| {cell(row['description'])} | {cell(row['file'][:40])} | {row['expected']} | {row['outcome']} | "
            f"{'✓' if row['ok'] else '✗'} | {cell(message)} |"
        )
    lines += ["", "| batch file | exit | ok | result |", "| --- | --- | --- | --- |"]
    for row in result["batch"]:
        lines.append(f"| {row['case']} | {row['exit']} | {'✓' if row['ok'] else '✗'} | {cell(row['message'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.reliability_files", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/citelens-reliability-files"))
    parser.add_argument("--quick", action="store_true", help="skip the 100 MB file")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    result = check(args.workdir, args.quick)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
