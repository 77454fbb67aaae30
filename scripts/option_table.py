"""Regenerate the option table of docs/training.md from ``TrainConfig``'s help texts.

    python scripts/option_table.py [--check]

``--check`` exits 1, writing nothing, when the file is stale (the tests run the same comparison).
"""

import argparse
import sys
from pathlib import Path

from marsad.config import options_markdown

START, END = "<!-- options:start -->\n", "<!-- options:end -->"


def render(doc: str) -> str:
    """``doc`` with the text between the two markers replaced by the current table."""
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        raise SystemExit(f"no {START.strip()} marker in the document")
    return head + START + options_markdown() + END + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=Path("docs/training.md"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    doc = args.doc.read_text(encoding="utf-8")
    new = render(doc)
    if args.check:
        print(
            "up to date"
            if new == doc
            else f"{args.doc} is stale: run python scripts/option_table.py"
        )
        return 0 if new == doc else 1
    args.doc.write_text(new, encoding="utf-8")
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
