"""Fault injection on the index store: killed builds, concurrent builds, damaged files.

``python -m eval.reliability_store [--quick] [--workdir DIR] [--json FILE]`` prints a Markdown table:

(a) a real ``python -m index build`` subprocess is killed (SIGKILL) at named points of an incremental build
    (a hook installed by this module's own entry point, never by CiteLens) and after fixed delays; then the
    index must load and answer, verify, and the next build must finish with every document;
(b) two builds run at once on one folder (one waits), and a ``--no-wait`` build fails at once;
(c) every kind of index file is truncated, has bytes flipped, or is deleted: found at load (with full
    checksums, as for this small index, and with sizes only, as for a large one), by ``index verify``,
    the CLI's search answers in one message without a traceback, and the next build repairs it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.fault_injection import FILE_KINDS, KILL_POINTS, MODES, damage, file_of, install_kill_point
from index.settings import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
QUESTION = "中国累计建成开通多少个5G基站？"
PAUSE_SECONDS = 10.0  # a writer holding the lock this long is met by a second one started meanwhile
QUICK_KILL_POINTS = ["segment-written", "version-written", "pruning"]
KILL_DELAYS = [3.0, 6.0]  # seconds after start: a kill from outside, wherever the build then is
QUICK_KILL_DELAYS = [4.0]
QUICK_KINDS = {"faiss vectors", "manifest", "sentence vectors", "chunks", "segment.json"}
# ---- the checks -------------------------------------------------------------------------------------------


class Context:
    def __init__(self, workdir: Path):
        from index.encoder import Encoder

        self.workdir = Path(workdir)
        self.encoder = Encoder()
        self.corpus_a = self.workdir / "corpus-a"
        self.corpus_b = self.workdir / "corpus-b"  # corpus A and one more document
        for corpus, extra in ((self.corpus_a, []), (self.corpus_b, [FIXTURES / "corpus_dup" / "repost.md"])):
            shutil.rmtree(corpus, ignore_errors=True)
            shutil.copytree(FIXTURES / "corpus_small", corpus)
            for path in extra:
                shutil.copy(path, corpus / path.name)
        self.baseline = self.workdir / "baseline-index"
        shutil.rmtree(self.baseline, ignore_errors=True)
        self.build(self.corpus_a, self.baseline)
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.runs = 0

    def build(self, corpus: Path, index_dir: Path):
        from index.build import build_index

        return build_index(corpus, index_dir, self.encoder, progress=False, log=lambda message: None)

    def fresh_copy(self, name: str) -> Path:
        target = self.workdir / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.baseline, target, symlinks=True)
        (target / "write.lock").unlink(missing_ok=True)
        return target

    def cli(self, *args: str, kill_at: str | None = None, pause_at: str | None = None) -> list[str]:
        hook = ["-m", "index"]
        if kill_at:
            hook = ["-m", "eval.reliability_store", "--kill-at", kill_at]
        elif pause_at:
            hook = ["-m", "eval.reliability_store", "--pause-at", pause_at]
        return [sys.executable, *hook, *args]

    def answers(self, index_dir: Path) -> tuple[bool, set[str], str]:
        """(loads and answers, its documents, the error if not)."""
        from index.passage_index import PassageIndex
        from index.search import Searcher

        try:
            index = PassageIndex.load(index_dir)
            hits = Searcher(index, self.encoder).answer(QUESTION, k=3).hits
            return bool(hits), set(index.documents), ""
        except Exception as error:  # reported: the point is that there are none
            return False, set(), f"{type(error).__name__}: {error}"[:300]


def verified(index_dir: Path) -> bool:
    from index.integrity import verify_index

    try:
        check = verify_index(index_dir)
    except Exception:  # no index, or one that cannot be read: not verified
        return False
    return check.ok and check.recorded


def kill_checks(ctx: Context, quick: bool) -> list[dict]:
    """Kill an incremental build (corpus A's index, corpus B) at each point; then check what is left."""
    a_docs = {p.name for p in ctx.corpus_a.iterdir()}
    b_docs = {p.name for p in ctx.corpus_b.iterdir()}
    results = []
    plan = [(p, None) for p in (QUICK_KILL_POINTS if quick else KILL_POINTS)]
    plan += [(None, d) for d in (QUICK_KILL_DELAYS if quick else KILL_DELAYS)]
    for point, delay in plan:
        index_dir = ctx.fresh_copy("kill-index")
        command = ctx.cli("build", "--corpus", str(ctx.corpus_b), "--index", str(index_dir), kill_at=point)
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        if delay is not None:
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=600)
        killed = process.returncode == -signal.SIGKILL
        answered, documents, error = ctx.answers(index_dir)
        whole = documents in (a_docs, b_docs)
        was_verified = verified(index_dir)
        try:
            report = ctx.build(ctx.corpus_b, index_dir)
            recovered = report.documents == len(b_docs) and verified(index_dir) and ctx.answers(index_dir)[1] == b_docs
        except Exception as failure:  # reported
            recovered, error = False, error or f"next build: {type(failure).__name__}: {failure}"[:300]
        results.append(
            {
                "point": point or f"after {delay:g} s",
                "killed": killed,
                "answered": answered,
                "state": "new" if documents == b_docs else "old" if documents == a_docs else "mixed",
                "whole": whole,
                "verified": was_verified,
                "recovered": recovered,
                "traceback": "Traceback" in stderr.decode(errors="replace"),
                "survived": answered and whole and was_verified and recovered,
                "error": error,
            }
        )
    return results


def held(lock: Path, seconds: float = 120) -> None:
    """Wait until a writer holds this lock (its file names the holder)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text(errors="replace").strip()):
        time.sleep(0.05)


def concurrent_checks(ctx: Context) -> dict:
    """Two builds at once on one folder (the first holds the lock ``PAUSE_SECONDS`` after taking it, so the
    second surely meets it); then a --no-wait build while one runs."""
    index_dir = ctx.fresh_copy("concurrent-index")
    arguments = ("build", "--corpus", str(ctx.corpus_b), "--index", str(index_dir))
    pipes = {"cwd": PROJECT_ROOT, "env": ctx.env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    builds = [subprocess.Popen(ctx.cli(*arguments, pause_at="lock-taken"), **pipes)]
    held(index_dir / "write.lock")
    builds.append(subprocess.Popen(ctx.cli(*arguments), **pipes))
    outputs = [build.communicate(timeout=600) for build in builds]
    answered, documents, error = ctx.answers(index_dir)
    together = {
        "exit_codes": [build.returncode for build in builds],
        "waited": sum("Waiting for the build by pid" in err for _, err in outputs),
        "verified": verified(index_dir),
        "answered": answered and documents == {p.name for p in ctx.corpus_b.iterdir()},
        "error": error,
    }
    index_dir = ctx.fresh_copy("no-wait-index")
    first = subprocess.Popen(ctx.cli("build", "--corpus", str(ctx.corpus_b), "--index", str(index_dir)), **pipes)
    held(index_dir / "write.lock")
    second = subprocess.run(
        ctx.cli("build", "--no-wait", "--corpus", str(ctx.corpus_b), "--index", str(index_dir)),
        **{k: v for k, v in pipes.items() if k not in ("stdout", "stderr")},
        capture_output=True,
    )
    first.communicate(timeout=600)
    no_wait = {
        "exit_code": second.returncode,
        "message": second.stderr.strip().splitlines()[-1] if second.stderr.strip() else "",
        "names_pid": f"pid {first.pid}" in second.stderr,
        "first_exit_code": first.returncode,
        "verified": verified(index_dir),
    }
    return {"together": together, "no_wait": no_wait}


def damage_checks(ctx: Context, quick: bool) -> list[dict]:
    from index import integrity
    from index.passage_index import PassageIndex

    results = []
    for kind, pattern in FILE_KINDS:
        if quick and kind not in QUICK_KINDS:
            continue
        for mode in MODES:
            index_dir = ctx.fresh_copy("damaged-index")
            damage(file_of(index_dir, pattern), mode)
            found = {}
            for label, limit in (("load", integrity.FULL_CHECK_AT_LOAD_BYTES), ("load_sizes_only", -1)):
                try:
                    PassageIndex.load(index_dir, full_check_bytes=limit)
                    found[label] = "no"
                except integrity.IndexDamaged:
                    found[label] = "IndexDamaged"
                except Exception as error:  # any other exception is a finding of this report
                    found[label] = type(error).__name__
            try:
                found["verify"] = "yes" if not integrity.verify_index(index_dir).ok else "no"
            except Exception as error:  # reported
                found["verify"] = type(error).__name__
            search = subprocess.run(
                ctx.cli("search", QUESTION, "--json", "--index", str(index_dir)),
                cwd=PROJECT_ROOT,
                env=ctx.env,
                capture_output=True,
                text=True,
            )
            lines = search.stderr.strip().splitlines()
            try:
                ctx.build(ctx.corpus_a, index_dir)
                repaired = verified(index_dir) and ctx.answers(index_dir)[0]
            except Exception:  # reported as not repaired
                repaired = False
            results.append(
                {
                    "kind": kind,
                    "mode": mode,
                    **found,
                    "cli_exit": search.returncode,
                    "cli_one_message": len(lines) == 1 and lines[0].startswith("error: index file"),
                    "cli_traceback": "Traceback" in search.stderr,
                    "repaired": repaired,
                }
            )
    return results


def check(workdir: Path, quick: bool = False) -> dict:
    started = time.monotonic()
    ctx = Context(Path(workdir))
    kills = kill_checks(ctx, quick)
    concurrent = concurrent_checks(ctx)
    damaged = damage_checks(ctx, quick)
    survived = sum(k["survived"] for k in kills)
    return {
        "quick": quick,
        "load_average": round(os.getloadavg()[0], 2),
        "kills": kills,
        "kills_survived": f"{survived}/{len(kills)}",
        "concurrent": concurrent,
        "damage": damaged,
        "seconds": round(time.monotonic() - started, 1),
    }


def _mark(value) -> str:
    return {True: "yes", False: "**no**"}.get(value, str(value))


def table(result: dict) -> str:
    out = [f"**Killed builds: {result['kills_survived']} kills survived** (SIGKILL during an incremental build)", ""]
    out += [
        "| killed at | killed | index answered | state | verified | next build recovered |",
        "|---|---|---|---|---|---|",
    ]
    for k in result["kills"]:
        row = [k["point"], _mark(k["killed"]), _mark(k["answered"]), k["state"], _mark(k["verified"])]
        out.append("| " + " | ".join([*row, _mark(k["recovered"])]) + " |")
    together, no_wait = result["concurrent"]["together"], result["concurrent"]["no_wait"]
    out += ["", "**Two builds at once on one folder**", ""]
    out.append(
        f"- both: exit codes {together['exit_codes']}, {together['waited']} waited for the other, index verified: "
        f"{_mark(together['verified'])}, answers with every document: {_mark(together['answered'])}"
    )
    out.append(
        f"- `--no-wait` while a build runs: exit {no_wait['exit_code']}, names the holder's pid: "
        f"{_mark(no_wait['names_pid'])}; the running build: exit {no_wait['first_exit_code']}, verified: "
        f"{_mark(no_wait['verified'])}  \n  `{no_wait['message']}`"
    )
    damaged = result["damage"]
    clean = sum(d["cli_exit"] == 2 and d["cli_one_message"] and not d["cli_traceback"] for d in damaged)
    repaired, n = sum(d["repaired"] for d in damaged), len(damaged)
    out += ["", f"**Damaged files** ({n} cases; CLI search: exit 2 with one message, no traceback in "
            f"{clean}/{n}; repaired by the next build in {repaired}/{n})", ""]  # fmt: skip
    out += [
        "| file | damage | found at load (small index: checksums) | at load (sizes only) | by verify | CLI exit | "
        "traceback | repaired by build |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in damaged:
        row = [d["kind"], d["mode"], d["load"], d["load_sizes_only"], d["verify"], str(d["cli_exit"])]
        out.append("| " + " | ".join([*row, "**yes**" if d["cli_traceback"] else "no", _mark(d["repaired"])]) + " |")
    out += ["", f"{result['seconds']} s, load average {result['load_average']}."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--kill-at"], ["--pause-at"]):  # a build that dies (a) or holds the lock (b) at a point
        install_kill_point(argv[1], pause=PAUSE_SECONDS if argv[0] == "--pause-at" else 0.0)
        from index.__main__ import main as index_main

        return index_main(argv[2:])
    parser = argparse.ArgumentParser(prog="python -m eval.reliability_store", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few kill points and file kinds")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="citelens-store-") as scratch:
        result = check(args.workdir or Path(scratch), args.quick)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
