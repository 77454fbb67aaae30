"""Write ``data/team/splits.json``: conflict-grouped splits of the multi-conflict corpus.

    python scripts/make_team_splits.py [--team data/team]

The default run holds four conflicts out as dev (selection text from outside the training
conflicts); runs ``fold<k>`` leave conflict k out (a diagnostic). See
:func:`marsad.data.splits.conflict_splits`.
"""

import argparse
import json
import sys
from pathlib import Path

from marsad.data.corpus import read_corpus
from marsad.data.splits import conflict_splits


def build(team: Path) -> dict:
    docs = [json.loads(line) for line in (team / "documents.jsonl").read_text().splitlines()]
    return conflict_splits(read_corpus(team), {d["doc_id"]: d["conflict"] for d in docs})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team", type=Path, default=Path("data/team"))
    args = parser.parse_args(argv)
    splits = build(args.team)
    (args.team / "splits.json").write_text(json.dumps(splits, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {args.team / 'splits.json'}: dev conflicts {splits['method']['dev_conflicts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
