"""Annotations or pre-annotations for an annotation tool: ``marsad export``.

    marsad export --format labelstudio|brat|doccano --out DIR [--data data]
    marsad export --format labelstudio --out DIR --checkpoint CKPT --raw data/raw

Without ``--checkpoint``: the gold sentences of ``--data`` (its ``annotations/``), e.g. to move
them into a tool or to check a round trip. With it: each article of ``--raw`` (``*.txt``) split
into sentences as ``scripts/make_skeleton.py`` does and pre-annotated by the checkpoint, for an
annotator to correct (Label Studio: as ``predictions``, with the model's scores). Writes, in
``--out``: Label Studio ``tasks.json`` and ``label_config.xml``; brat ``<doc>.txt`` and
``<doc>.ann`` per document (and ``annotation.conf``); doccano ``<doc>.jsonl`` per document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marsad.annotation import brat, doccano, labelstudio
from marsad.annotation.records import AnnotationImportError, read_documents, read_utf8
from marsad.fileio import atomic_write_text
from marsad.schema import ENTITY_TYPES, RELATION_SIGNATURES

FORMATS = ("labelstudio", "brat", "doccano")


def predicted_documents(checkpoint: Path, raw_dir: Path) -> tuple[dict, dict]:
    """``doc_id -> records`` of the checkpoint's predictions on each raw article's sentences, and
    ``sent_id -> {entity id: score}``."""
    from marsad.predictor import Predictor
    from marsad.text import split_sentences

    predictor = Predictor.from_pretrained(checkpoint)
    docs, scores = {}, {}
    paths = sorted(raw_dir.glob("*.txt"))
    if not paths:
        raise SystemExit(f"marsad export: no *.txt articles in {raw_dir}")
    for path in paths:
        try:
            sentences = split_sentences(read_utf8(path))
        except AnnotationImportError as exc:  # names the file, byte and line
            raise SystemExit(f"marsad export: {exc.problems[0]}") from None
        predictions = predictor([s.text for s in sentences])
        records = []
        for k, (s, pred) in enumerate(zip(sentences, predictions)):
            sent_id = f"{path.stem}-s{k:02d}"
            order = sorted(range(len(pred.entities)), key=lambda i: pred.entities[i].start)
            name = {i: f"T{n}" for n, i in enumerate(order, 1)}
            records.append(
                {
                    "doc_id": path.stem,
                    "sent_id": sent_id,
                    "offset": s.start,
                    "text": s.text,
                    "entities": [
                        {
                            "id": name[i],
                            "label": pred.entities[i].label,
                            "start": pred.entities[i].start,
                            "end": pred.entities[i].end,
                            "text": pred.entities[i].text,
                        }
                        for i in order
                    ],
                    "relations": [
                        {"head": name[r.head], "tail": name[r.tail], "label": r.label}
                        for r in pred.relations
                    ],
                }
            )
            scores[sent_id] = {name[i]: pred.entities[i].score for i in order}
        docs[path.stem] = records
    return docs, scores


def brat_conf() -> str:
    """brat's annotation.conf for the schema (entities and typed relation arguments)."""
    lines = ["[entities]", *ENTITY_TYPES, "", "[relations]"]
    for label, (heads, tails) in RELATION_SIGNATURES.items():
        lines.append(f"{label}\tArg1:{'|'.join(sorted(heads))}, Arg2:{'|'.join(sorted(tails))}")
    return "\n".join([*lines, "", "[events]", "", "[attributes]", ""])


def write(docs: dict[str, list[dict]], fmt: str, out: Path, scores: dict | None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt == "labelstudio":
        records = [r for doc in docs.values() for r in doc]
        tasks = labelstudio.export_tasks(records, as_annotations=scores is None, scores=scores)
        atomic_write_text(
            out / "tasks.json", json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
        )
        atomic_write_text(out / "label_config.xml", labelstudio.label_config())
        return [out / "tasks.json", out / "label_config.xml"]
    for doc_id, records in docs.items():
        if fmt == "brat":
            txt, ann = brat.export_document(records)
            atomic_write_text(out / f"{doc_id}.txt", txt)
            atomic_write_text(out / f"{doc_id}.ann", ann)
            written += [out / f"{doc_id}.txt", out / f"{doc_id}.ann"]
        else:
            atomic_write_text(out / f"{doc_id}.jsonl", doccano.export_lines(records))
            written.append(out / f"{doc_id}.jsonl")
    if fmt == "brat":
        atomic_write_text(out / "annotation.conf", brat_conf())
        written.append(out / "annotation.conf")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marsad export",
        description="Write annotations or pre-annotations for Label Studio, brat or doccano.",
    )
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument(
        "--data", type=Path, default=Path("data"), help="corpus whose gold to export"
    )
    parser.add_argument("--checkpoint", type=Path, help="pre-annotate --raw with this checkpoint")
    parser.add_argument("--raw", type=Path, default=None, help="articles to pre-annotate (*.txt)")
    args = parser.parse_args(argv)
    if args.checkpoint:
        raw = args.raw or args.data / "raw"
        if not raw.is_dir():
            parser.error(f"--raw {raw} is not a directory")
        docs, scores = predicted_documents(args.checkpoint, raw)
    else:
        if args.raw:
            parser.error("--raw needs --checkpoint (the gold is read from --data)")
        if not (args.data / "annotations").is_dir():
            parser.error(f"{args.data / 'annotations'} is not a directory")
        try:
            docs, scores = read_documents(args.data / "annotations"), None
        except AnnotationImportError as exc:  # bad UTF-8, named with file, byte and line
            raise SystemExit(f"marsad export: {exc.problems[0]}") from None
    paths = write(docs, args.format, args.out, scores)
    n = sum(map(len, docs.values()))
    print(f"wrote {len(paths)} file(s) for {len(docs)} document(s), {n} sentences, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
