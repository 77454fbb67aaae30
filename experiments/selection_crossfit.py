"""Which checkpoint-selection rule keeps epochs that hold up on dev sentences it did not see?

    python -m experiments.selection_crossfit RUN [RUN ...] [--patience 10] [--splits 500] \
        [--out DIR]

Each RUN is a training output directory, a cross-validation run (``fold*/``) or a seed study
(``seed*/fold*/``), trained by a version that writes ``dev_sentences.jsonl``; train with ``--set
patience=0`` so that every epoch is logged and any patience can be replayed (training does not
depend on selection, so the replay is what a run with that patience would have kept). For every
training run, the dev sentences are split into random halves ``--splits`` times; in both directions,
each rule keeps an epoch by its scores on one half (warm-up epochs excluded, ``--patience``
replayed) and that epoch is scored on the other half. Printed per fold and per seed: the mean
unseen-half entity micro-F1, end-to-end relation micro-F1, their sum (the objective configurations
are compared on) and the mean kept epoch; ``--out`` writes ``selection.md`` / ``selection.json``.
Dev only: test is never read. The priors' weights and the NONE bias were tuned each epoch on the
whole dev fold, both halves: a leak every rule shares.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm

from experiments.selection import CrossFit, DevLogError, cross_fit, read_dev_log
from marsad.config import SELECTION_METRICS
from marsad.training.selection import DEV_SENTENCES_FILE


def runs_in(path: Path) -> dict[str, list[Path]]:
    """The training runs a RUN argument names, grouped by seed (a lone run or crossval run is one
    group)."""
    if (path / DEV_SENTENCES_FILE).exists():
        return {str(path): [path]}
    seeds = sorted(p for p in path.glob("seed*") if p.is_dir())
    groups = {
        str(s): sorted(f for f in s.glob("fold*") if (f / DEV_SENTENCES_FILE).exists())
        for s in seeds
    }
    groups = {k: v for k, v in groups.items() if v} or {
        str(path): sorted(f for f in path.glob("fold*") if (f / DEV_SENTENCES_FILE).exists())
    }
    if not any(groups.values()):
        raise DevLogError(
            f"{path} holds no {DEV_SENTENCES_FILE} (itself, fold*/ or seed*/fold*/): train with "
            "this version, with --set patience=0"
        )
    return groups


def mean_fit(fits: list[CrossFit]) -> CrossFit:
    return CrossFit(
        *(
            statistics.fmean(getattr(f, k) for f in fits)
            for k in ("entity_f1", "relation_f1", "mean_epoch")
        )
    )


def render(
    table: dict[str, dict[str, dict[str, CrossFit]]], metrics: list[str], command: str
) -> str:
    """One row per (group, fold) and per group's mean, plus the mean over groups with each rule's
    wins."""
    first, others = metrics[0], metrics[1:]
    head = " | ".join(
        [f"{m}: entity / relation / sum / epoch" for m in metrics]
        + [f"{m} − {first} (sum)" for m in others]
    )
    lines = [
        f"Command: `{command}`",
        "",
        f"| run | fold | {head} |",
        "|---|---|" + "---|" * len(metrics) + "---:|" * len(others),
    ]

    def cells(fits: dict[str, CrossFit]) -> str:
        return " | ".join(
            [
                f"{fits[m].entity_f1:.3f} / {fits[m].relation_f1:.3f} / "
                f"**{fits[m].objective:.3f}** / {fits[m].mean_epoch:.1f}"
                for m in metrics
            ]
            + [f"{fits[m].objective - fits[first].objective:+.3f}" for m in others]
        )

    group_means = {}
    for group, folds in table.items():
        for fold, fits in folds.items():
            lines.append(f"| {group} | {fold} | {cells(fits)} |")
        group_means[group] = {m: mean_fit([fits[m] for fits in folds.values()]) for m in metrics}
        lines.append(f"| {group} | mean | {cells(group_means[group])} |")
    overall = {m: mean_fit([g[m] for g in group_means.values()]) for m in metrics}
    lines.append(f"| all | mean of runs | {cells(overall)} |")

    def wins(rows: list[dict[str, CrossFit]]) -> str:
        won = {
            m: sum(r[m].objective == max(r[x].objective for x in metrics) for r in rows)
            for m in metrics
        }
        return ", ".join(f"{m} {w} of {len(rows)}" for m, w in won.items())

    folds = [fits for group in table.values() for fits in group.values()]
    lines += [
        "",
        f"Highest unseen-half sum, runs won: {wins(list(group_means.values()))}; folds "
        f"won: {wins(folds)}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Cross-fit checkpoint-selection rules on dev half-splits."
    )
    parser.add_argument(
        "runs", nargs="+", type=Path, help="training run, crossval run or seed study"
    )
    parser.add_argument(
        "--metrics", nargs="+", choices=SELECTION_METRICS, default=list(SELECTION_METRICS[::-1])
    )
    parser.add_argument(
        "--patience", type=int, default=10, help="patience to replay (0: keep the best of all)"
    )
    parser.add_argument("--splits", type=int, default=500, help="random halvings of each dev fold")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=None, help="write selection.md and selection.json here"
    )
    args = parser.parse_args(argv)
    table: dict[str, dict[str, dict[str, CrossFit]]] = {}
    try:
        groups = {k: v for run in args.runs for k, v in runs_in(run).items()}
        for group, folds in tqdm(groups.items(), desc="runs", unit="run"):
            table[group] = {
                f.name: cross_fit(
                    read_dev_log(f), args.metrics, args.patience, args.splits, args.seed
                )
                for f in folds
            }
    except DevLogError as exc:
        parser.error(str(exc))
    command = shlex.join(
        [
            "python",
            "-m",
            "experiments.selection_crossfit",
            *map(str, args.runs),
            "--patience",
            str(args.patience),
            "--splits",
            str(args.splits),
        ]
        + (["--seed", str(args.seed)] if args.seed else [])
    )
    report = render(table, args.metrics, command)
    print(report, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "selection.md").write_text(report, encoding="utf-8")
        (args.out / "selection.json").write_text(
            json.dumps(
                {
                    "command": command,
                    "runs": {
                        g: {f: {m: asdict(x) for m, x in fits.items()} for f, fits in folds.items()}
                        for g, folds in table.items()
                    },
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
