"""The citation check measured on its labelled set: the threshold chosen on dev, precision and recall of
"unsupported" (and of "supported") on dev and held-out, per kind and per language, and the time per answer."""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from index.generate.check import CheckConfig, check_answer

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_SET = PROJECT / "data" / "eval" / "citation_check.jsonl"
ENCODERS = ("e5", "use", "both")
SPLITS = ("dev", "heldout", "fresh")  # fresh: written after the held-out errors were read (labelled.py)
NO_THRESHOLD = -2.0  # below any cosine: the similarity never objects


@dataclass(frozen=True)
class Outcome:
    """What the check said of one labelled item, before a threshold is applied."""

    item: dict
    no_answer: bool
    citation_problem: bool  # cites nothing, or a passage that does not exist
    fact_problem: bool  # a number or name missing, or two numbers the other way round
    score: float | None  # the lowest best-support similarity of its sentences (None: nothing to compare)
    seconds: float
    overlap: float | None = None  # the lowest share of words in common of its sentences

    def unsupported(
        self, threshold: float, facts: bool = True, similarity: bool = True, min_overlap: float = 0.0
    ) -> bool:
        if self.no_answer:
            return False
        low = similarity and (self.score is None or self.score < threshold)
        little = similarity and self.overlap is not None and self.overlap < min_overlap
        return self.citation_problem or (facts and self.fact_problem) or low or little


def read_set(path: Path = DEFAULT_SET) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def hits_of(passages: list[dict]) -> list:
    from index.hits import Hit

    ordered = sorted(passages, key=lambda p: p["rank"])
    return [Hit(p["rank"], 0.0, f"p{p['rank']}", "", "", (), 0, 0, p["text"], 0, len(p["text"])) for p in ordered]


def passage_translator(items: list[dict]):
    """A translator over the set's passages' words (what an index over them would hold)."""
    from index.keyword import keyword_tokens
    from index.script import fold
    from index.translate import QueryTranslator

    words: set[str] = set()
    for text in {p["text"] for item in items for p in item["passages"]}:
        words.update(keyword_tokens(fold(text)))
    return QueryTranslator.build(words)


def classify(problem: str) -> str:
    if problem == "cites nothing" or problem.startswith("cites ["):
        return "citation"
    if "not say this (" in problem:
        return "similarity"
    return "fact"  # numbers, names, swaps, negation


def outcome(item: dict, encoder, translator, kind: str) -> Outcome:
    hits = hits_of(item["passages"])
    started = time.perf_counter()
    config = CheckConfig(threshold=NO_THRESHOLD, min_overlap=0.0, encoder=kind)
    checks = check_answer(item["answer"], hits, encoder, translator, config)
    seconds = time.perf_counter() - started
    classes = {classify(p) for c in checks for p in c.problems}
    claims = [c for c in checks if not c.no_answer]
    scores = [c.support.score if c.support else None for c in claims]
    score = None if not claims or None in scores else min(scores)
    shares = [c.overlap for c in claims if c.overlap is not None]
    return Outcome(
        item,
        bool(checks) and not claims,
        "citation" in classes,
        "fact" in classes,
        score,
        seconds,
        min(shares, default=None),
    )


def confusion(pairs: list[tuple[bool, bool]]) -> dict:
    """Precision, recall and F1 of a positive class from (gold, predicted) pairs (sklearn's definitions)."""
    from sklearn.metrics import precision_recall_fscore_support

    if not pairs:
        return {"n": 0, "precision": None, "recall": None, "f1": None}
    gold = [g for g, _ in pairs]
    predicted = [p for _, p in pairs]
    precision, recall, f1, _ = precision_recall_fscore_support(
        gold, predicted, average="binary", pos_label=True, zero_division=0
    )
    return {
        "n": len(pairs),
        "positives": sum(gold),
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
        "f1": round(float(f1), 4),
    }


def figures(
    outcomes: list[Outcome], threshold: float, min_overlap: float = 0.0, facts: bool = True, similarity: bool = True
) -> dict:
    predicted = [o.unsupported(threshold, facts, similarity, min_overlap) for o in outcomes]
    gold = [o.item["label"] == "unsupported" for o in outcomes]

    def block(indices: list[int]) -> dict:
        return {
            "unsupported": confusion([(gold[i], predicted[i]) for i in indices]),
            "supported": confusion([(not gold[i], not predicted[i]) for i in indices]),
        }

    everything = list(range(len(outcomes)))
    by_language = defaultdict(list)
    by_kind = defaultdict(list)
    for i, o in enumerate(outcomes):
        by_language[o.item["lang"]].append(i)
        by_kind[o.item["kind"]].append(i)
    kinds = {}
    for kind, indices in sorted(by_kind.items()):
        label = outcomes[indices[0]].item["label"]
        if label == "no_answer":
            right = sum(outcomes[i].no_answer for i in indices)
        elif label == "unsupported":
            right = sum(predicted[i] for i in indices)
        else:
            right = sum(not predicted[i] for i in indices)
        kinds[kind] = {"label": label, "n": len(indices), "correct": right, "rate": round(right / len(indices), 4)}
    return {
        "all": block(everything),
        "languages": {k: block(v) for k, v in sorted(by_language.items())},
        "kinds": kinds,
    }


def _mean_f1(gold: list[bool], predicted: list[bool]) -> float:
    """Mean of the F1 of "unsupported" and of "supported" (what the thresholds are chosen by)."""

    def f1(positive: bool) -> float:
        tp = sum(g == positive and p == positive for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != positive and p == positive for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == positive and p != positive for g, p in zip(gold, predicted, strict=True))
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    return (f1(True) + f1(False)) / 2


def choose_threshold(outcomes: list[Outcome], overlap: bool = True, facts: bool = True) -> tuple[float, float]:
    """(similarity threshold, least overlap) with the best mean F1 of "unsupported" and "supported" on the given
    outcomes (ties: the lower values, the check that flags less)."""
    gold = [o.item["label"] == "unsupported" for o in outcomes]
    similarities = sorted({round(o.score, 4) for o in outcomes if o.score is not None})
    shares = sorted({round(o.overlap, 4) for o in outcomes if o.overlap is not None}) if overlap else []
    best, best_value = (NO_THRESHOLD, 0.0), -1.0
    for threshold in [NO_THRESHOLD] + [round(s + 1e-4, 4) for s in similarities]:
        for least in [0.0] + [round(s + 1e-4, 4) for s in shares]:
            value = _mean_f1(gold, [o.unsupported(threshold, facts, min_overlap=least) for o in outcomes])
            if value > best_value + 1e-12:
                best, best_value = (threshold, least), value
    return best


def answer_speed(items: list[dict], encoder, translator, config: CheckConfig) -> dict:
    """Milliseconds per whole answer: each scene's cited sentences joined into one answer (5–18 sentences,
    3–4 passages), the way a model's answer reaches the check."""
    by_scene = defaultdict(list)
    for item in items:
        if item["label"] != "no_answer":
            by_scene[item["scene"]].append(item)
    times, sentences = [], []
    for scene_items in by_scene.values():
        answer = " ".join(item["answer"] for item in scene_items)
        hits = hits_of(scene_items[0]["passages"])
        started = time.perf_counter()
        checks = check_answer(answer, hits, encoder, translator, config)
        times.append((time.perf_counter() - started) * 1000)
        sentences.append(len(checks))
    return {
        "answers": len(times),
        "sentences_per_answer": round(statistics.mean(sentences), 1),
        "ms_per_answer_median": round(statistics.median(times), 1),
        "ms_per_answer_mean": round(statistics.mean(times), 1),
    }


def run(
    path: Path,
    encoders: list[str],
    threshold: float | None = None,
    limit: int | None = None,
    min_overlap: float = 0.0,
) -> dict:
    from index.encoder import Encoder

    items = read_set(path)
    parts = {split: [item for item in items if item["split"] == split][:limit] for split in SPLITS}
    selected = [item for split in SPLITS for item in parts[split]]
    translator = passage_translator(selected)
    encoder = Encoder()
    check_answer("warm-up [1].", hits_of([{"rank": 1, "text": "预热。"}]), encoder, translator)  # model load
    report: dict = {
        "set": str(path.relative_to(PROJECT) if path.is_relative_to(PROJECT) else path),
        "items": {split: len(parts[split]) for split in SPLITS},
        "labels": {
            split: {
                label: sum(i["label"] == label for i in parts[split])
                for label in ("supported", "unsupported", "no_answer")
            }
            for split in SPLITS
        },
        "encoders": {},
    }
    for kind in encoders:
        if kind != "e5":
            check_answer(
                "warm-up [1].", hits_of([{"rank": 1, "text": "预热。"}]), encoder, translator, CheckConfig(encoder=kind)
            )
        outcomes = {split: [outcome(item, encoder, translator, kind) for item in parts[split]] for split in SPLITS}
        if threshold is None:
            chosen, least = choose_threshold(outcomes["dev"])
            similarity_alone, _ = choose_threshold(outcomes["dev"], overlap=False, facts=False)
        else:
            chosen, least, similarity_alone = threshold, min_overlap, threshold
        entry = {
            "threshold": chosen,
            "min_overlap": least,
            "similarity_only_threshold": similarity_alone,
            "chosen_on": "dev" if threshold is None else "given",
        }
        for split in SPLITS:
            entry[split] = figures(outcomes[split], chosen, least)
            entry[split]["facts_only"] = figures(outcomes[split], chosen, least, similarity=False)["all"]
            entry[split]["similarity_only"] = figures(outcomes[split], similarity_alone, facts=False)["all"]
        seconds = [o.seconds for split in SPLITS for o in outcomes[split]]
        entry["ms_per_sentence_item_median"] = round(statistics.median(seconds) * 1000, 1) if seconds else None
        entry["speed"] = answer_speed(selected, encoder, translator, CheckConfig(chosen, least, encoder=kind))
        entry["scores"] = {
            split: [
                {"id": o.item["id"], "score": o.score, "overlap": o.overlap, "fact_problem": o.fact_problem}
                for o in outcomes[split]
            ]
            for split in SPLITS
        }
        report["encoders"][kind] = entry
    return report
