"""Agreement between two annotations of the same articles (e.g. ours and an independent one).

    python scripts/agreement.py data/annotations OTHER/annotations [--list] [--json OUT]

Sentences are matched by document and raw-article character range, so the other annotation may
split or number sentences differently; entities are compared as exact (article offset, label)
spans, relations as (head span, tail span, label), over the documents both annotate. Prints F1 per
type and micro (precision and recall read OTHER against the reference); ``--list`` adds every
disagreement with its sentence, for adjudication.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.evaluation.agreement import agreement, disagreements, read_annotation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument(
        "--list", action="store_true", help="print every disagreement with its sentence"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write the scores and disagreements here"
    )
    args = parser.parse_args(argv)
    try:
        ref, other = read_annotation(args.reference), read_annotation(args.other)
        scores = agreement(ref, other)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    docs = scores["documents"]
    n_ent = sum(1 for e in ref.entities if e[0] in docs)
    n_rel = sum(1 for r in ref.relations if r[0][0] in docs)
    print(
        f"{len(docs)} shared documents; reference: {n_ent} entities, {n_rel} relations; other: "
        f"{sum(1 for e in other.entities if e[0] in docs)} entities, "
        f"{sum(1 for r in other.relations if r[0][0] in docs)} relations"
    )
    for name in ("entities", "relations"):
        print(f"{name}:")
        for lab, s in scores[name].items():
            print(
                f"  {lab:16s} F1 {s['f1']:.3f}  (P {s['precision']:.3f} R "
                f"{s['recall']:.3f}, n {s['support']})"
            )
    rows = disagreements(ref, other)
    if args.list:
        print(f"disagreements ({len(rows)}):")
        for r in rows:
            print(
                f"  [{r['doc_id']} @{r['start']}] {r['kind']} only in {r['only_in']}: "
                f"{r['label']} {r['text']}\n      {r['sentence']}"
            )
    if args.json:
        payload = {**scores, "disagreements": rows}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
