"""int8 against fp32 per quantized engine, without a checkpoint: ``python \
scripts/bench_int8_kernels.py [--encoder]``.

Dynamic int8 quantises only the encoder's linear layers, and the kernels it runs are those of the
quantized engine active when each layer is packed (oneDNN, x86/FBGEMM, QNNPACK), which decides which
int8 instructions a CPU uses (AVX2, AVX-512 VNNI, AMX). This times, with the same weights and
inputs:
  - default: one BERT layer's six linear layers (query, key, value, attention output: hidden x
    hidden; intermediate: hidden x 4 hidden; output: 4 hidden x hidden) on a batch of tokens;
  - ``--encoder``: a whole randomly initialised BERT encoder of multilingual-e5-small's shape (12
    layers, hidden 384) on batches of 32 sentences of 20 to 80 sub-words, as ``Predictor`` feeds it
    (attention, layer norms and the rest stay fp32, so this is the ceiling of the int8/fp32 ratio
    of ``bench_predict.py`` before the priors and decoding);
in fp32 and as torch's per-channel dynamic int8 under every engine this torch build offers. The
rounds take the systems in turn (A B C, A B C, ...) and each time is their median, so a load that
drifts on a shared machine slows all of them alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

from marsad.quantization import packing_engine


def bert_layer_linears(hidden: int) -> nn.Sequential:
    """The six linear layers of one BERT layer, chained so one call runs them all (shapes line
    up)."""
    return nn.Sequential(
        nn.Linear(hidden, hidden),
        nn.Linear(hidden, hidden),
        nn.Linear(hidden, hidden),
        nn.Linear(hidden, hidden),
        nn.Linear(hidden, 4 * hidden),
        nn.Linear(4 * hidden, hidden),
    )


def random_encoder(hidden: int, layers: int) -> nn.Module:
    """A BERT encoder of the given shape with random weights: speed does not depend on their
    values."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=1000,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 32),
        intermediate_size=4 * hidden,
    )
    return BertModel(config, add_pooling_layer=False).eval()


def encoder_batches(n_batches: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Batches of 32 sentences of 20-80 sub-words, each padded to its longest, in length order."""
    gen = torch.Generator().manual_seed(seed)
    lengths = sorted(torch.randint(20, 81, (32 * n_batches,), generator=gen).tolist())
    batches = []
    for i in range(0, len(lengths), 32):
        group = lengths[i : i + 32]
        mask = torch.tensor([[1] * n + [0] * (max(group) - n) for n in group])
        ids = torch.randint(5, 1000, mask.shape, generator=gen) * mask
        batches.append({"input_ids": ids, "attention_mask": mask})
    return batches


def quantized(module: nn.Module, engine: str) -> nn.Module:
    """A copy of ``module`` (``quantize_dynamic`` copies) with its linear layers packed as int8 for
    ``engine``."""
    with packing_engine(engine):
        return quantize_dynamic(module, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


def interleaved_medians(systems: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of one call per system, the systems taken in turn each round after a
    warm-up."""
    for run in systems.values():
        run()
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(rounds):
        for name, run in systems.items():
            t0 = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - t0)
    return {name: statistics.median(values) for name, values in seconds.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--encoder",
        action="store_true",
        help="time a whole random encoder, not one layer's linears",
    )
    parser.add_argument(
        "--hidden", type=int, default=384, help="hidden size (e5-small 384, BERT-base 768)"
    )
    parser.add_argument("--layers", type=int, default=12, help="encoder layers (--encoder)")
    parser.add_argument(
        "--tokens", type=int, default=32 * 48, help="rows per call of the linears (default mode)"
    )
    parser.add_argument(
        "--batches", type=int, default=6, help="batches of 32 sentences per call (--encoder)"
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        default=None,
        help="quantized engines to time (default: every one this torch build offers)",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.encoder:
        fp32: nn.Module = random_encoder(args.hidden, args.layers)
        inputs = encoder_batches(args.batches)
        what = (
            f"a random {args.layers}-layer encoder, hidden {args.hidden}, {len(inputs)} "
            "batches of 32 sentences"
        )
    else:
        fp32 = bert_layer_linears(args.hidden).eval()
        inputs = [{"input": torch.randn(args.tokens, args.hidden)}]
        what = f"one layer's linears, hidden {args.hidden}, {args.tokens} tokens"

    def outputs(module: nn.Module) -> torch.Tensor:
        """Every output of one call, flattened into one vector."""
        with torch.inference_mode():
            if args.encoder:
                return torch.cat([module(**batch).last_hidden_state.flatten() for batch in inputs])
            return torch.cat([module(batch["input"]).flatten() for batch in inputs])

    models: dict[str, nn.Module] = {"fp32": fp32}
    reference = outputs(fp32)
    errors: dict[str, float] = {}  # an engine that is fast because it is wrong shows here
    unavailable: dict[str, str] = {}
    supported = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    for engine in args.engines or supported:
        if engine not in supported:
            parser.error(
                f"--engines: {engine!r} is not in this torch build ({', '.join(supported)})"
            )
        try:
            models[engine] = quantized(fp32, engine)
            errors[engine] = float((outputs(models[engine]) - reference).norm() / reference.norm())
        except RuntimeError as exc:  # an engine this CPU cannot run
            models.pop(engine, None)
            unavailable[engine] = str(exc).splitlines()[0]
    seconds = interleaved_medians(
        {name: (lambda m=m: outputs(m)) for name, m in models.items()}, args.rounds
    )
    speedups = {name: seconds["fp32"] / seconds[name] for name in errors}

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; {what}: fp32 {1000 * seconds['fp32']:.1f} ms "
        f"(median of {args.rounds} interleaved rounds)"
    )
    default_engine = torch.backends.quantized.engine
    for name in errors:
        marker = " (torch's default)" if name == default_engine else ""
        print(
            f"int8 engine {name:8s} {1000 * seconds[name]:8.1f} ms  speed-up over fp32 "
            f"{speedups[name]:.2f}x  relative error of the output {errors[name]:.3f}{marker}"
        )
    for name, why in unavailable.items():
        print(f"int8 engine {name:8s} unavailable here: {why}")
    if args.json:
        report = {
            "what": what,
            "fp32_seconds": seconds["fp32"],
            "speedup": speedups,
            "relative_error": errors,
            "unavailable": unavailable,
            "threads": torch.get_num_threads(),
        }
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return speedups


if __name__ == "__main__":
    main()
