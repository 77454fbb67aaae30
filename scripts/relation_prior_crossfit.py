"""Does the relation prior help when its weight and threshold are not tuned on the sentences scored?

    python scripts/relation_prior_crossfit.py --runs runs/crossval-offline

For each cross-validation checkpoint, on its dev sentences (fold k+1), end-to-end relation micro-F1
of the relation head alone and of the head mixed with the relation prior, both cross-fitted: the
NONE threshold (and, for the mixture, the prior's weight) is chosen on the even-numbered dev
sentences and applied to the odd ones, and vice versa. Checkpoints without a relation prior get
one fitted on their training split, so runs trained without the option can be checked too. Dev
only: the test folds are never read.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from marsad.checkpoint import load_checkpoint  # noqa: E402
from marsad.data.load import load_splits  # noqa: E402
from marsad.evaluation import (gold_extraction, predict_examples, to_extraction,  # noqa: E402
                               tune_relation_prior)
from marsad.examples import examples_from_split  # noqa: E402
from marsad.metrics import relation_scores  # noqa: E402
from marsad.relation_prior import WEIGHT_GRID, RelationPrior  # noqa: E402


def fold_scores(run: Path, fold: int, data: Path) -> tuple[float, float, list[tuple[float, float]]]:
    """(head alone, head + prior, the two halves' (weight, bias) choices), cross-fitted on fold ``fold``'s dev."""
    loaded = load_checkpoint(run / f"fold{fold}" / "best")
    splits = load_splits(data, fold)
    train, dev = examples_from_split(splits["train"]), examples_from_split(splits["dev"])
    prior = loaded.model.relation_prior or RelationPrior.fit(train)
    prior.weight = 0.0
    loaded.model.relation_prior = prior
    preds = predict_examples(loaded.model, loaded.tokenizer, dev, loaded.preprocessing, loaded.max_length)
    halves = [[i for i in range(len(dev)) if i % 2 == h] for h in (0, 1)]

    def cross_fitted(weight_grid: tuple[float, ...]) -> tuple[float, list[tuple[float, float]]]:
        chosen = [tune_relation_prior(preds.subset(h), prior, weight_grid=weight_grid) for h in halves]
        for i, out in enumerate(preds.end_to_end):  # each half decoded with what the other half chose
            out.prior_weight, bias = chosen[1 - i % 2]
            out.decode_relations(bias)
        gold = [gold_extraction(ex) for ex in dev]
        f1 = relation_scores(gold, [to_extraction(ex, o) for ex, o in zip(dev, preds.end_to_end)])["micro"]["f1"]
        return f1, chosen

    head_alone, _ = cross_fitted((0.0,))
    mixed, chosen = cross_fitted(WEIGHT_GRID)
    return head_alone, mixed, chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, type=Path, help="a crossval output directory (fold0 .. fold4)")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    args = parser.parse_args(argv)
    rows = []
    print("| fold | head alone | head + relation prior | halves chose (weight, NONE bias) |")
    print("|---|---:|---:|---|")
    for k in args.folds:
        alone, mixed, chosen = fold_scores(args.runs, k, args.data)
        rows.append((alone, mixed))
        print(f"| {k} | {alone:.3f} | {mixed:.3f} | {chosen} |", flush=True)
    means = [statistics.fmean(col) for col in zip(*rows)]
    print(f"| mean | {means[0]:.3f} | {means[1]:.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
