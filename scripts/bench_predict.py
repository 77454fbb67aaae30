"""Inference benchmark: ``python scripts/bench_predict.py --checkpoint DIR [--repeat N]``.

In one run, on the same sentences and machine, measures sentences/second and p50/p95 latency per
call for the Marsad ``Predictor`` (entities + relations) at batch 1 and 32, fp32 and int8, and for
the Hugging Face ``token-classification`` pipeline on the same checkpoint (entities only), then
prints the ratios and the entity F1 of int8 against fp32 on the held-out test split.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402

from marsad.checkpoint import read_meta  # noqa: E402
from marsad.data.corpus import read_corpus  # noqa: E402
from marsad.data.load import load_splits  # noqa: E402
from marsad.evaluation import predict_examples, score_predictions  # noqa: E402
from marsad.examples import examples_from_split  # noqa: E402
from marsad.predictor import Predictor  # noqa: E402


def timed_calls(fn, batches: list[list[str]]) -> dict[str, float]:
    fn(batches[0])  # warm-up
    latencies = []
    t0 = time.perf_counter()
    for batch in batches:
        t = time.perf_counter()
        fn(batch)
        latencies.append(time.perf_counter() - t)
    total = time.perf_counter() - t0
    n = sum(len(b) for b in batches)
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {"sentences_per_s": n / total, "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * q[18]}


def batched(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--repeat", type=int, default=2, help="times the corpus sentences are repeated")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import pipeline

    sentences = [s.text for s in read_corpus(args.data)] * args.repeat
    results: dict[str, dict[str, float]] = {}
    fp32 = Predictor.from_pretrained(args.checkpoint, device="cpu")
    int8 = Predictor.from_pretrained(args.checkpoint, device="cpu", quantize=True)
    hf = pipeline("token-classification", model=str(args.checkpoint), device="cpu", aggregation_strategy="simple")
    for batch in (1, 32):
        groups = batched(sentences, batch)
        results[f"pipeline b{batch}"] = timed_calls(lambda b, s=batch: hf(b, batch_size=s), groups)
        results[f"marsad fp32 b{batch}"] = timed_calls(lambda b, s=batch: fp32(b, batch_size=s), groups)
        results[f"marsad int8 b{batch}"] = timed_calls(lambda b, s=batch: int8(b, batch_size=s), groups)

    meta = read_meta(args.checkpoint)
    run = meta.get("data", {}).get("run", "default (fold0)")
    fold = None if run.startswith("default") else int(run.removeprefix("fold"))
    examples = examples_from_split(load_splits(args.data, fold)["test"])
    f1 = {}
    for name, pred in (("fp32", fp32), ("int8", int8)):
        scores = score_predictions(predict_examples(pred.loaded.model, pred.loaded.tokenizer, examples,
                                                    pred.loaded.preprocessing, pred.loaded.max_length))
        f1[name] = scores["entities"]["micro"]["f1"]

    print(f"checkpoint {args.checkpoint} (encoder {meta.get('encoder', {}).get('used')}), "
          f"{len(sentences)} sentences, torch threads {torch.get_num_threads()}")
    print(f"{'':22s} {'sent/s':>9s} {'p50 ms':>9s} {'p95 ms':>9s}")
    for name, r in results.items():
        print(f"{name:22s} {r['sentences_per_s']:9.1f} {r['p50_ms']:9.1f} {r['p95_ms']:9.1f}")
    ratios = {
        "fp32 b32 / pipeline b32": results["marsad fp32 b32"]["sentences_per_s"] / results["pipeline b32"]["sentences_per_s"],
        "int8 b32 / fp32 b32": results["marsad int8 b32"]["sentences_per_s"] / results["marsad fp32 b32"]["sentences_per_s"],
        "int8 b1 / fp32 b1": results["marsad int8 b1"]["sentences_per_s"] / results["marsad fp32 b1"]["sentences_per_s"],
    }
    for name, v in ratios.items():
        print(f"ratio {name}: {v:.2f}x")
    print(f"test entity micro-F1: fp32 {f1['fp32']:.4f}, int8 {f1['int8']:.4f} "
          f"(delta {100 * (f1['int8'] - f1['fp32']):+.2f} points)")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratios": ratios, "entity_f1": f1}, indent=1) + "\n")


if __name__ == "__main__":
    main()
