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


def edit_meta(ckpt, **fields):
    meta = json.loads((ckpt / "marsad.json").read_text())
    meta.update(fields)
    (ckpt / "marsad.json").write_text(json.dumps(meta))
    return meta


def list_file(ckpt, name):
    """Add ``name`` to marsad.json's file list with its true size (0 for a device or FIFO)."""
    meta = json.loads((ckpt / "marsad.json").read_text())
    path = ckpt / name
    size = path.stat().st_size if path.exists() else 0
    meta["files"][name] = {"bytes": size, "sha256": "0" * 64}
    (ckpt / "marsad.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("kind", ["device", "parent", "symlink", "fifo", "directory"])
def test_a_listed_file_outside_the_checkpoint_or_not_a_regular_file_is_refused(
    ckpt, tmp_path, kind
):
    """Hashes are off, so were the check gone the entry would pass on its size alone rather than
    hang hashing /dev/zero or a FIFO: the refusal comes before anything is opened either way."""
    import os

    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the checkpoint")
    name = {
        "device": "/dev/zero",
        "parent": "../outside.txt",
        "symlink": "link.txt",
        "fifo": "pipe",
        "directory": "sub",
    }[kind]
    if kind == "symlink":
        (ckpt / name).symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(ckpt / name)
    elif kind == "directory":
        (ckpt / name).mkdir()
    list_file(ckpt, name)
    problem = (
        "outside the checkpoint directory"
        if kind in {"device", "parent", "symlink"}
        else ("is not a regular file")
    )
    with pytest.raises(CheckpointError, match=f"marsad.json: 'files' entry '{name}': .*{problem}"):
        load_checkpoint(ckpt, verify_hashes=False)


@pytest.mark.parametrize(
    "content,message",
    [
        (b'\xff\xfe{"schema_version": "1.0"}', "marsad.json is not UTF-8 text"),
        (b"null", "marsad.json: the top level is NoneType, not an object"),
        (b"[1, 2]", "marsad.json: the top level is list, not an object"),
    ],
)
def test_a_meta_file_of_the_wrong_kind_is_a_checkpoint_error(ckpt, content, message):
    (ckpt / "marsad.json").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(ckpt)


@pytest.mark.parametrize(
    "files,message",
    [
        ([], r"'files' must be an object .* got list"),
        ({"config.json": 12}, r"'files' entry 'config.json': expected \{'bytes': int"),
        ({"config.json": {"bytes": "12", "sha256": "0"}}, "'files' entry 'config.json': expected"),
    ],
)
def test_a_malformed_file_list_is_named(ckpt, files, message):
    edit_meta(ckpt, files=files)
    with pytest.raises(CheckpointError, match=f"marsad.json: {message}"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"preprocessing": ["strip_tatweel", "stem"]}, r"preprocessing: unknown .*\['stem'\]"),
        ({"preprocessing": "strip_tatweel"}, "preprocessing must be a list of step names"),
        ({"max_length": "128"}, "max_length must be a positive integer"),
        ({"max_length": 0}, "max_length must be a positive integer"),
        ({"max_length": -5}, "max_length must be a positive integer"),
        ({"max_length": 64.5}, "max_length must be a positive integer"),
        ({"max_length": True}, "max_length must be a positive integer"),
        ({"max_length": 100_000}, "max_length 100000 exceeds the encoder's 512 positions"),
        ({"max_length": 2}, "max_length 2 leaves no room for a sub-word"),
        ({"relation_head": None}, "relation_head must be an object"),
        (
            {"relation_head": {"mlp_hidden": "256", "feature_dim": 32, "dropout": 0.1}},
            "relation_head.mlp_hidden must be an integer >= 1, got '256'",
        ),
        ({"decoding": [0.5]}, "bad decoding settings: 'decoding' must be an object"),
        ({"decoding": {"lexical_weight": True}}, "decoding.lexical_weight must be a number"),
    ],
)
def test_settings_every_document_would_fail_on_are_refused_at_load_naming_the_field(
    ckpt, fields, message
):
    edit_meta(ckpt, **fields)
    with pytest.raises(CheckpointError, match=f"marsad.json: .*{message}"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize(
    "field,labels",
    [
        ("entity_types", ["ACTOR", "LOCATION", "QUANTITY", "WEAPON"]),
        ("entity_types", ["LOCATION", "ACTOR", "QUANTITY"]),
        ("relation_labels", ["NONE", "ATTACKS"]),
    ],
)
def test_edited_label_lists_are_refused(ckpt, field, labels):
    edit_meta(ckpt, **{field: labels})
    with pytest.raises(CheckpointError, match=f"marsad.json: {field} .* differs from this code"):
        load_checkpoint(ckpt)


def test_weights_with_other_label_counts_than_the_meta_are_refused_naming_the_field(ckpt):
    """marsad.json agrees with the code, the weights do not: named by weight and field, not loaded
    with random rows."""
    import torch
    from safetensors.torch import load_file, save_file

    forget_digests(ckpt)
    head_file = ckpt / "relation_head.safetensors"
    original = head_file.read_bytes()
    state = load_file(str(head_file))
    state["type_emb.weight"] = torch.cat([state["type_emb.weight"], state["type_emb.weight"][:1]])
    save_file(state, str(head_file))
    with pytest.raises(
        CheckpointError,
        match="type_emb.weight has 4 rows but marsad.json entity_types lists 3",
    ):
        load_checkpoint(ckpt)
    head_file.write_bytes(original)
    weights = ckpt / "model.safetensors"
    state = load_file(str(weights))
    for key in ("classifier.weight", "classifier.bias"):
        state[key] = torch.cat([state[key], state[key][:2]])
    save_file(state, str(weights), {"format": "pt"})
    with pytest.raises(
        CheckpointError, match=r"tagger weight classifier\.\w+ has shape \[9.*7 bio_tags"
    ):
        load_checkpoint(ckpt)


def test_a_checkpoint_without_file_list_or_tokenizer_config_loads_its_own_tokenizer(ckpt, tmp_path):
    """Without tokenizer_config.json AutoTokenizer rebuilds a BertTokenizer from config.json's
    model_type, whose normaliser strips hamza (أ -> ا): the checkpoint's tokenizer.json is loaded
    as it is instead, and predicts as the complete checkpoint does."""
    from marsad.model.windows import special_affixes

    old = tmp_path / "old"
    shutil.copytree(ckpt, old)
    forget_digests(old)
    (old / "tokenizer_config.json").unlink()
    full, loaded = (Predictor.from_pretrained(d, device="cpu") for d in (ckpt, old))
    words = ["أعلن", "الجيش", "إسرائيل", "مؤتمر", "ئ", "Reuters"]
    for what in (
        lambda t: t(words, add_special_tokens=False)["input_ids"],
        special_affixes,
        lambda t: (t.pad_token_id, t.unk_token_id),
    ):
        assert what(loaded.loaded.tokenizer) == what(full.loaded.tokenizer)
    text = "أعلن الجيش السيطرة على مدينة إدلب بعد معارك مع قوات المعارضة."
    assert loaded(text).to_dict() == full(text).to_dict()
    config = json.loads((old / "config.json").read_text())
    config["pad_token_id"] = None
    (old / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="copy the encoder's tokenizer_config.json"):
        load_checkpoint(old)
