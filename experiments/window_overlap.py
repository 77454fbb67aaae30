"""How much context long text without sentence punctuation needs: windows' overlap against F1.

``python -m experiments.window_overlap --checkpoint CKPT [--data data --split dev] [--join 30]``

A sentence longer than the encoder's window is read in overlapping windows; each word is tagged
in the window where it sits most centrally, and each pair scored in the window holding it most
centrally. More overlap gives every word more context on both sides and costs encoder time (half
a window's overlap reads every word twice). This joins each ``--join`` consecutive gold sentences
of a split into one run-on "sentence" (the gold spans and relations shifted with them), predicts
it with each overlap, and prints entity micro-F1, end-to-end relation F1 and seconds, beside the
same sentences predicted one by one. Study code: it sets the overlap by replacing
``marsad.inference.make_windows`` for the duration of each run.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import marsad.inference as inference
from marsad.data.examples import Example, WordEntity, WordRelation, load_examples
from marsad.evaluation.scoring import predict_checkpoint, score_predictions
from marsad.model.checkpoint import load_checkpoint
from marsad.model.windows import make_windows

OVERLAPS = (0.5, 1 / 3, 0.25)


def join_examples(examples: list[Example], size: int) -> list[Example]:
    """Each ``size`` consecutive examples as one, words and gold shifted. Every word is kept,
    punctuation words included: only the sentence boundaries go, so the joined text reaches the
    model as one sentence many windows long."""
    joined = []
    for g in range(0, len(examples), size):
        group = examples[g : g + size]
        words, starts, ends, tags, entities, relations = [], [], [], [], [], []
        pos = 0
        for ex in group:
            w0, e0 = len(words), len(entities)
            for w, t in zip(ex.words, ex.tags, strict=True):
                words.append(w)
                tags.append(t)
                starts.append(pos)
                ends.append(pos + len(w))
                pos += len(w) + 1
            entities += [WordEntity(e.start + w0, e.end + w0, e.label) for e in ex.entities]
            relations += [WordRelation(r.head + e0, r.tail + e0, r.label) for r in ex.relations]
        joined.append(
            Example(
                sent_id=f"{group[0].sent_id}+{len(group) - 1}",
                text=" ".join(words),
                words=words,
                word_starts=starts,
                word_ends=ends,
                tags=tags,
                entities=entities,
                relations=relations,
            )
        )
    return joined


def run(loaded, examples: list[Example], overlap: float | None) -> dict[str, float]:
    original = inference.make_windows
    if overlap is not None:
        inference.make_windows = functools.partial(make_windows, overlap=overlap)
    try:
        t0 = time.perf_counter()
        preds = predict_checkpoint(loaded, examples)
        seconds = time.perf_counter() - t0
    finally:
        inference.make_windows = original
    scores = score_predictions(preds)
    return {
        "entity": scores["entities"]["micro"]["f1"],
        "relation": scores["relations_end_to_end"]["micro"]["f1"],
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, action="append", default=None)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--join", type=int, default=30)
    args = parser.parse_args(argv)
    loaded = load_checkpoint(args.checkpoint)
    examples = [ex for d in args.data or [Path("data")] for ex in load_examples(d)[args.split]]
    long = join_examples(examples, args.join)
    windows = sum(
        len(make_windows(loaded.tokenizer, ex.words, loaded.preprocessing, loaded.max_length))
        for ex in long
    )
    print(
        f"{len(examples)} sentences of {args.split} joined {args.join} at a time: {len(long)} "
        f"run-on sentences, {windows} windows at half overlap"
    )
    print("| input | overlap | entity micro-F1 | relation F1 (e2e) | seconds |")
    print("|---|---:|---:|---:|---:|")
    r = run(loaded, examples, None)
    print(
        f"| sentence by sentence | — | {r['entity']:.3f} | {r['relation']:.3f} | "
        f"{r['seconds']:.1f} |"
    )
    for overlap in OVERLAPS:
        r = run(loaded, long, overlap)
        print(
            f"| run-on | {overlap:.2f} | {r['entity']:.3f} | {r['relation']:.3f} | "
            f"{r['seconds']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
