"""Ray scale-out benchmark: ``python scripts/bench_ray.py --checkpoint DIR [--docs 300]``.

Writes ``--docs`` JSONL documents (``--sentences-per-doc`` consecutive corpus sentences each) as
``--shards`` shard files, then times, as separate processes on this machine, end to end (start-up
and model loading included): the plain CLI (``marsad predict --jsonl``, one process, torch on all
cores) and ``marsad predict --engine ray`` with 1 and 2 actors (``--actors``; one CPU and one torch
thread each, on a local Ray instance started by the command). Prints documents/s per run and the
load average before and after each (another job on the machine slows every figure), checks that
each run predicted every document, and writes the figures with ``--json FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from marsad.data.corpus import read_corpus
from marsad.fileio import atomic_write_text


def write_shards(root: Path, texts: list[str], shards: int) -> Path:
    """The documents as one JSONL file (for the plain CLI) and as ``shards`` files under
    ``root/shards`` (for Ray); returns the single file."""
    rows = [json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts)]
    single = root / "all.jsonl"
    single.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "shards").mkdir()
    for k in range(shards):
        part = rows[k::shards]
        (root / "shards" / f"part-{k}.jsonl").write_text("\n".join(part) + "\n", encoding="utf-8")
    return single


def timed(cmd: list[str]) -> dict:
    """Wall-clock seconds of ``cmd`` and the 1-minute load average before and after it."""
    before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    return {"seconds": wall, "load_before": before, "load_after": os.getloadavg()[0]}


def count_ray_documents(out: Path) -> int:
    import pyarrow.parquet as pq

    table = pq.read_table(out / "documents", columns=["error"])
    if table.column("error").null_count != table.num_rows:
        raise SystemExit(f"{out}: some documents have errors")
    return table.num_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--sentences-per-doc", type=int, default=3)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if min(args.docs, args.sentences_per_doc, args.shards, args.batch_size, *args.actors) < 1:
        parser.error("--docs, --sentences-per-doc, --shards, --batch-size, --actors must be >= 1")
    sentences = [s.text for s in read_corpus(args.data)]
    per = args.sentences_per_doc
    texts = [
        " ".join(sentences[(i * per + j) % len(sentences)] for j in range(per))
        for i in range(args.docs)
    ]
    marsad = str(Path(sys.executable).with_name("marsad"))
    base = [marsad, "predict", "--checkpoint", args.checkpoint, "--device", "cpu"]
    base += ["--batch-size", str(args.batch_size)]
    rows: dict[str, dict] = {}
    print(
        f"{args.docs} documents of {per} sentences ({sum(map(len, texts))} characters), "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        root = Path(tmp)
        single = write_shards(root, texts, args.shards)
        runs = [
            (
                "plain CLI (1 process)",
                [*base, "--jsonl", "--input", str(single), "--output", str(root / "plain.jsonl")],
                None,
            )
        ]
        for n in args.actors:
            out = root / f"ray-{n}"
            cmd = [*base, "--engine", "ray", "--input", str(root / "shards" / "*.jsonl")]
            runs.append(
                (f"ray, {n} actor(s)", [*cmd, "--output", str(out), "--num-actors", str(n)], out)
            )
        for name, cmd, out in runs:
            row = timed(cmd)
            done = (
                count_ray_documents(out)
                if out
                else len((root / "plain.jsonl").read_text(encoding="utf-8").splitlines())
            )
            if done != args.docs:
                raise SystemExit(f"{name}: {done} documents out of {args.docs}")
            row["docs_per_second"] = args.docs / row["seconds"]
            rows[name] = row
            print(
                f"{name:>24}: {row['docs_per_second']:6.2f} docs/s ({row['seconds']:6.1f} s; "
                f"load average {row['load_before']:.2f} before, {row['load_after']:.2f} after)"
            )
    if args.json:
        payload = json.dumps({"docs": args.docs, "rows": rows}, indent=1) + "\n"
        atomic_write_text(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
