"""Which epoch training keeps: the score it maximises, and the logs it writes for replaying that
choice.

The replay of a rule from the logs and the cross-fit of rules on dev halves are studies
(``experiments/selection.py``); training needs only the score.
"""

from __future__ import annotations

LOG_FILE = "metrics.jsonl"  # one line per epoch: losses, dev F1, learning rate, seconds
DEV_SENTENCES_FILE = "dev_sentences.jsonl"  # one line per epoch: each dev sentence's counts


def selection_score(metric: str, entity_f1: float, relation_f1: float) -> tuple[float, float]:
    """The tuple training maximises for ``selection_metric`` (the second entry breaks ties)."""
    if metric == "entity":
        return (entity_f1, relation_f1)
    if metric == "entity+relation":
        return (entity_f1 + relation_f1, entity_f1)
    raise ValueError(f"unknown selection metric {metric!r} (entity, entity+relation)")
