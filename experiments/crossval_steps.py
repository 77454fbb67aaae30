"""The five-fold cross-validation of one configuration and seed, a fold at a time, resumable from
the committed scores.

    python -m experiments.crossval_steps --config configs/offline.yaml --seed 13 \
        --out docs/crossval_shipped [--folds 0 1 ...] [--max-folds N] [--set KEY=VALUE ...]

``marsad crossval`` of the shipped configuration takes an hour or more per seed on 2 CPU cores,
longer than a working session, and ``runs/`` does not outlive one. This runs ``marsad crossval``'s
own code for one fold at a time (``marsad crossval --config C --folds k --set seed=S`` into
``--work``/fold<k>, which is cleared first) and copies that fold's scores (model and both
baselines on test, the model on dev; no checkpoint) into ``--out/fold<k>.json``, with the command,
the configuration, the seed, the git commit and the machine. Commit those files: a fold already in
``--out`` is never trained again, provided the configuration still resolves to the settings it was
trained with (otherwise it is an error, not a silent mix). ``--max-folds N`` stops after N folds
so a session does what fits. Once every fold is recorded, ``--out/results.md`` and
``results.json`` hold the same mean ± std summary ``marsad crossval`` writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marsad.commands import crossval
from marsad.config import ConfigError, TrainConfig, load_config
from marsad.data.splits import N_FOLDS
from marsad.evaluation.summary import summarise
from marsad.fileio import atomic_write_text

ALL_FOLDS = list(range(N_FOLDS))
SYSTEMS = ("model", "CRF", "lexicon", "model_dev")  # the per-fold rows of crossval's results.json
# settings that may differ between folds of one study (crossval's own list, plus the fold itself)
NOT_COMPARED = {*crossval._NOT_COMPARED, "fold"}


class StepsError(Exception):
    """A recorded fold that cannot be joined to this study (located by its file)."""


def git_state() -> dict[str, Any]:
    """The commit the fold was trained at, and whether the working tree had changes."""

    def git(*cmd: str) -> str:
        return subprocess.run(
            ["git", *cmd], check=True, capture_output=True, text=True
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError) as exc:
        return {"commit": None, "error": str(exc)}


def machine() -> dict[str, Any]:
    """What the fold ran on: its time and, on CPU, its sums depend on these."""
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def wanted_config(args: argparse.Namespace, fold: int) -> dict[str, Any]:
    """The training settings fold ``fold`` of this study resolves to now."""
    return load_config(args.config, [*overrides(args), f"fold={fold}"]).to_dict()


def overrides(args: argparse.Namespace) -> list[str]:
    """The ``--set`` overrides passed to ``marsad crossval``, the seed last."""
    return [*args.overrides, f"seed={args.seed}"]


def steps_command(args: argparse.Namespace) -> str:
    """The command that grows this study (folds and --max-folds aside: they change no score)."""
    parts = ["python -m experiments.crossval_steps", "--config", str(args.config)]
    parts += ["--seed", str(args.seed), "--out", str(args.out)]
    return shlex.join(parts) + "".join(f" --set {shlex.quote(o)}" for o in args.overrides)


def fold_path(out: Path, fold: int) -> Path:
    return out / f"fold{fold}.json"


def read_fold(args: argparse.Namespace, fold: int) -> dict[str, Any] | None:
    """Fold ``fold``'s record in ``--out``, checked against this study; None when there is none."""
    path = fold_path(args.out, fold)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StepsError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    missing = [k for k in ("fold", "seed", "training_config", "scores") if k not in record]
    if missing:
        raise StepsError(f"{path}: no {', '.join(missing)} (not a fold record)")
    if record["fold"] != fold or record["seed"] != args.seed:
        raise StepsError(
            f"{path}: records fold {record['fold']}, seed {record['seed']}; "
            f"expected fold {fold}, seed {args.seed}"
        )
    if set(record["scores"]) != set(SYSTEMS):
        raise StepsError(f"{path}: scores has {sorted(record['scores'])}, expected {list(SYSTEMS)}")
    defaults, saved = TrainConfig().to_dict(), record["training_config"]
    changed = sorted(
        key
        for key, value in wanted_config(args, fold).items()
        if key not in NOT_COMPARED and saved.get(key, defaults[key]) != value
    )
    if changed:
        raise StepsError(
            f"{path}: fold {fold} was trained with other settings ({', '.join(changed)}) than "
            f"{args.config} with {overrides(args)} gives now; give another --out"
        )
    return record


def run_fold(args: argparse.Namespace, fold: int) -> dict[str, Any]:
    """Train and score one fold with ``marsad crossval``'s own code; its record (not yet
    written)."""
    work = args.work / f"fold{fold}"
    shutil.rmtree(work, ignore_errors=True)  # a cut-off earlier try must not be read back
    argv = ["--config", str(args.config), "--folds", str(fold), "--out", str(work)]
    argv += [item for o in overrides(args) for item in ("--set", o)]
    t0 = time.perf_counter()
    crossval.main(argv)
    seconds = time.perf_counter() - t0
    results = json.loads((work / "results.json").read_text(encoding="utf-8"))
    best = json.loads((work / f"fold{fold}" / "best" / "marsad.json").read_text(encoding="utf-8"))
    return {
        "fold": fold,
        "seed": args.seed,
        "command": steps_command(args),
        "crossval_command": results["command"],
        "config": str(args.config),
        "config_sha256": hashlib.sha256(args.config.read_bytes()).hexdigest(),
        "overrides": args.overrides,
        "training_config": best["training_config"],
        "git": git_state(),
        "machine": machine(),
        "seconds": round(seconds, 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder": results["encoder"],
        "train_sentences": results["train_sentences"][0],
        "scores": {name: results["per_fold"][name][0] for name in SYSTEMS},
    }


def summary_of(args: argparse.Namespace, records: list[dict[str, Any]]) -> tuple[dict, str]:
    """``results.json`` and ``results.md`` over all folds, as ``marsad crossval`` writes them."""
    encoders = {r["encoder"] for r in records}
    if len(encoders) != 1:
        raise StepsError(f"{args.out}: folds trained with different encoders {sorted(encoders)}")
    encoder = encoders.pop()
    per_fold = {name: [r["scores"][name] for r in records] for name in SYSTEMS}
    summary = {
        f"model ({encoder})": summarise(per_fold["model"]),
        "CRF baseline": summarise(per_fold["CRF"]),
        "lexicon baseline": summarise(per_fold["lexicon"]),
    }
    dev_summary = summarise(per_fold["model_dev"])
    command = steps_command(args)
    folds = [r["fold"] for r in records]
    provenance = [
        {k: r[k] for k in ("fold", "crossval_command", "git", "machine", "seconds", "finished")}
        for r in records
    ]
    results = {
        "command": command,
        "encoder": encoder,
        "folds": folds,
        "train_sentences": [r["train_sentences"] for r in records],
        "summary": summary,
        "dev_summary": dev_summary,
        "per_fold": per_fold,
        "provenance": provenance,
    }
    table = crossval.render(summary, command, encoder, folds) + crossval.render_dev(dev_summary)
    table += "\nEach fold: " + "; ".join(_where(p) for p in provenance) + ".\n"
    return results, table


def _where(p: dict[str, Any]) -> str:
    """One fold's commit, machine and time, for the table's footnote."""
    commit = (p["git"].get("commit") or "?")[:7] + ("+changes" if p["git"].get("dirty") else "")
    m = p["machine"]
    return (
        f"fold {p['fold']} at {commit}, {m['cpu_count']} CPUs / {m['torch_threads']} torch "
        f"threads, {p['seconds']:.0f} s"
    )


def parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.crossval_steps",
        description="marsad crossval of one configuration and seed, a fold at a time; each "
        "fold's scores go to OUT/fold<k>.json (commit them), a recorded fold is never trained "
        "again, and OUT/results.md / results.json appear once all folds are recorded.",
    )
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="where fold<k>.json and the summary go (small files, meant to be committed)",
    )
    parser.add_argument(
        "--folds",
        type=int,
        nargs="+",
        default=ALL_FOLDS,
        help="train only these of the unrecorded folds (default: all)",
    )
    parser.add_argument(
        "--max-folds",
        type=int,
        default=None,
        metavar="N",
        help="stop after training N folds (what fits in a session)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("runs/crossval-steps"),
        help="scratch for each fold's crossval run, WORK/fold<k> (cleared "
        "before the fold trains; checkpoints stay here, not in --out)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed to marsad crossval (not the seed)",
    )
    args = parser.parse_args(argv)
    if any(o.split("=", 1)[0].strip() == "seed" for o in args.overrides):
        parser.error("give the seed with --seed, not --set seed=...")
    if bad := [k for k in args.folds if k not in ALL_FOLDS]:
        parser.error(f"--folds {bad}: folds are {ALL_FOLDS}")
    if args.max_folds is not None and args.max_folds < 0:
        parser.error("--max-folds must be >= 0")
    try:
        load_config(args.config, overrides(args))
    except ConfigError as exc:
        parser.error(str(exc))
    return parser, args


def main(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv)
    try:
        recorded = {k: r for k in ALL_FOLDS if (r := read_fold(args, k)) is not None}
        trained = 0
        for k in sorted(set(args.folds) - set(recorded)):
            if args.max_folds is not None and trained >= args.max_folds:
                break
            print(f"fold {k}: training (seed {args.seed})", flush=True)
            recorded[k] = run_fold(args, k)
            atomic_write_text(fold_path(args.out, k), json.dumps(recorded[k], indent=1) + "\n")
            trained += 1
            print(f"fold {k}: recorded in {fold_path(args.out, k)}", flush=True)
        remaining = [k for k in ALL_FOLDS if k not in recorded]
        if remaining:
            print(
                f"{args.out}: folds {sorted(recorded)} recorded, {remaining} remain; run the same "
                "command again (commit the fold files first)"
            )
            return 0
        results, table = summary_of(args, [recorded[k] for k in ALL_FOLDS])
    except StepsError as exc:
        parser.error(str(exc))
    atomic_write_text(args.out / "results.json", json.dumps(results, indent=1) + "\n")
    atomic_write_text(args.out / "results.md", table)
    print(table)
    print(f"{args.out}: all folds recorded; nothing remains")
    return 0


if __name__ == "__main__":
    sys.exit(main())
