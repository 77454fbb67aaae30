"""Learning curves from cross-validation runs trained on shares of the training sentences.

The relation target is far from met with ~80 training relations a fold; whether more annotation
is the lever depends on how fast the scores climb with data. Each ``marsad crossval`` run with
``--set train_fraction=f`` is one point per fold; this module pairs each fold's test scores with
the size of the training subset it actually used, and fits the scores' slope per doubling of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from marsad.data.examples import load_examples

SCORES = {
    "entity": ("entities", "micro", "f1"),
    "relation_e2e": ("relations_end_to_end", "micro", "f1"),
    "relation_gold": ("relations_gold_entities", "micro", "f1"),
}


class LearningCurveError(ValueError):
    """A run directory that is not a finished cross-validation run (the message names the file)."""


@dataclass(frozen=True)
class FoldPoint:
    """One fold of one run: how much it trained on and what it scored on its test fold."""

    run: str
    fold: int
    train_fraction: float
    train_sentences: int
    train_relations: int
    scores: dict[str, float]  # model: keys of SCORES; the CRF baseline's entity F1 as "crf_entity"


def _dig(d: dict, path: tuple[str, ...]) -> float:
    for key in path:
        d = d[key]
    return float(d)


def read_run(run_dir: Path, data_dir: Path | None = None) -> list[FoldPoint]:
    """Every fold of a crossval output directory, with the training subset rebuilt from its
    config."""
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.exists():
        raise LearningCurveError(
            f"{results_path} does not exist (marsad crossval writes it when all folds finish)"
        )
    results = json.loads(results_path.read_text(encoding="utf-8"))
    points = []
    for i, fold in enumerate(results["folds"]):
        meta_path = run_dir / f"fold{fold}" / "best" / "marsad.json"
        if not meta_path.exists():
            raise LearningCurveError(
                f"{meta_path} does not exist: the fold's checkpoint says what it trained on"
            )
        cfg = json.loads(meta_path.read_text(encoding="utf-8"))["training_config"]
        fraction = float(
            cfg.get("train_fraction", 1.0)
        )  # checkpoints from before the option trained on all
        train = load_examples(data_dir or cfg["data_dir"], fold, fraction, cfg["seed"])["train"]
        logged = results.get("train_sentences")  # runs from before the field lack it
        if logged is not None and logged[i] != len(train):
            raise LearningCurveError(
                f"{results_path}: fold {fold} trained on {logged[i]} sentences, but its config "
                f"rebuilds {len(train)} from {data_dir or cfg['data_dir']} (another corpus?)"
            )
        scores = {
            name: _dig(results["per_fold"]["model"][i], path) for name, path in SCORES.items()
        }
        scores["crf_entity"] = _dig(results["per_fold"]["CRF"][i], SCORES["entity"])
        points.append(
            FoldPoint(
                str(run_dir),
                fold,
                fraction,
                len(train),
                sum(len(ex.relations) for ex in train),
                scores,
            )
        )
    return points


def slope_per_doubling(points: list[FoldPoint], score: str, size: str = "train_relations") -> float:
    """Least-squares slope of ``score`` against log2 of ``size``, with a separate intercept per
    fold.

    Folds differ far more in level than in slope (fold 0 is the easy one), so each fold keeps its
    own intercept and only the within-fold change with data is pooled.
    """
    by_fold: dict[int, list[tuple[float, float]]] = {}
    for p in points:
        by_fold.setdefault(p.fold, []).append((math.log2(getattr(p, size)), p.scores[score]))
    num = den = 0.0
    for pairs in by_fold.values():
        if len(pairs) < 2:
            continue
        mx = sum(x for x, _ in pairs) / len(pairs)
        my = sum(y for _, y in pairs) / len(pairs)
        num += sum((x - mx) * (y - my) for x, y in pairs)
        den += sum((x - mx) ** 2 for x, _ in pairs)
    if den == 0:
        raise ValueError("a slope needs at least two training sizes within some fold")
    return num / den
