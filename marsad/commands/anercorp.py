"""Cross-domain check on ANERcorp (CAMeL Lab split), ACTOR and LOCATION only.

    marsad anercorp --checkpoint DIR \
        [--file ../shared/external/ANERcorp-CamelLabSplits/ANERCorp_CamelLab_train.txt]

ANERcorp is never trained or tuned on here; it only measures transfer. Mapping (per its README):
PERS, ORG -> ACTOR; LOC -> LOCATION; MISC -> O. It has no QUANTITY annotation, so QUANTITY
predictions are set to O before scoring. Orphan I- tags in gold are rewritten as B- (stated
convention) before strict IOB2 scoring. The default file is the clean train split: the test split
has a known defect (the first token of 924 of its 925 sentences was overwritten).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.evaluation.metrics import entity_scores
from marsad.features import repair_iob2
from marsad.inference import extract
from marsad.model.checkpoint import load_checkpoint

DEFAULT_FILE = (
    Path("..") / "shared" / "external" / "ANERcorp-CamelLabSplits" / "ANERCorp_CamelLab_train.txt"
)
MAPPING = {"PERS": "ACTOR", "ORG": "ACTOR", "LOC": "LOCATION", "MISC": None}


def read_conll(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of ``TOKEN TAG`` lines separated by blank lines, tags mapped to the project
    schema."""
    words, tags, sent_w, sent_t = [], [], [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            if sent_w:
                words.append(sent_w)
                tags.append(repair_iob2(sent_t))
            sent_w, sent_t = [], []
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise ValueError(f"{path}:{lineno}: expected 'TOKEN TAG', got {line!r}")
        token, tag = parts
        mapped = "O" if tag == "O" else MAPPING.get(tag[2:], "?")
        if mapped == "?":
            raise ValueError(f"{path}:{lineno}: unknown tag {tag!r}")
        sent_w.append(token)
        sent_t.append("O" if mapped is None or tag == "O" else f"{tag[:2]}{mapped}")
    if sent_w:
        words.append(sent_w)
        tags.append(repair_iob2(sent_t))
    return words, tags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad anercorp", description="Score a checkpoint on ANERcorp (ACTOR/LOCATION only)."
    )
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None, help="write metrics JSON here")
    args = parser.parse_args(argv)
    words, gold = read_conll(args.file)
    words, gold = words[: args.limit], gold[: args.limit]
    loaded = load_checkpoint(args.checkpoint)
    outputs = extract(
        loaded.model,
        loaded.tokenizer,
        words,
        loaded.preprocessing,
        loaded.max_length,
        args.batch_size,
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
    scores = entity_scores(gold, pred)
    scores["per_type"].pop("QUANTITY")  # neither gold nor (after the mapping) predictions have any
    a, loc = scores["per_type"]["ACTOR"], scores["per_type"]["LOCATION"]
    micro = scores[
        "micro"
    ]  # over ACTOR and LOCATION only, since no QUANTITY remains on either side
    result = {
        "file": str(args.file),
        "sentences": len(words),
        "encoder": loaded.meta.get("encoder"),
        "ACTOR": a,
        "LOCATION": loc,
        "micro_actor_location": micro,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
