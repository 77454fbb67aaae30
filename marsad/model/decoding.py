"""Decoding: tags by constrained Viterbi, relations by a consistent greedy pass over pair scores.

Tags: the sequence is always valid IOB2 (no I-X without B-X/I-X before it).

Relations: Turn the relation head's scores for all candidate pairs of a sentence into a consistent
set.

Scoring pairs one by one lets a sentence say both "A ATTACKS B" and "B ATTACKS A", or give one
quantity two referents. The annotation never does either (schema: one relation per pair, in one
direction; a quantity counts one thing), so decoding keeps, greedily by score, only relations that
agree with what is already kept.
"""

from __future__ import annotations

import numpy as np

from marsad.schema import BIO_TAGS, RELATION_LABELS


def allowed_transitions(tags: tuple[str, ...] = BIO_TAGS) -> tuple[np.ndarray, np.ndarray]:
    """(start_allowed[T], transition_allowed[T, T]) boolean masks for IOB2."""
    n = len(tags)
    start = np.array([not t.startswith("I-") for t in tags])
    trans = np.ones((n, n), dtype=bool)
    for j, t in enumerate(tags):
        if t.startswith("I-"):
            for i, prev in enumerate(tags):
                trans[i, j] = prev in (f"B-{t[2:]}", f"I-{t[2:]}")
    return start, trans


_START, _TRANS = allowed_transitions()


def viterbi_decode(log_probs: np.ndarray) -> list[int]:
    """Best valid IOB2 tag-id path for one sequence of per-word log-probabilities ``[L, T]``
    (every valid step scores 0, every invalid one is forbidden)."""
    length = log_probs.shape[0]
    if length == 0:
        return []
    neg = -1e9
    trans_pen = np.where(_TRANS, 0.0, neg)
    start_pen = np.where(_START, 0.0, neg)
    score = log_probs[0] + start_pen
    back = np.zeros((length, log_probs.shape[1]), dtype=np.int64)
    for i in range(1, length):
        cand = score[:, None] + trans_pen  # [prev, cur]
        back[i] = cand.argmax(axis=0)
        score = cand.max(axis=0) + log_probs[i]
    path = [int(score.argmax())]
    for i in range(length - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]


def is_valid_iob2(tags: list[str]) -> bool:
    prev = "O"
    for t in tags:
        if t.startswith("I-") and prev not in (f"B-{t[2:]}", f"I-{t[2:]}"):
            return False
        prev = t
    return True


# relation labels whose head takes at most one tail in a sentence
FUNCTIONAL_LABELS: frozenset[str] = frozenset({"QUANTITY_OF"})


def pair_probabilities(logits: np.ndarray, none_bias: float) -> np.ndarray:
    """Softmax over labels after shifting NONE's logit by ``none_bias`` (masked labels stay at
    0)."""
    shifted = np.array(logits, dtype=np.float64)
    shifted[:, 0] += none_bias
    shifted -= shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def decode_relations(
    pairs: list[tuple[int, int]], logits: np.ndarray, none_bias: float = 0.0
) -> list[tuple[int, int, str, float]]:
    """``(head, tail, label, probability)`` for the kept relations, sorted by (head, tail).

    ``logits`` is ``[len(pairs), len(RELATION_LABELS)]`` with schema-invalid labels at -inf.
    """
    if not pairs:
        return []
    probs = pair_probabilities(logits, none_bias)
    best = probs.argmax(axis=1)
    proposed = sorted(
        (
            (float(probs[i, k]), h, t, RELATION_LABELS[int(k)])
            for i, ((h, t), k) in enumerate(zip(pairs, best))
            if k != 0
        ),
        reverse=True,
    )
    linked: set[frozenset[int]] = set()
    functional_heads: set[tuple[int, str]] = set()
    kept = []
    for score, h, t, label in proposed:
        if frozenset((h, t)) in linked or (
            label in FUNCTIONAL_LABELS and (h, label) in functional_heads
        ):
            continue
        linked.add(frozenset((h, t)))
        if label in FUNCTIONAL_LABELS:
            functional_heads.add((h, label))
        kept.append((h, t, label, score))
    return sorted(kept, key=lambda r: (r[0], r[1]))
