"""Paired comparison: the bootstrap against hand-computed cases, pooling, and eval/compare.py end to
end."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import load_script

from marsad.data.examples import WordRelation, load_examples
from marsad.evaluation.comparison import (
    ComparisonError,
    compare,
    paired_difference,
    pool,
    sentence_scores,
)
from marsad.evaluation.scoring import EvalPredictions
from marsad.inference import SentenceOutput
from marsad.schema import RELATION_TYPES


def test_paired_difference_hand_computed():
    # A: sentence 1 right, sentence 2 one FP + one FN -> micro F1 0.5; B: both right -> 1.0.
    # Resamples: {1,1} -> B-A = 0 (p 1/4), {2,2} -> 1 (p 1/4), mixed -> 1 - 0.5 (p 1/2).
    r = paired_difference([(1, 0, 0), (0, 1, 1)], [(1, 0, 0), (1, 0, 0)], n_resamples=20_000)
    assert (r.a, r.b, r.difference) == pytest.approx((0.5, 1.0, 0.5))
    assert r.ci95 == pytest.approx((0.0, 1.0))
    assert r.b_better == pytest.approx(0.75, abs=0.01) and r.b_worse == 0.0
    assert r.sentences_differ == 1


def test_identical_systems_differ_by_exactly_zero_on_every_resample():
    """Both systems are scored on the same resamples; independent resamples would spread around
    0."""
    counts = [(3, 1, 0), (0, 2, 2), (1, 0, 1), (4, 0, 0)]
    r = paired_difference(counts, list(counts), n_resamples=2_000)
    assert r.ci95 == (0.0, 0.0) and r.b_better == r.b_worse == 0.0 and r.sentences_differ == 0


def test_pool_sums_runs_and_refuses_uneven_coverage():
    run = {"s1": {"x": (1, 0, 0)}, "s2": {"x": (0, 1, 0)}}
    assert pool([run, run], "A") == {"s1": {"x": (2, 0, 0)}, "s2": {"x": (0, 2, 0)}}
    with pytest.raises(ComparisonError, match=r"A: sentences are scored unequal.*'s2'"):
        pool([run, {"s1": {"x": (1, 0, 0)}}], "A")


def test_compare_refuses_different_sentences():
    row = {name: (0, 0, 0) for name in ("entity micro-F1",)}
    with pytest.raises(ComparisonError, match=r"1 only in A \(e.g. \['s2'\]\)"):
        compare({"s1": row, "s2": row}, {"s1": row})


def test_sentence_scores_count_per_type_and_a_reversed_relation(data_dir):
    examples = [ex for ex in load_examples(data_dir, 0)["test"] if ex.relations][:3]
    gold = [SentenceOutput(ex.entities, ex.relations) for ex in examples]
    first = examples[0]
    dropped = first.entities[0]
    wrong = [
        SentenceOutput(first.entities[1:], []),  # one entity missed, its relations gone with it
        SentenceOutput(
            examples[1].entities,
            [
                WordRelation(r.tail, r.head, r.label) if i == 0 else r
                for i, r in enumerate(examples[1].relations)
            ],
        ),
        gold[2],
    ]
    scores = sentence_scores(EvalPredictions(examples, wrong, gold))
    s0, s1, s2 = (scores[ex.sent_id] for ex in examples)
    n0 = len(first.entities)
    assert s0["entity micro-F1"] == (n0 - 1, 0, 1)
    assert s0[f"{dropped.label} F1"][2] == 1
    assert sum(s0[f"{t} F1"][0] for t in ("ACTOR", "LOCATION", "QUANTITY")) == n0 - 1
    assert s0["relation micro-F1 (end-to-end)"] == (0, 0, len(first.relations))
    assert s0["relation micro-F1 (gold entities)"] == (len(first.relations), 0, 0)
    # direction wrong: one FP and one FN
    assert s1["relation micro-F1 (end-to-end)"] == (len(examples[1].relations) - 1, 1, 1)
    assert s2["relation micro-F1 (end-to-end)"] == (len(examples[2].relations), 0, 0)
    # per relation label: the reversed one is its own label's FP and FN, and the labels sum to the
    # micro counts
    flipped = examples[1].relations[0].label
    same_label = sum(r.label == flipped for r in examples[1].relations)
    assert s1[f"{flipped} F1 (end-to-end)"] == (same_label - 1, 1, 1)
    assert s1[f"{flipped} F1 (gold entities)"] == (same_label, 0, 0)
    for row in (s0, s1, s2):
        for setting in ("end-to-end", "gold entities"):
            per_label = [row[f"{label} F1 ({setting})"] for label in RELATION_TYPES]
            assert tuple(map(sum, zip(*per_label))) == row[f"relation micro-F1 ({setting})"]


def test_compare_script_against_itself_and_the_crf(tiny_run, data_dir, tmp_path, capsys):
    compare_script = load_script("eval/compare.py")
    ckpt = str(tiny_run / "best")
    assert (
        compare_script.main(
            [
                ckpt,
                ckpt,
                "--data",
                str(data_dir),
                "--bootstrap",
                "300",
                "--out",
                str(tmp_path / "self"),
            ]
        )
        == 0
    )
    payload = json.loads((tmp_path / "self" / "compare.json").read_text())
    assert payload["sentences"] == 20
    for r in payload["scores"].values():
        assert r["difference"] == 0 and r["ci95"] == [0.0, 0.0] and r["sentences_differ"] == 0
    assert (
        compare_script.main(
            [
                "crf",
                ckpt,
                "--data",
                str(data_dir),
                "--bootstrap",
                "300",
                "--out",
                str(tmp_path / "crf"),
            ]
        )
        == 0
    )
    table = (tmp_path / "crf" / "compare.md").read_text()
    assert "A = crf: the CRF baseline" in table and "| entity micro-F1 |" in table
    crf = json.loads((tmp_path / "crf" / "compare.json").read_text())["scores"][
        "relation micro-F1 (end-to-end)"
    ]
    assert (
        crf["a"] == 0.0
    )  # the majority relation baseline predicts NONE for every pair (see README)


def test_compare_script_errors_name_the_problem(tiny_run, data_dir, tmp_path, capsys):
    compare_script = load_script("eval/compare.py")
    ckpt = tiny_run / "best"
    other_fold = tmp_path / "other-fold"
    shutil.copytree(ckpt, other_fold)
    meta = json.loads((other_fold / "marsad.json").read_text())
    (other_fold / "marsad.json").write_text(
        json.dumps({**meta, "data": {**meta["data"], "run": "fold2"}})
    )
    with pytest.raises(SystemExit):
        compare_script.main([str(ckpt), str(other_fold), "--data", str(data_dir)])
    assert "scored on different sentences" in capsys.readouterr().err
    (other_fold / "marsad.json").write_text(
        json.dumps({**meta, "data": {**meta["data"], "fingerprint": "0" * 64}})
    )
    with pytest.raises(SystemExit):
        compare_script.main([str(ckpt), str(other_fold), "--data", str(data_dir)])
    assert f"{other_fold} was trained on other data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare_script.main([str(tmp_path), "crf", "--data", str(data_dir)])
    assert "neither a checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare_script.main(["crf", "lexicon", "--data", str(data_dir)])
    assert "at least one side" in capsys.readouterr().err
