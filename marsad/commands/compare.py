"""Compare two systems on the same held-out sentences with a paired bootstrap.

    marsad compare A B [--names NAME_A NAME_B] [--split test|dev] [--bootstrap 10000] [--out DIR]
                               [--baseline-data train|train+dev]

A and B are each a checkpoint directory, a cross-validation run (``fold*/best/``, from ``marsad
crossval``, or its refit ``RUN/refit/`` from ``marsad refit``), a seed study (``seed*/fold*/best/``,
from ``crossval.py --seeds``, or ``STUDY/refit/``), or ``crf`` / ``lexicon`` for the
cross-validation baselines retrained on the folds the other side covers. Every checkpoint is scored
on its own run's held-out sentences, so nothing is scored that it was trained on; the per-sentence
counts of a side are summed over its folds and seeds, and the two sides must cover the same
sentences. Prints, and with ``--out`` writes as ``compare.md`` / ``compare.json``, each score
(entities: micro and per type; relations: micro and per label, end-to-end and with gold entities)
for A and B (micro F1 pooled over all sentences, not the mean of fold scores), B − A, its 95%
paired-bootstrap interval and the share of resamples where B is ahead.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm

from marsad.data.examples import load_examples
from marsad.evaluation.baselines import LexiconTagger, MajorityRelationBaseline
from marsad.evaluation.comparison import (
    SCORES,
    ComparisonError,
    PairedDifference,
    compare,
    pool,
    sentence_scores,
)
from marsad.evaluation.scoring import baseline_predictions, predict_checkpoint
from marsad.features import CrfTagger
from marsad.model.checkpoint import CheckpointError, load_checkpoint, read_meta
from marsad.training.trainer import data_fingerprint

BASELINES = {"crf": CrfTagger, "lexicon": LexiconTagger}


def checkpoints_in(path: Path) -> list[Path]:
    """The checkpoint(s) a side names: itself, a crossval run's folds, or a seed study's runs."""
    if (path / "marsad.json").exists():
        return [path]
    for pattern in ("fold*/best", "seed*/fold*/best"):
        found = sorted(p for p in path.glob(pattern) if (p / "marsad.json").exists())
        if found:
            return found
    raise CheckpointError(
        f"{path} is neither a checkpoint (no marsad.json), a cross-validation run (no "
        "fold*/best/marsad.json) nor a seed study (no seed*/fold*/best/marsad.json)"
    )


def checkpoint_fold(checkpoint: Path, fingerprint: str, data: Path) -> int | None:
    """The CV run a checkpoint was trained on (None: the default split), refusing other data."""
    recorded = read_meta(checkpoint).get("data", {})
    if recorded.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"{checkpoint} was trained on other data (fingerprint "
            f"{str(recorded.get('fingerprint'))[:16]}, {data} has {fingerprint[:16]}): its "
            "held-out sentences may differ from today's splits"
        )
    run = recorded.get("run")
    if run == "default (fold0)":
        return None
    if not (isinstance(run, str) and run.startswith("fold") and run[4:].isdigit()):
        raise CheckpointError(
            f"{checkpoint}/marsad.json records no training run (data.run = {run!r})"
        )
    return int(run[4:])


def model_side(
    checkpoints: list[Path],
    folds: list[int | None],
    split: str,
    data: Path,
    batch_size: int,
    name: str,
) -> dict:
    runs = []
    for checkpoint, fold in zip(
        tqdm(checkpoints, desc=f"scoring {name}", unit="checkpoint"), folds
    ):
        loaded = load_checkpoint(checkpoint)
        if split == "dev" and (loaded.meta.get("refit") or {}).get("train_includes_dev"):
            raise CheckpointError(
                f"{checkpoint} is a refit trained on its run's dev sentences too; compare on test"
            )
        examples = load_examples(data, fold)[split]
        runs.append(sentence_scores(predict_checkpoint(loaded, examples, batch_size)))
    return pool(runs, name)


def baseline_side(
    kind: str, folds: list[int | None], split: str, data: Path, name: str, with_dev: bool = False
) -> dict:
    """The baseline retrained once per distinct fold (it is deterministic), as in ``crossval.py``;
    on train + dev with ``with_dev``, as ``refit.py`` refits it beside a refitted model."""
    runs = []
    for fold in tqdm(
        sorted(set(folds), key=lambda f: -1 if f is None else f),
        desc=f"fitting {name}",
        unit="fold",
    ):
        splits = load_examples(data, fold)
        train, held_out = splits["train"], splits[split]
        if with_dev:
            train += splits["dev"]
        relations = MajorityRelationBaseline().fit(train)
        runs.append(
            sentence_scores(baseline_predictions(BASELINES[kind](), relations, train, held_out))
        )
    return pool(runs, name)


def render(
    results: dict[str, PairedDifference],
    names: tuple[str, str],
    sources: tuple[str, str],
    split: str,
    n_sentences: int,
    command: str,
) -> str:
    a, b = names
    lines = [
        f"Paired comparison on {n_sentences} {split} sentences; F1 pooled over every sentence "
        "(and over folds and seeds), not the mean of fold scores.",
        "",
        f"Command: `{command}`  ",
        f"A = {a}: {sources[0]}  ",
        f"B = {b}: {sources[1]}",
        "",
        "| score | A | B | B − A | 95% CI of B − A | resamples with B > A / B < A | "
        "sentences that differ |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name in SCORES:
        r = results[name]
        lines.append(
            f"| {name} | {r.a:.3f} | {r.b:.3f} | {r.difference:+.3f} | [{r.ci95[0]:+.3f}, "
            f"{r.ci95[1]:+.3f}] | {r.b_better:.0%} / {r.b_worse:.0%} | {r.sentences_differ} |"
        )
    lines += [
        "",
        "An interval that holds 0 means resampling the sentences alone produces a difference of "
        "that size; it says nothing of training noise, which only more seeds per side average out.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad compare",
        description="Paired-bootstrap comparison of two systems on the same held-out sentences.",
    )
    parser.add_argument("a", help="checkpoint, crossval run, seed study, or crf / lexicon")
    parser.add_argument("b", help="the same kinds as A")
    parser.add_argument("--names", nargs=2, default=None, metavar=("NAME_A", "NAME_B"))
    parser.add_argument(
        "--split",
        choices=["test", "dev"],
        default="test",
        help="held-out sentences to score (dev: the selection set, optimistic for checkpoints)",
    )
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--bootstrap", type=int, default=10_000, help="paired bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--baseline-data",
        choices=["train", "train+dev"],
        default="train",
        help="what crf / lexicon train on (train+dev: beside a refit from marsad refit)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write compare.md and compare.json here"
    )
    args = parser.parse_args(argv)
    if args.baseline_data == "train+dev" and args.split == "dev":
        parser.error(
            "--baseline-data train+dev trains the baselines on the dev sentences; compare on test"
        )
    specs = (args.a, args.b)
    names = tuple(args.names) if args.names else specs
    if all(s in BASELINES for s in specs):
        parser.error(
            "at least one side must be a checkpoint or run: the baselines take their folds from it"
        )
    fingerprint = data_fingerprint(args.data)
    found: dict[int, tuple[list[Path], list[int | None]]] = {}
    try:
        for i, spec in enumerate(specs):
            if spec not in BASELINES:
                checkpoints = checkpoints_in(Path(spec))
                found[i] = (
                    checkpoints,
                    [checkpoint_fold(c, fingerprint, args.data) for c in checkpoints],
                )
        folds = [f for _, fs in found.values() for f in fs]
        sides = [
            baseline_side(
                spec, folds, args.split, args.data, names[i], args.baseline_data == "train+dev"
            )
            if i not in found
            else model_side(*found[i], args.split, args.data, args.batch_size, names[i])
            for i, spec in enumerate(specs)
        ]
        results = compare(*sides, n_resamples=args.bootstrap, seed=args.seed)
    except (CheckpointError, ComparisonError) as exc:
        parser.error(str(exc))
    fitted_on = (
        "training sentences" if args.baseline_data == "train" else "training and dev sentences"
    )
    sources = tuple(
        f"the {spec.upper() if spec == 'crf' else spec} baseline, fitted on each fold's {fitted_on}"
        if i not in found
        else f"`{spec}` ({len(found[i][0])} checkpoint(s))"
        for i, spec in enumerate(specs)
    )
    command = shlex.join(
        ["marsad", "compare", *specs]
        + (["--names", *names] if args.names else [])
        + (["--split", args.split] if args.split != "test" else [])
        + (["--baseline-data", args.baseline_data] if args.baseline_data != "train" else [])
        + (["--bootstrap", str(args.bootstrap)] if args.bootstrap != 10_000 else [])
        + (["--seed", str(args.seed)] if args.seed else [])
    )
    table = render(results, names, sources, args.split, len(sides[0]), command)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "compare.md").write_text(table, encoding="utf-8")
        payload = {
            "command": command,
            "a": specs[0],
            "b": specs[1],
            "names": names,
            "split": args.split,
            "sentences": len(sides[0]),
            "bootstrap": args.bootstrap,
            "seed": args.seed,
            "scores": {name: asdict(r) for name, r in results.items()},
        }
        (args.out / "compare.json").write_text(
            json.dumps(payload, indent=1) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
