"""Write a checkpoint's ONNX graphs into it, for ``Predictor(..., backend="onnxruntime")``.

    marsad export-onnx CKPT [--quantize none|dynamic|static|all] [--data DIR]

The graphs go to ``CKPT/onnx/`` (fp32, and the int8 variants asked for; default: the one chosen
on dev) with ``onnx/manifest.json``, written as one directory swapped into place; the checkpoint's
own files and its file list are not touched, so it still loads in transformers and in Marsad.
Without this command the same graphs are built on first use and cached (docs/onnx.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marsad.model.checkpoint import CheckpointError, load_checkpoint


def main(argv: list[str] | None = None) -> int:
    from marsad import onnx_backend

    parser = argparse.ArgumentParser(
        prog="marsad export-onnx",
        description="Export a checkpoint's encoder and tag head to ONNX (into CKPT/onnx/).",
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument(
        "--quantize",
        choices=("none", "dynamic", "static", "all"),
        default=onnx_backend.SHIPPED_INT8,
        help="int8 graph(s) to write beside the fp32 one (default: the variant chosen on dev, "
        f"{onnx_backend.SHIPPED_INT8})",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="corpus whose training sentences calibrate static int8 (default: the checkpoint's)",
    )
    args = parser.parse_args(argv)
    try:
        onnx_backend.require_onnxruntime()
    except ImportError as exc:
        print(f"marsad export-onnx: {exc}", file=sys.stderr)
        return 1
    variants = ["fp32"] + {
        "none": [],
        "all": list(onnx_backend.INT8_VARIANTS),
    }.get(args.quantize, [args.quantize])
    try:
        loaded = load_checkpoint(args.checkpoint)
        onnx_backend.check_supported(loaded, args.checkpoint)
        out = onnx_backend.write_checkpoint_graphs(loaded, args.checkpoint, variants, args.data)
    except (CheckpointError, ValueError) as exc:
        print(f"marsad export-onnx: {exc}", file=sys.stderr)
        return 1
    for variant in variants:
        path = out / onnx_backend.GRAPHS[variant]
        print(f"{variant}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
