"""Scores shared by training (dev F1), the eval scripts and cross-validation.

Entities are scored with seqeval in strict IOB2 mode (an entity counts only when its exact word span
and type match; an orphan ``I-`` is not an entity), relations by strict matching of head span+type,
tail span+type and label, so a relation that is right except for its direction is one FP and one FN.
Test sets are small, so :func:`bootstrap_ci` gives percentile intervals over sentences; the
per-sentence (tp, fp, fn) helpers below are built so their sums equal the corpus-level numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from marsad.schema import ENTITY_TYPES, RELATION_TYPES

Span = tuple[int, int, str]  # (start, end, label): character (or word) offsets, end exclusive
RelationTuple = tuple[Span, Span, str]  # ((hs, he, htype), (ts, te, ttype), label)
Counts = tuple[int, int, int]  # (tp, fp, fn)


@dataclass(frozen=True)
class SentenceExtraction:
    """One sentence's extraction result, gold or predicted, in the unit every metric compares.

    ``entities`` are character spans in the sentence; ``relations`` are ``(head, tail, label)`` with
    head and tail indices into ``entities``. Frozen and tuple-based so it hashes and cannot drift.
    """

    entities: tuple[Span, ...]
    relations: tuple[tuple[int, int, str], ...] = ()

    def relation_tuples(self) -> set[RelationTuple]:
        """Relations keyed by their endpoints' spans and types, so entity indices never matter."""
        return relation_tuples(self)


def relation_tuples(extraction: SentenceExtraction) -> set[RelationTuple]:
    """The set of ``((hs, he, ht), (ts, te, tt), label)`` of a sentence (duplicates collapse)."""
    ents = extraction.entities
    return {(tuple(ents[h]), tuple(ents[t]), label) for h, t, label in extraction.relations}


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 (0 where undefined, like seqeval's ``zero_division=0``) and support."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "support": tp + fn,
    }


def _macro(per_type: dict[str, dict[str, float]], support: int) -> dict[str, float]:
    """Unweighted mean over the types that occur in gold (all types if none does).

    Types absent from a fold's gold are left out so a fold without, say, QUANTITY is not dragged
    down by an undefined 0; spurious predictions of such a type still cost micro precision.
    """
    present = [m for m in per_type.values() if m["support"] > 0] or list(per_type.values())
    macro = {k: sum(m[k] for m in present) / len(present) for k in ("precision", "recall", "f1")}
    macro["support"] = support
    return macro


def _zero() -> dict[str, float]:
    return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def entity_scores(
    gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """seqeval strict IOB2 report as ``{"per_type", "micro", "macro"}``.

    Every schema type appears in ``per_type`` (zeros when absent) so tables and folds line up;
    ``macro`` averages the types with gold support (see :func:`_macro`).
    """
    if len(gold_tags) != len(pred_tags):
        raise ValueError(f"{len(gold_tags)} gold sentences but {len(pred_tags)} predicted")
    for i, (g, p) in enumerate(zip(gold_tags, pred_tags)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
    per_type = {t: _zero() for t in ENTITY_TYPES}
    micro = _zero()
    if gold_tags:
        with warnings.catch_warnings():  # all-empty rows make seqeval/numpy warn about 0/0
            warnings.simplefilter("ignore")
            report = classification_report(
                [list(g) for g in gold_tags],
                [list(p) for p in pred_tags],
                mode="strict",
                scheme=IOB2,
                output_dict=True,
                zero_division=0,
            )

        def pick(row: dict) -> dict[str, float]:
            return {
                "precision": float(row["precision"]),
                "recall": float(row["recall"]),
                "f1": float(row["f1-score"]),
                "support": int(row["support"]),
            }

        for name, row in report.items():
            if name.endswith(" avg"):
                continue
            per_type[name] = pick(row)  # a non-schema type in the tags still shows up
        if "micro avg" in report:
            micro = pick(report["micro avg"])
    return {"per_type": per_type, "micro": micro, "macro": _macro(per_type, micro["support"])}


def strict_spans(tags: Sequence[str]) -> list[Span]:
    """Word spans ``(first, last + 1, type)`` of an IOB2 sequence, decoded as seqeval strict does.

    An entity starts only at ``B-X`` and continues over ``I-X``; an ``I-`` that does not continue
    an entity of its type (after ``O``, at the start, or after another type) is no entity at all.
    """
    spans: list[Span] = []
    current: list | None = None
    for i, tag in enumerate(tags):
        if current is not None and tag == f"I-{current[2]}":
            current[1] = i + 1
            continue
        if current is not None:
            spans.append((current[0], current[1], current[2]))
        current = [i, i + 1, tag[2:]] if tag.startswith("B-") else None
    if current is not None:
        spans.append((current[0], current[1], current[2]))
    return spans


def _set_counts(gold: set, pred: set) -> Counts:
    return len(gold & pred), len(pred - gold), len(gold - pred)


def entity_counts(gold: SentenceExtraction, pred: SentenceExtraction) -> Counts:
    """(tp, fp, fn) of exact span+type matches between two extractions of one sentence."""
    return _set_counts(set(gold.entities), set(pred.entities))


def entity_tag_counts(gold_tags: Sequence[str], pred_tags: Sequence[str]) -> Counts:
    """(tp, fp, fn) of one sentence's tag sequences; sums over sentences equal seqeval strict
    micro."""
    return _set_counts(set(strict_spans(gold_tags)), set(strict_spans(pred_tags)))


def sentence_entity_counts(
    gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> list[Counts]:
    """Per-sentence entity (tp, fp, fn), the input :func:`bootstrap_ci` resamples."""
    if len(gold_tags) != len(pred_tags):
        raise ValueError(f"{len(gold_tags)} gold sentences but {len(pred_tags)} predicted")
    return [entity_tag_counts(g, p) for g, p in zip(gold_tags, pred_tags)]


def relation_counts(gold: SentenceExtraction, pred: SentenceExtraction) -> dict[str, Counts]:
    """(tp, fp, fn) per relation label for one sentence; a reversed relation is one FP and one FN.

    Always has every schema label; a label outside the schema that occurs gets its own entry.
    """
    g, p = relation_tuples(gold), relation_tuples(pred)
    labels = list(RELATION_TYPES) + sorted({x[2] for x in g | p} - set(RELATION_TYPES))
    return {
        label: _set_counts({x for x in g if x[2] == label}, {x for x in p if x[2] == label})
        for label in labels
    }


def relation_sentence_counts(gold: SentenceExtraction, pred: SentenceExtraction) -> Counts:
    """All-label (tp, fp, fn) of one sentence's relations under strict matching."""
    return _set_counts(relation_tuples(gold), relation_tuples(pred))


def sentence_relation_counts(
    gold: Sequence[SentenceExtraction], pred: Sequence[SentenceExtraction]
) -> list[Counts]:
    """Per-sentence relation (tp, fp, fn), the input :func:`bootstrap_ci` resamples."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    return [relation_sentence_counts(g, p) for g, p in zip(gold, pred)]


def relation_scores(
    gold: Sequence[SentenceExtraction], pred: Sequence[SentenceExtraction]
) -> dict[str, Any]:
    """Strict relation P/R/F1 as ``{"per_type", "micro", "macro"}`` (same layout as entities).

    Every schema label is in ``per_type``; micro counts every predicted relation, so one with a
    label outside the schema is a false positive rather than silently ignored.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    totals: dict[str, list[int]] = {label: [0, 0, 0] for label in RELATION_TYPES}
    for g, p in zip(gold, pred):
        for label, counts in relation_counts(g, p).items():
            row = totals.setdefault(label, [0, 0, 0])
            for i, c in enumerate(counts):
                row[i] += c
    per_type = {label: prf(*c) for label, c in totals.items()}
    micro = prf(*(sum(c[i] for c in totals.values()) for i in range(3)))
    return {"per_type": per_type, "micro": micro, "macro": _macro(per_type, micro["support"])}


def micro_f1(counts: Iterable[Counts]) -> float:
    """Micro F1 of summed (tp, fp, fn)."""
    tp = fp = fn = 0
    for a, b, c in counts:
        tp, fp, fn = tp + a, fp + b, fn + c
    return prf(tp, fp, fn)["f1"]


def resampled_micro_f1(
    per_sentence_counts: Sequence[Sequence[Counts]], n_resamples: int, seed: int = 0
) -> np.ndarray:
    """Micro F1 of every system on the same bootstrap resamples of sentences: shape (systems,
    resamples).

    Every row of ``per_sentence_counts`` lists one system's per-sentence (tp, fp, fn) over the same
    sentences in the same order; sharing the resamples is what makes a paired comparison paired.
    Deterministic for a ``seed``.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    systems = [np.asarray(c, dtype=np.int64).reshape(-1, 3) for c in per_sentence_counts]
    n = len(systems[0]) if systems else 0
    if any(len(c) != n for c in systems):
        raise ValueError(
            f"systems cover different numbers of sentences: {[len(c) for c in systems]}"
        )
    if n == 0:
        return np.zeros((len(systems), n_resamples))
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // n)  # bound the index matrix to ~16 MB
    out = []
    for done in range(0, n_resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_resamples - done), n))
        rows = []
        for counts in systems:
            tp, fp, fn = counts[idx].sum(axis=1).T.astype(np.float64)
            p = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
            r = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=tp + fn > 0)
            rows.append(np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=p + r > 0))
        out.append(np.stack(rows))
    return np.concatenate(out, axis=1)


def bootstrap_ci(
    per_sentence_counts: Sequence[Counts],
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap interval (default 95%) of micro F1, resampling sentences with
    replacement.

    Sentences, not entities, are the sampling unit because errors cluster within a sentence. Each
    resample sums its sentences' (tp, fp, fn) and recomputes micro F1; the interval is the
    ``alpha/2`` and ``1 - alpha/2`` quantiles (linear interpolation). Deterministic for a ``seed``;
    an empty input gives ``(0.0, 0.0)``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if len(per_sentence_counts) == 0:
        if n_resamples < 1:
            raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
        return 0.0, 0.0
    f1s = resampled_micro_f1([per_sentence_counts], n_resamples, seed)[0]
    lo, hi = np.quantile(f1s, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
