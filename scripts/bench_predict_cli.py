"""Articles per second of ``marsad predict`` with each backend, on the same articles and machine.

    python scripts/bench_predict_cli.py --checkpoint DIR [--articles 2000] [--json OUT]

The articles are the repository's own (the seed articles and the team corpus's raw documents,
about 10 sentences each), taken in turn until ``--articles`` of them, one JSONL line each. Each
backend runs the real command in a fresh process (``python -m marsad.cli predict --jsonl
--device cpu ...``, loading included, as a user runs it) over the same file: torch fp32, torch
dynamic int8, onnxruntime fp32 and onnxruntime int8 (the variant chosen on dev; with the ``onnx``
extra). The graph is built (or read from the cache) before timing, so a first-use export is not
counted. Printed per backend: wall seconds, articles/s, sentences/s, how many articles have the
same entities as the first backend (torch fp32 unless ``--backend`` says otherwise), and the load
average before and after each, since this machine is shared. Runs one after another, not
interleaved: read the ratios with the load beside them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS: dict[str, list[str]] = {
    "torch fp32": [],
    "torch int8": ["--quantize"],
    "onnxruntime fp32": ["--backend", "onnxruntime"],
    "onnxruntime int8": ["--backend", "onnxruntime", "--quantize"],
}


def article_texts() -> list[str]:
    """The repository's articles, in a fixed order."""
    paths = sorted((ROOT / "data" / "raw").glob("*.txt"))
    paths += sorted((ROOT / "data" / "team" / "raw").glob("*.txt"))
    return [p.read_text(encoding="utf-8").strip() for p in paths]


def write_articles(path: Path, count: int) -> None:
    texts = article_texts()
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            row = {"id": f"a{i}", "text": texts[i % len(texts)]}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def prepare_graphs(checkpoint: Path, backends: list[str]) -> None:
    """Build (or find cached) each ONNX graph before any timing."""
    from marsad.predictor import Predictor

    for name in backends:
        flags = BACKENDS[name]
        if "onnxruntime" in flags:
            Predictor.from_pretrained(
                checkpoint, backend="onnxruntime", quantize="--quantize" in flags
            )


def run_backend(checkpoint: Path, articles: Path, out: Path, flags: list[str], batch: int) -> float:
    """Wall seconds of one ``marsad predict`` process over ``articles``."""
    cmd = [sys.executable, "-m", "marsad.cli", "predict", "--checkpoint", str(checkpoint)]
    cmd += ["--jsonl", "--input", str(articles), "--output", str(out), "--device", "cpu"]
    cmd += ["--batch-size", str(batch), *flags]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def read_output(path: Path) -> tuple[list[list[tuple]], int]:
    """Each article's entities (label, start, end) and the number of sentences, in one read."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    keys = [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in rows]
    return keys, sum(len(r["sentences"]) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backend", action="append", choices=list(BACKENDS))
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)
    if args.articles < 1:
        parser.error(f"--articles must be >= 1, got {args.articles}")
    backends = args.backend or list(BACKENDS)
    if importlib.util.find_spec("onnxruntime") is None:
        skipped = [b for b in backends if "onnxruntime" in BACKENDS[b]]
        backends = [b for b in backends if b not in skipped]
        if skipped:
            print(f"onnxruntime is not installed: {', '.join(skipped)} left out", file=sys.stderr)
    prepare_graphs(args.checkpoint, backends)
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        articles = Path(tmp) / "articles.jsonl"
        write_articles(articles, args.articles)
        reference = None
        for name in backends:
            out = Path(tmp) / f"{len(rows)}.jsonl"
            before = load_average()
            seconds = run_backend(args.checkpoint, articles, out, BACKENDS[name], args.batch_size)
            keys, sentences = read_output(out)
            reference = keys if reference is None else reference
            rows[name] = {
                "seconds": round(seconds, 2),
                "articles_per_s": round(args.articles / seconds, 3),
                "sentences_per_s": round(sentences / seconds, 2),
                "same_entities_as_first": sum(a == b for a, b in zip(keys, reference)),
                "load_before": before,
                "load_after": load_average(),
            }
            print(f"{name}: {json.dumps(rows[name])}", file=sys.stderr)
    print(f"{args.articles} articles, batch {args.batch_size}, reference: {backends[0]}")
    print("| backend | s | articles/s | sentences/s | same entities | load before / after |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['seconds']} | {r['articles_per_s']} | {r['sentences_per_s']} "
            f"| {r['same_entities_as_first']} of {args.articles} | {r['load_before']} / "
            f"{r['load_after']} |"
        )
    if args.json:
        from marsad.fileio import atomic_write_text

        payload = {"articles": args.articles, "batch_size": args.batch_size, "rows": rows}
        atomic_write_text(args.json, json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
