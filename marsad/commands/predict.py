"""Run a checkpoint over text: ``marsad predict --checkpoint DIR [--input FILE] [--output FILE]``.

Input is plain text (one document per line, or the whole file with ``--whole``) or JSONL with a
``text`` field (``--jsonl``; other fields are passed through; blank lines are skipped). Reads stdin
when no ``--input``. Writes one JSON object per document, in input order:
``{"text": ..., "entities": [...], "relations": [...], "sentences": [...]}``. ``--table
mentions|relations|events`` (``--events`` for short) writes that table instead, one row per
mention, relation or event (columns: docs/events.md), as ``--format jsonl|csv|parquet``; a table
file is written under a temporary name and moved into place when the run ends.

Built for batch runs over thousands of documents: input is read, predicted and written in steps of
``--docs-per-step`` documents and flushed after each, so memory stays flat and a crash loses at
most one step. A bad document (invalid JSON, no string ``text``, bytes that are not UTF-8, text the
model cannot take) becomes an error record ``{"line": N, "id": ..., "error": "..."}`` in its place
(``--on-error skip``, the default; a summary goes to stderr and the exit code is 3) or stops the
run naming its line (``--on-error fail``, exit 1). ``--resume`` continues an ``--output`` file from
its last complete line (one line per document, error records included). A closed pipe
(``| head``) ends the run quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from marsad.predictor import Prediction, Predictor
from marsad.tables import FORMATS, TABLES, TableWriter, table_rows

EXIT_SKIPPED = 3  # some documents were bad and written as error records


@dataclass
class Document:
    line: int  # 1-based input line (the first line for --whole)
    row: dict | None  # the JSON object (or {"text": line}); None when the line is bad
    error: str | None = None

    def record_id(self):
        return None if self.row is None else self.row.get("id")


def _decode(raw: bytes, lineno: int) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"


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
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Document(lineno, None, f"invalid JSON ({exc.msg}, column {exc.colno})")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            yield Document(
                lineno,
                row if isinstance(row, dict) else None,
                "expected an object with a string field 'text'",
            )
            continue
        yield Document(lineno, row)


def complete_lines(path: Path) -> int:
    """Complete lines of an output file, truncating a partial last line (a crash mid-write)."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep < len(data):
        with path.open("r+b") as fh:
            fh.truncate(keep)
    return data[:keep].count(b"\n")


def _steps(docs: Iterator[Document], size: int) -> Iterator[list[Document]]:
    step: list[Document] = []
    for doc in docs:
        step.append(doc)
        if len(step) == size:
            yield step
            step = []
    if step:
        yield step


def _predict_step(predictor: Predictor, step: list[Document], batch_size: int, progress: bool):
    """Predictions for the good documents of a step; a document the model fails on gets its error
    (the step is retried document by document, so one bad text never costs the others)."""
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


def _table_rows(table: str, doc: Document, prediction: Prediction) -> list[dict]:
    """A document's rows of ``table``; its ``id`` field names it, else its input line."""
    doc_id = str(doc.row["id"]) if doc.row.get("id") is not None else str(doc.line)
    events = prediction.events(doc_id)
    text = doc.row["text"]
    return table_rows(table, prediction.entities, prediction.relations, events, doc_id, text)


def _dumps(record: dict) -> str:
    """One JSON line; a record whose passed-through text holds a lone surrogate (valid in JSON,
    not in UTF-8) is written with ASCII escapes, as it was read."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record)
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad predict",
        description="Extract entities and relations from text with a Marsad checkpoint.",
    )
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--input", type=Path, help="input file (default: stdin)")
    parser.add_argument("--output", type=Path, help="output JSONL (default: stdout)")
    parser.add_argument("--jsonl", action="store_true", help="input is JSONL with a 'text' field")
    parser.add_argument(
        "--whole", action="store_true", help="treat the whole input as one document"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None)
    parser.add_argument("--quantize", action="store_true", help="dynamic int8 quantisation (CPU)")
    parser.add_argument(
        "--docs-per-step",
        type=int,
        default=64,
        help="documents read, predicted and written at once",
    )
    parser.add_argument(
        "--on-error",
        choices=("skip", "fail"),
        default="skip",
        help="a bad document: write an error record and go on (exit 3 at the end), or stop",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue --output from its last complete line"
    )
    parser.add_argument("--format", choices=FORMATS, default="jsonl", help="output format")
    parser.add_argument(
        "--table",
        choices=("documents", *TABLES),
        default=None,
        help="one row per document (JSONL only; the default there), mention (the default for "
        "CSV and Parquet), relation or event",
    )
    parser.add_argument("--events", action="store_true", help="the events table (--table events)")
    args = parser.parse_args(argv)
    if args.events:
        if args.table not in (None, "events"):
            parser.error(f"--events and --table {args.table} disagree")
        args.table = "events"
    if args.table is None:
        args.table = "documents" if args.format == "jsonl" else "mentions"
    if args.table == "documents" and args.format != "jsonl":
        parser.error(
            f"--format {args.format} writes a table: add --table mentions|relations|events"
        )
    if args.format == "parquet" and not args.output:
        parser.error("--format parquet needs --output FILE")
    if args.resume and args.table != "documents":
        parser.error("--resume continues a one-document-per-line JSONL output only")
    for flag, value in (("--batch-size", args.batch_size), ("--docs-per-step", args.docs_per_step)):
        if value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    if args.resume and not args.output:
        parser.error("--resume needs --output (the file to continue)")
    if args.input and not args.input.is_file():
        raise SystemExit(f"marsad predict: input file not found: {args.input}")
    predictor = Predictor.from_pretrained(
        args.checkpoint, device=args.device, quantize=args.quantize
    )
    done = complete_lines(args.output) if args.resume else 0
    source = args.input.open("rb") if args.input else sys.stdin.buffer
    if args.table == "documents":
        out = (
            args.output.open("a" if args.resume else "w", encoding="utf-8")
            if args.output
            else sys.stdout
        )
        writer = None
    else:
        out, writer = None, TableWriter(args.output, args.format, args.table, stream=sys.stdout)
    skipped: list[int] = []
    finished = False
    try:
        docs = read_documents(source, args.jsonl, args.whole)
        for _ in range(done):  # already written by the run being resumed
            if next(docs, None) is None:
                break
        with tqdm(desc="documents", unit="doc", file=sys.stderr, disable=args.whole) as bar:
            for step in _steps(docs, args.docs_per_step):
                results = _predict_step(predictor, step, args.batch_size, args.whole)
                rows: list[dict] = []
                for doc in step:
                    if doc.error is not None:
                        where = f"input line {doc.line}"
                        if args.on_error == "fail":
                            if out is not None:
                                out.flush()
                            raise SystemExit(f"marsad predict: {where}: {doc.error}")
                        skipped.append(doc.line)
                        if out is None:  # a table has no row for it: say it here
                            print(f"marsad predict: {where}: {doc.error}", file=sys.stderr)
                            continue
                        record = {"line": doc.line, "id": doc.record_id(), "error": doc.error}
                        out.write(_dumps(record) + "\n")
                    elif out is None:
                        rows += _table_rows(args.table, doc, results[id(doc)])
                    else:
                        record = {**doc.row, **results[id(doc)].to_dict()}
                        out.write(_dumps(record) + "\n")
                if out is None:
                    writer.write(rows)
                else:
                    out.flush()
                bar.update(len(step))
        finished = True
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        if args.input:
            source.close()
        if args.output and out is not None:
            out.close()
        if writer is not None and finished:
            writer.close()
        elif writer is not None:
            writer.abort()
    if skipped:
        shown = ", ".join(map(str, skipped[:10])) + (" ..." if len(skipped) > 10 else "")
        print(
            f"marsad predict: {len(skipped)} bad document(s) written as error records "
            f"(input lines {shown})",
            file=sys.stderr,
        )
        return EXIT_SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main())
