"""Scores: seqeval strict IOB2 for entities, strict span+type+label matching for relations,
and percentile bootstrap intervals over sentences (the test sets are tiny)."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from marsad.schema import ENTITY_TYPES, RELATION_TYPES

Span = tuple[int, int, str]  # (start, end, label): character (or word) offsets, end exclusive


@dataclass(frozen=True)
class SentenceExtraction:
    entities: tuple[Span, ...]
    relations: tuple[tuple[int, int, str], ...]  # (head index, tail index, label) into ``entities``

    def relation_tuples(self) -> set[tuple[Span, Span, str]]:
        """Relations keyed by their endpoints' spans and types, so indices never matter."""
        return {(self.entities[h], self.entities[t], label) for h, t, label in self.relations}


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": tp + fn}


def entity_scores(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, Any]:
    """seqeval strict IOB2 report; every schema type appears, with zeros when absent."""
    report = classification_report(gold_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True,
                                   zero_division=0)

    def pick(row: dict) -> dict[str, float]:
        return {"precision": float(row["precision"]), "recall": float(row["recall"]),
                "f1": float(row["f1-score"]), "support": int(row["support"])}

    empty = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    per_type = {t: pick(report[t]) if t in report else dict(empty) for t in ENTITY_TYPES}
    micro = pick(report["micro avg"]) if "micro avg" in report else dict(empty)
    present = [per_type[t] for t in ENTITY_TYPES if per_type[t]["support"] > 0] or list(per_type.values())
    macro = {k: sum(m[k] for m in present) / len(present) for k in ("precision", "recall", "f1")}
    macro["support"] = micro["support"]
    return {"per_type": per_type, "micro": micro, "macro": macro}


def relation_counts(gold: SentenceExtraction, pred: SentenceExtraction) -> dict[str, tuple[int, int, int]]:
    """(tp, fp, fn) per relation label for one sentence; a reversed relation is one FP and one FN."""
    g, p = gold.relation_tuples(), pred.relation_tuples()
    out = {}
    for label in RELATION_TYPES:
        gl = {x for x in g if x[2] == label}
        pl = {x for x in p if x[2] == label}
        out[label] = (len(gl & pl), len(pl - gl), len(gl - pl))
    return out


def relation_scores(gold: list[SentenceExtraction], pred: list[SentenceExtraction]) -> dict[str, Any]:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    totals = {label: [0, 0, 0] for label in RELATION_TYPES}
    for g, p in zip(gold, pred):
        for label, counts in relation_counts(g, p).items():
            for i, c in enumerate(counts):
                totals[label][i] += c
    per_type = {label: prf(*c) for label, c in totals.items()}
    micro = prf(*(sum(c[i] for c in totals.values()) for i in range(3)))
    return {"per_type": per_type, "micro": micro}


def entity_counts(gold: SentenceExtraction, pred: SentenceExtraction) -> tuple[int, int, int]:
    """(tp, fp, fn) of exact span+type matches; equals seqeval strict on valid IOB2 sequences."""
    g, p = set(gold.entities), set(pred.entities)
    return len(g & p), len(p - g), len(g - p)


def bootstrap_ci(per_sentence: list[tuple[int, int, int]], n_resamples: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of micro-F1 when sentences are resampled with replacement."""
    if not per_sentence:
        return 0.0, 0.0
    rng = random.Random(seed)
    n = len(per_sentence)
    values = []
    for _ in range(n_resamples):
        tp = fp = fn = 0
        for _ in range(n):
            a, b, c = per_sentence[rng.randrange(n)]
            tp, fp, fn = tp + a, fp + b, fn + c
        values.append(prf(tp, fp, fn)["f1"])
    values.sort()
    lo = values[int((alpha / 2) * (n_resamples - 1))]
    hi = values[int((1 - alpha / 2) * (n_resamples - 1))]
    return lo, hi
