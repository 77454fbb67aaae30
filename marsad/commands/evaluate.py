"""Score a checkpoint on held-out sentences.

    marsad evaluate --checkpoint runs/default/best [--split test | --fold k] [--out DIR]

Writes ``metrics.json``, ``report.md`` and ``confusion.png`` (default:
CHECKPOINT/eval-<run>-<split>/) and prints the headline scores. Refuses to score sentences the
checkpoint was trained or tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.data.examples import load_examples
from marsad.data.splits import NOVELTY_THRESHOLD
from marsad.evaluation.report import (
    entity_type_confusion,
    error_listing,
    full_scores,
    plot_confusion,
    scores_markdown,
    subset,
)
from marsad.evaluation.scoring import predict_checkpoint
from marsad.model.checkpoint import load_checkpoint, read_meta


def run_name(fold: int | None) -> str:
    return "default (fold0)" if fold is None else f"fold{fold}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad evaluate", description="Evaluate a Marsad checkpoint on held-out sentences."
    )
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--split", choices=["test", "dev"], default="test")
    parser.add_argument("--fold", type=int, default=None, help="score the test/dev set of CV run k")
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% CIs"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    meta = read_meta(args.checkpoint)
    data = meta.get("data", {})
    corpus = args.data.resolve()
    own = Path(data.get("dir", "data")).resolve() == corpus
    extra = corpus in {Path(d).resolve() for d in data.get("extra", {})}
    refit_on_dev = (meta.get("refit") or {}).get("train_includes_dev")
    wanted = run_name(args.fold)
    # A corpus the checkpoint never read (no data_dir, no extra_data of its run) is held out
    # whole; on its own corpus only the matching run's held-out sentences are.
    trained_on = data.get("run")
    if own and trained_on is not None and trained_on != wanted:
        parser.error(
            f"{args.checkpoint} was trained on run {trained_on!r}; its training sentences overlap "
            f"the {args.split} set of run {wanted!r}. Evaluate it with the matching --fold."
        )
    if extra and args.fold is not None:
        parser.error(
            f"{args.checkpoint} trained on {args.data}'s default run; its folds overlap it"
        )
    if args.split == "dev" and refit_on_dev and (own or extra):
        parser.error(
            f"{args.checkpoint} is a refit trained on its run's dev sentences too; "
            "score it on --split test"
        )
    loaded = load_checkpoint(args.checkpoint)
    examples = load_examples(args.data, args.fold)[args.split]
    preds = predict_checkpoint(loaded, examples, args.batch_size, progress=True)
    novel = (
        subset(preds, [0 <= ex.max_train_similarity < NOVELTY_THRESHOLD for ex in examples])
        if args.split == "test"
        else None
    )
    metrics = {
        "checkpoint": str(args.checkpoint),
        "run": wanted,
        "split": args.split,
        "encoder": meta.get("encoder"),
        "data_fingerprint": meta.get("data", {}).get("fingerprint"),
        "all": full_scores(preds, args.bootstrap),
        "novel": full_scores(novel, args.bootstrap) if novel and novel.examples else None,
    }
    out = args.out or args.checkpoint / f"eval-{wanted.split()[0]}-{args.split}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    names, matrix = entity_type_confusion(preds)
    plot_confusion(
        names, matrix, out / "confusion.png", f"entity types, {wanted} {args.split} (words)"
    )
    enc = meta.get("encoder") or {}
    fallback = (
        f" — **fallback** from `{enc.get('requested')}` ({enc.get('fallback_reason')})"
        if enc.get("fallback_reason")
        else ""
    )
    lines = [
        f"# Evaluation: {args.checkpoint}",
        "",
        f"- run `{wanted}`, split `{args.split}`, {len(examples)} sentences",
        f"- encoder `{enc.get('used')}`{fallback}",
        f"- command: `marsad evaluate --checkpoint {args.checkpoint} --split {args.split}"
        f"{'' if args.fold is None else f' --fold {args.fold}'}`",
        "",
        "## All held-out sentences",
        "",
        *scores_markdown(metrics["all"]),
        "",
    ]
    if metrics["novel"]:
        lines += [
            f"## Novel sentences ({len(novel.examples)}: best similarity to training < "
            f"{NOVELTY_THRESHOLD})",
            "",
            *scores_markdown(metrics["novel"]),
            "",
        ]
    lines += [
        "## Entity-type confusion (words)",
        "",
        "![confusion](confusion.png)",
        "",
        "## Errors",
        "",
        *error_listing(preds),
    ]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    a = metrics["all"]
    print(f"{wanted} {args.split} ({len(examples)} sentences), encoder {enc.get('used')}:")
    for key, name in (
        ("entities", "entity micro-F1"),
        ("relations_end_to_end", "relation micro-F1, end-to-end"),
        ("relations_gold_entities", "relation micro-F1, gold entities"),
        ("events", "event micro-F1, end-to-end"),
    ):
        m = a[key]["micro"]
        print(f"  {name:34s} {m['f1']:.4f}  95% CI [{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}]")
    print(f"  report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
