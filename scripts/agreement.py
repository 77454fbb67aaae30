"""Agreement between two annotations of the same articles (e.g. ours and an independent one).

    python scripts/agreement.py data/annotations OTHER/annotations

Sentences are matched by document and raw-article character range, so the other annotation may
split or number sentences differently; entities are compared as exact (article offset, label)
spans, relations as (head span, tail span, label). Prints F1 per type and micro.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from marsad.metrics import prf  # noqa: E402


def read(directory: Path) -> tuple[set, set]:
    """Entities and relations of every file in ``directory``, in article-level offsets."""
    entities, relations = set(), set()
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            base = row["offset"]
            spans = {e["id"]: (row["doc_id"], base + e["start"], base + e["end"], e["label"]) for e in row["entities"]}
            entities |= set(spans.values())
            relations |= {(spans[r["head"]], spans[r["tail"]], r["label"]) for r in row["relations"]}
    return entities, relations


def report(a: set, b: set, label_of) -> dict[str, dict[str, float]]:
    labels = sorted({label_of(x) for x in a | b})
    out = {lab: prf(len({x for x in a & b if label_of(x) == lab}), len({x for x in b - a if label_of(x) == lab}),
                    len({x for x in a - b if label_of(x) == lab})) for lab in labels}
    out["micro"] = prf(len(a & b), len(b - a), len(a - b))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("other", type=Path)
    args = parser.parse_args()
    ea, ra = read(args.reference)
    eb, rb = read(args.other)
    docs = Counter(e[0] for e in eb)
    print(f"reference: {len(ea)} entities, {len(ra)} relations; other: {len(eb)} entities, {len(rb)} relations "
          f"in {len(docs)} documents")
    for name, scores in (("entities", report(ea, eb, lambda x: x[3])), ("relations", report(ra, rb, lambda x: x[2]))):
        print(f"{name}:")
        for lab, s in scores.items():
            print(f"  {lab:16s} F1 {s['f1']:.3f}  (P {s['precision']:.3f} R {s['recall']:.3f}, n {s['support']})")


if __name__ == "__main__":
    main()
