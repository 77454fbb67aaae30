"""doccano's JSONL, one sentence per line. Export writes the relation-extraction layout:
``{"text", "entities": [{"id", "label", "start_offset", "end_offset"}], "relations": [{"id",
"from_id", "to_id", "type"}]}`` plus ``doc_id``, ``sent_id`` and ``offset``, which doccano keeps
as metadata and exports again. Entity ids are integers (``T3`` is 3).

Import also reads the sequence-labelling layout, ``{"text", "label": [[start, end, "TYPE"],
...]}`` (entities, no relations). Any other layout (text classification, unknown keys) and any
offset that is not an integer (``3.0`` would be truncated) is a located problem, never dropped."""

from __future__ import annotations

import json
from typing import Any

from marsad.annotation.records import (
    Imported,
    ImportProblem,
    doc_id_problem,
    is_int,
    make_record,
    record_problems,
    stand_in,
)


def export_lines(records: list[dict]) -> str:
    lines = []
    for n, record in enumerate(records, 1):
        entities = [
            {
                "id": int(e["id"][1:]),
                "label": e["label"],
                "start_offset": e["start"],
                "end_offset": e["end"],
            }
            for e in record["entities"]
        ]
        relations = [
            {
                "id": k,
                "from_id": int(r["head"][1:]),
                "to_id": int(r["tail"][1:]),
                "type": r["label"],
            }
            for k, r in enumerate(record["relations"], 1)
        ]
        row = {
            "id": n,
            "text": record["text"],
            "entities": entities,
            "relations": relations,
            "doc_id": record["doc_id"],
            "sent_id": record["sent_id"],
            "offset": record["offset"],
        }
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(lines)


def import_lines(text: str, source: str) -> list[Imported]:
    """Records (with their problems) of a doccano JSONL export, one per non-blank line."""
    out = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append(
                stand_in(ImportProblem(where, "", f"invalid JSON ({exc.msg}, column {exc.colno})"))
            )
            continue
        out.append(_import_row(row, where, lineno))
    return out


def _layout(row: dict) -> str:
    """Which doccano layout ``row`` is in (``entities`` or ``label``); ``ValueError`` naming the
    layout when it is one Marsad does not read, so no line is imported with its spans dropped."""
    keys = ", ".join(sorted(map(repr, row))) or "none"
    if "entities" in row and row.get("label", []) != []:
        raise ValueError("both 'entities' and 'label': not one doccano layout")
    if "entities" in row:
        for key in ("entities", "relations"):
            if not isinstance(row.get(key, []), list):
                raise ValueError(f"{key!r} is not a list ({type(row[key]).__name__})")
        return "entities"
    if "label" in row:
        label = row["label"]
        if not isinstance(label, list):
            raise ValueError(f"'label' is not a list ({type(label).__name__})")
        if label and all(isinstance(x, str) for x in label):
            raise ValueError(
                "doccano text-classification layout ('label' holds class names, not spans): "
                "not an annotation of entities"
            )
        return "label"
    raise ValueError(
        f"unknown doccano layout (keys {keys}): expected 'entities' and 'relations' (relation "
        "extraction) or 'label' as [start, end, label] spans (sequence labelling)"
    )


def _offset_problem(name: str, value: object) -> str | None:
    return None if is_int(value) else f"{name} {value!r} is not an integer"


def _relation_layout(row: dict, sent_id: str, where: str) -> tuple[list, list, list]:
    """Spans, links and problems of ``"entities"`` / ``"relations"`` (relation extraction)."""
    problems: list[ImportProblem] = []
    spans, links = [], []
    for e in row["entities"]:
        if not isinstance(e, dict) or not {"id", "label", "start_offset", "end_offset"} <= set(e):
            reason = f"entity {e!r} needs id, label, start_offset and end_offset"
            problems.append(ImportProblem(where, sent_id, reason))
            continue
        bad = _offset_problem("start_offset", e["start_offset"]) or _offset_problem(
            "end_offset", e["end_offset"]
        )
        if bad:
            problems.append(ImportProblem(where, f"{sent_id} entity {e['id']}", bad))
            continue
        spans.append((str(e["id"]), e["start_offset"], e["end_offset"], e["label"]))
    for r in row.get("relations", []):
        if not isinstance(r, dict) or not {"from_id", "to_id", "type"} <= set(r):
            reason = f"relation {r!r} needs from_id, to_id and type"
            problems.append(ImportProblem(where, sent_id, reason))
            continue
        links.append((str(r["from_id"]), str(r["to_id"]), r["type"]))
    return spans, links, problems


def _label_layout(row: dict, sent_id: str, where: str) -> tuple[list, list, list]:
    """Spans and problems of ``"label": [[start, end, label], ...]`` (sequence labelling, which
    has no relations)."""
    problems: list[ImportProblem] = []
    spans = []
    for i, span in enumerate(row["label"]):
        if not isinstance(span, list) or len(span) != 3:
            reason = f"span {span!r} is not [start, end, label]"
            problems.append(ImportProblem(where, f"{sent_id} label {i}", reason))
            continue
        start, end, label = span
        bad = _offset_problem("start", start) or _offset_problem("end", end)
        if bad:
            problems.append(ImportProblem(where, f"{sent_id} label {i}", bad))
            continue
        spans.append((f"L{i}", start, end, label))
    return spans, [], problems


def _import_row(row: Any, where: str, lineno: int) -> Imported:
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        return stand_in(ImportProblem(where, "", "no string 'text'"))
    doc_id = row.get("doc_id", f"line{lineno}")
    sent_id = row.get("sent_id", f"{doc_id}-s00")
    reason = doc_id_problem(doc_id)
    if reason:
        return stand_in(ImportProblem(where, "", reason))
    if not isinstance(sent_id, str) or not sent_id:
        return stand_in(ImportProblem(where, "", f"sent_id {sent_id!r} is not a string"))
    try:
        layout = _layout(row)
    except ValueError as exc:
        return {"doc_id": doc_id, "sent_id": sent_id}, [ImportProblem(where, sent_id, str(exc))]
    read = _relation_layout if layout == "entities" else _label_layout
    spans, links, problems = read(row, sent_id, where)
    offset = row.get("offset", 0)
    if not is_int(offset):
        problems.append(ImportProblem(where, sent_id, f"offset {offset!r} is not an integer"))
        offset = 0
    record = make_record(doc_id, sent_id, offset, row["text"], spans, links)
    return record, problems + record_problems(record, where)
