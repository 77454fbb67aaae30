"""Long-input benchmark: ``python scripts/bench_long_input.py --checkpoint DIR [--chars 200000]``.

Builds one text of ``--chars`` characters from the corpus's sentences, and the same text with its
sentence punctuation (. ! ? ؟) and newlines replaced by spaces, so that it reads as one sentence
of tens of thousands of words. Each is run through ``Predictor`` in its own child process (so each
peak memory is its own), in one run on the same machine, ``--repeats`` times (default 3; the
fastest counts, as ``timeit`` does: single runs on a shared 2-core machine vary by about 5%);
prints characters/second, peak resident memory, and the ratio unpunctuated / punctuated (target
>= 0.5: cost grows linearly with the input whatever its punctuation) and the machine's load
average before and after (on a shared machine the other processes' load moves both figures).
``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from marsad.data.corpus import read_corpus
from marsad.fileio import atomic_write_text


def build_text(data_dir: Path, chars: int) -> str:
    sentences = [s.text for s in read_corpus(data_dir)]
    out, i = [], 0
    while sum(map(len, out)) + len(out) < chars:
        out.append(sentences[i % len(sentences)])
        i += 1
    return "\n".join(out)[:chars]


def strip_sentence_ends(text: str) -> str:
    return re.sub(r"[.!?؟\n]", " ", text)


def child(checkpoint: str, path: str, repeats: int) -> None:
    """Run in a child process: time ``repeats`` predictions over the text in ``path``; the
    fastest counts."""
    from marsad.predictor import Predictor

    text = Path(path).read_text(encoding="utf-8")
    predictor = Predictor.from_pretrained(checkpoint, device="cpu")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = predictor(text)
        times.append(time.perf_counter() - t0)
    seconds = min(times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "all_seconds": times,
                "chars_per_second": len(text) / seconds,
                "peak_rss_mb": peak_mb,
                "entities": len(result.entities),
                "relations": len(result.relations),
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=Path("runs") / "bench_long_input")
    args = parser.parse_args(argv)
    if args.chars < 1:
        parser.error(f"--chars must be >= 1, got {args.chars}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    punctuated = build_text(args.data, args.chars)
    texts = {"punctuated": punctuated, "unpunctuated": strip_sentence_ends(punctuated)}
    rows = {}
    load_before = os.getloadavg()
    for name, text in texts.items():
        path = args.workdir / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, __file__, "--child", args.checkpoint, str(path), str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows[name] = json.loads(done.stdout.strip().splitlines()[-1])
        r = rows[name]
        print(
            f"{name:>13}: {len(text):,} chars in {r['seconds']:.1f} s (best of {args.repeats}) = "
            f"{r['chars_per_second']:,.0f} chars/s, peak {r['peak_rss_mb']:,.0f} MB, "
            f"{r['entities']} entities, {r['relations']} relations"
        )
    ratio = rows["unpunctuated"]["chars_per_second"] / rows["punctuated"]["chars_per_second"]
    load = {"before": load_before, "after": os.getloadavg()}
    print(f"unpunctuated / punctuated chars/s: {ratio:.2f} (target >= 0.5)")
    print(
        f"load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load['before'])}; "
        f"after: {', '.join(f'{x:.2f}' for x in load['after'])}; {os.cpu_count()} CPUs"
    )
    if args.json:
        figures = {"rows": rows, "ratio": ratio, "load_average": load, "cpus": os.cpu_count()}
        atomic_write_text(args.json, json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(main())
