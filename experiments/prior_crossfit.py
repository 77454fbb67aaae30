"""How much of the lexical prior's dev gain survives when its weight is not tuned on the sentences \
it is scored on.

    python -m experiments.prior_crossfit --runs runs/crossval-offline [--refit]

For each cross-validation checkpoint, on its dev sentences (fold k+1): entity micro-F1 decoded with
weight 0 (the encoder alone), with the weight saved in the checkpoint (chosen on these same
sentences: optimistic), and cross-fitted (the weight is chosen on the even-numbered dev sentences
and applied to the odd ones, and vice versa). Checkpoints without a prior get one fitted on
their training split, so runs trained without the option can be checked too; ``--refit`` fits one
with the current code's features even where the checkpoint has one (its "saved" weight is then
the one tuned on all the dev sentences), to compare feature sets on the same encoder. Dev only:
the test folds are never read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from marsad.data.examples import load_examples
from marsad.evaluation.metrics import entity_scores
from marsad.evaluation.scoring import output_tags, predict_checkpoint, tune_prior_weight
from marsad.inference import SentenceOutput, decode_entities
from marsad.model.checkpoint import load_checkpoint
from marsad.model.lexical_prior import LexicalPrior


def fold_scores(
    run: Path, fold: int, data: Path, refit: bool
) -> tuple[float, float, float, float, list[float]]:
    """(weight 0, saved weight, its F1, cross-fitted F1, the two halves' weights) on fold ``fold``'s
    dev set."""
    loaded = load_checkpoint(run / f"fold{fold}" / "best")
    splits = load_examples(data, fold)
    train, dev = splits["train"], splits["dev"]
    prior = (
        loaded.model.lexical_prior
        if loaded.model.lexical_prior and not refit
        else LexicalPrior.fit([e.words for e in train], [e.tags for e in train])
    )
    saved = loaded.decoding.lexical_weight
    loaded.model.lexical_prior = prior
    preds = predict_checkpoint(loaded, dev, decoding=replace(loaded.decoding, lexical_weight=0.0))
    if refit:
        saved = tune_prior_weight(preds, prior)
    crf_log_probs = [prior.log_marginals(ex.words) for ex in dev]
    halves = [[i for i in range(len(dev)) if i % 2 == h] for h in (0, 1)]
    chosen = [tune_prior_weight(preds.subset(half), prior) for half in halves]

    def f1(weight_of) -> float:
        tags = [
            output_tags(
                ex,
                SentenceOutput(
                    decode_entities(
                        preds.end_to_end[i].word_log_probs, prior, crf_log_probs[i], weight_of(i)
                    )
                ),
            )
            for i, ex in enumerate(dev)
        ]
        return entity_scores([ex.tags for ex in dev], tags)["micro"]["f1"]

    cross = f1(
        lambda i: chosen[1 - i % 2]
    )  # each half decoded with the weight the other half chose
    return f1(lambda i: 0.0), saved, f1(lambda i: saved), cross, chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs", required=True, type=Path, help="a crossval output directory (fold0 .. fold4)"
    )
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument(
        "--refit",
        action="store_true",
        help="fit the prior with the current code even where the checkpoint has one",
    )
    args = parser.parse_args(argv)
    rows = []
    print("| fold | weight 0 | saved weight | saved (in-sample) | cross-fitted | halves chose |")
    print("|---|---:|---:|---:|---:|---|")
    for k in args.folds:
        zero, saved, in_sample, cross, chosen = fold_scores(args.runs, k, args.data, args.refit)
        rows.append((zero, in_sample, cross))
        print(
            f"| {k} | {zero:.3f} | {saved} | {in_sample:.3f} | {cross:.3f} | {chosen} |", flush=True
        )
    means = [statistics.fmean(col) for col in zip(*rows)]
    print(f"| mean | {means[0]:.3f} | | {means[1]:.3f} | {means[2]:.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
