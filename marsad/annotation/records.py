"""Sentence records as ``data/annotations/<doc>.jsonl`` holds them, and what every importer shares:
building a record from spans, renumbering ids, checking it against the schema, writing documents.

A record is ``{"doc_id", "sent_id", "offset", "text", "entities": [{"id", "label", "start", "end",
"text"}], "relations": [{"head", "tail", "label"}]}``, entity offsets into the sentence, ids
``T1``, ``T2``... in span order (the corpus's own convention, so a round trip is byte-identical).
"""

from __future__ import annotations

import json
import unicodedata
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


Imported = tuple[dict, list[ImportProblem]]  # a record and its problems (none: it may be written)


def stand_in(*problems: ImportProblem) -> Imported:
    """Problems no sentence holds (a whole file, a line that is not JSON, an unusable doc_id),
    carried by a stand-in record so they are reported; its document, ``?``, is never written."""
    return {"doc_id": "?", "sent_id": "?"}, list(problems)


def is_int(value: object) -> bool:
    """An integer offset: not a float (3.0 would be truncated) and not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def read_utf8(path: Path) -> str:
    """The text of ``path``, exactly as written (no newline translation, a BOM kept); bad UTF-8
    raises :class:`AnnotationImportError` naming the file, byte and line."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = ImportProblem(
            str(path), "", f"invalid UTF-8 at byte {exc.start} (line {line}): {exc.reason}"
        )
        raise AnnotationImportError([problem]) from None


# Characters Windows forbids in file names: refused everywhere, so a corpus stays portable.
_RESERVED = set('<>:"/\\|?*')
# Control, format (bidi overrides, BOM), surrogate, private-use, unassigned, line/paragraph breaks.
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
MAX_DOC_ID_BYTES = 200  # "<doc_id>.jsonl" and its temp file stay under 255-byte file names


def doc_id_problem(doc_id: object) -> str | None:
    """Why ``doc_id`` cannot name ``<doc_id>.jsonl`` inside the output directory (None: it can).
    Only a plain file name is allowed, so no import writes outside ``--out``."""
    if not isinstance(doc_id, str):
        return f"doc_id {doc_id!r} is not a string"
    if not doc_id:
        return "doc_id is empty"
    bad = sorted({c for c in doc_id if c in _RESERVED or unicodedata.category(c) in _UNPRINTABLE})
    if bad:
        return f"doc_id {doc_id!r} has character(s) not allowed in a file name: {bad}"
    if doc_id.startswith("."):
        return f"doc_id {doc_id!r} starts with a dot"
    if doc_id != doc_id.strip():
        return f"doc_id {doc_id!r} starts or ends with white space"
    if len(doc_id.encode("utf-8")) > MAX_DOC_ID_BYTES:
        return f"doc_id is longer than {MAX_DOC_ID_BYTES} bytes (UTF-8): {doc_id[:40]!r}..."
    return None


def document_path(out_dir: Path | str, doc_id: str) -> Path:
    """``out_dir/<doc_id>.jsonl``; ``ValueError`` for a doc_id that is not a plain file name or
    whose path resolves outside ``out_dir`` (e.g. through a symbolic link)."""
    reason = doc_id_problem(doc_id)
    if reason:
        raise ValueError(f"{reason}; not written")
    path = Path(out_dir) / f"{doc_id}.jsonl"
    if path.resolve().parent != Path(out_dir).resolve():
        raise ValueError(f"doc_id {doc_id!r}: {path} resolves outside {out_dir}; not written")
    return path


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
        docs[path.stem] = [json.loads(x) for x in read_utf8(path).splitlines()]
    return docs


def write_documents(docs: dict[str, list[dict]], out_dir: Path | str) -> list[Path]:
    """One ``<doc_id>.jsonl`` per document, written atomically, sentences in offset order. Every
    path is checked before any file is written (:func:`document_path`)."""
    paths = [document_path(out_dir, doc_id) for doc_id in docs]
    for path, records in zip(paths, docs.values()):
        records = sorted(records, key=lambda r: r["offset"])
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return paths


@dataclass(frozen=True)
class Replacement:
    """A document the import would write over: its file and the sentences replacing it loses."""

    doc_id: str
    path: Path
    lost: list[str]  # sent_ids the file holds and the import does not
    unreadable: str = ""  # why the file's sentences could not be listed ("": they could)

    def consequence(self) -> str:
        if self.unreadable:
            return f"its sentences could not be listed ({self.unreadable})"
        if not self.lost:
            return "the import holds every sentence it has"
        return f"replacing it loses {len(self.lost)} sentence(s) the import lacks: " + ", ".join(
            self.lost
        )


def _sentence_ids(path: Path) -> list[str]:
    """The sent_ids of a document file; ``ValueError`` (located) if a line is not a record."""
    ids = []
    for lineno, line in enumerate(read_utf8(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("sent_id"), str):
            raise ValueError(f"line {lineno}: no string sent_id")
        ids.append(row["sent_id"])
    return ids


def replacements(docs: dict[str, list[dict]], out_dir: Path | str) -> list[Replacement]:
    """Each document of ``docs`` whose ``<doc_id>.jsonl`` already exists in ``out_dir``."""
    found = []
    for doc_id, records in docs.items():
        path = document_path(out_dir, doc_id)
        if not path.exists():
            continue
        try:
            held = _sentence_ids(path)
        except (ValueError, AnnotationImportError) as exc:
            found.append(Replacement(doc_id, path, [], str(exc).splitlines()[-1]))
            continue
        imported = {r["sent_id"] for r in records}
        found.append(Replacement(doc_id, path, [s for s in held if s not in imported]))
    return found


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
