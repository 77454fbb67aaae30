"""Run a checkpoint over text: ``marsad predict --checkpoint DIR [--input FILE] [--output FILE]``.

Input is plain text (one document per line, or the whole file with ``--whole``) or JSONL with a
``text`` field (``--jsonl``; other fields are passed through; blank lines are skipped). Reads stdin
when no ``--input``. Writes one JSON object per document, in input order:
``{"text": ..., "entities": [...], "relations": [...], "sentences": [...]}``. ``--table
mentions|relations|events`` (``--events`` for short) writes that table instead, one row per
mention, relation or event (columns: docs/events.md), as ``--format jsonl|csv|parquet``; a table
file is written to ``OUTPUT.partial`` and renamed to ``OUTPUT`` when the run ends, and a run that
stops early (Ctrl-C, ``--on-error fail``, a crash) leaves its finished steps' rows there.

Built for batch runs over thousands of documents: input is read, predicted and written in steps of
``--docs-per-step`` documents and flushed after each, so memory stays flat and a crash loses at
most one step. A bad document (invalid JSON, JSON that is not strict — NaN, Infinity, a float out
of range, a number too long or nesting too deep for Python — no string ``text``, bytes that are
not UTF-8, text the model cannot take) becomes an error record ``{"line": N, "id": ..., "error":
"..."}`` in its place (``--on-error skip``, the default; a summary goes to stderr and the exit
code is 3) or stops the run naming its line (``--on-error fail``, exit 1); the output is always
strict JSON. ``--resume`` continues an ``--output`` file from its last complete line (one line per
document, error records included; the summary and exit code count the whole file's error
records), after checking ``OUTPUT.marsad-resume.json``, the input's identity written beside the
output. A closed pipe (``| head``) ends the run quietly; Ctrl-C says where the finished documents
are (exit 130); a missing or damaged checkpoint, an unwritable output or a missing GPU is one line.

``--backend onnxruntime`` runs the encoder as an ONNX graph (the ``onnx`` extra; CPU) and
``--quantize [dynamic|static]`` in int8 (docs/onnx.md); the same flags reach ``--engine ray``.

``--engine ray`` runs the same predictions over a glob of JSONL or Parquet shards in a pool of Ray
actors and writes Parquet (:mod:`marsad.scale_out`, docs/predict.md).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from marsad.documents import (
    Document,
    document_line,
    error_record,
    predict_documents,
    read_documents,
    record_line,
)
from marsad.fileio import atomic_write_text
from marsad.model.checkpoint import CheckpointError
from marsad.predictor import BACKENDS, Prediction, Predictor
from marsad.tables import FORMATS, TABLES, TableWriter, partial_path, table_rows

EXIT_SKIPPED = 3  # some documents were bad and written as error records
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


def _error_record_line(raw: bytes) -> int | None:
    """The input line of an output line that is an error record, else None."""
    if not raw.startswith(b'{"line": '):  # every error record starts so; few documents do
        return None
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(record, dict) and "error" in record and "entities" not in record:
        return record.get("line")
    return None


@dataclass
class Written:
    """What an output file being resumed already holds."""

    documents: int  # complete lines: one per input document
    error_lines: list[int]  # input lines of its error records


def scan_output(path: Path) -> Written:
    """Complete lines of an output file and its error records, truncating a partial last line
    (a crash mid-write); read line by line, so a large output costs no memory."""
    if not path.exists():
        return Written(0, [])
    documents, errors, keep = 0, [], 0
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            documents, keep = documents + 1, keep + len(raw)
            line = _error_record_line(raw)
            if line is not None:
                errors.append(line)
    if keep < path.stat().st_size:
        os.truncate(path, keep)
    return Written(documents, errors)


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
    """Predictions for the good documents of a step (:func:`marsad.documents.predict_documents`;
    a name of its own, so a test can stand in for the model)."""
    return predict_documents(predictor, step, batch_size, progress)


def _table_rows(table: str, doc: Document, prediction: Prediction) -> list[dict]:
    """A document's rows of ``table``; its ``id`` field names it, else its input line."""
    doc_id = str(doc.row["id"]) if doc.row.get("id") is not None else str(doc.line)
    events = prediction.events(doc_id)
    text = doc.row["text"]
    return table_rows(table, prediction.entities, prediction.relations, events, doc_id, text)


# --resume: which input an output was written from
RESUME_SUFFIX = ".marsad-resume.json"
HEAD_BYTES = 1 << 20  # hashed from the start of the input


def resume_record_path(output: Path) -> Path:
    return output.with_name(output.name + RESUME_SUFFIX)


def input_identity(path: Path | None, jsonl: bool, whole: bool) -> dict:
    """What ties an output to its input: the mode (it decides which lines are documents), the
    input's size and the SHA-256 of its first MiB; standard input has neither."""
    identity: dict = {"input": "<stdin>" if path is None else str(path.resolve())}
    identity.update(jsonl=jsonl, whole=whole)
    if path is not None:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        identity.update(
            size=path.stat().st_size,
            head_bytes=len(head),
            head_sha256=hashlib.sha256(head).hexdigest(),
        )
    return identity


def _mismatch(old: dict, new: dict) -> str | None:
    """Why an output written from ``old`` cannot be continued from ``new``, or None."""
    for key in ("jsonl", "whole"):
        if old.get(key) != new.get(key):
            state = "with" if old.get(key) else "without"
            return f"it was written {state} --{key}"
    if "size" in old and "size" in new:  # standard input on either side: nothing to compare
        if old["size"] != new["size"]:
            return f"it was written from {old['input']} of {old['size']} bytes, not {new['size']}"
        if old.get("head_sha256") != new.get("head_sha256"):
            return f"it was written from {old['input']}, whose first bytes differ from this input's"
    return None


def check_resume(output: Path, identity: dict) -> None:
    """Refuse to continue ``output`` from another input than the one it was written from."""
    record = resume_record_path(output)
    if not record.exists():
        if output.exists() and output.stat().st_size:
            print(
                f"marsad predict: warning: no {record.name} beside {output}: cannot check that "
                "it was written from this input",
                file=sys.stderr,
            )
        return
    try:
        old = json.loads(record.read_text(encoding="utf-8"))
        if not isinstance(old, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as exc:
        raise SystemExit(
            f"marsad predict: --resume: {record} is unreadable ({exc}); delete it to resume "
            "without the check"
        ) from None
    why = _mismatch(old, identity)
    if why is not None:
        raise SystemExit(
            f"marsad predict: --resume: {output} does not continue this input: {why} "
            f"(see {record.name}); rerun without --resume to start over"
        )


def _check_device(parser: argparse.ArgumentParser, name: str | None, quantize: bool | str) -> None:
    """A device this machine has, named before the model loads (not a traceback from CUDA)."""
    if name is None:
        return
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        parser.error(f"--device {name}: {exc}")
    if quantize and device.type != "cpu":
        parser.error(f"--quantize is int8 on CPU; it cannot run on --device {name}")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise SystemExit(f"marsad predict: --device {name}: no CUDA GPU is available here")
        if device.index is not None and device.index >= count:
            raise SystemExit(f"marsad predict: --device {name}: this machine has {count} GPU(s)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marsad predict",
        description="Extract entities and relations from text with a Marsad checkpoint.",
        epilog='A bad document becomes an error record {"line": N, "id": ..., "error": ...} '
        "in its place (exit 3 at the end). JSON input must be strict JSON: NaN, Infinity, "
        "numbers too large and nesting too deep make a line an error record. A table (--table, "
        "--events) is written to OUTPUT.partial and renamed to OUTPUT when the run ends; a "
        "run that stops early (Ctrl-C, --on-error fail, a crash) leaves the rows of the "
        "documents it finished in OUTPUT.partial. --resume checks OUTPUT" + RESUME_SUFFIX + ", "
        "written beside OUTPUT, and refuses to continue an output of another input. More: "
        "docs/predict.md.",
    )
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--input", type=Path, help="input file (default: stdin)")
    parser.add_argument("--output", type=Path, help="output file (default: stdout)")
    parser.add_argument("--jsonl", action="store_true", help="input is JSONL with a 'text' field")
    parser.add_argument(
        "--whole", action="store_true", help="treat the whole input as one plain-text document"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if any)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="torch, or onnxruntime (the onnx extra; CPU): the encoder as an ONNX graph "
        "(docs/onnx.md)",
    )
    parser.add_argument(
        "--quantize",
        nargs="?",
        const=True,
        default=False,
        choices=("dynamic", "static"),
        help="int8 on CPU: alone, dynamic int8 (torch) or the int8 variant chosen on dev "
        "(onnxruntime); 'static' (calibrated) is onnxruntime's only",
    )
    parser.add_argument(
        "--docs-per-step",
        type=int,
        default=None,
        help="documents read, predicted and written at once (default 64)",
    )
    parser.add_argument(
        "--on-error",
        choices=("skip", "fail"),
        default="skip",
        help="a bad document: write an error record and go on (exit 3 at the end), or stop",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue --output from its last complete line, if it was written from this input "
        "(exit 3 if the whole output holds error records)",
    )
    parser.add_argument("--format", choices=FORMATS, default=None, help="output format (jsonl)")
    parser.add_argument(
        "--table",
        choices=("documents", *TABLES),
        default=None,
        help="one row per document (JSONL only; the default there), mention (the default for "
        "CSV and Parquet), relation or event",
    )
    parser.add_argument("--events", action="store_true", help="the events table (--table events)")
    ray = parser.add_argument_group(
        "scale-out on Ray Data (the ray extra; docs/predict.md)",
        "--engine ray: --input is a glob of JSONL / Parquet shards ('DIR/*.jsonl'), --output a new "
        "directory of Parquet (documents/ and events/); --batch-size documents per actor call",
    )
    ray.add_argument("--engine", choices=("local", "ray"), default="local")
    ray.add_argument("--num-actors", type=int, default=1, help="actors, each loading the model")
    ray.add_argument("--num-cpus-per-actor", type=float, default=1.0)
    ray.add_argument("--num-gpus-per-actor", type=float, default=0.0)
    return parser


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.docs_per_step is None:
        args.docs_per_step = 64
    if args.format is None:
        args.format = "jsonl"
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
    if args.jsonl and args.whole:
        parser.error("--whole reads the input as one plain-text document; --jsonl reads lines")
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
    _check_backend(parser, args)
    _check_device(parser, args.device, args.quantize)


def _check_backend(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What only one backend can do is refused by name, before the model loads."""
    if args.backend == "torch" and args.quantize == "static":
        parser.error("--quantize static is calibrated int8 of --backend onnxruntime")
    if args.backend == "onnxruntime":
        if (args.device or "cpu") != "cpu" or args.num_gpus_per_actor > 0:
            parser.error("--backend onnxruntime runs on the CPU here; leave out --device")
        from marsad.onnx_backend import require_onnxruntime  # onnxruntime itself is an extra

        try:
            require_onnxruntime()
        except ImportError as exc:
            raise SystemExit(f"marsad predict: --backend onnxruntime: {exc}") from None


def _load(args: argparse.Namespace) -> Predictor:
    try:
        return Predictor.from_pretrained(
            args.checkpoint, device=args.device, quantize=args.quantize, backend=args.backend
        )
    except (CheckpointError, OSError, ValueError, ImportError) as exc:
        raise SystemExit(
            f"marsad predict: cannot load --checkpoint {args.checkpoint}: {exc}"
        ) from None


def _oserror(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{':' if where else ''}{where}"


@dataclass
class Progress:
    """What a run has done, for its summary and for the message when it stops early."""

    earlier_errors: list[int]  # input lines of the error records a resumed output held
    errors: list[int]  # input lines of this run's bad documents
    documents: int = 0  # finished documents, the resumed output's included
    last_line: int = 0  # input line of the last finished document


def _write_step(args, step, results, out, writer, progress: Progress) -> None:
    """One step's documents, in input order: records to ``out`` or rows to ``writer``."""
    rows: list[dict] = []
    for doc in step:
        line = None
        if doc.error is None and out is not None:
            line = document_line(doc, results[id(doc)])
        if doc.error is not None:
            where = f"input line {doc.line}"
            if args.on_error == "fail":
                if out is not None:
                    out.flush()
                raise SystemExit(f"marsad predict: {where}: {doc.error}")
            progress.errors.append(doc.line)
            if out is None:  # a table has no row for it: say it here
                print(f"marsad predict: {where}: {doc.error}", file=sys.stderr)
                continue
            line = record_line(error_record(doc))
        if out is None:
            rows += _table_rows(args.table, doc, results[id(doc)])
        else:
            out.write(line + "\n")
            progress.documents, progress.last_line = progress.documents + 1, doc.line
    if out is None:
        writer.write(rows)
        progress.documents, progress.last_line = progress.documents + len(step), step[-1].line
    else:
        out.flush()


def _summary(progress: Progress, table: bool) -> int:
    bad = sorted(progress.earlier_errors + progress.errors)
    if not bad:
        return 0
    shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
    what = "left out of the table" if table else "written as error records"
    earlier = (
        f"; {len(progress.earlier_errors)} of them by the run resumed"
        if progress.earlier_errors
        else ""
    )
    print(
        f"marsad predict: {len(bad)} bad document(s) {what} (input lines {shown}){earlier}",
        file=sys.stderr,
    )
    return EXIT_SKIPPED


def _stopped_note(args, progress: Progress, partial: Path | None) -> str | None:
    """Where a run that stopped early left its finished documents (None: it finished none)."""
    if progress.documents == 0:
        return None
    done = f"{progress.documents} document(s), to input line {progress.last_line}"
    if args.table == "documents" and args.output:
        return f"marsad predict: stopped; {done}, are in {args.output}; --resume continues"
    if partial is not None:
        return f"marsad predict: stopped; the rows of {done}, are in {partial}"
    if args.output:
        return f"marsad predict: stopped; no rows were kept ({partial_path(args.output)})"
    return f"marsad predict: stopped; {done}, were written"


def _close(args, source, out, writer, complete: bool) -> Path | None:
    """Close the run's files; a table is moved into place if ``complete``, else its finished
    rows are kept in OUTPUT.partial, whose path is returned."""
    if args.input:
        source.close()
    if args.output and out is not None:
        out.close()
    if writer is None:
        return None
    if complete:
        writer.close()
        return None
    return writer.abort()


def _open_output(args, identity: dict | None):
    """The output: a JSONL handle (and the resume record beside a file), or a table writer."""
    if args.table != "documents":
        return None, TableWriter(args.output, args.format, args.table, stream=sys.stdout)
    if args.output is None:
        return sys.stdout, None
    out = args.output.open("a" if args.resume else "w", encoding="utf-8")
    try:
        atomic_write_text(resume_record_path(args.output), json.dumps(identity, indent=1))
    except OSError:
        out.close()
        raise
    return out, None


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.engine == "ray":
        return _main_ray(parser, args)
    for name in ("num_actors", "num_cpus_per_actor", "num_gpus_per_actor"):
        if getattr(args, name) != parser.get_default(name):
            parser.error(f"--{name.replace('_', '-')} is for --engine ray")
    _check_args(parser, args)
    try:
        predictor = _load(args)
    except KeyboardInterrupt:
        print("marsad predict: interrupted while loading the checkpoint", file=sys.stderr)
        return EXIT_INTERRUPTED
    documents_file = args.table == "documents" and args.output is not None
    try:
        identity = input_identity(args.input, args.jsonl, args.whole) if documents_file else None
        if args.resume:
            check_resume(args.output, identity)
            written = scan_output(args.output)
        else:
            written = Written(0, [])
        source = args.input.open("rb") if args.input else sys.stdin.buffer
    except OSError as exc:
        raise SystemExit(f"marsad predict: {_oserror(exc)}") from None
    progress = Progress(written.error_lines, [], written.documents)
    out, writer = None, None
    try:
        out, writer = _open_output(args, identity)
    except OSError as exc:
        _close(args, source, out, writer, False)
        raise SystemExit(
            f"marsad predict: cannot write --output {args.output}: {exc.strerror or exc}"
        ) from None
    status, failure = "failed", None  # failed: an unexpected error, whose traceback follows
    try:
        docs = read_documents(source, args.jsonl, args.whole)
        for _ in range(written.documents):  # already written by the run being resumed
            if next(docs, None) is None:
                break
        with tqdm(desc="documents", unit="doc", file=sys.stderr, disable=args.whole) as bar:
            for step in _steps(docs, args.docs_per_step):
                results = _predict_step(predictor, step, args.batch_size, args.whole)
                _write_step(args, step, results, out, writer, progress)
                bar.update(len(step))
        status = "done"
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as cat does
        status = "pipe"
    except KeyboardInterrupt:
        status = "interrupted"
    except OSError as exc:  # a full disk, an unwritable --output
        failure = f"marsad predict: {_oserror(exc)}"
    except SystemExit as exc:  # --on-error fail
        failure = str(exc.code)
    finally:
        partial = _close(args, source, out, writer, status == "done")
        stopped = _stopped_note(args, progress, partial)
        if status in ("failed", "interrupted") and failure is None and stopped:
            print(stopped, file=sys.stderr)
    if status == "pipe":
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    if status == "interrupted":
        return EXIT_INTERRUPTED
    if failure is not None:
        raise SystemExit(failure if stopped is None else f"{failure}\n{stopped}")
    return _summary(progress, args.table != "documents")


def _check_ray_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What --engine ray cannot do is refused by name, before Ray starts."""
    if not args.input or not args.output:
        parser.error("--engine ray needs --input 'DIR/*.jsonl' (or *.parquet) and --output DIR")
    given = [
        ("--resume", args.resume),
        ("--whole", args.whole),
        ("--table", args.table is not None),
        ("--events", args.events),
        ("--format csv/jsonl", args.format not in (None, "parquet")),
        ("--on-error fail", args.on_error == "fail"),
        ("--docs-per-step", args.docs_per_step is not None),
    ]
    refused = [flag for flag, on in given if on]
    if refused:
        parser.error(
            f"--engine ray writes Parquet documents/ and events/ in batches of --batch-size "
            f"documents; it has no {refused[0]}"
        )
    for flag, value in (("--batch-size", args.batch_size), ("--num-actors", args.num_actors)):
        if value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    if args.num_gpus_per_actor < 0 or args.num_cpus_per_actor < 0:
        parser.error("--num-gpus-per-actor and --num-cpus-per-actor must be >= 0")
    if args.quantize and (args.num_gpus_per_actor > 0 or (args.device or "cpu") != "cpu"):
        parser.error("--quantize is int8 on CPU; it cannot run on a GPU")
    _check_backend(parser, args)


def _main_ray(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--engine ray`` (:mod:`marsad.scale_out`): exit 0, or 3 when some documents were bad
    (each named on stderr by file, line and id, and kept as a row with its error)."""
    _check_ray_args(parser, args)
    if importlib.util.find_spec("ray") is None:  # an extra
        raise SystemExit("marsad predict: --engine ray needs Ray Data: pip install -e '.[ray]'")
    import ray.exceptions

    from marsad.scale_out import failure_line, report_problems, run_on_ray

    try:
        problems = run_on_ray(
            str(args.input),
            args.output,
            str(args.checkpoint),
            num_actors=args.num_actors,
            batch_size=args.batch_size,
            num_gpus_per_actor=args.num_gpus_per_actor,
            num_cpus_per_actor=args.num_cpus_per_actor,
            device=args.device,
            quantize=args.quantize,
            backend=args.backend,
        )
    except (OSError, ValueError, CheckpointError) as exc:
        raise SystemExit(f"marsad predict: {exc}") from None
    except ray.exceptions.RayError as exc:  # an actor or a task failed: the log above has more
        raise SystemExit(
            f"marsad predict: --engine ray failed ({type(exc).__name__}): {failure_line(exc)}; "
            f"{args.output} was not written"
        ) from None
    if problems:
        report_problems(problems)
        print(
            f"marsad predict: {len(problems)} bad document(s), kept as rows with their error in "
            f"{args.output / 'documents'}",
            file=sys.stderr,
        )
        return EXIT_SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main())
