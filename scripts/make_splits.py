"""Build ``data/splits.json`` and the similarity histogram ``data/similarity_hist.png``.

``python scripts/make_splits.py [--data DIR] [--no-plot]``; deterministic, so rerunning gives no
diff.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marsad.data.corpus import read_corpus
from marsad.data.similarity import similarity_matrix
from marsad.data.splits import CLUSTER_THRESHOLD, NOVELTY_THRESHOLD, build_splits, write_splits
from marsad.data.validate import AnnotationError


def plot_histogram(sim: list[list[float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(sim)
    pairs = [sim[i][j] for i in range(n) for j in range(i + 1, n)]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(pairs, bins=[k / 40 for k in range(41)], color="#4477aa")
    ax.set_yscale("log")
    ax.axvline(
        CLUSTER_THRESHOLD,
        color="#cc3311",
        linestyle="--",
        label=f"cluster threshold {CLUSTER_THRESHOLD}",
    )
    ax.axvline(
        NOVELTY_THRESHOLD,
        color="#999933",
        linestyle=":",
        label=f"novelty threshold {NOVELTY_THRESHOLD}",
    )
    ax.set_xlabel("character 5-gram Jaccard similarity")
    ax.set_ylabel("sentence pairs (log)")
    ax.set_title(f"Pairwise sentence similarity, {n} sentences")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="The corpus is validated first (as scripts/validate_data.py does): any problem, "
        "such as a sent_id used twice, is listed with its file and line and nothing is written "
        "(exit 1).",
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    try:
        sentences = read_corpus(args.data)
        splits = build_splits(sentences)
    except (AnnotationError, ValueError) as exc:
        print(f"make_splits: {exc}", file=sys.stderr)
        return 1
    write_splits(splits, args.data / "splits.json")
    print(
        f"wrote {args.data / 'splits.json'}: {len(splits['clusters'])} near-duplicate clusters, "
        f"fold sizes {[len(f) for f in splits['folds']]}"
    )
    if not args.no_plot:
        plot_histogram(
            similarity_matrix([s.text for s in sentences]), args.data / "similarity_hist.png"
        )
        print(f"wrote {args.data / 'similarity_hist.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
