"""Validate the gold corpus: ``python scripts/validate_data.py [--data DIR]``; exit 1 on any
problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marsad.data.validate import validate_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Validate annotation JSONL files against schema and raw text.",
        epilog="Each problem is printed as FILE:LINE: WHERE: REASON, among them a sent_id used "
        "twice (in one file or two: both places named) and bytes that are not UTF-8 (line and "
        "byte offset). Exit status 1 on any problem.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "data",
        help="data directory holding annotations/ and raw/",
    )
    args = parser.parse_args(argv)
    problems = validate_corpus(args.data / "annotations", args.data / "raw")
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)" if problems else "ok: no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
