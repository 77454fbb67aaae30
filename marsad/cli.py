"""``marsad COMMAND [ARGS]``: one entry point for the commands in :mod:`marsad.commands`.

Each command parses its own arguments (``marsad COMMAND --help``); ``train/`` and ``eval/`` hold
thin wrappers that run the same code, for ``python`` and ``accelerate launch``.
"""

from __future__ import annotations

import importlib
import sys

# command -> what it does (the first line of ``marsad --help``'s listing)
COMMANDS: dict[str, str] = {
    "train": "train a model from a YAML config (--refit: then retrain on train + dev)",
    "evaluate": "score a checkpoint on held-out sentences (seqeval strict IOB2, relation F1)",
    "crossval": "five-fold cross-validation of a config, beside the CRF, lexicon and majority "
    "baselines",
    "refit": "refit a cross-validation run's folds on train + dev with their dev choices",
    "compare": "paired bootstrap between two checkpoints, runs or baselines on the same sentences",
    "predict": "entities and relations with character offsets for raw text or JSONL documents",
    "anercorp": "score a checkpoint's ACTOR/LOCATION on ANERcorp (cross-domain check)",
    "export": "gold or a checkpoint's pre-annotations for Label Studio, brat or doccano",
    "import": "annotations from Label Studio, brat or doccano into the corpus format, checked",
    "serve": "an HTTP API over a checkpoint (FastAPI; the serve extra)",
    "export-onnx": "write a checkpoint's encoder as ONNX graphs for the onnxruntime backend",
}
# commands whose module name differs (``import`` is a Python keyword)
MODULES: dict[str, str] = {
    "export": "export_annotations",
    "import": "import_annotations",
    "export-onnx": "export_onnx",
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [
        "usage: marsad COMMAND [ARGS]   (marsad COMMAND --help for its options)",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {what}" for name, what in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from marsad import __version__

        print(f"marsad {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"marsad: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"marsad.commands.{MODULES.get(name, name)}")
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
