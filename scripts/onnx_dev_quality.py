"""What each backend and int8 variant costs in quality, on the dev a checkpoint was chosen on.

    python scripts/onnx_dev_quality.py --checkpoint RUN1/best [--checkpoint RUN2/best ...] \
        --out docs/onnx_dev_quality.json [--markdown]

For every checkpoint, its mixed dev (the seed dev, each extra corpus's dev conflicts and
ANERcorp's held-out end, as in ``experiments/relation_study.py``) is predicted by ``Predictor``
with torch fp32 (the reference), torch dynamic int8, and onnxruntime fp32, dynamic int8 and static
int8 (calibrated on the checkpoint's own training sentences); each row keeps entity micro-F1 and
relation F1 end to end and over gold entities, and the points each variant loses against torch
fp32 (#28's quality target: at most 0.5 entity and 1 relation F1 point). A (checkpoint, variant)
pair already in ``--out`` is kept, so a run cut off by the end of a session goes on from there;
``--out`` is rewritten atomically after each pair. Choose the int8 variant on these dev rows only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # experiments/ (the mixed dev) when run as a script

from experiments.generalisation import config_dev  # noqa: E402
from marsad.evaluation.scoring import predict_checkpoint, score_predictions  # noqa: E402
from marsad.fileio import atomic_write_text  # noqa: E402
from marsad.model.checkpoint import read_meta  # noqa: E402
from marsad.predictor import Predictor  # noqa: E402

REFERENCE = "torch fp32"
VARIANTS: dict[str, dict] = {
    REFERENCE: {},
    "torch int8": {"quantize": True},
    "onnxruntime fp32": {"backend": "onnxruntime"},
    "onnxruntime int8 dynamic": {"backend": "onnxruntime", "quantize": "dynamic"},
    "onnxruntime int8 static": {"backend": "onnxruntime", "quantize": "static"},
}
METRICS = {
    "entity": "entities",
    "relation_e2e": "relations_end_to_end",
    "relation_gold_entities": "relations_gold_entities",
}


def mixed_dev(checkpoint: Path) -> list:
    """The dev the checkpoint's run chose its epoch and decoding on."""
    return config_dev(read_meta(checkpoint)["training_config"])


def score_variant(checkpoint: Path, dev: list, kwargs: dict) -> dict[str, float]:
    predictor = Predictor.from_pretrained(checkpoint, device="cpu", **kwargs)
    scores = score_predictions(predict_checkpoint(predictor.loaded, dev))
    row = {name: round(scores[key]["micro"]["f1"], 4) for name, key in METRICS.items()}
    return {"sentences": len(dev), **row}


def add_losses(rows: dict[str, dict]) -> None:
    """Points lost against torch fp32 (positive: worse), beside each variant's scores."""
    reference = rows.get(REFERENCE)
    if reference is None:
        return
    for row in rows.values():
        row["points_lost"] = {m: round(100 * (reference[m] - row[m]), 2) for m in METRICS}


def markdown(results: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| checkpoint | variant | dev entity | relation e2e | relation gold entities | "
        "points lost (entity / e2e / gold) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for checkpoint, rows in results.items():
        for variant, row in rows.items():
            lost = row.get("points_lost", {})
            lost_cell = " / ".join(f"{lost[m]:+.2f}" for m in METRICS) if lost else ""
            lines.append(
                f"| {checkpoint} | {variant} | {row['entity']:.4f} | {row['relation_e2e']:.4f} "
                f"| {row['relation_gold_entities']:.4f} | {lost_cell} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("docs/onnx_dev_quality.json"))
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--markdown", action="store_true", help="print the table of --out")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict]] = (
        json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    )
    for checkpoint in args.checkpoint:
        if not (checkpoint / "marsad.json").is_file():
            parser.error(f"--checkpoint {checkpoint}: not a Marsad checkpoint (no marsad.json)")
        dev = mixed_dev(checkpoint)
        rows = results.setdefault(str(checkpoint), {})
        for variant in args.variant or list(VARIANTS):
            if variant in rows:
                continue
            print(f"{checkpoint}: {variant} on {len(dev)} dev sentences", file=sys.stderr)
            rows[variant] = score_variant(checkpoint, dev, VARIANTS[variant])
            add_losses(rows)
            atomic_write_text(args.out, json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    if args.markdown or not args.checkpoint:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
