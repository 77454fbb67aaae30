"""Inference benchmark: ``python scripts/bench_predict.py --checkpoint DIR [--repeat N]``.

In one run, on the same sentences and machine, for the Marsad ``Predictor`` (entities + relations)
fp32 and int8, and the Hugging Face ``token-classification`` pipeline on the same checkpoint
(entities only), at batch size 1 and 32:
  - throughput: sentences/second when the whole list is passed in one call (how a corpus is run);
  - latency: p50/p95 of one call holding ``batch`` sentences;
then prints the ratios and the entity F1 of int8 against fp32 on the held-out test split. One more
fp32 row at batch 32 decodes without the checkpoint's lexical and relation priors, so their cost is
measured in the same run. Last, it times the encoder's linear layers inside one batch-32 pass of each
(forward hooks), which bounds what int8 can give on this CPU: those layers are all it quantises, so
with their measured speed-up k and their share f of the fp32 time the whole pass can gain at most
1 / ((1 - f) + f / k) (Amdahl).
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


def measure(fn, sentences: list[str], batch: int) -> dict[str, float]:
    """Throughput over one call on all sentences, and per-call latency of ``batch``-sized calls."""
    fn(sentences[:batch])  # warm-up
    t0 = time.perf_counter()
    fn(sentences)
    throughput = len(sentences) / (time.perf_counter() - t0)
    latencies = []
    for group in batched(sentences, batch):
        t = time.perf_counter()
        fn(group)
        latencies.append(time.perf_counter() - t)
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {"sentences_per_s": throughput, "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * q[18]}


def time_in_linears(predictor: Predictor, sentences: list[str], names: list[str]) -> tuple[float, float]:
    """Seconds spent inside the encoder's linear layers, and in total, over one batch-32 pass."""
    encoder = predictor.loaded.model.tagger.base_model
    started: dict[int, float] = {}
    spent = [0.0]

    def before(module, _inputs):
        started[id(module)] = time.perf_counter()

    def after(module, _inputs, _output):
        spent[0] += time.perf_counter() - started[id(module)]

    handles = [h for name in names for h in (encoder.get_submodule(name).register_forward_pre_hook(before),
                                               encoder.get_submodule(name).register_forward_hook(after))]
    try:
        predictor(sentences[:32], batch_size=32)  # warm-up
        spent[0] = 0.0
        t0 = time.perf_counter()
        predictor(sentences, batch_size=32)
        return spent[0], time.perf_counter() - t0
    finally:
        for h in handles:
            h.remove()


def batched(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--repeat", type=int, default=2, help="times the corpus sentences are repeated")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from transformers import pipeline

    sentences = [s.text for s in read_corpus(args.data)] * args.repeat
    results: dict[str, dict[str, float]] = {}
    fp32 = Predictor.from_pretrained(args.checkpoint, device="cpu")
    int8 = Predictor.from_pretrained(args.checkpoint, device="cpu", quantize=True)
    no_priors = Predictor.from_pretrained(args.checkpoint, device="cpu")
    no_priors.loaded.model.lexical_prior = no_priors.loaded.model.relation_prior = None
    hf = pipeline("token-classification", model=str(args.checkpoint), device="cpu", aggregation_strategy="simple")
    for batch in (1, 32):
        results[f"pipeline b{batch}"] = measure(lambda b, s=batch: hf(b, batch_size=s), sentences, batch)
        results[f"marsad fp32 b{batch}"] = measure(lambda b, s=batch: fp32(b, batch_size=s), sentences, batch)
        results[f"marsad int8 b{batch}"] = measure(lambda b, s=batch: int8(b, batch_size=s), sentences, batch)
    results["marsad fp32 b32 no priors"] = measure(lambda b: no_priors(b, batch_size=32), sentences, 32)

    linear_names = [n for n, m in fp32.loaded.model.tagger.base_model.named_modules()
                    if isinstance(m, torch.nn.Linear)]
    linears = {"fp32": time_in_linears(fp32, sentences, linear_names),
               "int8": time_in_linears(int8, sentences, linear_names)}

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
          f"{len(sentences)} sentences, torch threads {torch.get_num_threads()}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, quantized engine {torch.backends.quantized.engine}")
    print(f"{'':26s} {'sent/s':>9s} {'p50 ms':>9s} {'p95 ms':>9s}")
    for name, r in results.items():
        print(f"{name:26s} {r['sentences_per_s']:9.1f} {r['p50_ms']:9.1f} {r['p95_ms']:9.1f}")
    ratios = {
        "fp32 b32 / pipeline b32": results["marsad fp32 b32"]["sentences_per_s"] / results["pipeline b32"]["sentences_per_s"],
        "int8 b32 / fp32 b32": results["marsad int8 b32"]["sentences_per_s"] / results["marsad fp32 b32"]["sentences_per_s"],
        "int8 b1 / fp32 b1": results["marsad int8 b1"]["sentences_per_s"] / results["marsad fp32 b1"]["sentences_per_s"],
        "fp32 b32 / fp32 b32 no priors": results["marsad fp32 b32"]["sentences_per_s"]
        / results["marsad fp32 b32 no priors"]["sentences_per_s"],
    }
    for name, v in ratios.items():
        print(f"ratio {name}: {v:.2f}x")
    share = linears["fp32"][0] / linears["fp32"][1]
    kernel = linears["fp32"][0] / linears["int8"][0]
    ceiling = 1 / ((1 - share) + share / kernel)
    print(f"encoder linear layers, batch 32: fp32 {linears['fp32'][0]:.2f} s of {linears['fp32'][1]:.2f} s "
          f"({share:.0%}), int8 {linears['int8'][0]:.2f} s of {linears['int8'][1]:.2f} s; their int8 speed-up "
          f"{kernel:.2f}x, so int8 / fp32 can reach at most {ceiling:.2f}x on this CPU "
          f"({1 / (1 - share):.2f}x if they took no time at all)")
    ratios["int8 linears / fp32 linears"] = kernel
    ratios["int8 b32 / fp32 b32 ceiling"] = ceiling
    print(f"test entity micro-F1: fp32 {f1['fp32']:.4f}, int8 {f1['int8']:.4f} "
          f"(delta {100 * (f1['int8'] - f1['fp32']):+.2f} points)")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratios": ratios, "entity_f1": f1, "linear_seconds": linears}, indent=1) + "\n")


if __name__ == "__main__":
    main()
