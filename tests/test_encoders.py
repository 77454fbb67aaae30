import logging
import time

import pytest

from marsad.model.encoders.resolve import EncoderUnavailable, hub_reachable, resolve_encoder

TINY = {"hidden_size": 32, "layers": 1, "heads": 2, "vocab_size": 300, "seed": 0}
TEXTS = ["سيطرت قوات النظام على الميادين", "قال المرصد السوري لحقوق الإنسان"]


def test_offline_hub_id_falls_back_fast_and_loudly(monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        choice = resolve_encoder("aubmindlab/bert-base-arabertv02", "tiny-random", TEXTS, TINY)
    assert time.perf_counter() - t < 30
    assert choice.requested == "aubmindlab/bert-base-arabertv02" and choice.used == "tiny-random"
    assert "HF_HUB_OFFLINE" in choice.fallback_reason
    assert "ENCODER FALLBACK" in caplog.text


def test_unreachable_hub_without_fallback_is_an_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailable, match="set fallback_model"):
        resolve_encoder("aubmindlab/bert-base-arabertv02")


def test_unreachable_endpoint_is_detected_quickly(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    ok, reason = hub_reachable(timeout=2)
    assert not ok and "127.0.0.1:9" in reason


def test_missing_local_dir_and_unknown_bundled():
    with pytest.raises(EncoderUnavailable, match="does not exist"):
        resolve_encoder("./no/such/encoder")
    with pytest.raises(EncoderUnavailable, match="unknown bundled encoder"):
        resolve_encoder("bundled:nothing")


def test_tiny_random_is_a_real_hf_directory():
    from transformers import AutoModel, AutoTokenizer

    choice = resolve_encoder("tiny-random", None, TEXTS, TINY)
    model = AutoModel.from_pretrained(choice.path)
    tok = AutoTokenizer.from_pretrained(choice.path)
    enc = tok("سيطرت قوات النظام", return_offsets_mapping=True)
    assert model.config.hidden_size == 32 and enc["input_ids"][0] == tok.cls_token_id
    assert resolve_encoder("tiny-random", None, TEXTS, TINY).path == choice.path  # cached
