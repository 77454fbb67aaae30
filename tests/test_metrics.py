"""Metrics against hand-computed examples, and per-sentence counts against seqeval."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from marsad.data.corpus import bio_to_spans
from marsad.evaluation.metrics import (
    SentenceExtraction,
    bootstrap_ci,
    entity_counts,
    entity_scores,
    micro_f1,
    prf,
    relation_scores,
    relation_tuples,
    sentence_entity_counts,
    sentence_relation_counts,
    strict_spans,
)
from marsad.schema import BIO_TAGS, RELATION_TYPES


def test_entity_scores_by_hand():
    gold = [["B-ACTOR", "I-ACTOR", "O", "B-LOCATION"]]
    pred = [["B-ACTOR", "O", "O", "B-LOCATION"]]
    s = entity_scores(gold, pred)
    # ACTOR: predicted span [0,1) != gold [0,2): tp 0, fp 1, fn 1 -> P = 0/1, R = 0/1, F1 = 0
    assert s["per_type"]["ACTOR"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # LOCATION: [3,4) exact: tp 1, fp 0, fn 0 -> P = R = F1 = 1
    assert s["per_type"]["LOCATION"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    # micro: tp 0+1 = 1, fp 1+0 = 1, fn 1+0 = 1 -> P = 1/2, R = 1/2, F1 = 2*.5*.5/(.5+.5) = 0.5
    assert s["micro"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    # macro over the types present in gold: F1 (0 + 1) / 2 = 0.5; QUANTITY shown with zero support
    assert s["macro"]["f1"] == 0.5
    assert s["per_type"]["QUANTITY"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_entity_scores_two_sentences_by_hand():
    gold = [["B-QUANTITY", "B-ACTOR", "I-ACTOR"], ["B-LOCATION", "O"]]
    pred = [["B-QUANTITY", "B-ACTOR", "I-ACTOR"], ["B-ACTOR", "B-LOCATION"]]
    s = entity_scores(gold, pred)
    # QUANTITY tp 1; ACTOR tp 1 fp 1 -> P 1/2 R 1 F1 2/3; LOCATION fp 1 fn 1 -> 0
    assert s["per_type"]["ACTOR"]["precision"] == 0.5 and s["per_type"]["ACTOR"][
        "f1"
    ] == pytest.approx(2 / 3)
    assert s["per_type"]["LOCATION"]["f1"] == 0.0
    # micro tp 2, fp 2, fn 1: P 2/4, R 2/3, F1 = 2*(1/2)(2/3)/(1/2+2/3) = 4/7
    assert s["micro"]["precision"] == 0.5 and s["micro"]["recall"] == pytest.approx(2 / 3)
    assert s["micro"]["f1"] == pytest.approx(4 / 7)
    # macro over QUANTITY, ACTOR, LOCATION: (1 + 2/3 + 0) / 3
    assert s["macro"]["f1"] == pytest.approx((1 + 2 / 3) / 3)


def test_strict_mode_drops_orphan_i():
    s = entity_scores([["B-ACTOR", "O"]], [["I-ACTOR", "O"]])
    assert s["micro"]["f1"] == 0.0 and s["micro"]["support"] == 1
    assert strict_spans(["O", "I-ACTOR", "I-ACTOR", "B-LOCATION", "I-ACTOR"]) == [
        (3, 4, "LOCATION")
    ]


def test_entity_scores_without_entities_and_sentences():
    for gold, pred in (([["O"]], [["O"]]), ([], [])):
        s = entity_scores(gold, pred)
        assert s["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
        assert set(s["per_type"]) == {"ACTOR", "LOCATION", "QUANTITY"}
    with pytest.raises(ValueError):
        entity_scores([["O", "O"]], [["O"]])


E = ((0, 10, "ACTOR"), (15, 23, "LOCATION"), (30, 35, "ACTOR"))


def test_relation_wrong_only_in_direction():
    gold = [SentenceExtraction(E, ((0, 2, "ATTACKS"),))]
    pred = [SentenceExtraction(E, ((2, 0, "ATTACKS"),))]
    s = relation_scores(gold, pred)
    # reversed: (30,35)->(0,10) is not (0,10)->(30,35): tp 0, fp 1, fn 1
    assert s["per_type"]["ATTACKS"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["micro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert sentence_relation_counts(gold, pred) == [(0, 1, 1)]


def test_relation_wrong_tail_span_is_fp_and_fn():
    gold = [SentenceExtraction(E, ((0, 1, "CONTROLS"),))]
    other = ((0, 10, "ACTOR"), (15, 20, "LOCATION"))  # tail span (15,20) instead of (15,23)
    pred = [SentenceExtraction(other, ((0, 1, "CONTROLS"),))]
    assert sentence_relation_counts(gold, pred) == [(0, 1, 1)]
    assert relation_scores(gold, pred)["per_type"]["CONTROLS"]["f1"] == 0.0
    wrong_type = ((0, 10, "ACTOR"), (15, 23, "ACTOR"))  # same span, wrong tail type
    assert sentence_relation_counts(
        gold, [SentenceExtraction(wrong_type, ((0, 1, "CONTROLS"),))]
    ) == [(0, 1, 1)]


def test_relation_per_type_and_micro_by_hand():
    gold = [
        SentenceExtraction(E, ((0, 1, "CONTROLS"), (2, 1, "LOCATED_IN"))),
        SentenceExtraction(E, ((0, 2, "SUPPORTS"),)),
    ]
    pred = [
        SentenceExtraction(E, ((0, 1, "CONTROLS"), (2, 1, "ATTACKS"))),
        SentenceExtraction(E[::-1], ((2, 0, "SUPPORTS"),)),
    ]  # same relation, entities listed in another order
    s = relation_scores(gold, pred)
    # CONTROLS tp 1; LOCATED_IN fn 1; ATTACKS fp 1; SUPPORTS tp 1 (indices differ, spans match)
    assert s["per_type"]["CONTROLS"]["f1"] == 1.0 and s["per_type"]["SUPPORTS"]["f1"] == 1.0
    assert s["per_type"]["LOCATED_IN"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["per_type"]["ATTACKS"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # micro tp 2, fp 1, fn 1: P = 2/3, R = 2/3, F1 = 2/3
    assert s["micro"]["precision"] == pytest.approx(2 / 3) and s["micro"][
        "recall"
    ] == pytest.approx(2 / 3)
    assert s["micro"]["support"] == 3
    assert set(RELATION_TYPES) <= set(s["per_type"])
    assert sum(c[0] for c in sentence_relation_counts(gold, pred)) == 2


def test_relation_tuples_helper():
    x = SentenceExtraction(E, ((0, 1, "CONTROLS"), (0, 1, "CONTROLS")))
    assert (
        relation_tuples(x)
        == x.relation_tuples()
        == {((0, 10, "ACTOR"), (15, 23, "LOCATION"), "CONTROLS")}
    )


def test_entity_counts_from_extractions():
    gold = SentenceExtraction(((0, 2, "ACTOR"), (3, 4, "LOCATION")), ())
    pred = SentenceExtraction(((0, 1, "ACTOR"), (3, 4, "LOCATION")), ())
    assert entity_counts(gold, pred) == (1, 1, 1)


tag_seqs = st.lists(st.sampled_from(BIO_TAGS), min_size=0, max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(tag_seqs, tag_seqs), min_size=1, max_size=5))
def test_per_sentence_entity_counts_sum_to_seqeval_micro(pairs):
    gold = [g[: min(len(g), len(p))] for g, p in pairs]
    pred = [p[: min(len(g), len(p))] for g, p in pairs]
    counts = sentence_entity_counts(gold, pred)
    tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
    micro = prf(tp, fp, fn)
    kw = dict(mode="strict", scheme=IOB2, zero_division=0)
    assert micro["precision"] == pytest.approx(precision_score(gold, pred, **kw))
    assert micro["recall"] == pytest.approx(recall_score(gold, pred, **kw))
    assert micro["f1"] == pytest.approx(f1_score(gold, pred, **kw))
    assert micro_f1(counts) == pytest.approx(entity_scores(gold, pred)["micro"]["f1"])
    assert tp + fn == entity_scores(gold, pred)["micro"]["support"]
    for g in gold:  # the corpus decoder agrees with the strict one
        assert strict_spans(g) == bio_to_spans([(i, i + 1) for i in range(len(g))], g)


def test_bootstrap_interval():
    counts = [(1, 0, 0), (0, 1, 1), (2, 0, 1), (1, 1, 0)] * 5
    lo, hi = bootstrap_ci(counts, n_resamples=300, seed=1)
    point = 2 * 20 / (2 * 20 + 10 + 10)  # tp 20, fp 10, fn 10 -> P = R = 2/3 -> F1 = 40/60
    assert micro_f1(counts) == pytest.approx(point)
    assert lo <= point <= hi and lo < hi
    assert bootstrap_ci(counts, n_resamples=300, seed=1) == (lo, hi)  # deterministic for a seed
    assert bootstrap_ci(counts, n_resamples=300, seed=2) != (lo, hi)
    wide = bootstrap_ci(counts, n_resamples=300, seed=1, alpha=0.5)
    assert lo <= wide[0] <= wide[1] <= hi  # a 50% interval sits inside the 95% one


def test_bootstrap_collapses_for_identical_sentences():
    # every resample sums to (10k, 10k, 0) -> P 1/2, R 1, F1 2/3
    assert bootstrap_ci([(1, 1, 0)] * 10, n_resamples=100) == pytest.approx((2 / 3, 2 / 3))
    assert bootstrap_ci([], n_resamples=10) == (0.0, 0.0)
    assert bootstrap_ci([(0, 0, 0)] * 3, n_resamples=10) == (0.0, 0.0)
