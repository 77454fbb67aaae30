"""Constrained Viterbi decoding: the tag sequence is always valid IOB2 (no I-X without B-X/I-X before it)."""
from __future__ import annotations

import numpy as np

from marsad.schema import BIO_TAGS


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
