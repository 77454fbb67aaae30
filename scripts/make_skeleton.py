"""Annotator aid: write an empty annotation JSONL (sentences only) for each raw article that has \
none.

``python scripts/make_skeleton.py [--data DIR]`` reads ``DIR/raw/*.txt`` and writes
``DIR/annotations/<stem>.jsonl``; existing annotation files are never overwritten.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.text import split_sentences

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=ROOT / "data", help="directory holding raw/ and annotations/"
    )
    args = parser.parse_args(argv)
    (args.data / "annotations").mkdir(parents=True, exist_ok=True)
    for raw in sorted((args.data / "raw").glob("*.txt")):
        out = args.data / "annotations" / f"{raw.stem}.jsonl"
        if out.exists():
            print(f"skip {out} (exists)")
            continue
        text = raw.read_text(encoding="utf-8")
        rows = [
            {
                "doc_id": raw.stem,
                "sent_id": f"{raw.stem}-s{i:02d}",
                "offset": s.start,
                "text": s.text,
                "entities": [],
                "relations": [],
            }
            for i, s in enumerate(split_sentences(text))
        ]
        out.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
