"""Baselines for cross-validation: the feature CRF, a lexicon tagger and a majority relation
classifier.

They answer "what does the neural model buy over cheap, standard methods on the same folds?", so
they use the same word segmentation and data as the model and are scored by
:mod:`marsad.evaluation.metrics`. Taggers take and return word-level IOB2 tag strings and always
return valid IOB2, so strict scoring never sees orphan ``I-``. The CRF tagger is
:class:`marsad.features.CrfTagger`, the same one the lexical prior is made of.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from marsad.features import CrfTagger, repair_iob2, tag_strings
from marsad.schema import BIO_TAGS, NO_RELATION, RELATION_TYPES, candidate_pairs, relation_fits

__all__ = ["CrfTagger", "LexiconTagger", "MajorityRelationBaseline"]


class LexiconTagger:
    """Each word gets the tag it carried most often in training ('O' if unseen), then IOB2 repair.

    Word-level memorisation of the exact word form is the simplest lexicon baseline: it measures how
    much of the test set is known names. Ties between tags go to the earlier tag in ``BIO_TAGS``
    (so 'O' wins a tie), which makes the lexicon independent of training order. Tagging word by
    word can give I-X after O (a word seen mostly inside an entity now standing alone);
    :func:`repair_iob2` turns it into B-X so the output is valid IOB2 and the word still counts.
    """

    def __init__(self) -> None:
        self.lexicon: dict[str, str] = {}

    def fit(
        self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[int | str]]
    ) -> LexiconTagger:
        if len(sentences) != len(tags):
            raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag sequences")
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for words, ts in zip(sentences, tags):
            for w, t in zip(words, tag_strings(ts), strict=True):
                counts[w][t] += 1
        order = {t: i for i, t in enumerate(BIO_TAGS)}
        self.lexicon = {
            w: min(c, key=lambda t: (-c[t], order.get(t, len(order)), t)) for w, c in counts.items()
        }
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [repair_iob2([self.lexicon.get(w, "O") for w in s]) for s in sentences]


# ---------------------------------------------------------------------------------------- relations


def _get(obj: Any, name: str, position: int) -> Any:
    if isinstance(obj, dict):
        return obj[name]
    if isinstance(obj, (tuple, list)):
        return obj[position]
    return getattr(obj, name)


def _entity_labels(entities: Iterable[Any]) -> list[str]:
    """Labels of entities given as WordEntity/Entity objects, ``load_splits`` dicts or (start, end,
    label)."""
    return [_get(e, "label", 2) for e in entities]


def _sentence_view(sentence: Any) -> tuple[list[str], list[tuple[int, int, str]]]:
    """(entity labels, relations by entity index) of an Example, corpus Sentence, ``load_splits``
    row or SentenceExtraction; relations given by entity id are resolved to indices."""
    entities = list(_get(sentence, "entities", 0))
    ids = {}
    for i, e in enumerate(entities):
        eid = e.get("id") if isinstance(e, dict) else getattr(e, "id", None)
        if eid is not None:
            ids[eid] = i
    relations = []
    for r in _get(sentence, "relations", 1):
        head, tail, label = _get(r, "head", 0), _get(r, "tail", 1), _get(r, "label", 2)
        relations.append(
            (
                ids[head] if isinstance(head, str) else head,
                ids[tail] if isinstance(tail, str) else tail,
                label,
            )
        )
    return _entity_labels(entities), relations


class MajorityRelationBaseline:
    """For each ordered (head type, tail type) pair, predict its most frequent training label.

    Counted over all candidate pairs of gold entities (ordered, distinct, types fitting some
    relation signature), NONE included: where NONE wins (as it does for most type pairs) the
    baseline predicts nothing for that type pair, and a type pair unseen in training gets nothing.
    Ties go to NONE, then to the earlier label in ``RELATION_TYPES``, so the choice does not
    depend on data order. ``fit`` accepts :class:`marsad.examples.Example` objects, corpus
    ``Sentence`` objects, ``load_splits`` rows (or a split itself) and ``SentenceExtraction``.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], Counter[str]] = {}
        self.majority: dict[tuple[str, str], str] = {}

    def fit(self, sentences: Iterable[Any]) -> MajorityRelationBaseline:
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for sentence in sentences:
            labels, relations = _sentence_view(sentence)
            gold: dict[tuple[int, int], list[str]] = defaultdict(list)
            for h, t, label in relations:
                gold[(h, t)].append(label)
            for h, t in candidate_pairs(labels):
                for label in gold.get((h, t)) or [NO_RELATION]:
                    counts[(labels[h], labels[t])][label] += 1
        order = {label: i for i, label in enumerate((NO_RELATION,) + RELATION_TYPES)}
        self.counts = dict(counts)
        self.majority = {
            k: min(c, key=lambda lab: (-c[lab], order.get(lab, len(order)), lab))
            for k, c in counts.items()
        }
        return self

    def predict(self, entities: Sequence[Any]) -> list[tuple[int, int, str]]:
        """``(head index, tail index, label)`` for one sentence's entities (any form ``fit``
        reads)."""
        labels = _entity_labels(entities)
        out = []
        for h, t in candidate_pairs(labels):
            label = self.majority.get((labels[h], labels[t]), NO_RELATION)
            if label in RELATION_TYPES and relation_fits(label, labels[h], labels[t]):
                out.append((h, t, label))
        return out
