"""Training benchmark: seconds per epoch and peak memory on this machine.

    python scripts/bench_train.py --config configs/offline.yaml [--epochs 2]

Runs the config twice in fresh subprocesses, in the same invocation: as given but with word
embeddings trainable (the baseline: full fine-tuning) and with them frozen, and prints seconds per
epoch (dev evaluation included), peak resident memory and the ratios frozen/baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from marsad.config import load_config
from marsad.training.trainer import Trainer
cfg = load_config({config!r}, {overrides!r})
t = time.perf_counter()
Trainer(cfg).train()
log = [json.loads(l) for l in open(cfg.output_dir + "/metrics.jsonl")]
print(json.dumps({{"epoch_seconds": [r["seconds"] for r in log],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "wall_seconds": time.perf_counter() - t}}))
"""


def run(config: str, overrides: list[str]) -> dict:
    code = CHILD.format(root=str(ROOT), config=config, overrides=overrides)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"benchmark child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/offline.yaml")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, frozen in (("baseline (embeddings trained)", False), ("embeddings frozen", True)):
            results[name] = run(
                args.config,
                [
                    f"epochs={args.epochs}",
                    "patience=0",
                    "progress=false",
                    f"freeze_word_embeddings={str(frozen).lower()}",
                    f"output_dir={tmp}/{int(frozen)}",
                ],
            )
    print(f"config {args.config}, {args.epochs} epochs each, default training split")
    print(f"{'':32s} {'s/epoch':>9s} {'peak RSS MiB':>13s}")
    for name, r in results.items():
        per_epoch = sum(r["epoch_seconds"]) / len(r["epoch_seconds"])
        r["mean_epoch_seconds"] = per_epoch
        print(f"{name:32s} {per_epoch:9.1f} {r['peak_rss_mib']:13.0f}")
    base, frozen = results["baseline (embeddings trained)"], results["embeddings frozen"]
    print(
        "ratio frozen/baseline: time "
        f"{frozen['mean_epoch_seconds'] / base['mean_epoch_seconds']:.2f}x, "
        f"peak memory {frozen['peak_rss_mib'] / base['peak_rss_mib']:.2f}x"
    )


if __name__ == "__main__":
    main()
