"""Sentence records as ``data/annotations/<doc>.jsonl`` holds them, and what every importer shares:
building a record from spans, renumbering ids, checking it against the schema, writing documents.

A record is ``{"doc_id", "sent_id", "offset", "text", "entities": [{"id", "label", "start", "end",
"text"}], "relations": [{"head", "tail", "label"}]}``, entity offsets into the sentence, ids
``T1``, ``T2``... in span order (the corpus's own convention, so a round trip is byte-identical).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from marsad.data.validate import row_problems
from marsad.fileio import atomic_write_text


@dataclass(frozen=True)
class ImportProblem:
    source: str  # "file:line" or "file task N"
    where: str  # sentence id, entity or relation
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.where}: {self.reason}"
            if self.where
            else (f"{self.source}: {self.reason}")
        )


class AnnotationImportError(ValueError):
    def __init__(self, problems: Sequence[ImportProblem]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s):\n" + "\n".join(map(str, self.problems)))


def make_record(
    doc_id: str,
    sent_id: str,
    offset: int,
    text: str,
    spans: Sequence[tuple[str, int, int, str]],
    links: Iterable[tuple[str, str, str]],
) -> dict:
    """A record from entity spans ``(source id, start, end, label)`` (sentence offsets) and
    relations ``(head source id, tail source id, label)``: entities sorted by span and renamed
    ``T1``... (an id the relations name but no span has is kept, so the check reports it)."""
    ordered = sorted(spans, key=lambda s: (s[1], s[2]))
    rename = {src: f"T{k}" for k, (src, *_) in enumerate(ordered, 1)}
    return {
        "doc_id": doc_id,
        "sent_id": sent_id,
        "offset": offset,
        "text": text,
        "entities": [
            {"id": rename[src], "label": label, "start": a, "end": b, "text": text[a:b]}
            for src, a, b, label in ordered
        ],
        "relations": [
            {"head": rename.get(h, f"?{h}"), "tail": rename.get(t, f"?{t}"), "label": label}
            for h, t, label in links
        ],
    }


def record_problems(record: dict, source: str) -> list[ImportProblem]:
    """The schema's checks (:func:`marsad.data.validate.row_problems`) placed at ``source``."""
    return [
        ImportProblem(source, f"{record['sent_id']} {where}", reason)
        for where, reason in row_problems(record)
    ]


def read_documents(annotations_dir: Path | str) -> dict[str, list[dict]]:
    """``doc_id -> records`` of every ``*.jsonl`` under ``annotations_dir``, in file order."""
    docs: dict[str, list[dict]] = {}
    for path in sorted(Path(annotations_dir).glob("*.jsonl")):
        docs[path.stem] = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return docs


def write_documents(docs: dict[str, list[dict]], out_dir: Path | str) -> list[Path]:
    """One ``<doc_id>.jsonl`` per document, written atomically, sentences in offset order."""
    paths = []
    for doc_id, records in docs.items():
        path = Path(out_dir) / f"{doc_id}.jsonl"
        records = sorted(records, key=lambda r: r["offset"])
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        paths.append(path)
    return paths


def group_by_document(
    records: Iterable[tuple[dict, list[ImportProblem]]], skip_invalid: bool
) -> tuple[dict[str, list[dict]], list[ImportProblem]]:
    """Documents to write and every problem found. A document with a problem is left out whole,
    unless ``skip_invalid``: then only its sentences with problems are."""
    docs: dict[str, list[dict]] = {}
    bad_docs: set[str] = set()
    problems: list[ImportProblem] = []
    for record, found in records:
        problems += found
        if found:
            bad_docs.add(record["doc_id"])
            if skip_invalid:
                docs.setdefault(record["doc_id"], [])
                continue
        docs.setdefault(record["doc_id"], []).append(record)
    if not skip_invalid:
        docs = {d: r for d, r in docs.items() if d not in bad_docs}
    return {d: r for d, r in docs.items() if r}, problems
