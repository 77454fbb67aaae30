"""Training curves from ``metrics.jsonl``: losses and dev scores per epoch, the kept epoch marked.

Forty epochs of six numbers are hard to read as a table, and comparing folds or seeds harder
still; one picture shows where dev peaked, whether the relation loss collapsed to zero (the head
memorising its ~100 training relations) and how far apart runs drift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Every metrics.jsonl line has these (written by marsad.training.Trainer); the dev scores too,
# except in a refit (trained on train + dev, no selection), whose curves are its losses alone.
REQUIRED_KEYS = ("epoch", "tag_loss", "relation_loss", "best_epoch")
DEV_KEYS = ("dev_entity_f1", "dev_relation_f1")


class TrainingLogError(ValueError):
    """A metrics.jsonl that cannot be read as a training log (the message names file and line)."""


def read_training_log(path: Path) -> list[dict[str, Any]]:
    """The epoch records of one run, in order (a resumed run's log holds each epoch once: training
    trims it to the resume point)."""
    path = Path(path)
    if not path.exists():
        raise TrainingLogError(
            f"{path} does not exist (a training run writes OUTPUT_DIR/metrics.jsonl)"
        )
    records = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrainingLogError(f"{path}:{line_no}: not JSON ({exc.msg})") from None
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            raise TrainingLogError(f"{path}:{line_no}: epoch record lacks {', '.join(missing)}")
        records.append(record)
    if not records:
        raise TrainingLogError(f"{path} holds no epoch records")
    return records


def training_curves_figure(runs: dict[str, list[dict[str, Any]]], title: str = "") -> Figure:
    """Losses (log scale) above, dev entity (solid) and relation (dashed) micro-F1 below, one colour
    per run; a dot on each run's kept epoch (its last record's ``best_epoch``; none when 0)."""
    # A bare Figure, not pyplot: no global backend switch in the caller's session (a notebook keeps
    # its own) and nothing left open in pyplot's figure registry after thousands of runs.
    from matplotlib import rcParams
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7, 6.5))
    loss_ax, dev_ax = fig.subplots(2, 1, sharex=True)
    colours = rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, records) in enumerate(runs.items()):
        colour = colours[i % len(colours)]
        epochs = [r["epoch"] for r in records]
        loss_ax.plot(
            epochs, [r["tag_loss"] for r in records], color=colour, label=f"{name}: tagging"
        )
        loss_ax.plot(
            epochs,
            [r["relation_loss"] for r in records],
            color=colour,
            linestyle="--",
            label=f"{name}: relations",
        )
        if not all(k in r for r in records for k in DEV_KEYS):  # a refit: no dev scores to draw
            continue
        dev_ax.plot(
            epochs, [r["dev_entity_f1"] for r in records], color=colour, label=f"{name}: entity"
        )
        dev_ax.plot(
            epochs,
            [r["dev_relation_f1"] for r in records],
            color=colour,
            linestyle="--",
            label=f"{name}: relation",
        )
        kept = next((r for r in records if r["epoch"] == records[-1]["best_epoch"]), None)
        if kept is not None:
            dev_ax.plot(
                [kept["epoch"]] * 2,
                [kept["dev_entity_f1"], kept["dev_relation_f1"]],
                "o",
                color=colour,
                label="_kept",
            )
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("training loss")
    dev_ax.set_ylabel("dev micro-F1")
    dev_ax.set_xlabel("epoch (dots: the kept epoch)")
    dev_ax.set_ylim(0, 1)
    dev_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (loss_ax, dev_ax):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a refit's log draws no dev lines
            ax.legend(fontsize=7, ncol=2 if len(runs) > 2 else 1)
    if title:
        loss_ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_training_curves(runs: dict[str, list[dict[str, Any]]], out: Path, title: str = "") -> None:
    """Write :func:`training_curves_figure` as a PNG (whole or not at all: a reader never sees
    half)."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp.png")
    training_curves_figure(runs, title).savefig(tmp, dpi=100, metadata={"Software": None})
    tmp.replace(out)
