"""Gold sentences -> word-level training/eval examples (entities as word spans, relations by
index)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from marsad.data.corpus import Sentence, read_corpus
from marsad.data.splits import read_splits
from marsad.schema import ENTITY_TYPES


@dataclass
class WordEntity:
    start: int  # first word index
    end: int  # one past the last word
    label: str
    score: float = 1.0


@dataclass
class WordRelation:
    head: int  # index into the sentence's entity list
    tail: int
    label: str
    score: float = 1.0


@dataclass
class Example:
    sent_id: str
    text: str
    words: list[str]
    word_starts: list[int]
    word_ends: list[int]
    tags: list[str]
    entities: list[WordEntity]
    relations: list[WordRelation]
    max_train_similarity: float = -1.0
    # what the gold annotates: corpora such as ANERcorp have no QUANTITY and no relations, and
    # scoring ignores predictions of what a sentence does not annotate
    entity_types: tuple[str, ...] = ENTITY_TYPES
    relations_annotated: bool = True

    def __post_init__(self) -> None:
        if self.relations_annotated and set(self.entity_types) != set(ENTITY_TYPES):
            # relations point at entities by index: every type must be there for them to resolve
            raise ValueError(f"{self.sent_id}: relations annotated but not every entity type")

    def char_span(self, e: WordEntity) -> tuple[int, int, str]:
        return self.word_starts[e.start], self.word_ends[e.end - 1], e.label


def example_from_sentence(sentence: Sentence, max_train_similarity: float = -1.0) -> Example:
    """A validated corpus :class:`Sentence` as a word-level :class:`Example`."""
    spans = sentence.word_spans
    starts, ends = [a for a, _ in spans], [b for _, b in spans]
    index_of: dict[str, int] = {}
    entities: list[WordEntity] = []
    for ent in sorted(sentence.entities, key=lambda e: e.start):
        index_of[ent.id] = len(entities)
        entities.append(WordEntity(starts.index(ent.start), ends.index(ent.end) + 1, ent.label))
    relations = [
        WordRelation(index_of[r.head], index_of[r.tail], r.label) for r in sentence.relations
    ]
    return Example(
        sentence.sent_id,
        sentence.text,
        sentence.words,
        starts,
        ends,
        sentence.bio_tags(),
        entities,
        relations,
        max_train_similarity,
    )


ROLES = ("train", "dev", "test")


def load_examples(
    data_dir: Path | str = "data",
    fold: int | None = None,
    train_fraction: float = 1.0,
    seed: int = 0,
) -> dict[str, list[Example]]:
    """Train/dev/test examples of the default split (``fold=None``) or cross-validation run
    ``fold``: the one path from annotation files to what training and evaluation read.

    The files are validated first (:func:`marsad.data.corpus.read_corpus`), so a bad file fails with
    its line. Test examples carry ``max_train_similarity`` (their best match among train + dev
    sentences), others -1. ``train_fraction < 1`` keeps that share of the training sentences (at
    least one), drawn with ``seed`` and kept in corpus order, for learning curves; dev and test are
    never touched.
    """
    if not 0 < train_fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {train_fraction}")
    data_dir = Path(data_dir)
    splits = read_splits(data_dir / "splits.json")
    run_name = splits["method"]["default"] if fold is None else f"fold{fold}"
    if run_name not in splits["runs"]:
        raise ValueError(
            f"no run {run_name!r} in {data_dir / 'splits.json'}; folds are "
            f"0..{len(splits['folds']) - 1}"
        )
    run = splits["runs"][run_name]
    by_id = {s.sent_id: s for s in read_corpus(data_dir)}
    missing = [sid for role in ROLES for sid in run[role] if sid not in by_id]
    if missing:
        raise ValueError(
            f"{data_dir / 'splits.json'} names sentences absent from the corpus: {missing[:5]}; "
            "regenerate it with scripts/make_splits.py"
        )
    similarity = run["test_max_similarity"]
    ids = {role: list(run[role]) for role in ROLES}
    if train_fraction < 1:
        keep = max(1, math.ceil(train_fraction * len(ids["train"])))
        chosen = set(random.Random(seed).sample(range(len(ids["train"])), keep))
        ids["train"] = [sid for i, sid in enumerate(ids["train"]) if i in chosen]
    return {
        role: [
            example_from_sentence(by_id[sid], float(similarity.get(sid, -1.0))) for sid in ids[role]
        ]
        for role in ROLES
    }
