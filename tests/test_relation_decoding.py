"""Relation decoding: consistency constraints and the dev-tuned NONE threshold, on hand-made
scores."""

from __future__ import annotations

import numpy as np
import pytest

from marsad.data.examples import Example, WordEntity, WordRelation
from marsad.evaluation.scoring import EvalPredictions, tune_none_bias
from marsad.inference import SentenceOutput, build_pair_batch
from marsad.model.decoding import decode_relations, pair_probabilities
from marsad.model.windows import Window
from marsad.schema import RELATION_LABELS

NEG = -np.inf


def logits_for(label: str, strength: float) -> np.ndarray:
    """One pair's logits: NONE at 0, ``label`` at ``strength``, every other label impossible."""
    row = np.full(len(RELATION_LABELS), NEG, dtype=np.float32)
    row[0] = 0.0
    row[RELATION_LABELS.index(label)] = strength
    return row


def test_probabilities_shift_only_none():
    probs = pair_probabilities(np.stack([logits_for("ATTACKS", 1.0)]), none_bias=1.0)
    assert probs[0, 0] == pytest.approx(0.5) and probs[
        0, RELATION_LABELS.index("ATTACKS")
    ] == pytest.approx(0.5)
    assert probs[0].sum() == pytest.approx(1.0)


def test_one_relation_per_unordered_pair_keeps_the_stronger_direction():
    pairs = [(0, 1), (1, 0)]
    kept = decode_relations(
        pairs, np.stack([logits_for("ATTACKS", 2.0), logits_for("ATTACKS", 3.0)])
    )
    assert [(h, t, label) for h, t, label, _ in kept] == [(1, 0, "ATTACKS")]


def test_a_quantity_counts_one_thing():
    pairs = [(0, 1), (0, 2), (3, 1)]  # quantity 0 -> actors 1 and 2; another quantity 3 -> actor 1
    logits = np.stack(
        [
            logits_for("QUANTITY_OF", 2.0),
            logits_for("QUANTITY_OF", 4.0),
            logits_for("QUANTITY_OF", 1.0),
        ]
    )
    kept = decode_relations(pairs, logits)
    assert [(h, t) for h, t, _, _ in kept] == [(0, 2), (3, 1)]


def test_none_bias_moves_the_threshold():
    pairs = [(0, 1)]
    logits = np.stack([logits_for("CONTROLS", 1.0)])
    assert decode_relations(pairs, logits, none_bias=0.0)[0][2] == "CONTROLS"
    assert decode_relations(pairs, logits, none_bias=1.5) == []
    assert (
        decode_relations(pairs, np.stack([logits_for("CONTROLS", -1.0)]), none_bias=-1.5)[0][2]
        == "CONTROLS"
    )


def test_between_feature_counts_mentions_strictly_between():
    window = Window(
        input_ids=list(range(8)),
        first_token=list(range(1, 7)),
        last_token=list(range(1, 7)),
        word_start=0,
        word_end=6,
    )
    ents = [
        WordEntity(0, 1, "ACTOR"),
        WordEntity(2, 3, "LOCATION"),
        WordEntity(3, 4, "ACTOR"),
        WordEntity(5, 6, "LOCATION"),
    ]
    batch = build_pair_batch([(0, window, ents, [(0, 3), (3, 0), (0, 1), (2, 3)])])
    assert batch.between.tolist() == [2, 2, 0, 0]


def _example(n_words: int, entities: list[WordEntity], relations: list[WordRelation]) -> Example:
    words = [f"w{i}" for i in range(n_words)]
    starts = [3 * i for i in range(n_words)]
    tags = ["O"] * n_words
    for e in entities:
        tags[e.start] = f"B-{e.label}"
    return Example(
        "s", " ".join(words), words, starts, [s + 2 for s in starts], tags, entities, relations
    )


def test_tuned_bias_removes_a_false_positive_and_keeps_the_true_one():
    ents = [WordEntity(0, 1, "ACTOR"), WordEntity(1, 2, "LOCATION"), WordEntity(2, 3, "LOCATION")]
    ex = _example(3, ents, [WordRelation(0, 1, "CONTROLS")])
    outputs = []
    for _ in range(2):  # end-to-end and gold-entity settings
        out = SentenceOutput(
            list(ents),
            candidates=[(0, 1), (0, 2)],
            candidate_logits=np.stack([logits_for("CONTROLS", 3.0), logits_for("CONTROLS", 0.5)]),
        )
        out.decode_relations(0.0)
        outputs.append(out)
    assert len(outputs[0].relations) == 2  # at bias 0 the weak pair is a false positive
    preds = EvalPredictions([ex], [outputs[0]], [outputs[1]])
    bias = tune_none_bias(preds)
    assert 0.5 <= bias < 3.0  # a tie goes to NONE
    assert [(r.head, r.tail, r.label) for r in outputs[0].relations] == [(0, 1, "CONTROLS")]
    assert [(r.head, r.tail, r.label) for r in outputs[1].relations] == [(0, 1, "CONTROLS")]


def test_tuning_prefers_no_shift_when_nothing_changes():
    ents = [WordEntity(0, 1, "ACTOR"), WordEntity(1, 2, "LOCATION")]
    ex = _example(2, ents, [])
    out = SentenceOutput(
        list(ents), candidates=[(0, 1)], candidate_logits=np.stack([logits_for("CONTROLS", -9.0)])
    )
    assert tune_none_bias(EvalPredictions([ex], [out], [out])) == 0.0
