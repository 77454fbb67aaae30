"""The headline scores of a cross-validation run, as mean ± std over its folds (``marsad crossval``,
``marsad refit``)."""

from __future__ import annotations

import statistics
from typing import Any

HEADLINE = [
    ("entity micro-F1", ("entities", "micro", "f1")),
    ("ACTOR F1", ("entities", "per_type", "ACTOR", "f1")),
    ("LOCATION F1", ("entities", "per_type", "LOCATION", "f1")),
    ("QUANTITY F1", ("entities", "per_type", "QUANTITY", "f1")),
    ("entity macro-F1", ("entities", "macro", "f1")),
    ("relation micro-F1 (end-to-end)", ("relations_end_to_end", "micro", "f1")),
    ("relation micro-F1 (gold entities)", ("relations_gold_entities", "micro", "f1")),
    ("event micro-F1 (end-to-end)", ("events", "micro", "f1")),
]


def _dig(d: dict, path: tuple[str, ...]) -> float | None:
    for k in path:
        if k not in d:
            return None  # results written before the score existed (events)
        d = d[k]
    return float(d)


def summarise(per_fold: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per headline score: mean and std over folds, and the fold values (a score some fold's
    results lack is left out)."""
    out = {}
    for name, path in HEADLINE:
        values = [_dig(f, path) for f in per_fold]
        if None in values:
            continue
        out[name] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "folds": values,
        }
    return out


def summary_table(summary: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Markdown rows: one per headline score, one column per system (mean ± std over folds)."""
    systems = list(summary)
    lines = ["| score | " + " | ".join(systems) + " |", "|---|" + "---:|" * len(systems)]
    for name, _ in HEADLINE:
        if not all(name in summary[s] for s in systems):
            continue
        cells = [f"{summary[s][name]['mean']:.3f} ± {summary[s][name]['std']:.3f}" for s in systems]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines
