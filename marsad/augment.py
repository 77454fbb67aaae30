"""Mention replacement: a training-time augmentation for a corpus of ~60 training sentences.

With so few sentences the tagger can learn names rather than the contexts that make something an
ACTOR or a LOCATION. Each epoch, every gold mention of a training sentence is, with probability
``prob``, swapped for another training mention of the same type (Dai & Adel 2020, "An Analysis of
Simple Data Augmentation for Named Entity Recognition": "mention replacement"). Relations keep
their endpoints, since entities keep their order and only their words change. Mentions come from
the training split only, so nothing of dev or test leaks in.

The draw is seeded by (seed, epoch), so a resumed run sees the same sentences as an uninterrupted one.
"""
from __future__ import annotations

import random
from dataclasses import replace

from marsad.examples import Example
from marsad.inference import WordEntity


class MentionBank:
    """Every training mention (as its words), per entity type, with repeats: frequent names are drawn more."""

    def __init__(self, examples: list[Example]):
        self.by_type: dict[str, list[tuple[str, ...]]] = {}
        for ex in examples:
            for e in ex.entities:
                self.by_type.setdefault(e.label, []).append(tuple(ex.words[e.start:e.end]))

    def draw(self, label: str, rng: random.Random) -> tuple[str, ...] | None:
        choices = self.by_type.get(label)
        return rng.choice(choices) if choices else None


def replace_mentions(example: Example, bank: MentionBank, prob: float, rng: random.Random) -> Example:
    """A copy of ``example`` in which each mention is replaced with probability ``prob``.

    Words, IOB2 tags, character offsets (words joined by single spaces) and entity spans are all
    rebuilt, so the copy is a consistent example; relations are unchanged.
    """
    words: list[str] = []
    tags: list[str] = []
    entities: list[WordEntity] = []
    pos = 0
    for e in sorted(example.entities, key=lambda ent: ent.start):
        words += example.words[pos:e.start]
        tags += example.tags[pos:e.start]
        mention = tuple(example.words[e.start:e.end])
        if rng.random() < prob:
            mention = bank.draw(e.label, rng) or mention
        start = len(words)
        words += mention
        tags += [f"B-{e.label}"] + [f"I-{e.label}"] * (len(mention) - 1)
        entities.append(WordEntity(start, len(words), e.label))
        pos = e.end
    words += example.words[pos:]
    tags += example.tags[pos:]
    # entity i of the copy is entity i of the original in sorted order; relations index the original list
    order = sorted(range(len(example.entities)), key=lambda i: example.entities[i].start)
    new_index = {old: new for new, old in enumerate(order)}
    relations = [replace(r, head=new_index[r.head], tail=new_index[r.tail]) for r in example.relations]
    starts, ends, offset = [], [], 0
    for w in words:
        starts.append(offset)
        ends.append(offset + len(w))
        offset += len(w) + 1
    return Example(example.sent_id, " ".join(words), words, starts, ends, tags, entities, relations,
                   example.max_train_similarity)
