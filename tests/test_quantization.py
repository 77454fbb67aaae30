"""Smoothed int8 quantisation: the maths on a single layer, and the checkpoint round trip."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch
from conftest import forget_digests
from safetensors.torch import load_file
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

from marsad import Predictor
from marsad.model.checkpoint import load_checkpoint
from marsad.quantization import ACTIVATION_FILE, SmoothedInt8Linear, quantize_encoder


def test_smoothing_beats_plain_int8_on_outlier_channels():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32)
    x = torch.randn(200, 64)
    x[:, :3] *= 60.0  # a few outlier channels, as transformer activations have
    exact = linear(x)
    plain = quantize_dynamic(
        torch.nn.Sequential(linear),
        {torch.nn.Linear: per_channel_dynamic_qconfig},
        dtype=torch.qint8,
    )(x)
    x_max, w_max = x.abs().amax(0), linear.weight.abs().amax(0)
    smoothed = SmoothedInt8Linear(linear, x_max**0.75 / w_max**0.25)(x)
    plain_err, smooth_err = (plain - exact).abs().mean(), (smoothed - exact).abs().mean()
    assert smooth_err < 0.5 * plain_err, (smooth_err, plain_err)


def test_best_checkpoint_carries_calibration_for_every_encoder_layer(tiny_run):
    stats = load_file(str(tiny_run / "best" / ACTIVATION_FILE))
    model = load_checkpoint(tiny_run / "best").model
    linears = {
        n: m for n, m in model.tagger.base_model.named_modules() if isinstance(m, torch.nn.Linear)
    }
    assert set(stats) == set(linears)
    assert all(
        stats[n].shape == (m.in_features,) and (stats[n] > 0).any() for n, m in linears.items()
    )
    quantize_encoder(model, stats)
    assert not any(isinstance(m, torch.nn.Linear) for m in model.tagger.base_model.modules())
    assert sum(isinstance(m, SmoothedInt8Linear) for m in model.tagger.base_model.modules()) == len(
        linears
    )
    assert isinstance(model.tagger.classifier, torch.nn.Linear)  # heads stay fp32


def test_statistics_of_another_encoder_are_refused(tiny_run):
    stats = load_file(str(tiny_run / "best" / ACTIVATION_FILE))
    name = sorted(stats)[0]
    del stats[name]
    with pytest.raises(ValueError, match="lacks statistics"):
        quantize_encoder(load_checkpoint(tiny_run / "best").model, stats)


def test_checkpoint_without_calibration_falls_back_with_a_warning(tiny_run, tmp_path, caplog):
    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_run / "best", copy)
    (copy / ACTIVATION_FILE).unlink()
    forget_digests(copy)  # written before calibration was kept: no file list either
    with caplog.at_level(logging.WARNING, logger="marsad.quantization"):
        q = Predictor.from_pretrained(copy, quantize=True)
    assert ACTIVATION_FILE in caplog.text
    text = "سيطرت قوات النظام على الميادين."
    assert all(text[e.start : e.end] == e.text for e in q(text).entities)


def test_layers_are_packed_for_the_chosen_engine_and_the_global_engine_is_restored(
    tiny_run, monkeypatch
):
    """int8 kernels are fixed when a layer is packed: every packing runs under the requested engine
    (torch's own by default), and torch's engine setting is left as it was."""
    import marsad.quantization as quantization

    engines_seen = []
    real = quantization.quantize_dynamic

    def spy(*args, **kwargs):
        engines_seen.append(torch.backends.quantized.engine)
        return real(*args, **kwargs)

    monkeypatch.setattr(quantization, "quantize_dynamic", spy)
    stats = load_file(str(tiny_run / "best" / ACTIVATION_FILE))
    supported = torch.backends.quantized.supported_engines
    before = torch.backends.quantized.engine
    for engine in ("onednn", "x86"):
        if engine not in supported:
            continue
        engines_seen.clear()
        quantize_encoder(load_checkpoint(tiny_run / "best").model, stats, engine=engine)
        assert engines_seen and set(engines_seen) == {engine}
        assert torch.backends.quantized.engine == before
    engines_seen.clear()
    quantize_encoder(load_checkpoint(tiny_run / "best").model, stats)
    assert set(engines_seen) == {before}
    with pytest.raises(ValueError, match="'no-such-engine' is not in this torch build"):
        quantize_encoder(load_checkpoint(tiny_run / "best").model, stats, engine="no-such-engine")
    assert torch.backends.quantized.engine == before
