"""Tiny-model training end to end: loss falls, runs are reproducible, checkpoints reload exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_same_log, read_log, train_tiny, train_tiny_interrupted

from marsad.config import load_config
from marsad.data.examples import load_examples
from marsad.evaluation.scoring import predict_examples
from marsad.model.checkpoint import load_checkpoint
from marsad.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def test_loss_falls_and_log_is_complete(tiny_run):
    log = read_log(tiny_run)
    assert [r["epoch"] for r in log] == list(range(1, 11))
    assert log[-1]["loss"] < 0.6 * log[0]["loss"]
    assert {"dev_entity_f1", "dev_relation_f1", "tag_loss", "relation_loss", "best_epoch"} <= set(
        log[0]
    )


def test_best_checkpoint_is_complete_and_described(tiny_run):
    best = tiny_run / "best"
    meta = json.loads((best / "marsad.json").read_text())
    assert meta["encoder"]["used"] == "tiny-random"
    assert meta["data"]["fingerprint"] and meta["training_config"]["seed"] == 13
    # default selection: the first epoch with the highest dev entity F1 + relation F1
    assert (
        meta["epoch"]
        == max(
            read_log(tiny_run),
            key=lambda r: (r["dev_entity_f1"] + r["dev_relation_f1"], r["dev_entity_f1"]),
        )["epoch"]
    )
    assert meta["decoding"]["none_bias"] == next(
        r["none_bias"] for r in read_log(tiny_run) if r["epoch"] == meta["epoch"]
    )
    card = (best / "README.md").read_text()
    assert "Marsad joint entity + relation model" in card
    assert "chosen by dev entity + end-to-end relation micro-F1" in card
    cfg = meta["training_config"]
    assert f"MLP {cfg['relation_hidden']} hidden, dropout {cfg['dropout']} in training" in card
    assert (
        f"learning rate {cfg['learning_rate']} for the encoder and {cfg['head_learning_rate']} "
        f"for the heads, batch {cfg['batch_size']}, at most {cfg['epochs']} epochs"
    ) in card


def test_no_epoch_is_kept_before_the_warmup_ends(tmp_path, data_dir):
    """select_after_warmup: with warm-up over 60% of 4 epochs (it ends in epoch 3), epochs 1 and 2
    are logged but never kept; the best is the higher-scoring of epochs 3 and 4 (with the option
    off, epoch 1 is always best when logged)."""
    out = tmp_path / "warm"
    train_tiny(out, data_dir, "epochs=4", "warmup_ratio=0.6", "select_after_warmup=true")
    log = read_log(out)
    assert [r["best_epoch"] for r in log[:2]] == [0, 0]
    kept = max(
        log[2:], key=lambda r: (r["dev_entity_f1"] + r["dev_relation_f1"], r["dev_entity_f1"])
    )["epoch"]
    assert (
        json.loads((out / "best" / "marsad.json").read_text())["epoch"]
        == kept
        == log[-1]["best_epoch"]
    )
    assert (
        "among the epochs after the learning-rate warm-up"
        in (out / "best" / "README.md").read_text()
    )


@pytest.mark.parametrize("metric, kept", [("entity", 2), ("entity+relation", 1)])
def test_selection_metric_decides_the_kept_epoch(tmp_path, data_dir, monkeypatch, metric, kept):
    """The two rules part ways when the relation score falls as the entity score rises; a tiny model
    improves on both together, so the dev scores are scripted (entity, relation per epoch)."""
    import marsad.training.trainer

    scripted = iter([(0.5, 0.5), (0.6, 0.1), (0.55, 0.3)])

    def scores(_preds):
        ent, rel = next(scripted)
        return {
            "entities": {"micro": {"precision": ent, "recall": ent, "f1": ent}},
            "relations_end_to_end": {"micro": {"precision": rel, "recall": rel, "f1": rel}},
        }

    monkeypatch.setattr(marsad.training.trainer, "score_predictions", scores)
    out = tmp_path / "sel"
    train_tiny(out, data_dir, "epochs=3", f"selection_metric={metric}")
    assert (
        json.loads((out / "best" / "marsad.json").read_text())["epoch"]
        == kept
        == read_log(out)[-1]["best_epoch"]
    )
    words = {
        "entity": "dev entity micro-F1, end-to-end relation F1 breaking ties",
        "entity+relation": "dev entity + end-to-end relation micro-F1",
    }[metric]
    assert f"chosen by {words}" in (out / "best" / "README.md").read_text()


def test_reloaded_checkpoint_predicts_identically(tiny_run, data_dir):
    """Two loads of a saved checkpoint agree on every output (nothing is re-initialised at load)."""
    examples = load_examples(data_dir)["test"]
    loaded = load_checkpoint(tiny_run / "last")
    again = load_checkpoint(tiny_run / "last")
    a = predict_examples(
        loaded.model,
        loaded.tokenizer,
        examples,
        loaded.preprocessing,
        loaded.max_length,
        decoding=loaded.decoding,
    )
    b = predict_examples(
        again.model,
        again.tokenizer,
        examples,
        again.preprocessing,
        again.max_length,
        decoding=again.decoding,
    )
    assert (
        a.end_to_end == b.end_to_end and a.gold_entities == b.gold_entities
    )  # same batches: bit-identical
    c = predict_examples(
        again.model,
        again.tokenizer,
        examples,
        again.preprocessing,
        again.max_length,
        batch_size=3,
        decoding=again.decoding,
    )
    for x, y in zip(
        a.end_to_end + a.gold_entities, c.end_to_end + c.gold_entities
    ):  # other padding: float noise only
        assert [(e.start, e.end, e.label) for e in x.entities] == [
            (e.start, e.end, e.label) for e in y.entities
        ]
        assert [(r.head, r.tail, r.label) for r in x.relations] == [
            (r.head, r.tail, r.label) for r in y.relations
        ]
        assert [r.score for r in x.relations] == pytest.approx(
            [r.score for r in y.relations], abs=1e-4
        )
    assert any(o.entities for o in a.end_to_end), "the trained tiny model should find some entities"


def test_same_seed_same_metrics(tmp_path, data_dir, tiny_run):
    train_tiny(tmp_path / "again", data_dir, "epochs=10")
    assert_same_log(tiny_run, tmp_path / "again")


def test_interrupted_run_resumes_to_the_same_result(tmp_path, data_dir, tiny_run):
    """Crash after epoch 4, resume: the log equals the uninterrupted run's, epoch for epoch."""
    out = tmp_path / "resumed"
    train_tiny_interrupted(out, data_dir, 5, "epochs=10")
    assert_same_log(tiny_run, out)


def test_crash_between_log_line_and_resume_state_logs_each_epoch_once(tmp_path, data_dir, tiny_run):
    """The epoch's log line is written before last/ is: a crash in between must not leave it
    twice."""
    out = tmp_path / "resumed"
    original = Trainer._save_last

    def crash(self, epoch, best, dev):
        if epoch == 4:
            raise KeyboardInterrupt  # epoch 4 logged, last/ still holds epoch 3
        return original(self, epoch, best, dev)

    Trainer._save_last = crash
    try:
        with pytest.raises(KeyboardInterrupt):
            train_tiny(out, data_dir, "epochs=10")
    finally:
        Trainer._save_last = original
    cfg = load_config(
        ROOT / "configs" / "tiny.yaml", [f"output_dir={out}", f"data_dir={data_dir}", "epochs=10"]
    )
    Trainer(cfg, resume=True).train()
    assert_same_log(tiny_run, out)


def test_resume_without_state_is_a_clear_error(tmp_path, data_dir):
    cfg = load_config(
        ROOT / "configs" / "tiny.yaml", [f"output_dir={tmp_path}", f"data_dir={data_dir}"]
    )
    with pytest.raises(
        FileNotFoundError, match="cannot resume: .*training_state.pt does not exist"
    ):
        Trainer(cfg, resume=True).train()


def test_hf_pipeline_loads_checkpoint(tiny_run):
    from transformers import AutoModelForTokenClassification, pipeline

    model = AutoModelForTokenClassification.from_pretrained(tiny_run / "best")
    assert model.config.id2label[1] == "B-ACTOR"
    tagger = pipeline("token-classification", model=str(tiny_run / "best"))
    out = tagger("سيطرت قوات النظام على أربعة أحياء في مدينة الميادين")
    assert isinstance(out, list)
    assert all(o["entity"] in model.config.label2id for o in out)


def test_relation_left_context_round_trips_through_the_checkpoint(tmp_path, data_dir):
    from marsad.model.checkpoint import CheckpointError, load_checkpoint

    train_tiny(tmp_path, data_dir, "epochs=1", "relation_left_context=4")
    meta_path = tmp_path / "best" / "marsad.json"
    assert json.loads(meta_path.read_text())["relation_head"]["left_context"] == 4
    assert load_checkpoint(tmp_path / "best").model.relation_head.left_context == 4
    assert "the 4 sub-words before the earlier one" in (tmp_path / "best" / "README.md").read_text()
    meta = json.loads(meta_path.read_text())
    del meta["relation_head"][
        "left_context"
    ]  # as if written without the option: the weights no longer fit
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit the relation head"):
        load_checkpoint(tmp_path / "best")


@pytest.mark.parametrize(
    ("option", "key", "card_words"),
    [
        ("relation_pair_attention", "pair_attention", "an attention over the window"),
        ("relation_markers", "markers", "levitated entity markers"),
    ],
)
def test_relation_head_variants_train_save_load_and_predict(
    tmp_path, data_dir, option, key, card_words
):
    from marsad.model.checkpoint import load_checkpoint
    from marsad.predictor import Predictor

    train_tiny(tmp_path, data_dir, "epochs=1", f"{option}=true")
    meta = json.loads((tmp_path / "best" / "marsad.json").read_text())
    assert meta["relation_head"][key] is True
    assert getattr(load_checkpoint(tmp_path / "best").model.relation_head, key) is not None
    assert card_words in (tmp_path / "best" / "README.md").read_text()
    text = "سيطرت قوات النظام على مدينة الميادين و" * 60  # one long sentence: several windows
    out = Predictor.from_pretrained(tmp_path / "best", device="cpu")(text.strip())
    assert all(text[e.start : e.end] == e.text for e in out.entities)


def test_two_process_ddp_on_cpu_keeps_the_single_process_schedule(tmp_path, data_dir, tiny_run):
    """Real multi-process DDP (gloo, 2 CPU processes via torchrun, as on a multi-GPU machine): it
    finishes, writes one log and a loadable checkpoint, and with half the batch per process it
    follows the single-process learning-rate schedule epoch for epoch (accelerate steps a prepared
    scheduler once per process; miscounting that ends training at lr 0 halfway through)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    # no GPU for the ranks, as the README's command says: on a GPU machine accelerate would put rank
    # 1 on cuda:1
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "true",
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(ROOT / "train" / "train.py"),
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--set",
        f"output_dir={out}",
        "--set",
        f"data_dir={data_dir}",
        "--set",
        "epochs=10",
        "--set",
        "batch_size=4",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best epoch") == 2  # both ranks finished and agree on what was kept
    log = read_log(out)
    single = read_log(tiny_run)
    assert [r["epoch"] for r in log] == list(range(1, 11))
    assert [r["lr"] for r in log] == pytest.approx([r["lr"] for r in single], rel=1e-9)
    assert log[-1]["loss"] < 0.6 * log[0]["loss"]
    assert load_checkpoint(out / "best").model.relation_head is not None


@pytest.mark.parametrize("deterministic", [True, False])
def test_deterministic_decides_whether_torch_refuses_nondeterministic_kernels(
    tmp_path, data_dir, monkeypatch, deterministic
):
    """``deterministic: true`` turns torch's deterministic mode on strictly (an op without a
    deterministic kernel raises rather than drifting: on a GPU, memory-efficient attention's
    backward only picks its deterministic variant then) and pins cuBLAS's workspace; ``false``
    leaves both alone."""
    import os

    import torch

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(False)
    try:
        cfg = load_config(
            ROOT / "configs" / "tiny.yaml",
            [
                f"output_dir={tmp_path}",
                f"data_dir={data_dir}",
                f"deterministic={str(deterministic).lower()}",
            ],
        )
        trainer = Trainer(cfg)
        trainer._prepare()
        assert torch.are_deterministic_algorithms_enabled() is deterministic
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert (os.environ.get("CUBLAS_WORKSPACE_CONFIG") == ":4096:8") is deterministic
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
