"""The lexical prior: a feature CRF's marginals mixed into tag decoding, tuned on dev, shipped in
checkpoints."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    assert_same_log,
    checkpoint_from_before,
    crossfit_fold0_row,
    forget_digests,
    read_log,
    train_tiny,
    train_tiny_interrupted,
)

from marsad.data.examples import load_examples
from marsad.evaluation.scoring import (
    EvalPredictions,
    predict_examples,
    score_predictions,
    tune_prior_weight,
)
from marsad.inference import SentenceOutput, decode_entities
from marsad.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from marsad.model.lexical_prior import PRIOR_FILE, LexicalPrior
from marsad.schema import BIO_TAGS

T = len(BIO_TAGS)
TAG = {t: i for i, t in enumerate(BIO_TAGS)}


def _one_hot_log_probs(tags: list[str], confidence: float) -> np.ndarray:
    """Per-word log-probabilities that put ``confidence`` on the given tag, the rest spread
    evenly."""
    probs = np.full((len(tags), T), (1 - confidence) / (T - 1))
    probs[np.arange(len(tags)), [TAG[t] for t in tags]] = confidence
    return np.log(probs)


@pytest.fixture(scope="module")
def fold0(data_dir):
    splits = load_examples(data_dir, 0)
    return splits["train"], splits["dev"]


@pytest.fixture(scope="module")
def prior(fold0) -> LexicalPrior:
    train, _ = fold0
    return LexicalPrior.fit([ex.words for ex in train], [ex.tags for ex in train])


def test_mix_is_a_renormalised_log_linear_mixture(prior):
    rng = np.random.default_rng(0)
    enc = np.log(rng.dirichlet(np.ones(T), size=5))
    crf = np.log(rng.dirichlet(np.ones(T), size=5))
    assert prior.mix(enc, crf, 0.0) is enc
    for w in (0.35, 1.0):
        mixed = prior.mix(enc, crf, w)
        expected = (1 - w) * enc + w * crf
        expected -= np.log(np.exp(expected).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(mixed, expected, rtol=1e-6)
        np.testing.assert_allclose(np.exp(mixed).sum(axis=1), 1.0, rtol=1e-6)


def test_confident_crf_overrides_a_hesitant_encoder(prior):
    """Encoder: O at 0.4 everywhere; CRF: a two-word LOCATION at 0.9. Mixed half and half, the
    decoder finds the LOCATION; the encoder alone does not."""
    enc = _one_hot_log_probs(["O", "O", "O"], 0.4)
    crf = _one_hot_log_probs(["O", "B-LOCATION", "I-LOCATION"], 0.9)
    assert decode_entities(enc) == []
    found = decode_entities(enc, prior, crf, 0.5)
    assert [(e.start, e.end, e.label) for e in found] == [(1, 3, "LOCATION")]
    assert 0 < found[0].score <= 1


def test_crf_marginals_on_real_training_sentences(prior, fold0):
    train, _ = fold0
    agree = total = 0
    for ex in train:
        lp = prior.log_marginals(ex.words)
        assert lp.shape == (len(ex.words), T) and np.all(lp <= 0)
        np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, rtol=1e-5)
        agree += sum(BIO_TAGS[i] == t for i, t in zip(lp.argmax(axis=1), ex.tags))
        total += len(ex.words)
    assert agree / total > 0.95, "a CRF should fit its own training sentences"
    assert prior.log_marginals([]).shape == (0, T)


def test_weight_tuning_prefers_the_better_source(prior, fold0):
    train, dev = fold0

    def preds(word_lps):
        outs = [SentenceOutput(word_log_probs=lp) for lp in word_lps]
        return EvalPredictions(dev, outs, [SentenceOutput() for _ in dev])

    uniform = preds([np.full((len(ex.words), T), -np.log(T)) for ex in dev])
    assert tune_prior_weight(uniform, prior) > 0, (
        "an uninformative encoder should hand over to the CRF"
    )
    perfect = preds([_one_hot_log_probs(ex.tags, 0.99) for ex in dev])
    assert tune_prior_weight(perfect, prior) == 0.0, (
        "a perfect encoder needs no prior (ties: smallest weight)"
    )


# ---- end to end on the tiny model ----------------------------------------------------------------


@pytest.fixture(scope="module")
def prior_run(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("tiny-prior")
    train_tiny(out, data_dir, "lexical_prior=true", "epochs=4")
    return out


def test_checkpoint_ships_the_prior_and_its_weight(prior_run, data_dir):
    best = prior_run / "best"
    meta = json.loads((best / "marsad.json").read_text())
    chosen = next(r for r in read_log(prior_run) if r["epoch"] == meta["epoch"])
    assert meta["lexical_prior"] == {"file": PRIOR_FILE}
    assert meta["decoding"]["lexical_weight"] == chosen["prior_weight"]
    assert (best / PRIOR_FILE).stat().st_size > 0
    assert "feature CRF" in (best / "README.md").read_text()
    loaded = load_checkpoint(best)
    assert (
        loaded.model.lexical_prior is not None
        and loaded.decoding.lexical_weight == chosen["prior_weight"]
    )
    dev = load_examples(data_dir, None)["dev"]
    scores = score_predictions(
        predict_examples(
            loaded.model,
            loaded.tokenizer,
            dev,
            loaded.preprocessing,
            loaded.max_length,
            decoding=loaded.decoding,
        )
    )
    assert scores["entities"]["micro"]["f1"] == pytest.approx(
        meta["dev_metrics"]["entities"]["micro"]["f1"]
    )
    relations = meta["dev_metrics"]["relations_end_to_end"]["micro"]
    assert scores["relations_end_to_end"]["micro"] == pytest.approx(relations)


def test_predictions_use_the_prior(prior_run, data_dir):
    """Weight 1 decodes the CRF's own best tags, whatever the encoder says."""
    loaded = load_checkpoint(prior_run / "best")
    dev = load_examples(data_dir, None)["dev"]
    prior = loaded.model.lexical_prior
    preds = predict_examples(
        loaded.model,
        loaded.tokenizer,
        dev,
        loaded.preprocessing,
        loaded.max_length,
        decoding=replace(loaded.decoding, lexical_weight=1.0),
    )
    for ex, out in zip(dev, preds.end_to_end):
        expected = decode_entities(prior.log_marginals(ex.words))
        assert [(e.start, e.end, e.label) for e in out.entities] == [
            (e.start, e.end, e.label) for e in expected
        ]


def test_missing_or_corrupt_prior_file_is_named(prior_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(prior_run / "best", broken)
    (broken / PRIOR_FILE).write_bytes(b"not a crfsuite model")
    with pytest.raises(CheckpointError, match=f"{PRIOR_FILE}: 20 bytes, marsad.json says"):
        load_checkpoint(broken)
    forget_digests(broken)  # a checkpoint without the file list: the prior's own check
    with pytest.raises(CheckpointError, match=f"{PRIOR_FILE} is not a readable crfsuite model"):
        load_checkpoint(broken)
    (broken / PRIOR_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"missing {PRIOR_FILE}"):
        load_checkpoint(broken)


def test_checkpoint_from_before_the_prior_option_loads_without_one(prior_run, tmp_path):
    old = checkpoint_from_before("lexical_prior", prior_run / "best", tmp_path / "old", PRIOR_FILE)
    loaded = load_checkpoint(old)
    assert loaded.model.lexical_prior is None and loaded.decoding.lexical_weight == 0.0


def test_meta_must_describe_the_prior(prior_run, tmp_path):
    loaded = load_checkpoint(prior_run / "best")
    wrong = {**loaded.meta, "lexical_prior": None}
    with pytest.raises(ValueError, match="does not describe the model's lexical prior"):
        save_checkpoint(tmp_path / "x", loaded.model, loaded.tokenizer, wrong, "card")
    loaded.model.lexical_prior = None
    with pytest.raises(ValueError, match="mixes a lexical prior in .* but the model has none"):
        save_checkpoint(tmp_path / "x", loaded.model, loaded.tokenizer, wrong, "card")
    assert not (tmp_path / "x").exists()


def test_prior_run_resumes_to_the_same_result(prior_run, tmp_path, data_dir):
    out = tmp_path / "resumed"
    train_tiny_interrupted(out, data_dir, 3, "lexical_prior=true", "epochs=4")
    assert_same_log(prior_run, out)


def test_crossfit_script_reports_every_estimate(prior_run, tmp_path, capsys):
    """experiments/prior_crossfit.py on a one-fold run directory."""
    cells = crossfit_fold0_row(
        "experiments/prior_crossfit.py", prior_run / "best", tmp_path, capsys
    )
    zero, saved, in_sample, cross = (float(c) for c in cells[:4])
    meta = json.loads((prior_run / "best" / "marsad.json").read_text())
    assert saved == meta["decoding"]["lexical_weight"]
    assert in_sample == pytest.approx(meta["dev_metrics"]["entities"]["micro"]["f1"], abs=5e-4)
    assert 0 <= zero <= 1 and 0 <= cross <= 1
    # the checkpoint's CRF was trained by this code on this split: fitted anew (deterministic
    # L-BFGS) and tuned on all of dev, it reproduces the saved row
    assert (
        crossfit_fold0_row(
            "experiments/prior_crossfit.py", prior_run / "best", tmp_path, capsys, "--refit"
        )
        == cells
    )
