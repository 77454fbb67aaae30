"""Paired comparison of two systems on the same held-out sentences.

On 96 sentences two configurations' fold means differ by a few points whether or not one is
better, and much of each score's spread is which sentences happen to be hard, which both systems
share. A paired bootstrap draws each resample of sentences once and scores both systems on it, so
that shared part cancels and the interval is for the difference itself (Koehn 2004;
Berg-Kirkpatrick et al. 2012). It measures sentence-sampling noise only: the systems are taken as
fixed, so pool several training seeds per side to average over training noise too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from marsad.evaluation.metrics import Counts, micro_f1, resampled_micro_f1
from marsad.evaluation.scoring import SCORES, SentenceScores, sentence_scores  # noqa: F401 (re-exported)


class ComparisonError(ValueError):
    """The two sides cannot be paired (different sentences, or sentences counted unevenly)."""


@dataclass(frozen=True)
class PairedDifference:
    a: float  # micro F1 of system A over all sentences
    b: float
    difference: float  # b - a
    ci95: tuple[float, float]  # percentile interval of b - a over the shared resamples
    b_better: float  # share of resamples where b - a > 0
    b_worse: float  # share of resamples where b - a < 0
    sentences_differ: int  # sentences whose (tp, fp, fn) differ between the systems


def pool(runs: Sequence[Mapping[str, Mapping[str, Counts]]], side: str) -> SentenceScores:
    """Sum several runs' per-sentence counts (e.g. the folds and seeds of a cross-validation).

    Every sentence must be scored the same number of times, or the pooled F1 would weight some
    sentences more than others; the error names the side and a few offending sentences.
    """
    seen: Counter[str] = Counter()
    total: SentenceScores = {}
    for run in runs:
        for sent_id, row in run.items():
            seen[sent_id] += 1
            acc = total.setdefault(sent_id, {name: (0, 0, 0) for name in row})
            for name, counts in row.items():
                acc[name] = tuple(x + y for x, y in zip(acc[name], counts))
    if len(set(seen.values())) > 1:
        times = Counter(seen.values())
        usual = times.most_common(1)[0][0]
        odd = sorted(s for s, n in seen.items() if n != usual)
        raise ComparisonError(
            f"{side}: sentences are scored unequal numbers of times ({dict(times)} sentences "
            f"scored n times, as {{n: count}}); e.g. {odd[:5]} are not scored {usual} times"
        )
    return total


def paired_difference(
    a: Sequence[Counts],
    b: Sequence[Counts],
    n_resamples: int = 10_000,
    seed: int = 0,
    alpha: float = 0.05,
) -> PairedDifference:
    """Micro F1 of ``b`` minus ``a`` (the same sentences in the same order) with a paired bootstrap
    interval."""
    if len(a) != len(b):
        raise ComparisonError(f"A has {len(a)} sentences, B {len(b)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    f1 = resampled_micro_f1([a, b], n_resamples, seed)
    diff = f1[1] - f1[0]
    lo, hi = np.quantile(diff, [alpha / 2, 1 - alpha / 2])  # no sentences: every resample is 0
    fa, fb = micro_f1(a), micro_f1(b)
    return PairedDifference(
        a=fa,
        b=fb,
        difference=fb - fa,
        ci95=(float(lo), float(hi)),
        b_better=float((diff > 0).mean()),
        b_worse=float((diff < 0).mean()),
        sentences_differ=sum(tuple(x) != tuple(y) for x, y in zip(a, b)),
    )


def compare(
    a: Mapping[str, Mapping[str, Counts]],
    b: Mapping[str, Mapping[str, Counts]],
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, PairedDifference]:
    """:func:`paired_difference` for every score in :data:`SCORES`, pairing sentences by id."""
    if set(a) != set(b):
        only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        raise ComparisonError(
            f"the two sides are scored on different sentences: {len(only_a)} only in A "
            f"(e.g. {only_a[:3]}), {len(only_b)} only in B (e.g. {only_b[:3]}); compare runs "
            "of the same split or folds"
        )
    ids = sorted(a)
    return {
        name: paired_difference(
            [a[i][name] for i in ids], [b[i][name] for i in ids], n_resamples, seed
        )
        for name in SCORES
    }
