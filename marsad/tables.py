"""Flat tables of predictions: mentions, relations and events, one row each, with stable column
names and types (documented in docs/events.md), for pandas, CSV and Parquet.

List-valued event fields (quantities, associated actors) become two string columns each: the
texts joined by ``"; "`` and their ``start:end`` offsets joined by ``";"``, so a CSV reader needs
no JSON and every offset still slices the document. Files hold UTF-8, so a lone surrogate in a
text cell is written as U+FFFD.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from marsad.events import Event, Mention


class _Span(Protocol):
    label: str
    text: str
    start: int
    end: int


class _Scored(_Span, Protocol):
    score: float
    sentence: int


class _Link(Protocol):
    head: int
    tail: int
    label: str
    score: float


TABLES: tuple[str, ...] = ("mentions", "relations", "events")
FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")

_MENTION = [("label", "string"), ("text", "string"), ("start", "int64"), ("end", "int64")]


def _side(name: str) -> list[tuple[str, str]]:
    return [(f"{name}_{c}", t) for c, t in _MENTION]


def _many(name: str) -> list[tuple[str, str]]:
    return [(name, "string"), (f"{name}_spans", "string")]


# table -> [(column, pandas / arrow type name)]; "Int64" and "float64" columns may be empty
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "mentions": [
        ("doc_id", "string"),
        ("sentence", "int64"),
        ("mention", "int64"),
        *_MENTION,
        ("score", "float64"),
    ],
    "relations": [
        ("doc_id", "string"),
        ("sentence", "int64"),
        ("label", "string"),
        ("head", "int64"),
        *_side("head"),
        ("tail", "int64"),
        *_side("tail"),
        ("score", "float64"),
    ],
    "events": [
        ("doc_id", "string"),
        ("sentence", "int64"),
        ("sentence_start", "int64"),
        ("sentence_end", "int64"),
        ("event_type", "string"),
        *_side("actor"),
        *_side("target"),
        ("location_text", "string"),
        ("location_start", "Int64"),
        ("location_end", "Int64"),
        ("location_source", "string"),
        *_many("actor_quantities"),
        *_many("target_quantities"),
        *_many("actor_associates"),
        *_many("target_associates"),
        ("fatalities_candidate", "string"),
        ("score", "float64"),
        ("sentence_text", "string"),
    ],
}

# the counted noun or the word before a quantity that makes it a death toll ("20 قتيلا",
# "مقتل 20 عنصرا"): the ACLED fatalities column is a count of the dead, not of fighters
_CASUALTY_NOUN = re.compile(r"قتيل|قتلى|شهيد|شهداء|ضحي|ضحايا|جثة|جثث")
_KILLING_WORD = re.compile(r"(?:^|\s)[وف]?(?:ب|ل)?(?:مقتل|قتل|مصرع|استشهاد|سقوط)\s*$")


def fatalities_candidate(event: Event, text: str | None) -> str:
    """The text of a quantity of the event that counts the dead, or ``""``: one whose span holds
    a casualty noun, or that follows a word for killing in the sentence (needs ``text``, the
    document). A candidate for an analyst to confirm, not a fatality count."""
    for q in event.actor_quantities + event.target_quantities:
        if _CASUALTY_NOUN.search(q.text):
            return q.text
        if text is not None and _KILLING_WORD.search(text[event.sentence_start : q.start]):
            return q.text
    return ""


def _mention_cells(prefix: str, m: _Span | None) -> dict[str, Any]:
    if m is None:
        return {f"{prefix}_{c}": None for c, _ in _MENTION}
    return {
        f"{prefix}_label": m.label,
        f"{prefix}_text": m.text,
        f"{prefix}_start": m.start,
        f"{prefix}_end": m.end,
    }


def _many_cells(name: str, mentions: Sequence[Mention]) -> dict[str, str]:
    return {
        name: "; ".join(m.text for m in mentions),
        f"{name}_spans": ";".join(f"{m.start}:{m.end}" for m in mentions),
    }


def event_row(event: Event, text: str | None = None) -> dict[str, Any]:
    """One events-table row; ``text`` (the document) fills the sentence and fatalities cells."""
    loc = event.location
    return {
        "doc_id": event.doc_id,
        "sentence": event.sentence,
        "sentence_start": event.sentence_start,
        "sentence_end": event.sentence_end,
        "event_type": event.event_type,
        **_mention_cells("actor", event.actor),
        **_mention_cells("target", event.target),
        "location_text": None if loc is None else loc.text,
        "location_start": None if loc is None else loc.start,
        "location_end": None if loc is None else loc.end,
        "location_source": event.location_source,
        **_many_cells("actor_quantities", event.actor_quantities),
        **_many_cells("target_quantities", event.target_quantities),
        **_many_cells("actor_associates", event.actor_associates),
        **_many_cells("target_associates", event.target_associates),
        "fatalities_candidate": fatalities_candidate(event, text),
        "score": event.score,
        "sentence_text": (
            None if text is None else text[event.sentence_start : event.sentence_end]
        ),
    }


def table_rows(
    table: str,
    entities: Sequence[_Scored],
    relations: Sequence[_Link],
    events: Sequence[Event],
    doc_id: str | None = None,
    text: str | None = None,
) -> list[dict[str, Any]]:
    """The rows of one document's ``table`` (one of :data:`TABLES`), from a
    :class:`~marsad.predictor.Prediction`'s entities, relations and events."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
    ents = entities
    if table == "mentions":
        return [
            {
                "doc_id": doc_id,
                "sentence": e.sentence,
                "mention": k,
                "label": e.label,
                "text": e.text,
                "start": e.start,
                "end": e.end,
                "score": e.score,
            }
            for k, e in enumerate(ents)
        ]
    if table == "relations":
        return [
            {
                "doc_id": doc_id,
                "sentence": ents[r.head].sentence,
                "label": r.label,
                "head": r.head,
                **_mention_cells("head", ents[r.head]),
                "tail": r.tail,
                **_mention_cells("tail", ents[r.tail]),
                "score": r.score,
            }
            for r in relations
        ]
    return [event_row(e, text) for e in events]


def frame(rows: Iterable[dict[str, Any]], table: str):
    """A pandas DataFrame with :data:`COLUMNS` ``[table]``'s columns, in order and typed, even
    when there are no rows."""
    import pandas as pd

    columns = COLUMNS[table]
    df = pd.DataFrame(list(rows), columns=[c for c, _ in columns])
    return df.astype({c: t for c, t in columns})


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(row: dict[str, Any]) -> dict[str, Any]:
    """A lone surrogate (valid in JSON input, not in UTF-8) becomes U+FFFD in a text cell: one
    character for one, so every offset still holds."""
    return {
        k: _LONE_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for k, v in row.items()
    }


def partial_path(path: Path) -> Path:
    """Where :class:`TableWriter` writes ``path`` until it is complete (and where an interrupted
    run's finished rows stay)."""
    return path.with_name(f"{path.name}.partial")


_ARROW_TYPES = {"string": "string", "int64": "int64", "Int64": "int64", "float64": "float64"}


class TableWriter:
    """Rows of one table to ``path`` as CSV (UTF-8, header first), Parquet or JSONL, step by step;
    written to ``PATH.partial`` and moved over ``path`` by :meth:`close` only, so a crash never
    leaves a half table under the real name; :meth:`abort` keeps the rows of the finished
    :meth:`write` calls in ``PATH.partial`` (a valid file), so an interrupted run loses no finished
    work. ``path=None``: CSV or JSONL to ``stream`` (standard output), as it goes."""

    def __init__(self, path: Path | str | None, fmt: str, table: str, stream=None):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        if path is None and fmt == "parquet":
            raise ValueError("Parquet needs an output file")
        self.path, self.fmt, self.table = None if path is None else Path(path), fmt, table
        self.columns = [c for c, _ in COLUMNS[table]]
        self._tmp = None if self.path is None else partial_path(self.path)
        self._parquet = None
        self.writes = 0  # finished write() calls
        self._complete = 0  # bytes of the CSV or JSONL file up to the last finished write()
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.schema(
                [(c, getattr(pa, _ARROW_TYPES[t])()) for c, t in COLUMNS[table]]
            )
            self._parquet = pq.ParquetWriter(self._tmp, self._schema)
        else:
            self._handle = (
                stream if self._tmp is None else self._tmp.open("w", encoding="utf-8", newline="")
            )
            if fmt == "csv":
                self._csv = csv.DictWriter(self._handle, fieldnames=self.columns)
                self._csv.writeheader()
            self._mark_complete()

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        rows = [_encodable(r) for r in rows]
        if self._parquet is not None:
            import pyarrow as pa

            columns = {c: [r[c] for r in rows] for c in self.columns}
            self._parquet.write_table(pa.Table.from_pydict(columns, schema=self._schema))
        elif self.fmt == "csv":
            self._csv.writerows(rows)
            self._handle.flush()
        else:
            for r in rows:
                self._handle.write(json.dumps(r, ensure_ascii=False) + "\n")
            self._handle.flush()
        self._mark_complete()
        self.writes += 1

    def close(self) -> None:
        """Finish the file and move it to ``path``."""
        self._finish()
        if self._tmp is not None:
            os.replace(self._tmp, self.path)

    def abort(self) -> Path | None:
        """The run stopped: keep the finished writes' rows in ``PATH.partial`` and return that
        path, or remove it and return None when no write finished (or on standard output)."""
        try:
            self._finish()
        except Exception:  # noqa: BLE001 - a full disk; a Parquet writer stopped mid-write
            if self._parquet is not None:  # its footer is missing: the file is unreadable
                self.writes = 0
        if self._tmp is None:
            return None
        if self.writes == 0:
            self._tmp.unlink(missing_ok=True)
            return None
        if self._parquet is None:  # drop what an unfinished write() left after the last one
            os.truncate(self._tmp, self._complete)
        return self._tmp

    def _mark_complete(self) -> None:
        if self._parquet is None and self._tmp is not None:
            self._complete = self._handle.tell()

    def _finish(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self._tmp is not None:
            self._handle.close()
        else:
            self._handle.flush()
