"""Plot, or overlay, training runs' curves from their ``metrics.jsonl``.

    python scripts/plot_curves.py RUN_DIR [RUN_DIR ...] [--out curves.png] [--title TEXT]

Each RUN_DIR is a training output directory (or its ``metrics.jsonl``); one run gives the same
picture training writes to ``OUTPUT_DIR/training_curves.png``, several overlay their losses and
dev scores, e.g. the folds of a cross-validation run (``runs/cv-next/seed13/fold*``) or two seeds.
Runs are named by their directory path relative to the common parent.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from marsad.training.curves import TrainingLogError, plot_training_curves, read_training_log


def _log_path(run: Path) -> Path:
    return run if run.suffix == ".jsonl" else run / "metrics.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="+", type=Path, help="training output directories (or metrics.jsonl files)"
    )
    parser.add_argument("--out", type=Path, default=Path("curves.png"))
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    dirs = [_log_path(r).parent.resolve() for r in args.runs]
    parent = Path(os.path.commonpath(dirs)) if len(dirs) > 1 else dirs[0].parent
    names = [d.name if d == parent else str(d.relative_to(parent)) for d in dirs]
    if len(set(names)) != len(names):
        parser.error(f"two of the runs are the same directory: {', '.join(map(str, args.runs))}")
    try:
        runs = {name: read_training_log(_log_path(run)) for name, run in zip(names, args.runs)}
    except TrainingLogError as exc:
        parser.error(str(exc))
    plot_training_curves(runs, args.out, args.title)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
