"""HTTP serving benchmark: ``python scripts/bench_serve.py --checkpoint DIR [--requests 256]``.

Starts ``marsad serve`` twice on loopback, with request batching (the defaults) and without it
(``--batch-texts 1 --batch-window-ms 0``: one request at a time, the baseline), and sends
``--requests`` one-sentence ``POST /predict`` requests from 1 client and from ``--clients`` (32)
concurrent clients. Prints requests/s and p50 / p95 latency per setting, and the batched /
one-at-a-time throughput ratio at 32 clients, all measured in the same run; ``--json FILE`` writes
the figures. ``--seconds`` bounds each measurement (requests stop being sent after it).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from marsad.data.corpus import read_corpus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(checkpoint: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    marsad = Path(sys.executable).with_name("marsad")
    cmd = [str(marsad), "serve", "--checkpoint", checkpoint, "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"marsad serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("marsad serve did not come up in 180 s")


def measure(url: str, texts: list[str], clients: int, seconds: float) -> dict:
    """Requests/s and latency percentiles of one-text requests from ``clients`` threads."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []

    def one(text: str) -> None:
        if time.perf_counter() > stop:
            return
        t0 = time.perf_counter()
        r = httpx.post(f"{url}/predict", json={"texts": [text]}, timeout=300)
        r.raise_for_status()
        latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, texts))
    wall = time.perf_counter() - t0
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "requests_per_second": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.clients < 1:
        parser.error("--requests and --clients must be >= 1")
    sentences = [s.text for s in read_corpus(args.data)]
    texts = [sentences[i % len(sentences)] for i in range(args.requests)]
    rows: dict[str, dict] = {}
    for name, extra in (
        ("one at a time", ["--batch-texts", "1", "--batch-window-ms", "0"]),
        ("batched", []),
    ):
        proc, url = start(args.checkpoint, extra)
        try:
            measure(url, texts[:8], 1, args.seconds)  # warm-up
            for clients in (1, args.clients):
                row = measure(url, texts, clients, args.seconds)
                rows[f"{name}, {clients} client(s)"] = row
                print(
                    f"{name:>13}, {clients:>2} client(s): {row['requests_per_second']:7.1f} req/s, "
                    f"p50 {row['p50_ms']:7.1f} ms, p95 {row['p95_ms']:7.1f} ms "
                    f"({row['requests']} requests)"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    key = f"{args.clients} client(s)"
    ratio = (
        rows[f"batched, {key}"]["requests_per_second"]
        / rows[f"one at a time, {key}"]["requests_per_second"]
    )
    print(f"batched / one at a time, {args.clients} clients: {ratio:.2f}x requests/s")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
