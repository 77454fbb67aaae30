"""Run a checkpoint over text: ``marsad predict --checkpoint DIR [--input FILE] [--output FILE]``.

Input is plain text (one document per line, or the whole file with ``--whole``) or JSONL with a
``text`` field (``--jsonl``; other fields are passed through). Reads stdin when no ``--input``.
Writes one JSON object per document: ``{"text": ..., "entities": [...], "relations": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm.auto import tqdm

from marsad.predictor import Predictor


def read_documents(handle, jsonl: bool, whole: bool) -> list[dict]:
    if whole:
        return [{"text": handle.read()}]
    docs = []
    for lineno, line in enumerate(handle, 1):
        if jsonl:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"input line {lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise SystemExit(
                    f"input line {lineno}: expected an object with a string field 'text'"
                )
            docs.append(row)
        else:
            docs.append({"text": line.rstrip("\n")})
    return docs


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
        "--docs-per-step", type=int, default=64, help="documents per predictor call"
    )
    args = parser.parse_args(argv)
    for flag, value in (("--batch-size", args.batch_size), ("--docs-per-step", args.docs_per_step)):
        if value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    predictor = Predictor.from_pretrained(
        args.checkpoint, device=args.device, quantize=args.quantize
    )
    if args.input:
        with args.input.open(encoding="utf-8") as fh:
            docs = read_documents(fh, args.jsonl, args.whole)
    else:
        docs = read_documents(sys.stdin, args.jsonl, args.whole)
    out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    try:
        with tqdm(
            total=len(docs),
            desc="documents",
            unit="doc",
            disable=len(docs) < 2 * args.docs_per_step,
            file=sys.stderr,
        ) as bar:
            for i in range(0, len(docs), args.docs_per_step):
                batch = docs[i : i + args.docs_per_step]
                results = predictor(
                    [d["text"] for d in batch], batch_size=args.batch_size, progress=args.whole
                )
                for doc, result in zip(batch, results):
                    out.write(json.dumps({**doc, **result.to_dict()}, ensure_ascii=False) + "\n")
                bar.update(len(batch))
    finally:
        if args.output:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
