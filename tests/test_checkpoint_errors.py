"""Broken or foreign checkpoints fail with an error naming the missing or inconsistent file."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import forget_digests

from marsad.model.checkpoint import CheckpointError, load_checkpoint
from marsad.predictor import Predictor


@pytest.fixture
def ckpt(tmp_path, tiny_run):
    dest = tmp_path / "ckpt"
    shutil.copytree(tiny_run / "best", dest)
    return dest


@pytest.mark.parametrize(
    "missing,message",
    [
        ("marsad.json", "missing marsad.json"),
        ("relation_head.safetensors", "missing relation_head.safetensors"),
        ("config.json", "missing config.json"),
        ("model.safetensors", "missing model.safetensors"),
        ("tokenizer.json", "missing tokenizer.json"),
    ],
)
def test_missing_file_is_named(ckpt, missing, message):
    (ckpt / missing).unlink()
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(ckpt)


def test_missing_directory():
    with pytest.raises(CheckpointError, match="does not exist"):
        Predictor.from_pretrained("/nonexistent/marsad-checkpoint")


def test_foreign_hf_directory_is_refused(tmp_path, tiny_run):
    """A plain HF model directory (no marsad.json) is not a Marsad checkpoint."""
    foreign = tmp_path / "foreign"
    shutil.copytree(tiny_run / "best", foreign)
    (foreign / "marsad.json").unlink()
    (foreign / "relation_head.safetensors").unlink()
    with pytest.raises(CheckpointError, match="not a Marsad checkpoint: missing marsad.json"):
        Predictor.from_pretrained(foreign)


def test_label_mismatch_is_named(ckpt):
    config = json.loads((ckpt / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-PER"}
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="config.json: .* bytes, marsad.json says"):
        load_checkpoint(ckpt)
    forget_digests(ckpt)
    with pytest.raises(
        CheckpointError, match="config.json: id2label .* does not match marsad.json"
    ):
        load_checkpoint(ckpt)


def test_schema_version_mismatch(ckpt):
    meta = json.loads((ckpt / "marsad.json").read_text())
    meta["schema_version"] = "0.1"
    (ckpt / "marsad.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="schema version 0.1"):
        load_checkpoint(ckpt)


def test_corrupt_relation_head(ckpt):
    (ckpt / "relation_head.safetensors").write_bytes(b"not safetensors")
    forget_digests(ckpt)
    with pytest.raises(CheckpointError, match="relation_head.safetensors does not fit"):
        load_checkpoint(ckpt)


def test_head_shape_mismatch(ckpt):
    meta = json.loads((ckpt / "marsad.json").read_text())
    meta["relation_head"]["mlp_hidden"] += 1
    (ckpt / "marsad.json").write_text(json.dumps(meta))
    with pytest.raises(
        CheckpointError, match="relation_head.safetensors does not fit the relation head"
    ):
        load_checkpoint(ckpt)


def test_invalid_meta_json(ckpt):
    (ckpt / "marsad.json").write_text("{")
    with pytest.raises(CheckpointError, match="marsad.json is not valid JSON"):
        load_checkpoint(ckpt)


def test_atomic_write_leaves_old_checkpoint_on_failure(ckpt, monkeypatch):
    from marsad.model import checkpoint as ck

    loaded = load_checkpoint(ckpt)
    before = sorted(p.name for p in ckpt.iterdir())

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ck, "save_file", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        ck.save_checkpoint(ckpt, loaded.model, loaded.tokenizer, loaded.meta, "card")
    assert sorted(p.name for p in ckpt.iterdir()) == before
    assert not [p for p in ckpt.parent.iterdir() if p.name.startswith(".ckpt")]
    load_checkpoint(ckpt)


def test_a_checkpoint_saved_with_retired_options_off_loads_and_one_that_used_them_is_refused(ckpt):
    """Checkpoints from before the retirement carry ``tag_transitions: false``, ``projection: 0``
    and the retired training keys at their off values: they load. One trained with a CRF layer or a
    projection would need code that is gone: a CheckpointError naming the option."""
    from marsad.config import RETIRED_OPTIONS

    meta = json.loads((ckpt / "marsad.json").read_text())
    meta["tag_transitions"], meta["relation_head"]["projection"] = False, 0
    meta["training_config"].update(RETIRED_OPTIONS)
    (ckpt / "marsad.json").write_text(json.dumps(meta))
    load_checkpoint(ckpt)
    meta["tag_transitions"] = True
    (ckpt / "marsad.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"retired option\(s\) \{'tag_transitions': True\}"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("name", ["model.safetensors", "relation_head.safetensors", "config.json"])
def test_truncated_or_flipped_files_are_named_before_loading(ckpt, name):
    path = ckpt / name
    data = bytearray(path.read_bytes())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{name}: .* bytes, marsad.json says"):
        load_checkpoint(ckpt)
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])  # same size, flipped
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{name}: SHA-256 differs"):
        load_checkpoint(ckpt)


def test_without_digests_damage_is_still_caught(ckpt):
    """Older checkpoints: a truncated safetensors or a broken config is named, NaN weights are
    refused."""
    from safetensors.torch import load_file, save_file

    forget_digests(ckpt)
    weights = ckpt / "model.safetensors"
    state = load_file(str(weights))
    key = next(k for k in state if "word_embeddings" in k)
    state[key].view(-1)[0] = float("nan")
    save_file({k: v.contiguous() for k, v in state.items()}, str(weights), {"format": "pt"})
    with pytest.raises(CheckpointError, match="NaN or infinite values in 1 tensor"):
        load_checkpoint(ckpt)
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot load tagger/tokenizer from"):
        load_checkpoint(ckpt)
    (ckpt / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        load_checkpoint(ckpt)


def test_a_truncated_crf_file_is_refused_not_a_segfault(tmp_path, tiny_run):
    from marsad.model.lexical_prior import LexicalPrior, check_crfsuite_file

    prior = LexicalPrior.fit([["قال", "الجيش"]], [["O", "B-ACTOR"]])
    prior.save(tmp_path)
    path = tmp_path / "lexical_crf.crfsuite"
    check_crfsuite_file(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="its header says"):
        LexicalPrior.load(path)
    path.write_bytes(b"garbage!")
    with pytest.raises(ValueError, match="no 'lCRF' header"):
        LexicalPrior.load(path)


def test_verify_hashes_false_checks_sizes_only(ckpt):
    config = ckpt / "config.json"
    text = config.read_text()
    config.write_text(text.replace("  ", " \t", 1))  # same size, still valid JSON
    with pytest.raises(CheckpointError, match="config.json: SHA-256 differs"):
        load_checkpoint(ckpt)
    load_checkpoint(ckpt, verify_hashes=False)
    config.write_text(text + " ")
    with pytest.raises(CheckpointError, match="config.json: .* bytes, marsad.json says"):
        load_checkpoint(ckpt, verify_hashes=False)
