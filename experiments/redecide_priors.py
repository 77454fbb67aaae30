"""Re-decide a checkpoint's decoding settings on dev text from outside the battle.

    python -m experiments.redecide_priors --checkpoint runs/default/best [--team data/team]

The shipped decoding settings (the lexical and relation priors' weights, the NONE threshold) were
chosen on seed dev sentences, near-twins of the training ones. This scores the checkpoint, with no
retraining, on the seed dev sentences, on the dev conflicts of the multi-conflict corpus the
checkpoint never read, and on both, at a few lexical weights and at the settings each dev set
chooses by the training rule (lexical weight on entity F1, then relation weight and threshold).
"""

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from marsad.data.examples import load_examples
from marsad.evaluation.scoring import (
    predict_examples,
    score_predictions,
    tune_prior_weight,
    tune_relation_prior,
)
from marsad.model.checkpoint import load_checkpoint
from marsad.model.settings import DecodingSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--team", type=Path, default=Path("data/team"))
    args = parser.parse_args(argv)
    ck = load_checkpoint(args.checkpoint)
    if ck.model.lexical_prior is None or ck.model.relation_prior is None:
        parser.error(f"{args.checkpoint} lacks a prior; nothing to re-decide")
    if args.team.resolve() in {Path(d).resolve() for d in ck.meta["data"].get("extra", {})}:
        parser.error(f"{args.checkpoint} trained on {args.team}: its dev is not outside text")
    seed_dev, team_dev = load_examples(args.data)["dev"], load_examples(args.team)["dev"]
    print(f"saved settings: {ck.decoding}")
    print("| dev set | settings | entity F1 | relation F1 (end-to-end) |")
    print("|---|---|---:|---:|")
    for name, dev in (("seed", seed_dev), ("team", team_dev), ("seed + team", seed_dev + team_dev)):

        def scores(decoding: DecodingSettings, dev=dev):
            preds = predict_examples(
                ck.model, ck.tokenizer, dev, ck.preprocessing, ck.max_length, decoding=decoding
            )
            s = score_predictions(preds)
            return preds, s["entities"]["micro"]["f1"], s["relations_end_to_end"]["micro"]["f1"]

        for label, decoding in [("saved", ck.decoding)] + [
            (f"lexical {w}", replace(ck.decoding, lexical_weight=w)) for w in (0.0, 0.35)
        ]:
            _, ent, rel = scores(decoding)
            print(f"| {name} ({len(dev)}) | {label} | {ent:.3f} | {rel:.3f} |")
        preds, _, _ = scores(DecodingSettings())
        lexical = tune_prior_weight(preds, ck.model.lexical_prior)
        preds, _, _ = scores(DecodingSettings(lexical_weight=lexical))
        weight, bias = tune_relation_prior(preds, ck.model.relation_prior)
        chosen = DecodingSettings(lexical, weight or 0.0, bias)
        _, ent, rel = scores(chosen)
        print(
            f"| {name} ({len(dev)}) | chosen on it: {lexical} / {weight} / {bias} | "
            f"{ent:.3f} | {rel:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
