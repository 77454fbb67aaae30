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

from marsad.annotation.records import (
    Imported,
    ImportProblem,
    doc_id_problem,
    is_int,
    make_record,
    record_problems,
    stand_in,
)
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


def import_tasks(tasks: Any, source: str) -> list[Imported]:
    """Records (with their problems) from a Label Studio JSON export: a list of tasks."""
    if not isinstance(tasks, list):
        return [stand_in(ImportProblem(source, "", "expected a JSON list of tasks"))]
    out = []
    for k, task in enumerate(tasks):
        tid = task.get("id", k) if isinstance(task, dict) else k
        out.append(_import_task(task, f"{source} task {tid}", tid))
    return out


def _ids(data: dict, tid: Any, where: str) -> tuple[str, str, list[ImportProblem]]:
    """The task's doc_id (default ``task<id>``) and sent_id, and why either cannot be used: the
    doc_id names a file, so it must be a plain file name (:func:`doc_id_problem`)."""
    doc_id = data.get("doc_id", f"task{tid}")
    sent_id = data.get("sent_id", f"{doc_id}-s00")
    problems = []
    reason = doc_id_problem(doc_id)
    if reason:
        problems.append(ImportProblem(where, "", f"data.{reason}"))
    if not isinstance(sent_id, str) or not sent_id:
        problems.append(ImportProblem(where, "", f"data.sent_id {sent_id!r} is not a string"))
    return str(doc_id), str(sent_id), problems


def _annotation_result(task: dict, where: str, sent_id: str) -> list | ImportProblem:
    """The result list of the task's latest annotation that was not cancelled."""
    annotations = task.get("annotations")
    annotations = [] if annotations is None else annotations
    if not isinstance(annotations, list):
        return ImportProblem(where, "", f"annotations is not a list ({type(annotations).__name__})")
    kept = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not kept:
        return ImportProblem(where, sent_id, "no annotation (predictions are not gold)")
    result = kept[-1].get("result")
    result = [] if result is None else result
    if not isinstance(result, list):
        return ImportProblem(where, sent_id, f"result is not a list ({type(result).__name__})")
    return result


def _import_task(task: Any, where: str, tid: Any) -> Imported:
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return stand_in(ImportProblem(where, "", "no data.text string"))
    text = data["text"]
    doc_id, sent_id, problems = _ids(data, tid, where)
    if problems:  # the sentence cannot be placed: left out (the stand-in names no file)
        return stand_in(*problems)
    offset = data.get("offset", 0)
    stub = {"doc_id": doc_id, "sent_id": sent_id}
    result = _annotation_result(task, where, sent_id)
    if isinstance(result, ImportProblem):
        return stub, [result]
    spans, links = [], []
    for i, item in enumerate(result):
        problem = _read_result(item, i, text, sent_id, spans, links)
        if problem:
            problems.append(ImportProblem(where, *problem))
    if not is_int(offset):
        problems.append(ImportProblem(where, sent_id, f"data.offset {offset!r} is not an integer"))
        offset = 0
    record = make_record(doc_id, sent_id, offset, text, spans, links)
    return record, problems + record_problems(record, where)


def _read_result(
    item: Any, i: int, text: str, sent_id: str, spans: list, links: list
) -> tuple[str, str] | None:
    """Add one result item to ``spans`` or ``links``; or ``(where, reason)`` why it cannot be."""
    if not isinstance(item, dict):
        return sent_id, f"result {i} is not an object ({type(item).__name__})"
    kind = item.get("type")
    if kind == "labels":
        where = f"{sent_id} region {item.get('id', i)}"
        value = item.get("value")
        if not isinstance(value, dict):
            return where, f"value is not an object ({type(value).__name__})"
        labels, start, end = value.get("labels"), value.get("start"), value.get("end")
        if not isinstance(labels, list):
            return where, f"labels is not a list ({type(labels).__name__})"
        for name, offset in (("start", start), ("end", end)):
            if not is_int(offset):
                return where, f"{name} {offset!r} is not an integer"
        if len(labels) != 1:
            return where, f"a region needs exactly one label, got {labels!r}"
        if "text" in value and value["text"] != text[start:end]:
            return where, (
                f"text {value['text']!r} is not data.text[{start}:{end}] = {text[start:end]!r}"
            )
        spans.append((str(item.get("id", f"r{i}")), start, end, labels[0]))
    elif kind == "relation":
        labels = item.get("labels")
        head, tail = str(item.get("from_id")), str(item.get("to_id"))
        if item.get("direction") == "left":
            head, tail = tail, head
        where = f"{sent_id} relation {head}->{tail}"
        if not isinstance(labels, list):
            return where, f"labels is not a list ({type(labels).__name__})"
        if len(labels) != 1 or item.get("direction") == "bi":
            return where, "a relation needs exactly one label and one direction"
        links.append((head, tail, labels[0]))
    else:
        return sent_id, f"unsupported result type {kind!r}"
    return None
