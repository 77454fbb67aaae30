"""Turn the relation head's scores for all candidate pairs of a sentence into a consistent set.

Scoring pairs one by one lets a sentence say both "A ATTACKS B" and "B ATTACKS A", or give one
quantity two referents. The annotation never does either (schema: one relation per pair, in one
direction; a quantity counts one thing), so decoding keeps, greedily by score, only relations that
agree with what is already kept.
"""
from __future__ import annotations

import numpy as np

from marsad.modeling import RELATION_LABELS

# relation labels whose head takes at most one tail in a sentence
FUNCTIONAL_LABELS: frozenset[str] = frozenset({"QUANTITY_OF"})


def pair_probabilities(logits: np.ndarray, none_bias: float) -> np.ndarray:
    """Softmax over labels after shifting NONE's logit by ``none_bias`` (masked labels stay at 0)."""
    shifted = np.array(logits, dtype=np.float64)
    shifted[:, 0] += none_bias
    shifted -= shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def decode_relations(pairs: list[tuple[int, int]], logits: np.ndarray,
                     none_bias: float = 0.0) -> list[tuple[int, int, str, float]]:
    """``(head, tail, label, probability)`` for the kept relations, sorted by (head, tail).

    ``logits`` is ``[len(pairs), len(RELATION_LABELS)]`` with schema-invalid labels at -inf.
    """
    if not pairs:
        return []
    probs = pair_probabilities(logits, none_bias)
    best = probs.argmax(axis=1)
    proposed = sorted(((float(probs[i, k]), h, t, RELATION_LABELS[int(k)])
                       for i, ((h, t), k) in enumerate(zip(pairs, best)) if k != 0), reverse=True)
    linked: set[frozenset[int]] = set()
    functional_heads: set[tuple[int, str]] = set()
    kept = []
    for score, h, t, label in proposed:
        if frozenset((h, t)) in linked or (label in FUNCTIONAL_LABELS and (h, label) in functional_heads):
            continue
        linked.add(frozenset((h, t)))
        if label in FUNCTIONAL_LABELS:
            functional_heads.add((h, label))
        kept.append((h, t, label, score))
    return sorted(kept, key=lambda r: (r[0], r[1]))
