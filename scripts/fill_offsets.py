"""Annotator aid: fill ``start``/``end`` of entities given only by ``text`` (and ``occurrence``).

Annotators write ``{"id": "T3", "label": "ACTOR", "text": "قوات النظام"}``; when the surface
string occurs more than once in the sentence they add ``"occurrence": k`` (0-based, counting only
matches on word boundaries). This script writes the offsets in place and refuses ambiguous or
unmatched entities with file, line and entity id. Run ``scripts/validate_data.py`` afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.text import word_aligned_occurrences


def fill_file(path: Path) -> list[str]:
    errors: list[str] = []
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        for ent in row["entities"]:
            if "start" in ent and "end" in ent and "occurrence" not in ent:
                continue
            hits = word_aligned_occurrences(row["text"], ent["text"])
            k = ent.pop("occurrence", None)
            where = f"{path}:{lineno}: {row['sent_id']} entity {ent.get('id')}"
            if not hits:
                errors.append(f"{where}: text {ent['text']!r} not found on word boundaries")
            elif k is None and len(hits) > 1:
                errors.append(
                    f"{where}: text {ent['text']!r} occurs {len(hits)} times; add occurrence"
                )
            elif k is not None and k >= len(hits):
                errors.append(f"{where}: occurrence {k} but only {len(hits)} matches")
            else:
                ent["start"] = hits[k or 0]
                ent["end"] = ent["start"] + len(ent["text"])
        row["entities"] = [
            {
                "id": e["id"],
                "label": e["label"],
                "start": e.get("start"),
                "end": e.get("end"),
                "text": e["text"],
            }
            for e in sorted(row["entities"], key=lambda e: e.get("start") or 0)
        ]
        rows.append(row)
    if not errors:
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    errors = [e for f in parser.parse_args().files for e in fill_file(f)]
    print("\n".join(errors) or "offsets filled")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
