"""Train the joint tagger + relation model from a YAML config.

    marsad train --config configs/default.yaml [--set key=value ...] [--resume] [--refit]
    accelerate launch train/train.py --config configs/default.yaml  # multi-GPU / mixed precision

``--refit`` then trains the configuration again on train + dev for the epoch dev kept, with dev's
prior weights and relation threshold, into OUTPUT_DIR/refit/best (see marsad/refit.py).

Errors are one message, not a traceback: a bad config or ``--set`` (exit 2, naming the file and
line or the override), then at run time a corpus problem (every one, with file and line), an
encoder that cannot be loaded, or a diverged run (a NaN loss: epoch and step; exit 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from marsad.config import ConfigError, load_config
from marsad.data.validate import AnnotationError
from marsad.model.encoders.resolve import EncoderUnavailable
from marsad.training.trainer import NonFiniteLoss, Trainer

RUN_ERRORS = (AnnotationError, EncoderUnavailable, NonFiniteLoss)  # exit 1, one message each


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad train",
        description="Train a Marsad model from a YAML config.",
        epilog="Exit status: 0 trained; 2 the config or a --set is invalid (the message names the "
        "file and line, or the --set key=value); 1 the run failed: a corpus problem, an encoder "
        "that cannot be loaded, or a diverged run (NaN loss: its epoch and step; nothing of "
        "that epoch is saved).",
    )
    parser.add_argument("--config", required=True, type=Path, help="YAML file in configs/")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable), e.g. --set epochs=3",
    )
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/last")
    parser.add_argument(
        "--refit",
        action="store_true",
        help="afterwards retrain on train + dev with dev's choices, into OUTPUT_DIR/refit",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as exc:
        parser.error(str(exc))
    if args.refit and cfg.refit_from:
        parser.error("--refit refits the run it trains; refit_from already names a run to refit")
    try:
        best = Trainer(cfg, resume=args.resume).train()
    except ConfigError as exc:  # a path the config names is missing: one line, not a traceback
        parser.error(str(exc))
    except RUN_ERRORS as exc:
        return _failed(exc)
    if cfg.refit_from:
        print(
            f"refit: {best['epoch']} epochs on "
            f"{'train + dev' if cfg.refit_include_dev else 'train'} with the dev "
            f"choices of {cfg.refit_from}; checkpoint {Path(cfg.output_dir) / 'best'}"
        )
        return 0
    print(
        f"best epoch {best['epoch']}: dev entity micro-F1 {best['entity_f1']:.4f}, dev relation "
        f"micro-F1 {best['relation_f1']:.4f}; checkpoint {Path(cfg.output_dir) / 'best'}"
    )
    if args.refit:
        out = Path(cfg.output_dir)
        refit = replace(cfg, refit_from=str(out / "best"), output_dir=str(out / "refit"))
        try:
            Trainer(refit, resume=args.resume and (out / "refit" / "last").exists()).train()
        except RUN_ERRORS as exc:
            return _failed(exc, "refit: ")
        print(
            f"refit: {best['epoch']} epochs on train + dev with dev's choices; "
            f"checkpoint {out / 'refit' / 'best'}"
        )
    return 0


def _failed(exc: Exception, stage: str = "") -> int:
    """Report a run-time failure as its message alone (it names what and where), exit status 1."""
    print(f"marsad train: error: {stage}{exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
