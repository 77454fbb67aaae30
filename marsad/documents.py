"""Documents of a batch run and their predictions, shared by ``marsad predict`` in one process and
on Ray (:mod:`marsad.scale_out`), so both read a line, refuse a bad one and write a record the
same way.

Input is plain text or JSONL with a ``text`` field. A bad document (bytes that are not UTF-8,
invalid or non-strict JSON, no string ``text``, a text the model fails on) carries its error and
its line instead of stopping the run; the caller writes it as an error record.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from marsad.predictor import Prediction, Predictor


@dataclass
class Document:
    line: int  # 1-based input line (the first line for --whole; the row of a Parquet shard)
    row: dict | None  # the JSON object (or {"text": line}); None when the line is bad
    error: str | None = None

    def record_id(self) -> Any:
        return None if self.row is None else self.row.get("id")


def _decode(raw: bytes, lineno: int) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range for a float")
    return value


def _bounded_int(text: str) -> int:
    limit = sys.get_int_max_str_digits()
    digits = len(text.lstrip("-"))
    if limit and digits > limit:
        raise ValueError(f"a number of {digits} digits, more than {limit}")
    return int(text)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_line(line: str) -> tuple[object, str | None]:
    """A JSONL line's value, or the reason it is not one. NaN and Infinity (which ``json.loads``
    takes but JSON has not), a float out of range, a number too long for Python and nesting
    deeper than the recursion limit are refused here, so the output stays valid JSON and no
    line stops the run."""
    try:
        value = json.loads(
            line, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg}, column {exc.colno})"
    except RecursionError:
        return (
            None,
            f"invalid JSON (nested too deeply for the recursion limit, {sys.getrecursionlimit()})",
        )
    except ValueError as exc:
        return None, f"invalid JSON ({exc})"
    return value, None


def read_documents(handle, jsonl: bool, whole: bool) -> Iterator[Document]:
    """Documents from a binary handle, lazily; a bad one is yielded with its error, never raised."""
    if whole:
        text, error = _decode(handle.read(), 1)
        yield Document(1, None if text is None else {"text": text}, error)
        return
    for lineno, raw in enumerate(handle, 1):
        line, error = _decode(raw, lineno)
        if line is None:
            yield Document(lineno, None, error)
            continue
        if not jsonl:
            yield Document(lineno, {"text": line.rstrip("\r\n")})
            continue
        if not line.strip():
            continue
        row, error = parse_json_line(line)
        if error is not None:
            yield Document(lineno, None, error)
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            yield Document(
                lineno,
                row if isinstance(row, dict) else None,
                "expected an object with a string field 'text'",
            )
            continue
        yield Document(lineno, row)


def predict_documents(
    predictor: Predictor, step: list[Document], batch_size: int, progress: bool = False
) -> dict[int, Prediction]:
    """Predictions for the good documents of a step, keyed by ``id(document)``; a document the
    model fails on gets its error (the step is retried document by document, so one bad text never
    costs the others)."""
    good = [d for d in step if d.error is None]
    try:
        results = predictor([d.row["text"] for d in good], batch_size=batch_size, progress=progress)
        return dict(zip((id(d) for d in good), results))
    except Exception:  # noqa: BLE001 - isolate the document that fails, below
        out = {}
        for d in good:
            try:
                out[id(d)] = predictor(d.row["text"], batch_size=batch_size)
            except Exception as exc:  # noqa: BLE001 - reported as this document's error
                d.error = f"{type(exc).__name__}: {exc}"
        return out


def record_line(record: dict) -> str:
    """One JSON line; a record whose passed-through text holds a lone surrogate (valid in JSON,
    not in UTF-8) is written with ASCII escapes, as it was read. Raises ValueError rather than
    write NaN or Infinity, which are not JSON."""
    line = json.dumps(record, ensure_ascii=False, allow_nan=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record, allow_nan=False)
    return line


def document_line(doc: Document, prediction: Prediction) -> str | None:
    """A good document's output line (its fields, then the prediction's); None, and
    ``doc.error`` set, when it cannot be JSON."""
    try:
        return record_line({**doc.row, **prediction.to_dict()})
    except (ValueError, RecursionError) as exc:
        doc.error = f"cannot be written as JSON ({type(exc).__name__}: {exc})"
        return None


def error_record(doc: Document) -> dict:
    """What is written in a bad document's place: its line, its id and why."""
    return {"line": doc.line, "id": doc.record_id(), "error": doc.error}
