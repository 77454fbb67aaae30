"""doccano's JSONL for sequence labelling with relations, one sentence per line:
``{"text", "entities": [{"id", "label", "start_offset", "end_offset"}], "relations": [{"id",
"from_id", "to_id", "type"}]}`` plus ``doc_id``, ``sent_id`` and ``offset``, which doccano keeps
as metadata and exports again. Entity ids are integers (``T3`` is 3)."""

from __future__ import annotations

import json
from typing import Any

from marsad.annotation.records import ImportProblem, make_record, record_problems


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


def import_lines(text: str, source: str) -> list[tuple[dict, list[ImportProblem]]]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = ImportProblem(where, "", f"invalid JSON ({exc.msg}, column {exc.colno})")
            out.append(({"doc_id": "?", "sent_id": "?"}, [problem]))
            continue
        out.append(_import_row(row, where, lineno))
    return out


def _import_row(row: Any, where: str, lineno: int) -> tuple[dict, list[ImportProblem]]:
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        return {"doc_id": "?", "sent_id": "?"}, [ImportProblem(where, "", "no string 'text'")]
    text = row["text"]
    doc_id = str(row.get("doc_id", f"line{lineno}"))
    sent_id = str(row.get("sent_id", f"{doc_id}-s00"))
    problems: list[ImportProblem] = []
    spans, links = [], []
    for e in row.get("entities") or []:
        try:
            spans.append((str(e["id"]), int(e["start_offset"]), int(e["end_offset"]), e["label"]))
        except (KeyError, TypeError, ValueError):
            problems.append(
                ImportProblem(
                    where, sent_id, f"entity {e!r} needs id, label, start_offset and end_offset"
                )
            )
    for r in row.get("relations") or []:
        try:
            links.append((str(r["from_id"]), str(r["to_id"]), r["type"]))
        except (KeyError, TypeError):
            problems.append(
                ImportProblem(where, sent_id, f"relation {r!r} needs from_id, to_id and type")
            )
    offset = row.get("offset", 0)
    if not isinstance(offset, int):
        problems.append(ImportProblem(where, sent_id, f"offset {offset!r} is not an integer"))
        offset = 0
    record = make_record(doc_id, sent_id, offset, text, spans, links)
    return record, problems + record_problems(record, where)
