"""Each part of a mixed dev, epoch by epoch: ``python -m experiments.dev_parts RUN [RUN ...]``.

A run selected on a dev of several corpora logs every dev sentence's counts per epoch
(``dev_sentences.jsonl``); this splits them by corpus (the seed articles, data/team's dev
conflicts, ANERcorp train's held-out end) and prints entity micro-F1 and end-to-end relation F1
of each part per epoch, so one can see which part moves the kept epoch. The parts are told apart
by sentence id: ANERcorp ids are ``<file stem>:<line>``, the team corpus's start with ``t``, the
seed corpus's with a digit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def part_of(sent_id: str) -> str:
    if ":" in sent_id:
        return "anercorp"
    return "team" if sent_id.startswith("t") else "seed"


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def parts_by_epoch(run: Path) -> list[dict]:
    rows = []
    for line in (run / "dev_sentences.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        sums: dict[str, dict[str, list[int]]] = {}
        for sent_id, scores in record["sentences"].items():
            part = sums.setdefault(part_of(sent_id), {})
            for name in ("entity micro-F1", "relation micro-F1 (end-to-end)"):
                total = part.setdefault(name, [0, 0, 0])
                for i, v in enumerate(scores[name]):
                    total[i] += v
        rows.append(
            {
                "epoch": record["epoch"],
                **{
                    f"{part} {short}": round(f1(*counts[name]), 3)
                    for part, counts in sorted(sums.items())
                    for short, name in (
                        ("entity", "entity micro-F1"),
                        ("relation", "relation micro-F1 (end-to-end)"),
                    )
                    if not (part == "anercorp" and short == "relation")  # no relations there
                },
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for run in args.runs:
        rows = parts_by_epoch(run)
        if not rows:
            continue
        keys = list(rows[0])
        print(f"\n{run}\n| " + " | ".join(keys) + " |\n|" + "---:|" * len(keys))
        for row in rows:
            print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
