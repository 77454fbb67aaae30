"""Learning curve: test scores against training-set size, from crossval runs on shares of the data.

    marsad crossval --config configs/offline.yaml --set progress=false \
        --set train_fraction=0.33 --out runs/lc-0.33        # and 0.67 --out runs/lc-0.67
    python -m experiments.learning_curve_report runs/lc-0.33 runs/lc-0.67 runs/crossval-offline \
        --out runs/learning-curve

Prints a Markdown table (mean ± std over folds per training share), each score's slope per doubling
of the training data (within folds), and writes ``learning_curve.md`` / ``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

from experiments.learning_curve import FoldPoint, LearningCurveError, read_run, slope_per_doubling

COLUMNS = [
    ("entity", "entity micro-F1"),
    ("crf_entity", "CRF entity micro-F1"),
    ("relation_e2e", "relation F1 (end-to-end)"),
    ("relation_gold", "relation F1 (gold entities)"),
]


def _size(key: str) -> str:
    """Relation scores are read against training relations, entity scores against sentences."""
    return "train_relations" if key.startswith("relation") else "train_sentences"


def _mean_std(values: list[float]) -> str:
    return (
        f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
        if len(values) > 1
        else f"{values[0]:.3f}"
    )


def render(points: list[FoldPoint], target: float) -> str:
    fractions = sorted({p.train_fraction for p in points})
    lines = [
        "| training share | sentences | relations | "
        + " | ".join(label for _, label in COLUMNS)
        + " |",
        "|---:|---:|---:|" + "---:|" * len(COLUMNS),
    ]
    for f in fractions:
        ps = [p for p in points if p.train_fraction == f]
        lines.append(
            f"| {f:g} | {statistics.mean(p.train_sentences for p in ps):.0f} | "
            f"{statistics.mean(p.train_relations for p in ps):.0f} | "
            + " | ".join(_mean_std([p.scores[key] for p in ps]) for key, _ in COLUMNS)
            + " |"
        )
    lines.append("")
    lines.append(
        "Slope per doubling of the training data (least squares within folds, fold "
        "intercepts apart):"
    )
    lines.append("")
    slopes = {}
    for key, label in COLUMNS:
        slopes[key] = slope_per_doubling(points, key, _size(key))
        lines.append(
            f"- {label}: {100 * slopes[key]:+.1f} points per doubling of the training "
            f"{_size(key)[6:]}"
        )
    lines += ["", "Between consecutive shares (fold means), points per doubling:", ""]
    last_rate = 0.0
    for lo, hi in zip(fractions, fractions[1:]):
        parts = []
        for key, label in COLUMNS:
            (x0, y0), (x1, y1) = (_means(points, f, key, _size(key)) for f in (lo, hi))
            rate = (y1 - y0) / (math.log2(x1) - math.log2(x0))
            parts.append(f"{label} {100 * rate:+.1f}")
            if key == "relation_e2e":
                last_rate = rate
        lines.append(f"- {lo:g} → {hi:g}: " + "; ".join(parts))
    full = statistics.mean(
        p.scores["relation_e2e"] for p in points if p.train_fraction == fractions[-1]
    )
    gap = target - full
    if gap > 0:
        lines.append("")
        for name, rate in (
            ("the pooled slope", slopes["relation_e2e"]),
            ("the last interval's", last_rate),
        ):
            if rate > 0:
                lines.append(
                    f"- At {name} ({100 * rate:+.1f} points per doubling), end-to-end relation F1 "
                    f"would reach {target:.2f} from {full:.3f} after {gap / rate:.1f} more "
                    f"doublings, about {2 ** (gap / rate):.0f}× the training relations."
                )
        lines.append(
            "  (Log-linear extrapolations far outside the measured range: an order of magnitude, "
            "not a forecast.)"
        )
    return "\n".join(lines) + "\n"


def _means(points: list[FoldPoint], fraction: float, key: str, size: str) -> tuple[float, float]:
    ps = [p for p in points if p.train_fraction == fraction]
    return statistics.mean(getattr(p, size) for p in ps), statistics.mean(p.scores[key] for p in ps)


def plot(points: list[FoldPoint], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [
        (
            axes[0],
            "train_sentences",
            [("entity", "model", "tab:blue"), ("crf_entity", "CRF", "tab:gray")],
            "entity micro-F1",
        ),
        (
            axes[1],
            "train_relations",
            [
                ("relation_e2e", "end-to-end", "tab:red"),
                ("relation_gold", "gold entities", "tab:orange"),
            ],
            "relation micro-F1",
        ),
    ]
    folds = sorted({p.fold for p in points})
    for ax, size, series, ylabel in panels:
        for key, label, colour in series:
            for fold in folds:
                ps = sorted((p for p in points if p.fold == fold), key=lambda p: getattr(p, size))
                ax.plot(
                    [getattr(p, size) for p in ps],
                    [p.scores[key] for p in ps],
                    color=colour,
                    alpha=0.25,
                    lw=1,
                )
            xs, ys = zip(
                *(_means(points, f, key, size) for f in sorted({p.train_fraction for p in points}))
            )
            ax.plot(xs, ys, color=colour, lw=2.5, marker="o", label=f"{label} (mean of folds)")
        ax.set_xscale("log", base=2)
        ticks = sorted({round(x) for x in ax.lines[-1].get_xdata()})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(f"training {size[6:]} (log scale; thin lines: single folds)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Learning curve: test scores of the cross-validation folds by training-set size")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="crossval output directories")
    parser.add_argument("--out", type=Path, default=Path("runs/learning-curve"))
    parser.add_argument("--target", type=float, default=0.60, help="relation F1 to extrapolate to")
    args = parser.parse_args(argv)
    try:
        points = [p for run in args.runs for p in read_run(run)]
    except LearningCurveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len({p.train_fraction for p in points}) < 2:
        parser.error("give runs with at least two different train_fraction values")
    if any(math.isnan(v) for p in points for v in p.scores.values()):
        parser.error("a run holds NaN scores")
    text = render(points, args.target)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learning_curve.md").write_text(text, encoding="utf-8")
    plot(points, args.out / "learning_curve.png")
    print(text + f"\nwrote {args.out / 'learning_curve.md'} and {args.out / 'learning_curve.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
