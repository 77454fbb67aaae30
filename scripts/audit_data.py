"""Annotation audit: ``python scripts/audit_data.py [--data DIR] [--markdown]``.

Lists surface strings labelled differently (or left unlabelled) in different places and relation
patterns with different labels. ``--markdown`` prints the report committed as ``data/AUDIT.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marsad.data.audit import (
    near_duplicate_relation_diffs,
    relation_inconsistencies,
    render_markdown,
    surface_inconsistencies,
)
from marsad.data.corpus import read_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    sentences = read_corpus(args.data)
    if args.markdown:
        sys.stdout.write(render_markdown(sentences))
        return
    for row in surface_inconsistencies(sentences):
        print(f"SURFACE {row.surface!r}: {row.counts}")
        for o in row.occurrences:
            print(f"    {o.sent_id}@{o.start}: {o.status}")
    for r in relation_inconsistencies(sentences):
        print(f"RELATION {r.head} -> {r.tail} [{r.between}]: {dict(r.labels)}")
    for t in near_duplicate_relation_diffs(sentences):
        print(
            f"TWINS {t.a} ~ {t.b} ({t.similarity}): only A {list(t.only_a)}; only B "
            f"{list(t.only_b)}"
        )


if __name__ == "__main__":
    main()
