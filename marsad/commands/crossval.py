"""Five-fold grouped cross-validation of a config against two baselines, side by side.

    marsad crossval --config configs/offline.yaml [--folds 0 1 2 3 4] [--out DIR] [--set key=value]
                            [--keep-last] [--seeds 13 7 ... [--reuse]]

For every fold k (test = fold k, dev = fold k+1, train = the rest; no near-duplicate cluster is
split) it trains the configured model, scores its best checkpoint on the fold's test sentences, and
in the same run trains and scores:
  - a CRF tagger (sklearn-crfsuite, standard Arabic features) + "most frequent relation for the
    type pair" on the CRF's entities;
  - a lexicon tagger (each word's most frequent training tag) + the same relation baseline.
Writes ``results.json`` and ``results.md`` (mean ± std over folds) into the output directory, and
``training_curves.png`` (every fold's losses and dev scores per epoch, kept epochs marked).

On 96 sentences two seeds of one configuration differ by a few points, as much as most changes
tried; ``--seeds`` repeats the whole run once per seed (``DIR/seed<s>/``, each a complete run as
above) and adds ``DIR/seeds.md`` / ``seeds.json``: each seed's fold means and their mean ± std
over seeds, on test and on dev. With ``--reuse`` a seed whose run is already in ``DIR/seed<s>/``,
made by the same command and configuration, is read back instead of trained again, so a study
can grow a seed at a time (``--seeds 13 7``, later ``--seeds 13 7 21 --reuse``).
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
from marsad.config import ConfigError, TrainConfig, load_config
from marsad.data.examples import load_examples
from marsad.evaluation.baselines import LexiconTagger, MajorityRelationBaseline
from marsad.evaluation.scoring import baseline_predictions, predict_checkpoint, score_predictions
from marsad.evaluation.summary import HEADLINE, summarise, summary_table
from marsad.features import CrfTagger
from marsad.model.checkpoint import load_checkpoint
from marsad.training.curves import plot_training_curves, read_training_log
from marsad.training.trainer import Trainer


def render(
    summary: dict[str, dict[str, dict[str, float]]], command: str, encoder: str, folds: list[int]
) -> str:
    lines = [
        f"Cross-validation over folds {folds} (mean ± std over folds; test = fold k, "
        "dev = fold k+1).",
        "",
        f"Command: `{command}`  ",
        f"Encoder actually used: `{encoder}`",
        "",
        *summary_table(summary),
    ]
    return "\n".join(lines) + "\n"


def render_dev(dev_summary: dict[str, dict[str, float]]) -> str:
    """The model's dev scores at its selected epoch: the numbers to compare configs by (not
    test)."""
    cells = " ".join(f"{name} {dev_summary[name]['mean']:.3f};" for name, _ in HEADLINE)
    return (
        "\nModel on dev (fold k+1, selection set; compare configurations on these, never "
        f"on test): {cells}\n"
    )


def _command(args: argparse.Namespace, overrides: list[str]) -> str:
    """The command line that reproduces a run (recorded in its results)."""
    return " ".join(
        ["marsad crossval", "--config", str(args.config)]
        + (["--folds", *map(str, args.folds)] if args.folds != [0, 1, 2, 3, 4] else [])
        + [f"--set {o}" for o in overrides]
    )


def render_seeds(per_seed: dict[int, dict[str, Any]], command: str) -> str:
    """One column per seed (its mean over folds), then mean ± std over seeds, for test and dev."""
    seeds = list(per_seed)
    lines = [
        f"Seeds {seeds}: each column is one complete cross-validation run (mean over its folds); "
        "the last is the mean ± std of those means over seeds.",
        "",
        f"Command: `{command}`",
        "",
    ]
    for title, key in (("model on test", "model"), ("model on dev (selection set)", "dev")):
        lines += [
            f"| {title} | " + " | ".join(f"seed {s}" for s in seeds) + " | over seeds |",
            "|---|" + "---:|" * (len(seeds) + 1),
        ]
        for name, _ in HEADLINE:
            means = [per_seed[s][key][name]["mean"] for s in seeds]
            spread = statistics.stdev(means) if len(means) > 1 else 0.0
            lines.append(
                f"| {name} | "
                + " | ".join(f"{m:.3f}" for m in means)
                + f" | {statistics.fmean(means):.3f} ± {spread:.3f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad crossval",
        description="Grouped 5-fold cross-validation with CRF and lexicon baselines.",
    )
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--out", type=Path, default=None, help="default: runs/crossval-<config name>"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--keep-last",
        action="store_true",
        help="keep each fold's last/ checkpoint (resume state; ~0.5 GB each with the "
        "bundled encoder)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="repeat the run once per seed into DIR/seed<s>/ and summarise over seeds",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --seeds: read back a seed's finished run in DIR/seed<s>/ made by the "
        "same command "
        "and configuration instead of training it again",
    )
    args = parser.parse_args(argv)
    if args.reuse and not args.seeds:
        parser.error("--reuse goes with --seeds")
    out = args.out or Path("runs") / f"crossval-{args.config.stem}"
    if args.seeds:
        if any(o.split("=", 1)[0].strip() == "seed" for o in args.overrides):
            parser.error("give the seeds with --seeds, not --set seed=...")
        per_seed = {}
        for seed in args.seeds:  # a failed fold ends the study: exit 1, its message alone
            overrides, seed_out = [*args.overrides, f"seed={seed}"], out / f"seed{seed}"
            finished = finished_run(parser, args, overrides, seed_out) if args.reuse else None
            try:
                per_seed[seed] = finished or run(parser, args, overrides, seed_out)
            except FoldFailed as exc:
                return _failed(f"seed {seed}, {exc}")
        command = _command(args, args.overrides) + " --seeds " + " ".join(map(str, args.seeds))
        (out / "seeds.json").write_text(
            json.dumps({"command": command, "per_seed": per_seed}, indent=1) + "\n"
        )
        table = render_seeds(per_seed, command)
        (out / "seeds.md").write_text(table)
        print(table)
        return 0
    try:
        run(parser, args, args.overrides, out)
    except FoldFailed as exc:
        return _failed(str(exc))
    return 0


class FoldFailed(RuntimeError):
    """A fold's training failed (corpus, encoder, diverged run); the message names the fold."""


def _failed(message: str) -> int:
    print(f"marsad crossval: error: {message}", file=sys.stderr)
    return 1


# Settings that do not change what a run learns or scores: they may differ in a reused run.
_NOT_COMPARED = {"output_dir", "progress"}


def finished_run(
    parser: argparse.ArgumentParser, args: argparse.Namespace, overrides: list[str], out: Path
) -> dict[str, dict[str, dict[str, float]]] | None:
    """The summaries of a finished run in ``out`` (``--reuse``); None when there is none.

    A run made by another command, over other folds, or from a config file edited since is an
    error rather than a silent mix: the command line alone does not pin the YAML's contents, so
    every fold's saved training configuration is compared too (options added to the code since
    count as their defaults).
    """
    path = out / "results.json"
    if not path.exists():
        return None
    done = json.loads(path.read_text(encoding="utf-8"))
    command = _command(args, overrides)
    if done["command"] != command or done["folds"] != args.folds:
        parser.error(
            f"--reuse: {path} was made by `{done['command']}` over folds {done['folds']}, "
            f"not `{command}` over folds {args.folds}; give another --out"
        )
    defaults = TrainConfig().to_dict()
    for k in args.folds:
        meta_path = out / f"fold{k}" / "best" / "marsad.json"
        if not meta_path.exists():
            parser.error(
                f"--reuse: {path} exists but {meta_path} does not; cannot check what fold {k} was "
                "trained with"
            )
        saved = json.loads(meta_path.read_text(encoding="utf-8"))["training_config"]
        try:
            wanted = load_config(args.config, [*overrides, f"fold={k}"]).to_dict()
        except ConfigError as exc:
            parser.error(str(exc))
        changed = sorted(
            key
            for key, value in wanted.items()
            if key not in _NOT_COMPARED and saved.get(key, defaults[key]) != value
        )
        if changed:
            parser.error(
                f"--reuse: {meta_path} was trained with other settings ({', '.join(changed)}) "
                f"than {args.config} gives now; give another --out"
            )
    print(f"{out}: reusing the finished run", flush=True)
    model = next(name for name in done["summary"] if name.startswith("model"))
    return {"model": done["summary"][model], "dev": done["dev_summary"]}


def run(
    parser: argparse.ArgumentParser, args: argparse.Namespace, overrides: list[str], out: Path
) -> dict[str, dict[str, dict[str, float]]]:
    """One complete cross-validation run into ``out``; returns the model's summaries on test and
    dev."""
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {
        "model": [],
        "CRF": [],
        "lexicon": [],
        "model_dev": [],
    }
    train_sentences: list[
        int
    ] = []  # what the model and the baselines trained on (train_fraction may cut it)
    encoder = "?"
    for k in args.folds:
        try:
            cfg = load_config(
                args.config, [*overrides, f"fold={k}", f"output_dir={out / f'fold{k}'}"]
            )
        except ConfigError as exc:
            parser.error(str(exc))
        splits = load_examples(cfg.data_dir, k, cfg.train_fraction, cfg.seed)
        train, test = splits["train"], splits["test"]
        # the baselines learn from what the model learns from: extra corpora's train too
        train = train + [ex for d in cfg.extra_data for ex in load_examples(d)["train"]]
        train_sentences.append(len(train))
        t0 = time.perf_counter()
        try:
            Trainer(cfg).train()
        except RUN_ERRORS as exc:
            raise FoldFailed(f"fold {k}: {exc}") from exc
        if not args.keep_last:  # only --resume needs it, and a finished fold is not resumed
            shutil.rmtree(out / f"fold{k}" / "last", ignore_errors=True)
        loaded = load_checkpoint(out / f"fold{k}" / "best")
        encoder = loaded.meta["encoder"]["used"]
        scores = score_predictions(predict_checkpoint(loaded, test))
        results["model"].append(scores)
        results["model_dev"].append(
            loaded.meta["dev_metrics"]
        )  # the selection set's scores, for tuning
        rel = MajorityRelationBaseline().fit(train)
        results["CRF"].append(
            score_predictions(baseline_predictions(CrfTagger(), rel, train, test))
        )
        results["lexicon"].append(
            score_predictions(baseline_predictions(LexiconTagger(), rel, train, test))
        )
        print(
            f"fold {k}: model entity F1 {scores['entities']['micro']['f1']:.4f}, relation F1 (e2e) "
            f"{scores['relations_end_to_end']['micro']['f1']:.4f}; CRF entity F1 "
            f"{results['CRF'][-1]['entities']['micro']['f1']:.4f} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    summary = {
        f"model ({encoder})": summarise(results["model"]),
        "CRF baseline": summarise(results["CRF"]),
        "lexicon baseline": summarise(results["lexicon"]),
    }
    dev_summary = summarise(results["model_dev"])
    command = _command(args, overrides)
    (out / "results.json").write_text(
        json.dumps(
            {
                "command": command,
                "encoder": encoder,
                "folds": args.folds,
                "train_sentences": train_sentences,
                "summary": summary,
                "dev_summary": dev_summary,
                "per_fold": results,
            },
            indent=1,
        )
        + "\n"
    )
    table = render(summary, command, encoder, args.folds) + render_dev(dev_summary)
    (out / "results.md").write_text(table)
    plot_training_curves(
        {f"fold{k}": read_training_log(out / f"fold{k}" / "metrics.jsonl") for k in args.folds},
        out / "training_curves.png",
        title=f"{encoder}: {out}",
    )
    print(table)
    return {"model": summary[f"model ({encoder})"], "dev": dev_summary}


if __name__ == "__main__":
    sys.exit(main())
