"""A feature classifier's relation probabilities as a second opinion on the relation head.

The relation head learns from ~100 training relations and memorises them (its training loss
reaches ~1e-3). A multinomial logistic regression over sparse, hand-made pair features (type pair
and order, distance, the mentions between, the words between and just before, the mentions' own
words) generalises differently: "يسيطر على" between an actor and a place says CONTROLS whatever
the actor is. Relations are decoded from the per-pair log-linear mixture

    score(pair, label) = (1 - w) * log p_head(label) + w * log p_features(label)

with ``w`` and the NONE threshold chosen jointly on dev end-to-end relation F1 alongside the epoch
(``w = 0`` is the head alone, exactly). The classifier is fitted on the gold pairs of the training
sentences only (deterministic L-BFGS) and ships as plain JSON (:data:`RELATION_PRIOR_FILE`:
feature names, classes, coefficients), so loading runs no pickle and needs no scikit-learn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from marsad.data.examples import Example, WordEntity
from marsad.data.mentions import MentionIndex
from marsad.features import normalise, strip_proclitics
from marsad.schema import (
    ENTITY_TYPES,
    NO_RELATION,
    RELATION_LABELS,
    allowed_labels_by_type,
    candidate_pairs,
)

RELATION_PRIOR_FILE = "relation_prior.json"
# mixture weights tried on dev (0 = the relation head alone; 1 = the feature classifier alone)
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
# scikit-learn's C: 3, 10 and 30 scored within noise of each other on the dev folds' gold-entity
# relation F1 (an ad-hoc check); 10 was kept
INVERSE_REGULARISATION = 10.0
MAX_BETWEEN_FOR_PAIRED_WORDS = (
    8  # words between the mentions are type-pair features only when this close
)
_FLOOR = 1e-4  # probability of a label the classifier never saw in training
_LABEL_MASK = np.array(
    allowed_labels_by_type(), dtype=bool
)  # [head type, tail type, label]: the relation head's schema mask
_TYPE_INDEX = {t: i for i, t in enumerate(ENTITY_TYPES)}
STEM_LETTERS = 4  # words between the mentions also count by their first letters (light stemming)
TRIGGER_WINDOW_BEFORE = 3  # words before the earlier mention searched for trigger words

# Arabic words for the verbs and nouns that ../shared/schema.md names for each relation ("fights,
# attacks, strikes, shells, besieges"; "holds, seized, captured, regained control of"; "backs,
# supports, is allied with, leads in support"; "member, leader, spokesperson"; "inside, present
# in"), translated from the schema's English once, not collected from the annotated sentences. A
# stem of three letters or more matches inside a word ("سيطر" in "وسيطرت", "السيطرة"); shorter ones
# match the whole word after one proclitic is removed. On ~100 training relations the words between
# two mentions are too sparse to learn that "المدعومة" and "بدعم" say the same thing.
TRIGGER_STEMS: dict[str, tuple[str, ...]] = {
    "ATTACKS": (
        "هاجم",
        "هجوم",
        "هجمات",
        "معارك",
        "معركة",
        "قتال",
        "اشتباك",
        "مواجه",
        "قصف",
        "غارة",
        "غارات",
        "ضربات",
        "حصار",
        "حاصر",
        "استهدف",
        "ضد",
    ),
    "CONTROLS": ("سيطر", "استولى", "استعاد", "انتزع", "معقل", "معاقل", "تحرير", "حرر"),
    "SUPPORTS": ("دعم", "مدعوم", "حليف", "حلفاء", "قيادة", "إسناد", "مساند", "تعاون", "مؤازر"),
    "AFFILIATED_WITH": ("عضو", "قائد", "قادة", "زعيم", "ناطق", "متحدث", "مدير", "رئيس", "باسم"),
    "LOCATED_IN": ("في", "داخل", "واقع"),
}


@lru_cache(maxsize=1 << 16)
def _key(word: str) -> str:
    """Normalised, one proclitic removed; cached because every pair of a sentence re-reads its
    words."""
    return strip_proclitics(normalise(word))


_NORMALISED_TRIGGERS = {
    label: tuple(normalise(s) for s in stems) for label, stems in TRIGGER_STEMS.items()
}


@lru_cache(maxsize=1 << 16)
def _triggers(word: str) -> tuple[str, ...]:
    """The relations whose trigger stems (:data:`TRIGGER_STEMS`) the word contains."""
    key = _key(word)
    return tuple(
        label
        for label, stems in _NORMALISED_TRIGGERS.items()
        if any(key == s if len(s) < 3 else s in key for s in stems)
    )


def allowed_labels(entities: Sequence[WordEntity], pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """``[len(pairs), len(RELATION_LABELS)]``: which labels the schema allows each pair (NONE
    always)."""
    heads = [_TYPE_INDEX[entities[h].label] for h, _ in pairs]
    tails = [_TYPE_INDEX[entities[t].label] for _, t in pairs]
    return _LABEL_MASK[heads, tails].reshape(len(pairs), len(RELATION_LABELS))


def _distance_bucket(d: int) -> str:
    return (
        "0"
        if d == 0
        else "1"
        if d == 1
        else "2-3"
        if d <= 3
        else "4-7"
        if d <= 7
        else "8-15"
        if d <= 15
        else "16+"
    )


def _nearest(entities: Sequence[WordEntity], label: str, exclude: int, anchor: int) -> int:
    return min(
        (k for k, e in enumerate(entities) if e.label == label and k != exclude),
        key=lambda k: abs(entities[k].start - anchor),
    )


def _pair_core_features(
    words: Sequence[str],
    entities: Sequence[WordEntity],
    head: int,
    tail: int,
    index: MentionIndex | None,
) -> tuple[dict[str, int], str, int, int, int]:
    """The pair's features other than those of each word between or before the mentions, with
    (type pair, first between word, end of between words, first word of the earlier mention)."""
    h, t = entities[head], entities[tail]
    pair = f"{h.label}>{t.label}"
    order = "HT" if h.start < t.start else "TH"
    lo, hi = (h.end, t.start) if h.start < t.start else (t.end, h.start)
    first = min(h.start, t.start)
    if index is not None and index.usable:
        inside = [index.labels[k] for k in index.inside(lo, hi)]
        tail_nearest = index.nearest(t.label, head, h.start) == tail
        head_nearest = index.nearest(h.label, tail, t.start) == head
    else:
        inside = [e.label for e in entities if lo <= e.start and e.end <= hi]
        tail_nearest = _nearest(entities, t.label, head, h.start) == tail
        head_nearest = _nearest(entities, h.label, tail, t.start) == head
    f = {
        f"pair={pair}": 1,
        f"pair_order={pair}{order}": 1,
        f"distance={_distance_bucket(max(0, hi - lo))}{pair}{order}": 1,
        f"mentions_between={min(3, len(inside))}{pair}{order}": 1,
        f"head={_key(' '.join(words[h.start : h.end]))}": 1,
        f"tail={_key(' '.join(words[t.start : t.end]))}": 1,
        f"head_last={_key(words[h.end - 1])}|{pair}": 1,
        f"tail_last={_key(words[t.end - 1])}|{pair}": 1,
        f"tail_nearest{pair}": int(tail_nearest),
        f"head_nearest{pair}": int(head_nearest),
        f"sentence_first={_key(words[0])}": 1,
    }
    for label in inside:
        f[f"type_between={label}{pair}"] = 1
    for k in (1, 2):
        if first - k >= 0:
            f[f"before{k}={_key(words[first - k])}|{pair}"] = 1
    return f, pair, lo, hi, first


def pair_features(
    words: Sequence[str],
    entities: Sequence[WordEntity],
    head: int,
    tail: int,
    index: MentionIndex | None = None,
) -> dict[str, int]:
    """Sparse indicator features of the ordered pair (``head``, ``tail``) of mention indices
    (``index``: the sentence's :class:`MentionIndex`, built once for all its pairs)."""
    f, pair, lo, hi, first = _pair_core_features(words, entities, head, tail, index)
    between = words[lo:hi]
    for w in between:
        f[f"between={_key(w)}"] = 1
        f[f"between_stem={_key(w)[:STEM_LETTERS]}|{pair}"] = 1
        if len(between) <= MAX_BETWEEN_FOR_PAIRED_WORDS:
            f[f"between={_key(w)}|{pair}"] = 1
        for label in _triggers(w):
            f[f"trigger_between={label}|{pair}"] = 1
    for w in words[max(0, first - TRIGGER_WINDOW_BEFORE) : first]:
        for label in _triggers(w):
            f[f"trigger_before={label}|{pair}"] = 1
    return f


_TRIGGER_LABELS = tuple(TRIGGER_STEMS)


class _WordColumns:
    """One sentence's per-word feature columns in a fitted prior (-1: not a feature it knows),
    built once per sentence and type pair: a pair's between-word features are then array slices,
    not strings rebuilt pair by pair (on unpunctuated text a window holds thousands of pairs, each
    with up to a window of words between)."""

    def __init__(self, columns: dict[str, int], words: Sequence[str]):
        self.columns = columns
        self.keys = [_key(w) for w in words]
        self.triggers = [_triggers(w) for w in words]
        self.between = self._lookup(f"between={k}" for k in self.keys)
        self._by_pair: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def _lookup(self, names: Iterable[str]) -> np.ndarray:
        return np.fromiter((self.columns.get(n, -1) for n in names), dtype=np.int64)

    def _trigger_matrix(self, prefix: str, pair: str) -> np.ndarray:
        """``[words, trigger labels]``: the column of ``{prefix}={label}|{pair}`` where the word
        holds that label's trigger."""
        cols = np.full((len(self.keys), len(_TRIGGER_LABELS)), -1, dtype=np.int64)
        for w, labels in enumerate(self.triggers):
            for label in labels:
                cols[w, _TRIGGER_LABELS.index(label)] = self.columns.get(
                    f"{prefix}={label}|{pair}", -1
                )
        return cols

    def for_pair(self, pair: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(stem, paired word, trigger between, trigger before) columns for type pair ``pair``."""
        if pair not in self._by_pair:
            self._by_pair[pair] = (
                self._lookup(f"between_stem={k[:STEM_LETTERS]}|{pair}" for k in self.keys),
                self._lookup(f"between={k}|{pair}" for k in self.keys),
                self._trigger_matrix("trigger_between", pair),
                self._trigger_matrix("trigger_before", pair),
            )
        return self._by_pair[pair]

    def pair_columns(
        self, core: dict[str, int], pair: str, lo: int, hi: int, first: int
    ) -> np.ndarray:
        """The known columns of a pair's features as :func:`pair_features` names them, repeats
        included (:func:`_indicator_matrix` counts each once)."""
        stem, paired, trig_between, trig_before = self.for_pair(pair)
        parts = [
            np.fromiter((self.columns.get(n, -1) for n, v in core.items() if v), dtype=np.int64),
            self.between[lo:hi],
            stem[lo:hi],
            trig_between[lo:hi].ravel(),
            trig_before[max(0, first - TRIGGER_WINDOW_BEFORE) : first].ravel(),
        ]
        if hi - lo <= MAX_BETWEEN_FOR_PAIRED_WORDS:
            parts.append(paired[lo:hi])
        cols = np.concatenate(parts)
        return cols[cols >= 0]


# pairs whose feature columns are held at once: bounds memory on run-on text (a window's pairs can
# each list a window of between words)
_PAIRS_PER_PRODUCT = 4096


def _indicator_matrix(rows: Sequence[np.ndarray], n_features: int) -> csr_matrix:
    """``[len(rows), n_features]`` 0/1 matrix with a 1 at each column of each row (a column listed
    twice counts once): one sparse product then scores many pairs."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    columns = np.concatenate(rows)
    matrix = csr_matrix((np.ones(len(columns)), columns, indptr), shape=(len(rows), n_features))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


class _PairArrays:
    """Every pair's features as column arrays, computed for all pairs of a sentence at once (no
    per-pair Python): on run-on text a window holds thousands of pairs and building each pair's
    feature names was most of the prior's time. Same features, same columns as
    :func:`pair_features` names them; needs a ``usable`` :class:`MentionIndex` (mentions in word
    order, not overlapping), as the nearest-mention and between answers are searches over it."""

    def __init__(
        self,
        columns: dict[str, int],
        words: Sequence[str],
        entities: Sequence[WordEntity],
        mentions: MentionIndex,
    ):
        self.columns = columns
        self.words = words
        self.entities = entities
        self.word_columns = _WordColumns(columns, words)
        self.starts = np.array(mentions.starts, dtype=np.int64)
        self.ends = np.array(mentions.ends, dtype=np.int64)
        self.labels = mentions.labels
        self.by_label = {
            label: (np.array(s, dtype=np.int64), np.array(i, dtype=np.int64))
            for label, (s, i) in mentions.by_label.items()
        }
        # per label: how many of the first k mentions have it (type_between from two lookups)
        self.label_counts = {
            label: np.concatenate([[0], np.cumsum([lab == label for lab in self.labels])])
            for label in ENTITY_TYPES
        }
        self.sentence_first = columns.get(f"sentence_first={_key(words[0])}", -1)

    def _column(self, name: str) -> int:
        return self.columns.get(name, -1)

    def _per_item(self, items: np.ndarray, name_of) -> np.ndarray:
        """The column of ``name_of(item)`` for each item, each distinct item looked up once."""
        unique, inverse = np.unique(items, return_inverse=True)
        found = np.fromiter((self._column(name_of(int(u))) for u in unique), dtype=np.int64)
        return found[inverse.reshape(-1)] if len(unique) else np.empty(0, dtype=np.int64)

    def _nearest(self, label: str, exclude: np.ndarray, anchor: np.ndarray) -> np.ndarray:
        """:meth:`MentionIndex.nearest` for many queries: the closest mention of ``label`` to each
        anchor but its ``exclude``, the earlier one on a tie."""
        starts, ids = self.by_label[label]
        at = np.searchsorted(starts, anchor, side="left")
        cand = at[:, None] + np.arange(-2, 2)[None, :]
        valid = (cand >= 0) & (cand < len(ids))
        safe = np.clip(cand, 0, len(ids) - 1)
        valid &= ids[safe] != exclude[:, None]
        big = np.iinfo(np.int64).max
        rank = np.abs(starts[safe] - anchor[:, None]) * (len(self.labels) + 1) + ids[safe]
        best = np.where(valid, rank, big).argmin(axis=1)
        return ids[safe[np.arange(len(anchor)), best]]

    def core(self, pair: str, heads: np.ndarray, tails: np.ndarray) -> list[np.ndarray]:
        """Per-pair columns of the features :func:`_pair_core_features` names, for pairs of one
        type pair ``pair`` (each array one column per pair, -1 where unknown or absent)."""
        h_label, t_label = pair.split(">")
        hs, he, ts, te = self.starts[heads], self.ends[heads], self.starts[tails], self.ends[tails]
        ht = hs < ts
        lo, hi = np.where(ht, he, te), np.where(ht, ts, hs)
        first = np.minimum(hs, ts)
        first_in = np.searchsorted(self.starts, lo, side="left")
        n_inside = np.maximum(np.searchsorted(self.ends, hi, side="right") - first_in, 0)
        last_in = first_in + n_inside
        orders = ("HT", "TH")
        order = np.where(ht, 0, 1)
        pair_order = np.array([self._column(f"pair_order={pair}{o}") for o in orders])
        buckets = [_distance_bucket(d) for d in (0, 1, 2, 4, 8, 16)]
        bucket = np.searchsorted([1, 2, 4, 8, 16], np.maximum(0, hi - lo), side="right")
        distance = np.array(
            [[self._column(f"distance={b}{pair}{o}") for o in orders] for b in buckets]
        )
        between = np.array(
            [[self._column(f"mentions_between={n}{pair}{o}") for o in orders] for n in range(4)]
        )
        out = [
            np.full(len(heads), self._column(f"pair={pair}")),
            pair_order[order],
            distance[bucket, order],
            between[np.minimum(n_inside, 3), order],
            self._per_item(heads, lambda k: f"head={self._span_key(k)}"),
            self._per_item(tails, lambda k: f"tail={self._span_key(k)}"),
            self._per_item(heads, lambda k: f"head_last={self._last_key(k)}|{pair}"),
            self._per_item(tails, lambda k: f"tail_last={self._last_key(k)}|{pair}"),
            np.where(
                self._nearest(t_label, heads, hs) == tails,
                self._column(f"tail_nearest{pair}"),
                -1,
            ),
            np.where(
                self._nearest(h_label, tails, ts) == heads,
                self._column(f"head_nearest{pair}"),
                -1,
            ),
            np.full(len(heads), self.sentence_first),
        ]
        for label in ENTITY_TYPES:
            counts = self.label_counts[label]
            out.append(
                np.where(
                    counts[last_in] > counts[first_in],
                    self._column(f"type_between={label}{pair}"),
                    -1,
                )
            )
        for k in (1, 2):
            at = first - k
            found = self._per_item(
                np.maximum(at, 0), lambda w, k=k: f"before{k}={_key(self.words[w])}|{pair}"
            )
            out.append(np.where(at >= 0, found, -1))
        return out

    def _span_key(self, k: int) -> str:
        e = self.entities[k]
        return _key(" ".join(self.words[e.start : e.end]))

    def _last_key(self, k: int) -> str:
        return _key(self.words[self.entities[k].end - 1])

    def indicator(self, pair: str, heads: np.ndarray, tails: np.ndarray) -> csr_matrix:
        """``[len(heads), n_features]`` 0/1 matrix of the pairs' features, as
        :meth:`_WordColumns.pair_columns` lists them row by row."""
        hs, he, ts, te = self.starts[heads], self.ends[heads], self.starts[tails], self.ends[tails]
        ht = hs < ts
        lo, hi = np.where(ht, he, te), np.where(ht, ts, hs)
        first = np.minimum(hs, ts)
        stem, paired, trig_between, trig_before = self.word_columns.for_pair(pair)
        n_trig = trig_between.shape[1]
        rows = np.arange(len(heads))
        core = self.core(pair, heads, tails)
        row_parts = [np.tile(rows, len(core))]
        col_parts = [np.concatenate(core)]
        span = np.maximum(hi - lo, 0)
        for values, a, b, width, when in (
            (self.word_columns.between, lo, hi, 1, None),
            (stem, lo, hi, 1, None),
            (trig_between.ravel(), lo, hi, n_trig, None),
            (
                trig_before.ravel(),
                np.maximum(0, first - TRIGGER_WINDOW_BEFORE),
                first,
                n_trig,
                None,
            ),
            (paired, lo, hi, 1, span <= MAX_BETWEEN_FOR_PAIRED_WORDS),
        ):
            a, b = a * width, np.maximum(b, a) * width
            if when is not None:
                b = np.where(when, b, a)
            lengths = b - a
            row_parts.append(np.repeat(rows, lengths))
            offsets = np.repeat(a - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
            col_parts.append(values[np.arange(int(lengths.sum())) + offsets])
        r, c = np.concatenate(row_parts), np.concatenate(col_parts)
        keep = c >= 0
        matrix = csr_matrix(
            (np.ones(int(keep.sum())), (r[keep], c[keep])),
            shape=(len(heads), len(self.columns)),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix


class RelationPrior:
    def __init__(
        self, features: list[str], classes: list[str], coef: np.ndarray, intercept: np.ndarray
    ):
        unknown = sorted(set(classes) - set(RELATION_LABELS))
        if unknown:
            raise ValueError(
                f"relation prior classes {unknown} are not relation labels {RELATION_LABELS}"
            )
        if coef.shape != (len(classes), len(features)) or intercept.shape != (len(classes),):
            raise ValueError(
                f"relation prior coefficients {coef.shape} / intercept {intercept.shape} do not "
                f"fit {len(classes)} classes x {len(features)} features"
            )
        self.index = {name: i for i, name in enumerate(features)}
        self.classes = list(classes)
        self.coef = coef.astype(np.float64)
        self.intercept = intercept.astype(np.float64)
        self._columns = [RELATION_LABELS.index(c) for c in self.classes]

    @classmethod
    def fit(cls, examples: Sequence[Example], c: float = INVERSE_REGULARISATION) -> RelationPrior:
        """Fit on every candidate pair of the gold mentions of ``examples`` (NONE where
        unannotated)."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        rows, labels = [], []
        for ex in examples:
            gold = {(r.head, r.tail): r.label for r in ex.relations}
            mentions = MentionIndex(ex.entities)
            for h, t in candidate_pairs([e.label for e in ex.entities]):
                rows.append(pair_features(ex.words, ex.entities, h, t, mentions))
                labels.append(gold.get((h, t), NO_RELATION))
        if len(set(labels)) < 2:
            raise ValueError(
                f"cannot fit a relation prior: the training pairs hold only {sorted(set(labels))}"
            )
        vectorizer = DictVectorizer()
        model = LogisticRegression(C=c, max_iter=3000).fit(vectorizer.fit_transform(rows), labels)
        return cls(
            list(vectorizer.get_feature_names_out()),
            list(model.classes_),
            model.coef_,
            model.intercept_,
        )

    @classmethod
    def load(cls, path: Path) -> RelationPrior:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            data["features"],
            data["classes"],
            np.array(data["coef"], dtype=np.float64).reshape(
                len(data["classes"]), len(data["features"])
            ),
            np.array(data["intercept"], dtype=np.float64),
        )

    def save(self, directory: Path) -> None:
        features = sorted(self.index, key=self.index.get)
        data = {
            "classes": self.classes,
            "features": features,
            "intercept": self.intercept.tolist(),
            "coef": self.coef.tolist(),
        }
        (Path(directory) / RELATION_PRIOR_FILE).write_text(
            json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    def log_probs(
        self, words: Sequence[str], entities: Sequence[WordEntity], pairs: Sequence[tuple[int, int]]
    ) -> np.ndarray:
        """``[len(pairs), len(RELATION_LABELS)]`` log-probabilities; labels the pair's types forbid
        are -inf."""
        out = np.full((len(pairs), len(RELATION_LABELS)), -np.inf)
        if not pairs:
            return out
        mentions = MentionIndex(entities)
        scores = (
            self._scores_by_arrays(words, entities, pairs, mentions)
            if mentions.usable
            else self._scores_pair_by_pair(words, entities, pairs, mentions)
        )
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = np.full(out.shape, _FLOOR)
        probs[:, self._columns] += exp / exp.sum(axis=1, keepdims=True)
        allowed = allowed_labels(entities, pairs)
        probs = np.where(allowed, probs, 0.0)
        out[allowed] = np.log((probs / probs.sum(axis=1, keepdims=True))[allowed])
        return out

    def _scores_by_arrays(
        self,
        words: Sequence[str],
        entities: Sequence[WordEntity],
        pairs: Sequence[tuple[int, int]],
        mentions: MentionIndex,
    ) -> np.ndarray:
        """``[len(pairs), len(classes)]`` linear scores, the pairs of each type pair at once."""
        arrays = _PairArrays(self.index, words, entities, mentions)
        heads = np.array([h for h, _ in pairs], dtype=np.int64)
        tails = np.array([t for _, t in pairs], dtype=np.int64)
        types = np.array([f"{entities[h].label}>{entities[t].label}" for h, t in pairs])
        scores = np.empty((len(pairs), len(self.classes)))
        for pair in np.unique(types):
            where = np.flatnonzero(types == pair)
            for start in range(0, len(where), _PAIRS_PER_PRODUCT):
                at = where[start : start + _PAIRS_PER_PRODUCT]
                matrix = arrays.indicator(str(pair), heads[at], tails[at])
                scores[at] = self.intercept + matrix @ self.coef.T
        return scores

    def _scores_pair_by_pair(
        self,
        words: Sequence[str],
        entities: Sequence[WordEntity],
        pairs: Sequence[tuple[int, int]],
        mentions: MentionIndex,
    ) -> np.ndarray:
        """The same scores, each pair's features listed on its own (overlapping or unordered
        mentions, where the index's searches do not apply)."""
        word_columns = _WordColumns(self.index, words)
        scores = np.empty((len(pairs), len(self.classes)))
        for start in range(0, len(pairs), _PAIRS_PER_PRODUCT):
            rows = []
            for h, t in pairs[start : start + _PAIRS_PER_PRODUCT]:
                core = _pair_core_features(words, entities, h, t, mentions)
                rows.append(word_columns.pair_columns(*core))
            matrix = _indicator_matrix(rows, self.coef.shape[1])
            scores[start : start + len(rows)] = self.intercept + matrix @ self.coef.T
        return scores


def mix(head_logits: np.ndarray, prior_log_probs: np.ndarray, weight: float) -> np.ndarray:
    """Per-pair log-linear mixture of the head's softmax and the prior; labels the head masks stay
    -inf."""
    if weight == 0:
        return head_logits
    masked = np.isneginf(head_logits)  # schema-forbidden labels: the prior has them at -inf too
    top = head_logits.max(axis=1, keepdims=True)  # NONE is never masked, so finite
    head_lp = head_logits - (top + np.log(np.exp(head_logits - top).sum(axis=1, keepdims=True)))
    mixed = (1 - weight) * np.where(masked, 0.0, head_lp) + weight * np.where(
        masked, 0.0, prior_log_probs
    )
    return np.where(masked, -np.inf, mixed)
