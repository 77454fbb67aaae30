"""Sorted indexes over one sentence's mentions, for pair features that look at other mentions."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from marsad.data.examples import WordEntity


class MentionIndex:
    """Sorted views of one sentence's mentions, so each pair's "between" and "nearest" features
    cost O(log n) instead of a scan of every mention: on text without sentence punctuation a
    "sentence" holds thousands of mentions and the scans made pair scoring quadratic. Only for
    mentions in word order that do not overlap (decoded and gold mentions are, ``usable``);
    otherwise callers scan, with the same result."""

    def __init__(self, entities: Sequence[WordEntity]):
        self.starts = [e.start for e in entities]
        self.ends = [e.end for e in entities]
        self.labels = [e.label for e in entities]
        self.usable = all(
            a.start < b.start and a.end <= b.start for a, b in zip(entities, entities[1:])
        )
        self.by_label: dict[str, tuple[list[int], list[int]]] = {}
        for k, e in enumerate(entities):
            starts, ids = self.by_label.setdefault(e.label, ([], []))
            starts.append(e.start)
            ids.append(k)
        # a pair asks for the nearest mention of the other's type to its own start: each answer
        # is asked by every pair sharing that mention and type
        self._nearest: dict[tuple[str, int, int], int] = {}

    def inside(self, lo: int, hi: int) -> range:
        """Indices of the mentions lying within words [lo, hi)."""
        first = bisect_left(self.starts, lo)
        return range(first, max(first, bisect_right(self.ends, hi)))

    def nearest(self, label: str, exclude: int, anchor: int) -> int:
        """The closest mention of ``label`` to ``anchor`` but ``exclude``, the earlier one on a
        tie (as the relation prior's scan, ``relation_prior._nearest``)."""
        key = (label, exclude, anchor)
        if key not in self._nearest:
            starts, ids = self.by_label[label]
            at = bisect_left(starts, anchor)
            near = [k for k in range(max(0, at - 2), min(len(ids), at + 2)) if ids[k] != exclude]
            self._nearest[key] = ids[min(near, key=lambda k: (abs(starts[k] - anchor), ids[k]))]
        return self._nearest[key]
