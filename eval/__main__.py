"""CLI: ``python -m eval`` — compare search configurations on question sets.

python -m eval                                  # every named set (dev, held-out, CMRC, DRCD): CiteLens vs plain
python -m eval --set dev heldout --config plain dense full full+nofold   # chosen sets and configurations
python -m eval --qa FILE.jsonl --config plain full full@128/16           # one gold file, over --index
python -m eval --beir DIR                       # a BEIR folder (corpus, queries, qrels)
python -m eval --calibrate                      # fit the answerability calibration on the sets' calibration part
python -m eval --set dev --llm-url URL --llm-model NAME --answers-limit 10   # and grounded answers' figures
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from eval.harness import HIGHLIGHT, METRICS, EvalResult
from eval.report import label, write_report
from index import settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--qa", type=Path, help="gold questions, JSONL (default: the bundled dev set)")
    source.add_argument("--beir", type=Path, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    source.add_argument(
        "--set", nargs="+", dest="sets", metavar="NAME", help="named question sets (default: all of eval/suite.py)"
    )
    parser.add_argument("--split", default="test", help="BEIR qrels split (default test)")
    parser.add_argument(
        "--index", type=Path, help=f"index folder for --qa (default ${settings.ENV_INDEX} or data/index)"
    )
    parser.add_argument("--model", help="model name or path (default: the one that built the index)")
    parser.add_argument(
        "--config", nargs="+", help="configurations (default: full plain-bm25 plain; with --qa: plain dense … full)"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--milvus",
        metavar="URI",
        help="the named sets' indexes kept in Milvus at this URI (milvus:PATH.db or http://HOST:19530), not embedded",
    )
    parser.add_argument("--out", type=Path, help="write report.json, report.md and metrics.png here")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the answerability calibration on the named sets (their calibration part) and save it",
    )
    parser.add_argument(
        "--calibration-out",
        type=Path,
        help="where --calibrate writes (default: calibration.json beside the --index folder's index)",
    )
    parser.add_argument(
        "--no-answerability", action="store_true", help="retrieval only: skip asking every collection every set"
    )
    answers = parser.add_argument_group(
        "grounded answers (eval/answers.py)",
        "with a language-model endpoint (these flags, or $CITELENS_LLM_URL, $CITELENS_LLM_MODEL and "
        "$CITELENS_LLM_KEY), each set's answerable questions are also answered and their sentences checked",
    )
    answers.add_argument("--llm-url", help="OpenAI-compatible base URL (default $CITELENS_LLM_URL)")
    answers.add_argument("--llm-model", help="the model's name on that server (default $CITELENS_LLM_MODEL)")
    answers.add_argument("--answers-limit", type=int, metavar="N", help="ask at most N questions per set")
    answers.add_argument("--answers-k", type=int, default=5, metavar="K", help="passages given to the model (5)")
    answers.add_argument("--no-answers", action="store_true", help="retrieval only, even with an endpoint set")
    args = parser.parse_args(argv)

    from eval.question_sets import BadQuestionSet
    from index.generate.endpoint import LLMError
    from index.models import ModelNotAvailable
    from index.versions import IndexMismatch, IndexNotFound

    try:
        return run(args)
    except (BadQuestionSet, ModelNotAvailable, IndexMismatch, IndexNotFound, ValueError, LLMError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def llm_settings(args: argparse.Namespace):
    """The endpoint for the answer figures (None: retrieval only). The key comes from $CITELENS_LLM_KEY only."""
    import os

    from index.generate.endpoint import LLMSettings

    if args.no_answers or args.calibrate or args.beir:
        return None
    return LLMSettings.from_env(os.environ, url=args.llm_url, model=args.llm_model)


def run_answers(name: str, searcher, questions, llm, args: argparse.Namespace):
    """One set's grounded answers (eval/answers.py), timed question by question on stderr."""
    from eval.answers import AnswerRun, answer_questions

    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    limit = args.answers_limit
    log(f"{name}: answering {'all' if limit is None else f'at most {limit}'} answerable questions with {llm.model}")
    records = answer_questions(searcher, questions, llm, limit, args.answers_k, log)
    run = AnswerRun(name, records, llm.model)
    seconds = run.metrics["seconds_per_question"]
    if seconds is not None:
        log(f"{name}: {seconds:.1f} s per question ({run.metrics['asked']} asked, {run.metrics['not_asked']} not)")
    return run


def run(args: argparse.Namespace) -> int:
    from eval.question_sets import read_gold_jsonl
    from eval.runner import DEFAULT_CONFIGURATIONS, parse_configuration, run_configurations
    from eval.suite import SUITE_CONFIGURATIONS
    from index.build import BuildSettings
    from index.search import open_searcher

    if args.calibrate:
        return calibrate(args)
    single = bool(args.qa or args.beir or args.index)  # one question set, the old way
    specs = args.config or list(DEFAULT_CONFIGURATIONS if single else SUITE_CONFIGURATIONS)
    for spec in specs:
        parse_configuration(spec, BuildSettings())  # fail on a typo before any work
    if not single:
        return run_sets(args, specs)
    if args.beir:
        return run_beir(args, specs)
    questions = read_gold_jsonl(args.qa or settings.BUNDLED_QA)
    searcher = open_searcher(settings.index_dir(args.index), settings.asked_model(args.model), settings.backend_name())
    index_dir = settings.index_dir(args.index)
    llm = llm_settings(args)  # before the retrieval runs: a wrong setting fails at once
    results = run_configurations(specs, questions, index_dir, searcher.encoder, args.k)
    name = (args.qa or settings.BUNDLED_QA).name
    answers = [run_answers(Path(name).stem, searcher, questions, llm, args)] if llm else []
    return present(results, args, f"Retrieval eval: {name}", searcher, answers)


def run_beir(args: argparse.Namespace, specs: list[str]) -> int:
    from dataclasses import replace

    from eval.question_sets import beir_file_name, read_beir, write_beir_corpus
    from eval.runner import run_configurations
    from index.build import build_index
    from index.encoder import Encoder

    beir = read_beir(args.beir, args.split)
    questions = [
        replace(q, relevant_docs=tuple((beir_file_name(d), g) for d, g in q.relevant_docs)) for q in beir.questions
    ]
    encoder = Encoder(settings.model_name(args.model), backend=settings.backend_name())
    with tempfile.TemporaryDirectory(prefix="citelens-beir-") as work:
        corpus, index_dir = Path(work) / "corpus", Path(work) / "index"
        write_beir_corpus(beir, corpus)
        build_index(corpus, index_dir, encoder)
        results = run_configurations(specs, questions, index_dir, encoder, args.k)
    return present(results, args, f"Retrieval eval: BEIR {args.beir.name} ({args.split})", None)


def run_sets(args: argparse.Namespace, specs: list[str]) -> int:
    """The named question sets (eval/suite.py), each over its own corpus's index, one table per set."""
    from eval.suite import QUESTION_SETS, question_set, run_suite, suite_data, suite_text, write_suite_report
    from index.encoder import Encoder

    started = time.perf_counter()
    sets = [question_set(name) for name in args.sets] if args.sets else list(QUESTION_SETS)
    llm = llm_settings(args)
    encoder = Encoder(settings.model_name(args.model), backend=settings.backend_name())
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    runs = run_suite(sets, specs, encoder, args.k, log=log, milvus=args.milvus)
    if llm:
        from eval.suite import read_set, set_searcher

        for run in runs:
            answered = run_answers(
                run.question_set.name, set_searcher(run, encoder), read_set(run.question_set)[0], llm, args
            )
            run.extra["answers"] = answered.to_json()
            run.answers = answered
    answerability = None
    if not args.no_answerability:
        from eval.calibrate import answerability_rows, ask_collections
        from index.answer_calibration import load_calibration

        asked, collections = ask_collections(sets, encoder, log, milvus=args.milvus)
        calibration = load_calibration(encoder.name, settings.index_dir(args.index))
        answerability = answerability_rows(asked, calibration, collections)
    seconds = time.perf_counter() - started
    if args.out:
        write_suite_report(runs, args.out, seconds, answerability)
        print(f"report: {args.out / 'report.md'}", file=sys.stderr)
    if args.json:
        print(json.dumps({**suite_data(runs), **({"answerability": answerability} if answerability else {})}, indent=1))
    else:
        print(suite_text(runs))
        answered = [run.answers for run in runs if run.answers is not None]
        if answered:
            from eval.answers import answer_table

            print(f"\ngrounded answers\n{answer_table(answered)}")
        if answerability:
            from eval.calibrate import answerability_table

            print(
                f"\nanswerability: share judged right (answerable answered, others flagged)\n"
                f"{answerability_table(answerability)}"
            )
        print(f"\nwall time: {seconds:.0f} s")
    return 0


def present(results: list[EvalResult], args: argparse.Namespace, title: str, searcher, answers=()) -> int:
    from eval.answers import write_answers_report

    if args.out:
        write_report(results, args.out, title)
        if answers:
            write_answers_report(answers, args.out)
        print(f"report: {args.out / 'report.md'}", file=sys.stderr)
    if args.json:
        data = {r.name: r.metrics for r in results}
        if answers:
            data["answers"] = {run.name: run.to_json() for run in answers}
        print(json.dumps(data, indent=1, ensure_ascii=False))
        return 0
    print(format_table(results))
    if answers:
        from eval.answers import answer_table

        print(f"\ngrounded answers\n{answer_table(answers)}")
    return 0


def calibrate(args: argparse.Namespace) -> int:
    """Fit the answerability calibration on the calibration part of the named sets, asked of every
    collection; report it on both parts; save it beside the index (or where --calibration-out says)."""
    from eval.calibrate import (
        answerability_rows,
        answerability_table,
        ask_collections,
        fit_calibration,
        save_calibration,
    )
    from eval.suite import QUESTION_SETS, question_set
    from index.answer_calibration import CALIBRATION_NAME
    from index.encoder import Encoder

    sets = [question_set(name) for name in args.sets] if args.sets else list(QUESTION_SETS)
    encoder = Encoder(settings.model_name(args.model), backend=settings.backend_name())
    asked, collections = ask_collections(sets, encoder, lambda message: print(message, file=sys.stderr))
    backgrounds = {name: c.background for name, c in collections.items()}
    calibration = fit_calibration([a for a in asked if a.part == "calibration"], backgrounds)
    out = args.calibration_out or settings.index_dir(args.index) / CALIBRATION_NAME
    save_calibration(encoder.name, calibration, out)
    rows = answerability_rows(asked, calibration, collections)
    if args.json:
        print(json.dumps({"calibration": calibration.to_dict(), "answerability": rows}, indent=1))
    else:
        print(answerability_table(rows))
    print(f"calibration: {out}", file=sys.stderr)
    return 0


def format_table(results: list[EvalResult]) -> str:
    header = ["configuration", "group", "n"] + [label(m) for m in METRICS] + [HIGHLIGHT]
    rows = [header]
    for group in ("all", "zh", "en"):
        for result in results:
            values = result.metrics.get(group)
            if values:
                cells = [f"{values[m]:.3f}" for m in METRICS] + [
                    f"{values[HIGHLIGHT]:.3f}" if HIGHLIGHT in values else "-"
                ]
                rows.append([result.name, group, str(int(values["questions"])), *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for result in results:
        if result.unreachable:
            lines.append(f"{result.name}: evidence in no passage (misses): {', '.join(result.unreachable)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
