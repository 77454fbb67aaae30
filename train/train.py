"""Train the joint tagger + relation model from a YAML config.

    python train/train.py --config configs/default.yaml [--set key=value ...] [--resume]
    accelerate launch train/train.py --config configs/default.yaml      # multi-GPU / mixed precision
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from marsad.config import ConfigError, load_config  # noqa: E402
from marsad.training import Trainer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train a Marsad model from a YAML config.")
    parser.add_argument("--config", required=True, type=Path, help="YAML file in configs/")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable), e.g. --set epochs=3")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/last")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as exc:
        parser.error(str(exc))
    best = Trainer(cfg, resume=args.resume).train()
    print(f"best epoch {best['epoch']}: dev entity micro-F1 {best['entity_f1']:.4f}, "
          f"dev relation micro-F1 {best['relation_f1']:.4f}; checkpoint {Path(cfg.output_dir) / 'best'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
