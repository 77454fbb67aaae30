"""``marsad predict --engine ray``: the one-process predictions over many shard files on Ray Data
(the ``ray`` extra), for archives that outgrow one machine.

Shards (JSONL with a ``text`` field, or Parquet with a ``text`` column) are read by Ray tasks, a
file each, so every document keeps its file and line; a malformed line becomes a row with its
error, never a lost document nor a stopped run. ``Predictor`` runs in a fixed pool of actors
(``map_batches`` with an actor pool; the checkpoint is loaded once per actor, on a GPU with
``num_gpus_per_actor``). Written as Parquet, into ``OUT.partial/`` and renamed to ``OUT`` when the
run ends:

- ``OUT/documents/``: one row per document: ``file``, ``line``, ``id``, ``error``, ``text``, the
  prediction as typed columns (``entities``, ``relations``, ``sentences``, as in
  ``Prediction.to_dict()``) and ``record``, the JSON line ``marsad predict --jsonl`` writes for
  that document (its other input fields included; the error record for a bad one);
- ``OUT/events/``: the events table (docs/events.md) with ``file`` and ``line`` first.

Rows come in no particular order; ``file`` and ``line`` say where each document was read.
"""

from __future__ import annotations

import glob
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from marsad.documents import (
    Document,
    document_line,
    error_record,
    predict_documents,
    read_documents,
    record_line,
)
from marsad.model.checkpoint import read_meta, verify_files
from marsad.predictor import Entity, Prediction, Predictor, Relation
from marsad.tables import COLUMNS, table_rows

SHARD_SUFFIXES = (".jsonl", ".parquet")
PARQUET_ROWS = 4096  # rows of a Parquet shard read at once (memory stays flat on large shards)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(value: str | None) -> str | None:
    """A string Arrow can store: a lone surrogate (valid in JSON, not in UTF-8) becomes U+FFFD,
    one character for one, so every offset still holds."""
    return None if value is None else _LONE_SURROGATE.sub("\ufffd", value)


def document_schema():
    """The Arrow schema of ``OUT/documents``: the same columns and types in every file, whatever
    a batch holds (a batch without a single relation still has typed, empty lists)."""
    import pyarrow as pa

    entity = pa.struct(
        [
            ("label", pa.string()),
            ("text", pa.string()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("score", pa.float64()),
            ("sentence", pa.int64()),
        ]
    )
    relation = pa.struct(
        [
            ("head", pa.int64()),
            ("tail", pa.int64()),
            ("label", pa.string()),
            ("score", pa.float64()),
        ]
    )
    return pa.schema(
        [
            ("file", pa.string()),
            ("line", pa.int64()),
            ("id", pa.string()),
            ("error", pa.string()),
            ("text", pa.string()),
            ("entities", pa.list_(entity)),
            ("relations", pa.list_(relation)),
            ("sentences", pa.list_(pa.list_(pa.int64()))),
            ("record", pa.string()),
        ]
    )


_ARROW = {"string": "string", "int64": "int64", "Int64": "int64", "float64": "float64"}


def event_schema():
    """The Arrow schema of ``OUT/events``: ``file``, ``line``, then the events table's columns."""
    import pyarrow as pa

    columns = [(c, getattr(pa, _ARROW[t])()) for c, t in COLUMNS["events"]]
    return pa.schema([("file", pa.string()), ("line", pa.int64()), *columns])


def shard_paths(pattern: str) -> list[str]:
    """The shard files a glob names, sorted; no match, or a file of another kind, is an error
    naming it."""
    paths = sorted(p for p in glob.glob(pattern) if not Path(p).is_dir())
    if not paths:
        raise FileNotFoundError(f"--input {pattern!r} matches no file")
    other = [p for p in paths if not p.endswith(SHARD_SUFFIXES)]
    if other:
        raise ValueError(f"--input: {other[0]} is neither .jsonl nor .parquet")
    return paths


def _parquet_documents(path: str) -> Iterator[Document]:
    """A Parquet shard's rows as documents (line: the 1-based row), read a few thousand at a
    time; a row without a string ``text`` carries its error."""
    import pyarrow.parquet as pq

    shard = pq.ParquetFile(path)
    if "text" not in shard.schema_arrow.names:
        raise ValueError(f"{path}: no 'text' column (columns: {', '.join(shard.schema.names)})")
    line = 0
    for batch in shard.iter_batches(batch_size=PARQUET_ROWS):
        for row in batch.to_pylist():
            line += 1
            ok = isinstance(row.get("text"), str)
            yield Document(line, row, None if ok else "expected a string column 'text'")


def _shard_documents(path: str) -> Iterator[Document]:
    if path.endswith(".parquet"):
        yield from _parquet_documents(path)
        return
    with open(path, "rb") as handle:
        yield from read_documents(handle, jsonl=True, whole=False)


def read_shard(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One shard's documents as rows (file, line, id, the input object as ASCII JSON, error); a
    Parquet value JSON has no type for (a timestamp, bytes) is passed on as its ``str``."""
    path = item["path"]
    for doc in _shard_documents(path):
        doc_id = doc.record_id()
        yield {
            "file": path,
            "line": doc.line,
            "id": None if doc_id is None else _utf8(str(doc_id)),
            "row": None if doc.row is None else json.dumps(doc.row, default=str),
            "error": doc.error,
        }


class PredictorActor:
    """One ``Predictor`` per Ray actor: loaded once, then called on batches of documents."""

    def __init__(
        self,
        checkpoint: str,
        device: str | None,
        quantize: bool | str,
        batch_size: int,
        backend: str = "torch",
    ):
        self.predictor = Predictor.from_pretrained(
            checkpoint, device=device, quantize=quantize, backend=backend
        )
        self.batch_size = batch_size
        self.schema = document_schema()

    def __call__(self, batch):
        """A pyarrow batch of :func:`read_shard` rows -> rows of ``OUT/documents``."""
        import pyarrow as pa

        rows = batch.to_pylist()
        docs = [
            Document(r["line"], None if r["row"] is None else json.loads(r["row"]), r["error"])
            for r in rows
        ]
        results = predict_documents(self.predictor, docs, self.batch_size)
        out = []
        for r, doc in zip(rows, docs):
            prediction = results.get(id(doc)) if doc.error is None else None
            line = None if prediction is None else document_line(doc, prediction)
            if doc.error is not None:  # bad input, a text the model failed on, or not JSON
                prediction, line = None, record_line(error_record(doc))
            data = prediction.to_dict() if prediction is not None else {}
            out.append(
                {
                    "file": r["file"],
                    "line": r["line"],
                    "id": r["id"],
                    "error": doc.error,
                    "text": _utf8(doc.row.get("text")) if doc.row and prediction else None,
                    "entities": [{**e, "text": _utf8(e["text"])} for e in data.get("entities", [])],
                    "relations": data.get("relations", []),
                    "sentences": data.get("sentences", []),
                    "record": line,
                }
            )
        return pa.Table.from_pylist(out, schema=self.schema)


def event_table(batch):
    """The events table's rows of a batch of ``OUT/documents`` rows, computed from the stored
    prediction (no model), with the document's file and line; ``doc_id`` is the document's
    ``id``, else its line, as ``marsad predict --events`` names it."""
    import pyarrow as pa

    rows = []
    for doc in batch.to_pylist():
        if doc["error"] is not None:
            continue
        prediction = Prediction(
            [Entity(**e) for e in doc["entities"]],
            [Relation(**r) for r in doc["relations"]],
            [tuple(s) for s in doc["sentences"]],
        )
        doc_id = doc["id"] if doc["id"] is not None else str(doc["line"])
        for row in table_rows(
            "events",
            prediction.entities,
            prediction.relations,
            prediction.events(doc_id),
            doc_id,
            doc["text"],
        ):
            cells = {k: _utf8(v) if isinstance(v, str) else v for k, v in row.items()}
            rows.append({"file": doc["file"], "line": doc["line"], **cells})
    return pa.Table.from_pylist(rows, schema=event_schema())


def _write(dataset, directory: Path, schema) -> None:
    """``dataset`` as Parquet files in ``directory``; no rows: one empty file with ``schema``, so
    a reader still finds the columns."""
    import pyarrow.parquet as pq

    dataset.write_parquet(str(directory))
    if not list(directory.glob("*.parquet")):
        directory.mkdir(parents=True, exist_ok=True)
        pq.write_table(schema.empty_table(), directory / "empty.parquet")


def check_checkpoint(checkpoint: str) -> None:
    """Refuse a checkpoint that is not one (missing, damaged metadata, a file truncated or
    changed) before Ray starts, with the loader's one-line reason (``CheckpointError``), rather
    than as every actor's traceback; the actors then load it in full."""
    verify_files(Path(checkpoint), read_meta(Path(checkpoint)))


def run_on_ray(
    pattern: str,
    out: Path,
    checkpoint: str,
    num_actors: int = 1,
    batch_size: int = 32,
    num_gpus_per_actor: float = 0.0,
    num_cpus_per_actor: float = 1.0,
    device: str | None = None,
    quantize: bool | str = False,
    backend: str = "torch",
) -> list[dict[str, Any]]:
    """Predict every document of the shards matching ``pattern`` into ``out`` (Parquet, see the
    module docstring) with ``num_actors`` actors, ``batch_size`` documents per call; returns the
    bad documents (file, line, id, error), which are also rows of ``out/documents``. Joins the
    cluster ``RAY_ADDRESS`` names (``ray job submit`` sets it) when Ray is not yet initialised,
    else starts a local instance."""
    import pyarrow.compute as pc
    import ray

    out = Path(out)
    if out.exists():
        raise FileExistsError(f"--output {out} exists; give a new directory")
    paths = shard_paths(pattern)
    check_checkpoint(checkpoint)
    if not ray.is_initialized():
        ray.init()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # what an earlier run stopped in left
    # reading is light (JSON, Parquet): it takes no CPU slot from the actors, which hold theirs
    docs = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=len(paths))
    docs = docs.flat_map(read_shard, num_cpus=0)
    predicted = docs.map_batches(
        PredictorActor,
        fn_constructor_kwargs={
            "checkpoint": str(checkpoint),
            "device": device,
            "quantize": quantize,
            "batch_size": batch_size,
            "backend": backend,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        num_cpus=num_cpus_per_actor,
        num_gpus=num_gpus_per_actor,
    )
    _write(predicted, partial / "documents", document_schema())
    # the events and the bad documents are read back from what was written: no second model run
    written = ray.data.read_parquet(str(partial / "documents"))
    events = written.map_batches(event_table, batch_format="pyarrow")
    _write(events, partial / "events", event_schema())
    bad = written.select_columns(["file", "line", "id", "error"]).map_batches(
        lambda t: t.filter(pc.is_valid(t["error"])), batch_format="pyarrow"
    )
    problems = sorted(bad.take_all(), key=lambda r: (r["file"], r["line"]))
    partial.rename(out)
    return problems


def failure_line(exc: Exception) -> str:
    """The last line of a Ray failure (an actor that died, a task that raised): the error that
    caused it, without the tracebacks Ray wraps around it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def report_problems(problems: list[dict[str, Any]], stream=None) -> None:
    """One line per bad document: file, line, id and why."""
    for p in problems:
        doc = f" (id {p['id']})" if p["id"] is not None else ""
        print(
            f"marsad predict: {p['file']}, line {p['line']}{doc}: {p['error']}",
            file=stream or sys.stderr,
        )
