"""Does the relation prior help when its weight and threshold are not tuned on the sentences scored?

    python -m experiments.relation_prior_crossfit --runs runs/crossval-offline [--refit]
    python -m experiments.relation_prior_crossfit --prior-only

For each cross-validation checkpoint, on its dev sentences (fold k+1), end-to-end relation micro-F1
of the relation head alone and of the head mixed with the relation prior, both cross-fitted: the
NONE threshold (and, for the mixture, the prior's weight) is chosen on the even-numbered dev
sentences and applied to the odd ones, and vice versa. Checkpoints without a relation prior get
one fitted on their training split, so runs trained without the option can be checked too;
``--refit`` fits one with the current code's features even where the checkpoint has one, to compare
feature sets on the same checkpoints. ``--prior-only`` needs no checkpoint: the prior alone, fitted
on each fold's training split, labels the pairs of the dev sentences' gold mentions (threshold
cross-fitted the same way); it is the quick check when changing features, and its last row pools
all five dev folds (every sentence once). Dev only: the test folds are never read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from marsad.data.examples import Example, load_examples
from marsad.evaluation.metrics import SentenceExtraction, relation_scores
from marsad.evaluation.scoring import (
    EvalPredictions,
    gold_extraction,
    predict_checkpoint,
    to_extraction,
    tune_relation_prior,
)
from marsad.inference import SentenceOutput, candidate_pairs
from marsad.model.checkpoint import load_checkpoint
from marsad.model.relation_prior import WEIGHT_GRID, RelationPrior, allowed_labels

Choice = tuple[float, float]  # (prior weight, NONE bias) chosen on one half of the dev sentences


def uniform_head(examples: list[Example]) -> EvalPredictions:
    """Gold mentions with a relation head that has no opinion (0 for every label the types allow),
    so that mixing at weight 1 is the prior alone."""
    outputs = []
    for ex in examples:
        pairs = candidate_pairs(ex.entities)
        logits = np.where(allowed_labels(ex.entities, pairs), 0.0, -np.inf)
        outputs.append(SentenceOutput(list(ex.entities), [], pairs, logits))
    return EvalPredictions(examples, outputs, outputs)


def cross_fitted(
    preds: EvalPredictions, prior: RelationPrior, weight_grid: tuple[float, ...]
) -> tuple[list[SentenceExtraction], list[Choice]]:
    """The end-to-end outputs with each half of the sentences decoded at what the other half
    chose."""
    halves = [[i for i in range(len(preds.examples)) if i % 2 == h] for h in (0, 1)]
    chosen = [tune_relation_prior(preds.subset(h), prior, weight_grid=weight_grid) for h in halves]
    for i, out in enumerate(preds.end_to_end):
        out.prior_weight, bias = chosen[1 - i % 2]
        out.decode_relations(bias)
    return [to_extraction(ex, o) for ex, o in zip(preds.examples, preds.end_to_end)], chosen


def micro_f1(examples: list[Example], predicted: list[SentenceExtraction]) -> float:
    return relation_scores([gold_extraction(ex) for ex in examples], predicted)["micro"]["f1"]


def fold_scores(run: Path, fold: int, data: Path, refit: bool) -> tuple[float, float, list[Choice]]:
    """(head alone, head + prior, the two halves' (weight, bias) choices), cross-fitted on fold
    ``fold``'s dev."""
    loaded = load_checkpoint(run / f"fold{fold}" / "best")
    splits = load_examples(data, fold)
    train, dev = splits["train"], splits["dev"]
    prior = (
        loaded.model.relation_prior
        if loaded.model.relation_prior and not refit
        else RelationPrior.fit(train)
    )
    loaded.model.relation_prior = prior
    preds = predict_checkpoint(loaded, dev, decoding=replace(loaded.decoding, relation_weight=0.0))
    head_alone = micro_f1(dev, cross_fitted(preds, prior, (0.0,))[0])
    mixed, chosen = cross_fitted(preds, prior, WEIGHT_GRID)
    return head_alone, micro_f1(dev, mixed), chosen


def prior_only(folds: list[int], data: Path) -> int:
    print(
        "| dev fold of run | relation prior alone, gold mentions | halves chose "
        "(weight, NONE bias) |"
    )
    print("|---|---:|---|")
    pooled_examples, pooled = [], []
    for k in folds:
        splits = load_examples(data, k)
        dev = splits["dev"]
        predicted, chosen = cross_fitted(
            uniform_head(dev), RelationPrior.fit(splits["train"]), (1.0,)
        )
        pooled_examples += dev
        pooled += predicted
        print(f"| {k} | {micro_f1(dev, predicted):.3f} | {chosen} |", flush=True)
    print(f"| pooled | {micro_f1(pooled_examples, pooled):.3f} | |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, help="a crossval output directory (fold0 .. fold4)")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument(
        "--refit",
        action="store_true",
        help="fit the prior with the current code even where the checkpoint has one",
    )
    parser.add_argument(
        "--prior-only",
        action="store_true",
        help="no checkpoints: the prior alone on the dev folds' gold mentions",
    )
    args = parser.parse_args(argv)
    if args.prior_only:
        return prior_only(args.folds, args.data)
    if args.runs is None:
        parser.error("--runs is required unless --prior-only is given")
    rows = []
    print("| fold | head alone | head + relation prior | halves chose (weight, NONE bias) |")
    print("|---|---:|---:|---|")
    for k in args.folds:
        alone, mixed, chosen = fold_scores(args.runs, k, args.data, args.refit)
        rows.append((alone, mixed))
        print(f"| {k} | {alone:.3f} | {mixed:.3f} | {chosen} |", flush=True)
    means = [statistics.fmean(col) for col in zip(*rows)]
    print(f"| mean | {means[0]:.3f} | {means[1]:.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
