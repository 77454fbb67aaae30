"""Metrics against hand-computed examples."""
from __future__ import annotations

import pytest

from marsad.metrics import SentenceExtraction, bootstrap_ci, entity_counts, entity_scores, relation_scores


def test_entity_scores_by_hand():
    gold = [["B-ACTOR", "I-ACTOR", "O", "B-LOCATION"]]
    pred = [["B-ACTOR", "O", "O", "B-LOCATION"]]
    s = entity_scores(gold, pred)
    # ACTOR: predicted span (0,1) != gold (0,2): tp 0, fp 1, fn 1 -> P = R = F1 = 0
    assert s["per_type"]["ACTOR"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # LOCATION: exact -> 1.0; micro: tp 1, fp 1, fn 1 -> P = 1/2, R = 1/2, F1 = 0.5
    assert s["per_type"]["LOCATION"]["f1"] == 1.0
    assert s["micro"]["precision"] == s["micro"]["recall"] == s["micro"]["f1"] == 0.5
    # macro over the types present in gold: (0 + 1) / 2
    assert s["macro"]["f1"] == 0.5
    assert s["per_type"]["QUANTITY"]["support"] == 0


def test_strict_mode_drops_orphan_i():
    s = entity_scores([["B-ACTOR", "O"]], [["I-ACTOR", "O"]])
    assert s["micro"]["f1"] == 0.0 and s["micro"]["support"] == 1


E = ((0, 10, "ACTOR"), (15, 23, "LOCATION"), (30, 35, "ACTOR"))


def test_relation_wrong_only_in_direction():
    gold = [SentenceExtraction(E, ((0, 2, "ATTACKS"),))]
    pred = [SentenceExtraction(E, ((2, 0, "ATTACKS"),))]
    s = relation_scores(gold, pred)
    # reversed: (30,35)->(0,10) is not (0,10)->(30,35): tp 0, fp 1, fn 1
    assert s["per_type"]["ATTACKS"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["micro"]["f1"] == 0.0


def test_relation_needs_exact_spans_and_label():
    gold = [SentenceExtraction(E, ((0, 1, "CONTROLS"), (2, 1, "LOCATED_IN")))]
    other = ((0, 10, "ACTOR"), (15, 20, "LOCATION"), (30, 35, "ACTOR"))  # tail span differs
    pred = [SentenceExtraction(other, ((0, 1, "CONTROLS"), (2, 1, "LOCATED_IN")))]
    assert relation_scores(gold, pred)["micro"]["f1"] == 0.0
    pred = [SentenceExtraction(E, ((0, 1, "CONTROLS"), (2, 1, "ATTACKS")))]
    s = relation_scores(gold, pred)
    # CONTROLS right (tp 1); LOCATED_IN missed (fn 1); ATTACKS spurious (fp 1): micro P = R = 1/2
    assert s["micro"]["precision"] == s["micro"]["recall"] == 0.5
    assert s["per_type"]["CONTROLS"]["f1"] == 1.0 and s["per_type"]["LOCATED_IN"]["recall"] == 0.0


def test_entity_counts_match_seqeval_micro():
    gold = SentenceExtraction(((0, 2, "ACTOR"), (3, 4, "LOCATION")), ())
    pred = SentenceExtraction(((0, 1, "ACTOR"), (3, 4, "LOCATION")), ())
    assert entity_counts(gold, pred) == (1, 1, 1)


def test_bootstrap_interval():
    counts = [(1, 0, 0), (0, 1, 1), (2, 0, 1), (1, 1, 0)] * 5
    lo, hi = bootstrap_ci(counts, n_resamples=300, seed=1)
    point = 2 * 20 / (2 * 20 + 10 + 10)  # tp 20, fp 10, fn 10 -> F1 = 40/60
    assert lo <= point <= hi and lo < hi
    assert bootstrap_ci(counts, n_resamples=300, seed=1) == (lo, hi)
    assert bootstrap_ci([(1, 1, 0)] * 10, n_resamples=100) == pytest.approx((2 / 3, 2 / 3))
