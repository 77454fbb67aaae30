"""Decoding settings: one frozen value, read from new and old checkpoint metadata alike."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from marsad.model.checkpoint import CheckpointError, load_checkpoint
from marsad.model.settings import DecodingSettings


def test_settings_are_frozen_and_checked():
    settings = DecodingSettings(0.35, 0.5, 1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.none_bias = 0.0  # type: ignore[misc]
    with pytest.raises(
        ValueError, match="lexical_weight is a mixture weight in \\[0, 1\\], got 1.5"
    ):
        DecodingSettings(lexical_weight=1.5)
    with pytest.raises(ValueError, match="none_bias must be a finite number"):
        DecodingSettings(none_bias=float("nan"))


def test_metadata_from_before_the_settings_reads_the_weights_beside_the_priors():
    old = {
        "lexical_prior": {"file": "lexical_crf.crfsuite", "weight": 0.65},
        "relation_prior": {"file": "relation_prior.json", "weight": 0.2},
        "relation_none_bias": 2.5,
    }
    assert DecodingSettings.from_meta(old) == DecodingSettings(0.65, 0.2, 2.5)
    assert DecodingSettings.from_meta({"decoding": {"none_bias": 1.0}}) == DecodingSettings(
        none_bias=1.0
    )
    with pytest.raises(ValueError, match="unknown decoding setting"):
        DecodingSettings.from_meta({"decoding": {"nonebias": 1.0}})


def test_a_checkpoint_loads_its_settings_and_refuses_a_weight_without_its_prior(tiny_run, tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_run / "best", ckpt)
    meta = json.loads((ckpt / "marsad.json").read_text())
    assert load_checkpoint(ckpt).decoding == DecodingSettings.from_meta(meta)
    meta["decoding"]["lexical_weight"] = 0.5  # the tiny run has no lexical prior
    (ckpt / "marsad.json").write_text(json.dumps(meta))
    with pytest.raises(
        CheckpointError, match="decoding mixes a lexical prior in .* but the checkpoint has none"
    ):
        load_checkpoint(ckpt)
