"""Choose the int8 smoothing strength on dev sentences.

    python -m experiments.tune_int8 --runs DIR

For each cross-validation checkpoint ``DIR/fold<k>/best`` (as written by ``marsad crossval``) and
each ``alpha`` (0 = plain dynamic int8, no smoothing), quantises the encoder with
:func:`marsad.quantization.quantize_encoder` and compares it with the fp32 model on that run's
**dev** sentences: entity micro-F1 difference and the share of entities both predict. Test sentences
are never read, so the chosen alpha stays honest for the test-split numbers of ``bench_predict.py``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

from safetensors.torch import load_file

from marsad.data.examples import load_examples
from marsad.evaluation.scoring import EvalPredictions, predict_examples, score_predictions
from marsad.model.checkpoint import load_checkpoint
from marsad.quantization import ACTIVATION_FILE, activation_absmax, quantize_encoder


def entity_agreement(a: EvalPredictions, b: EvalPredictions) -> tuple[int, int]:
    """(entities both predict, entities either predicts)."""
    both = either = 0
    for x, y in zip(a.end_to_end, b.end_to_end):
        sx = {(e.start, e.end, e.label) for e in x.entities}
        sy = {(e.start, e.end, e.label) for e in y.entities}
        both, either = both + len(sx & sy), either + len(sx | sy)
    return both, either


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, type=Path, help="a crossval output directory")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.5, 0.65, 0.75, 0.85])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    args = parser.parse_args(argv)
    print(f"dev sentences of runs {args.folds} in {args.runs}; alpha 0 = plain dynamic int8")
    # per alpha: F1 deltas, entities shared, entities in either
    tallies: dict[float, tuple[list[float], int, int]] = {
        alpha: ([], 0, 0) for alpha in args.alphas
    }
    for k in args.folds:  # each checkpoint is loaded, run in fp32 and calibrated once
        ckpt = args.runs / f"fold{k}" / "best"
        splits = load_examples(args.data, k)
        dev = splits["dev"]
        fp32 = load_checkpoint(ckpt)
        p32 = predict_examples(
            fp32.model,
            fp32.tokenizer,
            dev,
            fp32.preprocessing,
            fp32.max_length,
            decoding=fp32.decoding,
        )
        f1_32 = score_predictions(p32)["entities"]["micro"]["f1"]
        stats = (
            load_file(str(ckpt / ACTIVATION_FILE))
            if (ckpt / ACTIVATION_FILE).exists()
            # older checkpoints: the same ranges training would have saved (training sentences)
            else activation_absmax(
                fp32.model,
                fp32.tokenizer,
                [ex.words for ex in splits["train"]],
                fp32.preprocessing,
                fp32.max_length,
            )
        )
        for alpha in args.alphas:
            int8 = copy.deepcopy(fp32.model)
            quantize_encoder(int8, stats if alpha else None, alpha)
            p8 = predict_examples(
                int8,
                fp32.tokenizer,
                dev,
                fp32.preprocessing,
                fp32.max_length,
                decoding=fp32.decoding,
            )
            deltas, both, either = tallies[alpha]
            b, e = entity_agreement(p32, p8)
            deltas.append(score_predictions(p8)["entities"]["micro"]["f1"] - f1_32)
            tallies[alpha] = (deltas, both + b, either + e)
    for alpha, (deltas, both, either) in tallies.items():
        print(
            f"alpha {alpha:4.2f}: dev entity F1 int8 - fp32 {100 * statistics.fmean(deltas):+.2f} "
            f"points (per run {', '.join(f'{100 * d:+.1f}' for d in deltas)}); entities shared "
            f"with fp32 {both / either:.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
