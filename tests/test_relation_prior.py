"""The relation prior: a feature classifier's relation probabilities mixed into the head's, tuned on
dev with the NONE threshold, shipped in checkpoints."""

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
    load_script,
    read_log,
    train_tiny,
    train_tiny_interrupted,
)

from marsad.data.examples import WordEntity, load_examples
from marsad.evaluation.metrics import relation_scores
from marsad.evaluation.scoring import (
    EvalPredictions,
    gold_extraction,
    predict_examples,
    score_predictions,
    to_extraction,
    tune_relation_prior,
)
from marsad.inference import SentenceOutput, candidate_pairs
from marsad.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from marsad.model.relation_prior import (
    RELATION_PRIOR_FILE,
    RelationPrior,
    _triggers,
    mix,
    pair_features,
)
from marsad.predictor import Predictor
from marsad.schema import RELATION_LABELS, relation_fits

L = len(RELATION_LABELS)
NEG = float("-inf")


@pytest.fixture(scope="module")
def fold0(data_dir):
    splits = load_examples(data_dir, 0)
    return splits["train"], splits["dev"]


@pytest.fixture(scope="module")
def prior(fold0) -> RelationPrior:
    return RelationPrior.fit(fold0[0])


def _outputs_over_gold(examples, logits_of) -> list[SentenceOutput]:
    """Outputs holding the gold mentions and, per candidate pair, the logits ``logits_of`` gives."""
    outs = []
    for ex in examples:
        out = SentenceOutput(entities=list(ex.entities))
        pairs = candidate_pairs(out.entities)
        if pairs:
            out.candidates = pairs
            out.candidate_logits = np.array([logits_of(ex, h, t) for h, t in pairs])
        outs.append(out)
    return outs


def _allowed(entities, h, t) -> np.ndarray:
    return np.array(
        [
            k == 0 or relation_fits(lab, entities[h].label, entities[t].label)
            for k, lab in enumerate(RELATION_LABELS)
        ]
    )


def test_mix_is_a_log_linear_mixture_that_keeps_the_schema_mask():
    head = np.array([[1.0, 2.0, NEG, 0.5, NEG, NEG, NEG], [0.0, NEG, NEG, NEG, NEG, 3.0, NEG]])
    prior_lp = np.log(
        np.array(
            [[0.5, 0.2, 1e-9, 0.3, 1e-9, 1e-9, 1e-9], [0.9, 1e-9, 1e-9, 1e-9, 1e-9, 0.1, 1e-9]]
        )
    )
    prior_lp[np.isneginf(head)] = NEG
    assert mix(head, prior_lp, 0.0) is head
    w = 0.35
    mixed = mix(head, prior_lp, w)
    allowed = ~np.isneginf(head)
    head_lp = head - np.log(np.where(allowed, np.exp(head), 0).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(mixed[allowed], ((1 - w) * head_lp + w * prior_lp)[allowed])
    assert np.isneginf(mixed[~allowed]).all()
    assert (mix(head, prior_lp, 1.0)[allowed] == prior_lp[allowed]).all()


def test_features_see_the_words_that_name_the_relation():
    words = "ولا يزال التنظيم يسيطر على أكثر من نصف مساحة محافظة دير الزور".split()
    entities = [
        WordEntity(2, 3, "ACTOR"),
        WordEntity(5, 9, "QUANTITY"),
        WordEntity(10, 12, "LOCATION"),
    ]
    f = pair_features(words, entities, 0, 2)
    assert {
        "pair=ACTOR>LOCATION",
        "pair_order=ACTOR>LOCATIONHT",
        "between=يسيطر",
        "between=علي",
        "distance=4-7ACTOR>LOCATIONHT",
        "mentions_between=1ACTOR>LOCATIONHT",
        "type_between=QUANTITYACTOR>LOCATION",
        "head=تنظيم",
        "tail=دير الزور",
        "before1=يزال|ACTOR>LOCATION",
    } <= set(f)
    assert "between=يسيطر|ACTOR>LOCATION" in f  # seven words apart: paired with the type pair too
    assert f["tail_nearest" + "ACTOR>LOCATION"] == 1
    reverse = pair_features(words, entities, 1, 2)
    # the verb before the quantity, which is where a verb-first sentence names the relation
    assert {
        "pair_order=QUANTITY>LOCATIONHT",
        "before1=علي|QUANTITY>LOCATION",
        "before2=يسيطر|QUANTITY>LOCATION",
        "distance=1QUANTITY>LOCATIONHT",
        "mentions_between=0QUANTITY>LOCATIONHT",
    } <= set(reverse)


def test_trigger_words_and_stems_generalise_across_word_forms():
    """ "المدعومة" and "وسيطرت" fire the schema's SUPPORTS / CONTROLS triggers whatever their
    affixes; short triggers ("في") match whole words only, so "فيصل" is no LOCATED_IN trigger."""
    words = "وسيطرت قوات سوريا الديمقراطية المدعومة من واشنطن على حي فيصل في الرقة".split()
    entities = [
        WordEntity(1, 4, "ACTOR"),
        WordEntity(6, 7, "ACTOR"),
        WordEntity(9, 10, "LOCATION"),
        WordEntity(11, 12, "LOCATION"),
    ]
    supports = pair_features(words, entities, 1, 0)
    assert {
        "trigger_between=SUPPORTS|ACTOR>ACTOR",
        "trigger_before=CONTROLS|ACTOR>ACTOR",
        "between_stem=مدعو|ACTOR>ACTOR",
    } <= set(supports)
    assert not any(
        name.startswith("trigger_between=") and "SUPPORTS" not in name for name in supports
    )
    assert "trigger_between=LOCATED_IN|LOCATION>LOCATION" in pair_features(words, entities, 2, 3)
    assert _triggers("في") == ("LOCATED_IN",) and _triggers("فيصل") == ()


def test_prior_learns_the_training_relations(prior, fold0):
    """Log-probabilities are normalised over the labels the pair's types allow; on its own training
    sentences the classifier recovers most gold relations (it is a real classifier, not a
    constant)."""
    train, _ = fold0
    gold, predicted = [], []
    for ex in train:
        pairs = candidate_pairs(ex.entities)
        lp = prior.log_probs(ex.words, ex.entities, pairs)
        assert lp.shape == (len(pairs), L)
        for row, (h, t) in zip(lp, pairs):
            allowed = _allowed(ex.entities, h, t)
            assert np.isneginf(row[~allowed]).all()
            np.testing.assert_allclose(np.exp(row[allowed]).sum(), 1.0, rtol=1e-9)
        out = SentenceOutput(
            entities=list(ex.entities), candidates=pairs, candidate_logits=lp if pairs else None
        )
        out.decode_relations(0.0)
        gold.append(gold_extraction(ex))
        predicted.append(to_extraction(ex, out))
    assert relation_scores(gold, predicted)["micro"]["f1"] > 0.8


def test_save_load_round_trip_is_exact(prior, fold0, tmp_path):
    prior.save(tmp_path)
    again = RelationPrior.load(tmp_path / RELATION_PRIOR_FILE)
    for ex in fold0[1]:
        pairs = candidate_pairs(ex.entities)
        np.testing.assert_array_equal(
            again.log_probs(ex.words, ex.entities, pairs),
            prior.log_probs(ex.words, ex.entities, pairs),
        )


def test_tuning_prefers_the_better_source(prior, fold0):
    """A head that knows nothing (flat logits) loses to the prior; a head that knows the gold answer
    keeps weight 0. Either way the outputs are left decoded at the chosen weight and threshold."""
    _, dev = fold0

    def flat(ex, h, t):
        return np.where(_allowed(ex.entities, h, t), 0.0, NEG)

    def oracle(ex, h, t):
        label = next((r.label for r in ex.relations if (r.head, r.tail) == (h, t)), "NONE")
        return np.where(_allowed(ex.entities, h, t), 0.0, NEG) + 10.0 * (
            np.array(RELATION_LABELS) == label
        )

    def f1(outs) -> float:
        return relation_scores(
            [gold_extraction(ex) for ex in dev], [to_extraction(ex, o) for ex, o in zip(dev, outs)]
        )["micro"]["f1"]

    for logits_of, expect_prior in ((flat, True), (oracle, False)):
        outs = _outputs_over_gold(dev, logits_of)
        preds = EvalPredictions(dev, outs, _outputs_over_gold(dev, logits_of))
        weight, bias = tune_relation_prior(preds, prior)
        assert (weight > 0) == expect_prior
        assert all(o.prior_weight == weight for o in preds.end_to_end + preds.gold_entities)
        decoded = [list(o.relations) for o in outs]
        for o in outs:
            o.decode_relations(bias)
        assert [list(o.relations) for o in outs] == decoded
    assert f1(outs) == 1.0


@pytest.fixture(scope="module")
def prior_run(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("tiny-relation-prior")
    train_tiny(out, data_dir, "relation_prior=true", "epochs=4")
    return out


def test_run_logs_and_ships_the_weight(prior_run):
    best = prior_run / "best"
    meta = json.loads((best / "marsad.json").read_text())
    chosen = next(r for r in read_log(prior_run) if r["epoch"] == meta["epoch"])
    assert meta["relation_prior"] == {"file": RELATION_PRIOR_FILE}
    assert meta["decoding"]["relation_weight"] == chosen["relation_prior_weight"]
    assert meta["decoding"]["none_bias"] == chosen["none_bias"]
    assert "feature classifier" in (best / "README.md").read_text()
    loaded = load_checkpoint(best)
    assert loaded.decoding.relation_weight == chosen["relation_prior_weight"]


def test_checkpoint_with_a_weight_predicts_the_same_after_reload(prior_run, data_dir, tmp_path):
    """Saved at weight 0.65, reloaded: the dev scores equal those of the model in memory, and the
    relations over gold mentions are those of the mixed scores."""
    loaded = load_checkpoint(prior_run / "best")
    decoding = replace(loaded.decoding, relation_weight=0.65)
    meta = {**loaded.meta, "decoding": decoding.to_dict()}
    save_checkpoint(tmp_path / "ckpt", loaded.model, loaded.tokenizer, meta, "card")
    again = load_checkpoint(tmp_path / "ckpt")
    assert again.decoding == decoding
    dev = load_examples(data_dir, None)["dev"]
    before = predict_examples(
        loaded.model,
        loaded.tokenizer,
        dev,
        loaded.preprocessing,
        loaded.max_length,
        decoding=decoding,
    )
    after = predict_examples(
        again.model,
        again.tokenizer,
        dev,
        again.preprocessing,
        again.max_length,
        decoding=again.decoding,
    )
    assert score_predictions(after) == score_predictions(before)
    bias = again.decoding.none_bias
    for ex, out in zip(dev, after.gold_entities):
        if out.candidates:
            lp = again.model.relation_prior.log_probs(ex.words, out.entities, out.candidates)
            np.testing.assert_array_equal(out.candidate_prior, lp)
            expected = SentenceOutput(
                out.entities, [], out.candidates, mix(out.candidate_logits, lp, 0.65)
            )
            expected.decode_relations(bias)
            assert out.relations == expected.relations
    predictions = Predictor.from_pretrained(tmp_path / "ckpt")([ex.text for ex in dev])
    for p in predictions:
        json.loads(p.to_json())
        assert all(
            0 <= r.head < len(p.entities) and 0 <= r.tail < len(p.entities) for r in p.relations
        )


def test_missing_or_corrupt_prior_file_is_named(prior_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(prior_run / "best", broken)
    (broken / RELATION_PRIOR_FILE).write_text('{"classes": ["NONE"], "features": ["a"]}')
    with pytest.raises(CheckpointError, match=f"{RELATION_PRIOR_FILE}: 40 bytes, marsad.json says"):
        load_checkpoint(broken)
    forget_digests(broken)  # a checkpoint without the file list: the prior's own check
    with pytest.raises(CheckpointError, match=f"{RELATION_PRIOR_FILE} is not a relation prior"):
        load_checkpoint(broken)
    (broken / RELATION_PRIOR_FILE).write_text("not json")
    with pytest.raises(CheckpointError, match=f"{RELATION_PRIOR_FILE} is not a relation prior"):
        load_checkpoint(broken)
    (broken / RELATION_PRIOR_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"missing {RELATION_PRIOR_FILE}"):
        load_checkpoint(broken)


def test_checkpoint_from_before_the_option_loads_without_one(prior_run, tmp_path):
    old = checkpoint_from_before(
        "relation_prior", prior_run / "best", tmp_path / "old", RELATION_PRIOR_FILE
    )
    assert load_checkpoint(old).model.relation_prior is None


def test_meta_must_describe_the_prior(prior_run, tmp_path):
    loaded = load_checkpoint(prior_run / "best")
    wrong = {**loaded.meta, "relation_prior": None}
    with pytest.raises(ValueError, match="does not describe the model's relation prior"):
        save_checkpoint(tmp_path / "x", loaded.model, loaded.tokenizer, wrong, "card")
    assert not (tmp_path / "x").exists()


def test_prior_run_resumes_to_the_same_result(prior_run, tmp_path, data_dir):
    out = tmp_path / "resumed"
    train_tiny_interrupted(out, data_dir, 3, "relation_prior=true", "epochs=4")
    assert_same_log(prior_run, out)


def test_crossfit_script_reports_both_estimates(prior_run, tmp_path, capsys):
    """experiments/relation_prior_crossfit.py on a one-fold run directory."""
    cells = crossfit_fold0_row(
        "experiments/relation_prior_crossfit.py", prior_run / "best", tmp_path, capsys
    )
    alone, mixed = (float(c) for c in cells[:2])
    assert 0 <= alone <= 1 and 0 <= mixed <= 1
    # the checkpoint's prior was fitted by this code on this split, so fitting it anew changes
    # nothing
    assert (
        crossfit_fold0_row(
            "experiments/relation_prior_crossfit.py",
            prior_run / "best",
            tmp_path,
            capsys,
            "--refit",
        )
        == cells
    )


def test_crossfit_script_prior_only_needs_no_checkpoint(capsys):
    """--prior-only fits the prior on fold 0's training split and scores its dev gold mentions."""
    assert (
        load_script("experiments/relation_prior_crossfit.py").main(["--prior-only", "--folds", "0"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    fold, pooled = (
        next(line for line in lines if line.startswith(p)) for p in ("| 0 |", "| pooled |")
    )
    f1 = float(fold.split("|")[2])
    assert 0.2 < f1 <= 1 and float(pooled.split("|")[2]) == f1  # one fold: pooled is that fold
    assert "(1.0, " in fold  # the prior alone: weight 1 on both halves


def _log_probs_from_feature_dicts(prior, words, entities, pairs):
    """The prior's log-probabilities computed from :func:`pair_features`' dicts, name by name: the
    reference the per-word column arrays of ``log_probs`` must equal."""
    from marsad.model.relation_prior import _FLOOR, allowed_labels

    scores = np.tile(prior.intercept, (len(pairs), 1))
    for row, (h, t) in enumerate(pairs):
        names = [n for n, v in pair_features(words, entities, h, t).items() if v]
        cols = [prior.index[n] for n in names if n in prior.index]
        scores[row] += prior.coef[:, cols].sum(axis=1)
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = np.full((len(pairs), L), _FLOOR)
    probs[:, prior._columns] += exp / exp.sum(axis=1, keepdims=True)
    allowed = allowed_labels(entities, pairs)
    probs = np.where(allowed, probs, 0.0)
    out = np.full(probs.shape, NEG)
    out[allowed] = np.log((probs / probs.sum(axis=1, keepdims=True))[allowed])
    return out


def test_vectorised_log_probs_equal_the_feature_dicts(prior, fold0, monkeypatch):
    """On dev sentences and on a long run-on text (many pairs far apart, trigger words between and
    before, scored a few pairs per sparse product), the array path scores every pair as the named
    features do."""
    import random

    from marsad.model import relation_prior

    monkeypatch.setattr(relation_prior, "_PAIRS_PER_PRODUCT", 7)

    for ex in fold0[1]:
        pairs = candidate_pairs(ex.entities)
        if pairs:
            np.testing.assert_allclose(
                prior.log_probs(ex.words, ex.entities, pairs),
                _log_probs_from_feature_dicts(prior, ex.words, ex.entities, pairs),
                rtol=1e-12,
                atol=1e-12,
            )
    rng = random.Random(11)
    words = [w for ex in fold0[1] for w in ex.words]
    entities, pos = [], 0
    while pos < len(words) - 3:
        pos += rng.randint(0, 8)
        width = rng.randint(1, 2)
        entities.append(WordEntity(pos, pos + width, rng.choice(["ACTOR", "LOCATION", "QUANTITY"])))
        pos += width
    entities = [e for e in entities if e.end <= len(words)][:80]
    pairs = candidate_pairs(entities)
    np.testing.assert_allclose(
        prior.log_probs(words, entities, pairs),
        _log_probs_from_feature_dicts(prior, words, entities, pairs),
        rtol=1e-12,
        atol=1e-12,
    )


def _run_on_mentions(rng, words: int, limit: int) -> list[WordEntity]:
    """Ordered, non-overlapping mentions, some adjacent, some at the first word (ties for the
    nearest mention happen: equal gaps on both sides)."""
    entities, pos = [], 0
    while len(entities) < limit:
        width = rng.randint(1, 3)
        if pos + width > words:
            break
        entities.append(WordEntity(pos, pos + width, rng.choice(["ACTOR", "LOCATION", "QUANTITY"])))
        pos += width + rng.choice([0, 0, 1, 2, 2, 5, 12])
    return entities


def test_run_on_pairs_are_scored_by_arrays_as_the_named_features_do(prior, fold0, monkeypatch):
    """Ordered mentions (always so after decoding) are scored all pairs at once, with no
    per-pair feature construction, and every score equals the named features' (ties for the
    nearest mention, mentions at the first word, adjacent mentions, far pairs)."""
    import random

    from marsad.model import relation_prior

    words = [w for ex in fold0[1] for w in ex.words]
    rng = random.Random(17)
    cases = [(words, _run_on_mentions(rng, len(words), 150)) for _ in range(3)]
    expected = [_log_probs_from_feature_dicts(prior, w, e, candidate_pairs(e)) for w, e in cases]

    def per_pair(*args, **kwargs):
        raise AssertionError("ordered mentions went through the per-pair path")

    monkeypatch.setattr(relation_prior, "_pair_core_features", per_pair)
    monkeypatch.setattr(relation_prior, "_PAIRS_PER_PRODUCT", 97)
    for (w, e), want in zip(cases, expected):
        got = prior.log_probs(w, e, candidate_pairs(e))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_overlapping_mentions_keep_the_per_pair_path(prior, fold0):
    """Gold mentions may overlap or come out of order; their pairs are scored one by one, with the
    same result as the named features."""
    ex = next(ex for ex in fold0[1] if len(ex.entities) >= 3)
    entities = [*ex.entities, WordEntity(ex.entities[0].start, ex.entities[0].end + 1, "ACTOR")]
    pairs = candidate_pairs(entities)
    np.testing.assert_allclose(
        prior.log_probs(ex.words, entities, pairs),
        _log_probs_from_feature_dicts(prior, ex.words, entities, pairs),
        rtol=1e-12,
        atol=1e-12,
    )
