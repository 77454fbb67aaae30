"""What each relation-head variant costs per sentence: ``python scripts/bench_relation_heads.py
--checkpoint DIR [--rounds 5] [--json FILE]``.

In one run, on the same sentences (the dev split of the seed corpus and of each of the
checkpoint's extra corpora) and the same encoder weights, it times relation extraction over the
gold mentions (so every variant scores exactly the same pairs) with the checkpoint's own head and
with the same head plus each option of the relation head (``relation_pair_attention``,
``relation_markers``), freshly initialised: cost depends on the architecture, not on the weights.
Rounds are taken in turn across the variants; each variant's time is the median of its rounds,
reported in milliseconds per sentence and as a ratio to the checkpoint's head.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from marsad.data.examples import load_examples
from marsad.fileio import atomic_write_text
from marsad.inference import extract
from marsad.model.checkpoint import Loaded, load_checkpoint
from marsad.model.joint import JointModel, RelationHead

VARIANTS = {"checkpoint's head": {}, "+ pair attention": {"pair_attention": True}}
VARIANTS["+ levitated markers"] = {"markers": True}


def variant(loaded: Loaded, options: dict) -> JointModel:
    """The checkpoint's model with its relation head rebuilt, in the shape ``marsad.json`` records,
    with ``options`` added (new weights); the encoder is shared."""
    model = loaded.model
    if not options:
        return model
    shape = loaded.meta["relation_head"]
    head = RelationHead(
        model.tagger.config.hidden_size,
        shape["mlp_hidden"],
        shape["feature_dim"],
        shape["dropout"],
        shape.get("left_context", 0),
        **options,
    )
    head = head.to(next(model.parameters()).device).eval()
    return JointModel(model.tagger, head, model.lexical_prior, model.relation_prior)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    loaded = load_checkpoint(args.checkpoint)
    cfg = loaded.meta["training_config"]
    dev = load_examples(cfg["data_dir"])["dev"]
    dev += [ex for d in cfg.get("extra_data") or [] for ex in load_examples(d)["dev"]]
    words, gold = [ex.words for ex in dev], [ex.entities for ex in dev]
    models = {name: variant(loaded, options) for name, options in VARIANTS.items()}
    seconds: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for name, model in models.items():
                start = time.perf_counter()
                extract(
                    model,
                    loaded.tokenizer,
                    words,
                    loaded.preprocessing,
                    loaded.max_length,
                    args.batch_size,
                    gold_entities=gold,
                    decoding=loaded.decoding,
                )
                seconds[name].append(time.perf_counter() - start)
    base = statistics.median(seconds["checkpoint's head"])
    rows = {
        name: {
            "ms_per_sentence": round(1000 * statistics.median(s) / len(words), 2),
            "ratio_to_checkpoint_head": round(statistics.median(s) / base, 3),
        }
        for name, s in seconds.items()
    }
    result = {
        "checkpoint": str(args.checkpoint),
        "sentences": len(words),
        "pairs_setting": "gold mentions",
        "rounds": args.rounds,
        "torch_threads": torch.get_num_threads(),
        "variants": rows,
    }
    print("| relation head | ms / sentence | ratio |\n|---|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['ms_per_sentence']} | {row['ratio_to_checkpoint_head']} |")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
