"""Cross-domain check on ANERcorp (CAMeL Lab split).

    marsad anercorp --checkpoint DIR [--file FILE]        # a Marsad checkpoint: ACTOR/LOCATION
    marsad anercorp --aux-stage DIR [--file FILE]         # an auxiliary stage: PERS/ORG/LOC/MISC

A Marsad checkpoint is scored on the schema view of ANERcorp (PERS, ORG -> ACTOR; LOC -> LOCATION;
MISC -> O, per its README); it has no QUANTITY annotation, so QUANTITY predictions are set to O.
An auxiliary stage (``aux_corpus`` in training; its directory is named in the checkpoint's
``data.aux.stage.cache`` under the cache root) is scored on ANERcorp's own four types, strict IOB2
micro-F1, the figure published results report. Orphan I- tags in gold are rewritten as B- before
scoring. The default file is the test split as repaired in the shared folder
(``../shared/external/ANERcorp-CamelLabSplits``, its README; ``scripts/repair_anercorp.py``
reproduces it; the released test split lost the first token of 924 of its 925 sentences); never
train or tune on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.aux_tagging import tag_words
from marsad.data.anercorp import ANERCORP_TYPES, read_conll, to_schema_tags
from marsad.evaluation.metrics import entity_scores
from marsad.inference import extract
from marsad.model.checkpoint import load_checkpoint

DEFAULT_FILE = (
    Path("..")
    / "shared"
    / "external"
    / "ANERcorp-CamelLabSplits"
    / "ANERCorp_CamelLab_test.repaired.txt"
)


def score_checkpoint(checkpoint: Path, words: list[list[str]], gold: list[list[str]], batch_size):
    """ACTOR / LOCATION scores of a Marsad checkpoint on schema-mapped gold."""
    loaded = load_checkpoint(checkpoint)
    outputs = extract(
        loaded.model,
        loaded.tokenizer,
        words,
        loaded.preprocessing,
        loaded.max_length,
        batch_size,
        progress=True,
        decoding=loaded.decoding,
    )
    pred = []
    for ws, out in zip(words, outputs):
        tags = ["O"] * len(ws)
        for e in out.entities:
            if e.label != "QUANTITY":
                for i in range(e.start, e.end):
                    tags[i] = f"{'B' if i == e.start else 'I'}-{e.label}"
        pred.append(tags)
    scores = entity_scores([to_schema_tags(g) for g in gold], pred)
    return {
        "encoder": loaded.meta.get("encoder"),
        "ACTOR": scores["per_type"]["ACTOR"],
        "LOCATION": scores["per_type"]["LOCATION"],
        # over ACTOR and LOCATION only: no QUANTITY remains on either side
        "micro_actor_location": scores["micro"],
    }


def score_aux_stage(stage: Path, words: list[list[str]], gold: list[list[str]], batch_size):
    """PERS / ORG / LOC / MISC scores of an auxiliary stage's own head."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from marsad.training.aux_stage import STAGE_FILE

    info_path = stage / STAGE_FILE
    if not info_path.exists():
        raise SystemExit(f"{stage} is not an auxiliary stage: {STAGE_FILE} is missing")
    settings = json.loads(info_path.read_text(encoding="utf-8"))["settings"]
    model = AutoModelForTokenClassification.from_pretrained(stage)
    tokenizer = AutoTokenizer.from_pretrained(stage)
    pred = tag_words(
        model,
        tokenizer,
        words,
        settings["preprocessing"],
        settings["max_length"],
        batch_size,
        progress=True,
    )
    scores = entity_scores(gold, pred)
    return {
        "encoder": settings["encoder"],
        **{t: scores["per_type"].get(t) for t in ANERCORP_TYPES},
        "micro_4_types": scores["micro"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad anercorp",
        description="Score a checkpoint (ACTOR/LOCATION) or an auxiliary stage (4 types) on "
        "ANERcorp.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", type=Path, help="a Marsad checkpoint directory")
    which.add_argument("--aux-stage", type=Path, help="an auxiliary stage directory")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None, help="write metrics JSON here")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {args.batch_size}")
    try:
        sentences = read_conll(args.file)[: args.limit]
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(str(exc)) from None
    words = [list(s.words) for s in sentences]
    gold = [list(s.tags) for s in sentences]
    if args.checkpoint:
        result = score_checkpoint(args.checkpoint, words, gold, args.batch_size)
    else:
        result = score_aux_stage(args.aux_stage, words, gold, args.batch_size)
    result = {"file": str(args.file), "sentences": len(words), **result}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
