"""Annotations from an annotation tool into ``data/annotations/``: ``marsad import``.

    marsad import --format labelstudio EXPORT.json --out data/annotations [--skip-invalid]
    marsad import --format brat DIR_OR_TXT... --out data/annotations
    marsad import --format doccano FILE.jsonl... --out data/annotations

Reads Label Studio's JSON export (each task's latest annotation), brat ``.txt`` + ``.ann`` pairs or
doccano's relation JSONL, and writes one ``<doc_id>.jsonl`` per document in the corpus format.
Nothing is snapped: a span off word boundaries, an unknown label, a relation with a missing end or
types the schema does not allow is reported with file and line (or task id), and the document it
belongs to is not written (exit code 1); ``--skip-invalid`` writes such documents without their
invalid sentences instead. Run ``python scripts/validate_data.py`` after, as after any edit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.annotation import brat, doccano, labelstudio
from marsad.annotation.records import ImportProblem, group_by_document, write_documents

FORMATS = ("labelstudio", "brat", "doccano")


def read(fmt: str, inputs: list[Path]) -> list[tuple[dict, list[ImportProblem]]]:
    records = []
    for path in inputs:
        if fmt == "brat":
            txts = sorted(path.glob("*.txt")) if path.is_dir() else [path]
            for txt in txts:
                records += brat.import_document(txt)
            continue
        text = path.read_text(encoding="utf-8")
        if fmt == "doccano":
            records += doccano.import_lines(text, str(path))
            continue
        try:
            tasks = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = ImportProblem(f"{path}:{exc.lineno}", "", f"invalid JSON ({exc.msg})")
            records.append(({"doc_id": "?", "sent_id": "?"}, [problem]))
            continue
        records += labelstudio.import_tasks(tasks, str(path))
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad import",
        description="Read Label Studio, brat or doccano annotations into the corpus format.",
    )
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("inputs", nargs="+", type=Path, help="export file(s) or brat directories")
    parser.add_argument("--out", type=Path, required=True, help="annotations directory to write")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write documents without their invalid sentences",
    )
    args = parser.parse_args(argv)
    missing = [p for p in args.inputs if not p.exists()]
    if missing:
        parser.error(f"not found: {', '.join(map(str, missing))}")
    docs, problems = group_by_document(read(args.format, args.inputs), args.skip_invalid)
    for problem in problems:
        print(f"marsad import: {problem}", file=sys.stderr)
    paths = write_documents(docs, args.out)
    n = sum(map(len, docs.values()))
    print(
        f"wrote {len(paths)} document(s), {n} sentences, to {args.out}"
        + (f"; {len(problems)} problem(s) above" if problems else "")
    )
    return 1 if problems and not args.skip_invalid else 0


if __name__ == "__main__":
    sys.exit(main())
