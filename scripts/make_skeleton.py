"""One-off: write an empty annotation JSONL per raw article (sentences only) for annotators to fill."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from marsad.data.sentences import split_sentences  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

for raw in sorted((ROOT / "data/raw").glob("*.txt")):
    out = ROOT / "data/annotations" / f"{raw.stem}.jsonl"
    if out.exists():
        print(f"skip {out} (exists)")
        continue
    text = raw.read_text(encoding="utf-8")
    with out.open("w", encoding="utf-8") as fh:
        for i, s in enumerate(split_sentences(text)):
            row = {"doc_id": raw.stem, "sent_id": f"{raw.stem}-s{i:02d}", "offset": s.start,
                   "text": s.text, "entities": [], "relations": []}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
