"""Label Studio: tasks with pre-annotations (``predictions``) and the labelling config to load
them with; its JSON export read back as sentence records.

One task per sentence, ``data = {"text", "doc_id", "sent_id", "offset"}``; spans are ``labels``
results on ``from_name="label"``, ``to_name="text"`` with ``value.start/end/text/labels``, and
relations are ``relation`` results with ``from_id``/``to_id``/``labels``. The import reads each
task's latest annotation that was not cancelled; a task with none is reported, since its
predictions are a model's guesses, not gold.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from marsad.annotation.records import ImportProblem, make_record, record_problems
from marsad.schema import ENTITY_TYPES, RELATION_TYPES

FROM_NAME, TO_NAME = "label", "text"


def label_config() -> str:
    """The labelling config XML matching the exported tasks (Arabic shown right to left)."""
    labels = "\n".join(f"    <Label value={quoteattr(t)}/>" for t in ENTITY_TYPES)
    relations = "\n".join(f"    <Relation value={quoteattr(r)}/>" for r in RELATION_TYPES)
    return (
        "<View>\n"
        f"  <Relations>\n{relations}\n  </Relations>\n"
        f'  <Labels name="{FROM_NAME}" toName="{TO_NAME}">\n{labels}\n  </Labels>\n'
        f'  <View style="direction: rtl">\n'
        f'    <Text name="{TO_NAME}" value="$text" granularity="word"/>\n'
        "  </View>\n"
        "</View>\n"
    )


def _results(record: dict, scores: dict[str, float] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in record["entities"]:
        item: dict[str, Any] = {
            "id": e["id"],
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "value": {
                "start": e["start"],
                "end": e["end"],
                "text": e["text"],
                "labels": [e["label"]],
            },
        }
        if scores and e["id"] in scores:
            item["score"] = scores[e["id"]]
        out.append(item)
    for r in record["relations"]:
        out.append(
            {
                "type": "relation",
                "from_id": r["head"],
                "to_id": r["tail"],
                "direction": "right",
                "labels": [r["label"]],
            }
        )
    return out


def export_tasks(
    records: list[dict],
    as_annotations: bool = False,
    model_version: str = "marsad",
    scores: dict[str, dict[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """Tasks for Label Studio's import: ``predictions`` (pre-annotations to correct) or, with
    ``as_annotations``, ``annotations`` (moving existing gold in). ``scores``: per sentence id,
    per entity id, the model's score."""
    tasks = []
    for record in records:
        data = {k: record[k] for k in ("text", "doc_id", "sent_id", "offset")}
        result = _results(record, (scores or {}).get(record["sent_id"]))
        if as_annotations:
            tasks.append({"data": data, "annotations": [{"result": result}]})
        else:
            tasks.append(
                {"data": data, "predictions": [{"model_version": model_version, "result": result}]}
            )
    return tasks


def import_tasks(tasks: Any, source: str) -> list[tuple[dict, list[ImportProblem]]]:
    """Records (with their problems) from a Label Studio JSON export: a list of tasks."""
    if not isinstance(tasks, list):
        return [
            (
                {"doc_id": "?", "sent_id": "?"},
                [ImportProblem(source, "", "expected a JSON list of tasks")],
            )
        ]
    out = []
    for k, task in enumerate(tasks):
        tid = task.get("id", k) if isinstance(task, dict) else k
        where = f"{source} task {tid}"
        record, problems = _import_task(task, where, tid)
        out.append((record, problems))
    return out


def _import_task(task: Any, where: str, tid: Any) -> tuple[dict, list[ImportProblem]]:
    stub = {"doc_id": f"task{tid}", "sent_id": f"task{tid}-s00"}
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return stub, [ImportProblem(where, "", "no data.text string")]
    text = data["text"]
    doc_id = str(data.get("doc_id", f"task{tid}"))
    sent_id = str(data.get("sent_id", f"{doc_id}-s00"))
    offset = data.get("offset", 0)
    stub = {"doc_id": doc_id, "sent_id": sent_id}
    annotations = [
        a
        for a in task.get("annotations") or []
        if isinstance(a, dict) and not a.get("was_cancelled")
    ]
    if not annotations:
        return stub, [ImportProblem(where, sent_id, "no annotation (predictions are not gold)")]
    problems: list[ImportProblem] = []
    spans, links = [], []
    for i, item in enumerate(annotations[-1].get("result") or []):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "labels":
            value = item.get("value") or {}
            labels = value.get("labels") or []
            start, end = value.get("start"), value.get("end")
            if len(labels) != 1 or not isinstance(start, int) or not isinstance(end, int):
                problems.append(
                    ImportProblem(
                        where,
                        f"{sent_id} region {item.get('id', i)}",
                        "a region needs integer start/end and exactly one label",
                    )
                )
                continue
            if "text" in value and value["text"] != text[start:end]:
                problems.append(
                    ImportProblem(
                        where,
                        f"{sent_id} region {item.get('id', i)}",
                        f"text {value['text']!r} is not data.text[{start}:{end}] = "
                        f"{text[start:end]!r}",
                    )
                )
                continue
            spans.append((str(item.get("id", f"r{i}")), start, end, labels[0]))
        elif kind == "relation":
            labels = item.get("labels") or []
            head, tail = str(item.get("from_id")), str(item.get("to_id"))
            if item.get("direction") == "left":
                head, tail = tail, head
            if len(labels) != 1 or item.get("direction") == "bi":
                problems.append(
                    ImportProblem(
                        where,
                        f"{sent_id} relation {head}->{tail}",
                        "a relation needs exactly one label and one direction",
                    )
                )
                continue
            links.append((head, tail, labels[0]))
        else:
            problems.append(ImportProblem(where, sent_id, f"unsupported result type {kind!r}"))
    if not isinstance(offset, int):
        problems.append(ImportProblem(where, sent_id, f"data.offset {offset!r} is not an integer"))
        offset = 0
    record = make_record(doc_id, sent_id, offset, text, spans, links)
    return record, problems + record_problems(record, where)
