"""Annotations from an annotation tool into ``data/annotations/``: ``marsad import``.

    marsad import --format labelstudio EXPORT.json --out data/annotations [--skip-invalid]
    marsad import --format brat DIR_OR_TXT... --out data/annotations [--overwrite]
    marsad import --format doccano FILE.jsonl... --out data/annotations

Reads Label Studio's JSON export (each task's latest annotation), brat ``.txt`` + ``.ann`` pairs
(CRLF line ends and a BOM allowed; offsets count the ``.txt``'s characters as written) or doccano's
JSONL (relation extraction, or sequence labelling: entities only), and writes one
``<doc_id>.jsonl`` per document in the corpus format, atomically. Nothing is snapped or dropped: a
span off word boundaries, an unknown label, a relation with a missing end, types the schema does
not allow, a non-integer offset, an unknown layout, bad UTF-8 or a doc_id that is not a plain file
name (``../x``, ``/abs``, empty, null, a leading dot) is reported with file and line (or task id),
and the document it belongs to is not written (exit code 1); ``--skip-invalid`` writes such
documents without their invalid sentences instead. A document whose file already exists in
``--out`` is not replaced (exit code 1), and the sentences replacing it would lose are named;
``--overwrite`` replaces it. Run ``python scripts/validate_data.py`` after, as after any edit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.annotation import brat, doccano, labelstudio
from marsad.annotation.records import (
    AnnotationImportError,
    Imported,
    ImportProblem,
    document_path,
    group_by_document,
    read_utf8,
    replacements,
    stand_in,
    write_documents,
)

FORMATS = ("labelstudio", "brat", "doccano")


def read_file(fmt: str, path: Path) -> list[Imported]:
    """Records of one Label Studio or doccano export file."""
    try:
        text = read_utf8(path).removeprefix("\ufeff")  # a BOM is no part of JSON
    except AnnotationImportError as exc:
        return [stand_in(p) for p in exc.problems]
    if fmt == "doccano":
        return doccano.import_lines(text, str(path))
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as exc:
        return [stand_in(ImportProblem(f"{path}:{exc.lineno}", "", f"invalid JSON ({exc.msg})"))]
    return labelstudio.import_tasks(tasks, str(path))


def read(fmt: str, inputs: list[Path]) -> list[Imported]:
    records = []
    for path in inputs:
        if fmt == "brat":
            txts = sorted(path.glob("*.txt")) if path.is_dir() else [path]
            for txt in txts:
                records += brat.import_document(txt)
        else:
            records += read_file(fmt, path)
    return records


def keep_existing(
    docs: dict[str, list[dict]], out: Path, overwrite: bool
) -> tuple[list[ImportProblem], list[str]]:
    """Documents whose file exists in ``out`` (or would resolve outside it): without
    ``overwrite`` each is taken out of ``docs`` and reported; with it, a note names the sentences
    replacing it loses. A path outside ``out`` is refused either way."""
    refused, notes = [], []
    for doc_id in list(docs):
        try:
            document_path(out, doc_id)
        except ValueError as exc:
            del docs[doc_id]
            refused.append(ImportProblem(str(out), doc_id, str(exc)))
    for found in replacements(docs, out):
        if overwrite:
            if found.lost or found.unreadable:
                notes.append(f"{found.path}: replaced; {found.consequence()}")
            continue
        del docs[found.doc_id]
        reason = f"exists, not replaced (--overwrite replaces it); {found.consequence()}"
        refused.append(ImportProblem(str(found.path), found.doc_id, reason))
    return refused, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad import",
        description=(
            "Read Label Studio, brat or doccano annotations into the corpus format, one "
            "<doc_id>.jsonl per document in --out. A problem (a span off word boundaries, an "
            "unknown label or layout, a non-integer offset, bad UTF-8, a doc_id that is not a "
            "plain file name) is reported with file and line or task id and its document is not "
            "written (exit code 1); a document already in --out is not replaced without "
            "--overwrite. See docs/annotation.md."
        ),
    )
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        help="Label Studio JSON export(s), doccano JSONL file(s) (relation extraction or "
        "sequence labelling), or brat directories / .txt files",
    )
    parser.add_argument("--out", type=Path, required=True, help="annotations directory to write")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write documents without their invalid sentences",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace documents that already exist in --out (the sentences lost are named)",
    )
    args = parser.parse_args(argv)
    missing = [p for p in args.inputs if not p.exists()]
    if missing:
        parser.error(f"not found: {', '.join(map(str, missing))}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is not a directory")
    docs, problems = group_by_document(read(args.format, args.inputs), args.skip_invalid)
    refused, notes = keep_existing(docs, args.out, args.overwrite)
    for problem in problems + refused:
        print(f"marsad import: {problem}", file=sys.stderr)
    for note in notes:
        print(f"marsad import: {note}", file=sys.stderr)
    paths = write_documents(docs, args.out)
    n = sum(map(len, docs.values()))
    print(
        f"wrote {len(paths)} document(s), {n} sentences, to {args.out}"
        + (f"; {len(problems) + len(refused)} problem(s) above" if problems or refused else "")
    )
    return 1 if refused or (problems and not args.skip_invalid) else 0


if __name__ == "__main__":
    sys.exit(main())
