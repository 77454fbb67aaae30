"""Dynamic int8 quantisation of the encoder for CPU inference, with SmoothQuant-style smoothing.

Plain dynamic int8 quantises each linear layer's input with one scale per tensor, so a few outlier
channels (large in this encoder, as in most transformers) crush the resolution of all others: on the
dev folds that cost 3 to 5 entity-F1 points. Smoothing (Xiao et al., 2023, "SmoothQuant") divides
each input channel by ``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)`` and multiplies the weight's
column by the same factor, which leaves the product unchanged in exact arithmetic but moves the
outliers from the activations into the (per-channel quantised) weights. ``max|X_j|`` comes from a
calibration pass over training sentences at training time, stored in the checkpoint as
:data:`ACTIVATION_FILE`. ``alpha = 0.75`` was chosen on the dev sentences of cross-validation runs
0-2 with ``python -m experiments.tune_int8`` for the shipped configuration (the checkpoints
without the lexical prior preferred 0.65, those before the left-context pooling 0.75); 0.5, the
paper's default, was
worse than no smoothing here.

The int8 kernels are those of the quantized engine active when a layer is packed (the engine at run
time does not matter). ``engine=None`` keeps torch's (x86 on x86 CPUs):
``python -m experiments.bench_int8_kernels`` found oneDNN faster on large batches on an AVX-512
VNNI CPU but far slower on one sentence's worth of tokens on an AVX2 one (docs/speed.md), so the
choice is the caller's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

from marsad.inference import extract
from marsad.model.joint import JointModel
from marsad.model.settings import DecodingSettings

logger = logging.getLogger(__name__)
ACTIVATION_FILE = "activation_absmax.safetensors"
SMOOTHING_ALPHA = 0.75


@contextmanager
def packing_engine(engine: str) -> Iterator[None]:
    """Pack int8 weights for ``engine``, leaving torch's global engine as it was for everything
    else."""
    before = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield
    finally:
        torch.backends.quantized.engine = before


def _encoder_linears(model: JointModel) -> dict[str, nn.Linear]:
    encoder = model.tagger.base_model
    return {name: m for name, m in encoder.named_modules() if isinstance(m, nn.Linear)}


@torch.inference_mode()
def activation_absmax(
    model: JointModel,
    tokenizer,
    sentences: list[list[str]],
    preprocessing: list[str],
    max_length: int,
) -> dict[str, torch.Tensor]:
    """Per input channel, the largest |activation| entering each encoder linear layer over
    ``sentences``."""
    stats: dict[str, torch.Tensor] = {}

    def record(name: str):
        def hook(
            _module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor
        ) -> None:
            x = inputs[0].detach().float().abs().reshape(-1, inputs[0].shape[-1]).amax(dim=0).cpu()
            stats[name] = x if name not in stats else torch.maximum(stats[name], x)

        return hook

    hooks = [m.register_forward_hook(record(name)) for name, m in _encoder_linears(model).items()]
    try:
        # the encoder's inputs do not depend on decoding: the model alone is the cheapest pass
        extract(model, tokenizer, sentences, preprocessing, max_length, decoding=DecodingSettings())
    finally:
        for h in hooks:
            h.remove()
    return stats


class SmoothedInt8Linear(nn.Module):
    """``Linear`` whose input is divided per channel by ``scale`` before dynamic int8
    quantisation."""

    def __init__(self, linear: nn.Linear, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("inv_scale", (1.0 / scale).to(linear.weight.dtype))
        folded = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            folded.weight.copy_(linear.weight * scale[None, :])
            if linear.bias is not None:
                folded.bias.copy_(linear.bias)
        self.quantized = quantize_dynamic(
            nn.Sequential(folded), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantized(x * self.inv_scale)


def quantize_encoder(
    model: JointModel,
    absmax: dict[str, torch.Tensor] | None,
    alpha: float = SMOOTHING_ALPHA,
    engine: str | None = None,
) -> None:
    """Replace the encoder's linear layers by int8 ones, in place (the small heads stay fp32).

    ``engine`` (default: torch's current one) picks the int8 kernels the layers are packed for.
    """
    engine = engine or torch.backends.quantized.engine
    if engine not in torch.backends.quantized.supported_engines:
        raise ValueError(
            f"quantized engine {engine!r} is not in this torch build "
            f"({', '.join(torch.backends.quantized.supported_engines)})"
        )
    with packing_engine(engine):
        _quantize_encoder(model, absmax, alpha)


def _quantize_encoder(
    model: JointModel, absmax: dict[str, torch.Tensor] | None, alpha: float
) -> None:
    encoder = model.tagger.base_model
    if absmax is None:
        logger.warning(
            "no %s in the checkpoint: plain dynamic int8 quantisation, expect a few F1 points less",
            ACTIVATION_FILE,
        )
        quantize_dynamic(
            encoder, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
        return
    linears = _encoder_linears(model)
    missing = sorted(set(linears) - set(absmax))
    if missing:
        raise ValueError(
            f"{ACTIVATION_FILE} lacks statistics for encoder layers {missing[:3]}"
            f"{' ...' if len(missing) > 3 else ''}; it does not belong to this encoder"
        )
    for name, linear in linears.items():
        x_max = absmax[name].clamp(min=1e-5)
        if x_max.numel() != linear.in_features:
            raise ValueError(
                f"{ACTIVATION_FILE}: layer {name} has {x_max.numel()} statistics for "
                f"{linear.in_features} input channels"
            )
        w_max = linear.weight.detach().abs().amax(dim=0).clamp(min=1e-5)
        scale = (x_max**alpha / w_max ** (1 - alpha)).clamp(min=1e-5)
        parent_name, _, attr = name.rpartition(".")
        setattr(encoder.get_submodule(parent_name), attr, SmoothedInt8Linear(linear, scale))
