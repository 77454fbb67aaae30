"""Regenerate ``data/bio/`` from the gold JSONL: ``python scripts/make_bio.py [--data DIR]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from marsad.data.bio import write_bio
from marsad.data.corpus import read_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    args = parser.parse_args()
    for path in write_bio(read_corpus(args.data), args.data / "bio"):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
