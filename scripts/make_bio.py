"""Regenerate ``data/bio/`` from the gold JSONL: ``python scripts/make_bio.py [--data DIR]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from marsad.data.bio import write_bio  # noqa: E402
from marsad.data.corpus import read_corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    args = parser.parse_args()
    for path in write_bio(read_corpus(args.data), args.data / "bio"):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
