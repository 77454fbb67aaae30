"""Refit finished cross-validation runs on train + dev and score them on test, beside the originals.

    marsad refit RUN [--folds 0 1 2 3 4] [--name refit] [--set key=value ...] [--overwrite]

RUN is an ``marsad crossval`` output directory (``results.json``, ``fold<k>/best/``) or a seed study
(``seed<s>/`` runs, from ``crossval.py --seeds``). For every fold k of every run it trains fold k's
configuration (read from its checkpoint) afresh for the epoch that run kept, with the prior weights
and relation threshold dev chose for it (:mod:`marsad.refit`), on train + dev, and scores it on fold
k's test sentences. In the same run the CRF and lexicon baselines are refitted on the same
sentences, so the comparison stays like for like. Nothing is chosen on test and nothing on a refit:
its settings all come from the run it repeats.

Output mirrors the input, under ``RUN/<name>/``: ``fold<k>/best/`` checkpoints (so ``marsad compare
RUN RUN/refit`` pairs the two on the same sentences) and ``results.md`` / ``results.json`` with the
original model and baselines beside the refitted ones; for a study ``seed<s>/`` runs and
``seeds.md``. ``--set refit_include_dev=false`` keeps dev out of the refit (with, e.g., ``--set
train_fraction=1`` on a learning-curve run): each fold then also reports dev, unseen, at the
carried-over settings. A fold whose refit checkpoint already exists from the same source and
settings is read back; one made with other settings stops the run before anything trains, naming the
differences (``--overwrite`` retrains it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from marsad.commands.train import RUN_ERRORS
from marsad.config import ConfigError, TrainConfig, config_from_dict
from marsad.data.examples import load_examples
from marsad.evaluation.baselines import LexiconTagger, MajorityRelationBaseline
from marsad.evaluation.scoring import baseline_predictions, predict_checkpoint, score_predictions
from marsad.evaluation.summary import HEADLINE, summarise, summary_table
from marsad.features import CrfTagger
from marsad.model.checkpoint import CheckpointError, load_checkpoint, read_meta
from marsad.training.trainer import Trainer

_NOT_COMPARED = {
    "output_dir",
    "progress",
}  # settings that may differ when a finished refit is read back


def runs_in(path: Path) -> list[Path]:
    """The cross-validation runs RUN names: itself, or a seed study's ``seed<s>/`` runs."""
    if (path / "results.json").exists():
        return [path]
    found = sorted(
        (p for p in path.glob("seed*") if (p / "results.json").exists()),
        key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else p.name,
    )
    if not found:
        raise FileNotFoundError(
            f"{path} is neither a cross-validation run (no results.json) nor a seed study "
            "(no seed*/results.json); marsad crossval writes them when all folds finish"
        )
    return found


def refit_config(source: Path, fold: int, out: Path, overrides: list[str]) -> TrainConfig:
    """Fold ``fold``'s configuration as its checkpoint saved it, set to refit from that
    checkpoint."""
    saved = read_meta(source)["training_config"]
    return config_from_dict(
        saved,
        f"{source}/marsad.json",
        [*overrides, f"fold={fold}", f"refit_from={source}", f"output_dir={out}"],
    )


def refit_differences(out: Path, cfg: TrainConfig) -> list[str] | None:
    """How the refit in ``out/best`` differs from the one ``cfg`` asks for: None when there is none,
    [] when it is the same refit (read back, not retrained), else ``"key: there, here"`` per
    difference."""
    try:
        meta = read_meta(out / "best")
    except CheckpointError:
        return None
    if not meta.get("refit"):
        return ["refit: not a refit there"]
    saved, wanted = meta.get("training_config", {}), cfg.to_dict()
    differences = (
        []
        if Path(str(saved.get("refit_from"))).resolve() == Path(cfg.refit_from).resolve()
        else [f"refit_from: {saved.get('refit_from')!r} there, {cfg.refit_from!r} here"]
    )  # resolved: symlinked runs
    return differences + [
        f"{k}: {saved.get(k)!r} there, {v!r} here"
        for k, v in wanted.items()
        if k not in _NOT_COMPARED | {"refit_from"} and saved.get(k) != v
    ]


def finished_refit(out: Path, cfg: TrainConfig) -> bool:
    """Whether ``out/best`` is a refit of the same source with the same settings (read back, not
    retrained)."""
    return refit_differences(out, cfg) == []


def other_refits(
    runs: list[Path], targets: list[Path], folds: list[int] | None, overrides: list[str]
) -> list[str]:
    """Refit checkpoints already in the output made with other settings, one line each.
    Checked before any training: retraining over them would silently replace results a README may
    cite (a forgotten ``--set num_threads=1`` alone changes what a refit learns)."""
    found = []
    for run, target in zip(runs, targets):
        done = json.loads((run / "results.json").read_text(encoding="utf-8"))
        for k in done["folds"] if folds is None else [k for k in folds if k in done["folds"]]:
            out = target / f"fold{k}"
            differences = refit_differences(
                out, refit_config(run / f"fold{k}" / "best", k, out, overrides)
            )
            if differences:
                found.append(f"{out / 'best'} ({'; '.join(differences)})")
    return found


def refit_run(
    run: Path, target: Path, folds: list[int] | None, overrides: list[str]
) -> dict[str, Any]:
    """Refit one cross-validation run's folds into ``target/fold<k>``; returns what
    ``target/results.json`` holds."""
    done = json.loads((run / "results.json").read_text(encoding="utf-8"))
    folds = done["folds"] if folds is None else folds
    missing = [k for k in folds if k not in done["folds"]]
    if missing:
        raise ValueError(f"{run} has no fold(s) {missing}; it ran folds {done['folds']}")
    original = {
        key: [done["per_fold"][key][done["folds"].index(k)] for k in folds]
        for key in done["per_fold"]
    }
    results: dict[str, list[dict[str, Any]]] = {
        "model": [],
        "CRF": [],
        "lexicon": [],
        "model_dev": [],
    }
    train_sentences, encoder = [], "?"
    for k in folds:
        out = target / f"fold{k}"
        cfg = refit_config(run / f"fold{k}" / "best", k, out, overrides)
        t0 = time.perf_counter()
        if finished_refit(out, cfg):
            print(f"{out}: reusing the finished refit", flush=True)
        else:
            Trainer(cfg).train()
            shutil.rmtree(
                out / "last", ignore_errors=True
            )  # resume state; a finished refit is not resumed
        loaded = load_checkpoint(out / "best")
        encoder = loaded.meta["encoder"]["used"]
        splits = load_examples(cfg.data_dir, k, cfg.train_fraction, cfg.seed)
        train = splits["train"]
        if cfg.refit_include_dev:
            train += splits["dev"]
        test = splits["test"]
        train_sentences.append(len(train))
        results["model"].append(score_predictions(predict_checkpoint(loaded, test)))
        results["model_dev"].append(loaded.meta["dev_metrics"])  # empty when dev trained the refit
        relations = MajorityRelationBaseline().fit(train)
        results["CRF"].append(
            score_predictions(baseline_predictions(CrfTagger(), relations, train, test))
        )
        results["lexicon"].append(
            score_predictions(baseline_predictions(LexiconTagger(), relations, train, test))
        )
        print(
            f"{run} fold {k}: refit ({loaded.meta['epoch']} epochs, {len(train)} sentences) "
            f"entity F1 {results['model'][-1]['entities']['micro']['f1']:.4f} (dev-selected "
            f"{original['model'][folds.index(k)]['entities']['micro']['f1']:.4f}), relation F1 "
            f"(e2e) {results['model'][-1]['relations_end_to_end']['micro']['f1']:.4f} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    sets = "train + dev" if cfg.refit_include_dev else "train"
    summary = {
        "model, dev-selected": summarise(original["model"]),
        f"model, refit on {sets}": summarise(results["model"]),
    }
    for system in ("CRF", "lexicon"):
        summary[f"{system} as in the run"] = summarise(original[system])
        summary[f"{system} on {sets}"] = summarise(results[system])
    dev = (
        {
            "dev-selected, in-sample": summarise(original["model_dev"]),
            "refit, unseen": summarise(results["model_dev"]),
        }
        if all(results["model_dev"])
        else None
    )
    return {
        "source": str(run),
        "encoder": encoder,
        "folds": folds,
        "train_sentences": train_sentences,
        "summary": summary,
        "dev_summary": dev,
        "per_fold": results,
    }


def render(record: dict[str, Any]) -> str:
    lines = [
        f"Refit of `{record['source']}` over folds {record['folds']} (mean ± std over folds; test "
        "= fold k): each fold's configuration retrained for its kept epoch with dev's choices, "
        f"on {statistics.fmean(record['train_sentences']):.1f} sentences a fold.",
        "",
        f"Command: `{record['command']}`  ",
        f"Encoder actually used: `{record['encoder']}`",
        "",
        *summary_table(record["summary"]),
    ]
    if record["dev_summary"]:
        lines += [
            "",
            "Dev (fold k+1), held out of the refit, at the carried-over settings:",
            "",
            *summary_table(record["dev_summary"]),
        ]
    return "\n".join(lines) + "\n"


def render_seeds(per_seed: dict[str, dict[str, Any]]) -> str:
    """Each seed's fold means for the dev-selected model and its refit, and both over seeds."""
    seeds = list(per_seed)
    systems = list(next(iter(per_seed.values()))["summary"])[:2]
    lines = [
        f"Runs {seeds}: fold means per run, then mean ± std over runs.",
        "",
        "| score | "
        + " | ".join(f"{s}: {m}" for s in seeds for m in ("selected", "refit"))
        + " | "
        + " | ".join(f"{m}, over runs" for m in ("selected", "refit"))
        + " |",
        "|---|" + "---:|" * (2 * len(seeds) + 2),
    ]
    for name, _ in HEADLINE:
        means = {m: [per_seed[s]["summary"][m][name]["mean"] for s in seeds] for m in systems}
        cells = [f"{per_seed[s]['summary'][m][name]['mean']:.3f}" for s in seeds for m in systems]
        cells += [
            f"{statistics.fmean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.3f}"
            for v in means.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad refit",
        description="Refit cross-validation runs on train + dev; score them on test.",
    )
    parser.add_argument(
        "run", type=Path, help="a marsad crossval output directory, or a --seeds study"
    )
    parser.add_argument(
        "--folds", type=int, nargs="+", default=None, help="default: every fold the run has"
    )
    parser.add_argument("--name", default="refit", help="output subdirectory (default: refit)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="retrain refits already in the output that were made with other settings",
    )
    args = parser.parse_args(argv)
    if any(
        o.split("=", 1)[0].strip() in {"fold", "refit_from", "output_dir"} for o in args.overrides
    ):
        parser.error(
            "fold, refit_from and output_dir come from the run being refitted; do not --set them"
        )
    command = " ".join(
        ["marsad refit", str(args.run)]
        + (["--name", args.name] if args.name != "refit" else [])
        + (["--folds", *map(str, args.folds)] if args.folds else [])
        + [f"--set {o}" for o in args.overrides]
    )
    try:
        runs = runs_in(args.run)
        study = runs != [args.run]
        # the output mirrors the input: RUN/<name>/fold<k>, STUDY/<name>/seed<s>/fold<k>
        targets = [args.run / args.name / run.name if study else run / args.name for run in runs]
        stale = [] if args.overwrite else other_refits(runs, targets, args.folds, args.overrides)
        if stale:
            parser.error(
                "refits made with other settings are already there:\n  "
                + "\n  ".join(stale)
                + "\nrepeat their settings with --set, write elsewhere with --name, or "
                "retrain them "
                "with --overwrite"
            )
        per_run = {}
        for run, target in zip(runs, targets):
            target.mkdir(parents=True, exist_ok=True)
            record = {"command": command, **refit_run(run, target, args.folds, args.overrides)}
            (target / "results.json").write_text(json.dumps(record, indent=1) + "\n")
            (target / "results.md").write_text(render(record))
            print(render(record))
            per_run[run.name] = record
    except (ConfigError, ValueError, FileNotFoundError, CheckpointError) as exc:
        parser.error(str(exc))
    except RUN_ERRORS as exc:  # a corpus problem, an encoder, a diverged refit: exit 1
        print(f"marsad refit: error: {exc}", file=sys.stderr)
        return 1
    if study:
        table = render_seeds(per_run)
        (args.run / args.name / "seeds.md").write_text(table)
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
