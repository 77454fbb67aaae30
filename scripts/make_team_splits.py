"""Write ``data/team/splits.json``: conflict-grouped splits of the multi-conflict corpus.

    python scripts/make_team_splits.py [--team data/team]

The default run holds four conflicts out as dev (selection text from outside the training
conflicts); runs ``fold<k>`` leave conflict k out (a diagnostic). See
:func:`marsad.data.splits.conflict_splits`. The dev conflicts of the existing ``splits.json`` are
kept, so new documents of new conflicts join training and every earlier dev score stays
comparable; ``--resample-dev`` draws them again.
"""

import argparse
import json
import sys
from pathlib import Path

from marsad.data.corpus import read_corpus
from marsad.data.splits import conflict_splits, read_splits, write_splits


def build(team: Path, resample_dev: bool = False) -> dict:
    docs = [json.loads(line) for line in (team / "documents.jsonl").read_text().splitlines()]
    existing = team / "splits.json"
    keep = None
    if existing.exists() and not resample_dev:
        keep = read_splits(existing)["method"]["dev_conflicts"]
    return conflict_splits(
        read_corpus(team), {d["doc_id"]: d["conflict"] for d in docs}, dev_conflicts=keep
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team", type=Path, default=Path("data/team"))
    parser.add_argument("--resample-dev", action="store_true", help="draw the dev conflicts anew")
    args = parser.parse_args(argv)
    splits = build(args.team, args.resample_dev)
    write_splits(splits, args.team / "splits.json")
    print(f"wrote {args.team / 'splits.json'}: dev conflicts {splits['method']['dev_conflicts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
