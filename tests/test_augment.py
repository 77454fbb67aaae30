"""Mention replacement (marsad.augment) and its use in training."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from marsad.augment import MentionBank, replace_mentions
from marsad.config import ConfigError, load_config
from marsad.data.load import load_splits
from marsad.decoding import is_valid_iob2
from marsad.examples import Example, examples_from_split
from marsad.inference import WordEntity, WordRelation

from conftest import assert_same_log, train_tiny, train_tiny_interrupted

ROOT = Path(__file__).resolve().parents[1]


def make_example(words: list[str], spans: list[tuple[int, int, str]], relations: list[tuple[int, int, str]]) -> Example:
    tags = ["O"] * len(words)
    for s, e, label in spans:
        tags[s:e] = [f"B-{label}"] + [f"I-{label}"] * (e - s - 1)
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    return Example("s1", " ".join(words), words, starts, [s + len(w) for s, w in zip(starts, words)], tags,
                   [WordEntity(s, e, label) for s, e, label in spans],
                   [WordRelation(h, t, label) for h, t, label in relations])


# "قوات النظام سيطرت على مدينة الميادين في دير الزور", entities listed out of textual order on purpose
SENTENCE = make_example(
    ["قوات", "النظام", "سيطرت", "على", "مدينة", "الميادين", "في", "دير", "الزور"],
    [(7, 9, "LOCATION"), (0, 2, "ACTOR"), (5, 6, "LOCATION")],
    [(1, 2, "CONTROLS"), (2, 0, "LOCATED_IN")])
OTHER = make_example(["هاجم", "تنظيم", "داعش", "البوكمال"], [(1, 3, "ACTOR"), (3, 4, "LOCATION")], [])


def mention_words(ex: Example, i: int) -> tuple[str, ...]:
    return tuple(ex.words[ex.entities[i].start:ex.entities[i].end])


def relation_words(ex: Example) -> set[tuple[tuple[str, ...], tuple[str, ...], str]]:
    return {(mention_words(ex, r.head), mention_words(ex, r.tail), r.label) for r in ex.relations}


def test_probability_zero_keeps_the_sentence():
    out = replace_mentions(SENTENCE, MentionBank([OTHER]), 0.0, random.Random(0))
    assert out.words == SENTENCE.words and out.tags == SENTENCE.tags and out.text == SENTENCE.text
    assert relation_words(out) == relation_words(SENTENCE)


def test_probability_one_replaces_every_mention_and_keeps_relations_consistent():
    out = replace_mentions(SENTENCE, MentionBank([OTHER]), 1.0, random.Random(0))
    assert out.words == ["تنظيم", "داعش", "سيطرت", "على", "مدينة", "البوكمال", "في", "البوكمال"]
    assert out.tags == ["B-ACTOR", "I-ACTOR", "O", "O", "O", "B-LOCATION", "O", "B-LOCATION"]
    # the relations still join the same entity slots: the actor controls the first place, which is in the second
    first_loc, second_loc, actor = (5, 6, "LOCATION"), (7, 8, "LOCATION"), (0, 2, "ACTOR")
    span = lambda e: (e.start, e.end, e.label)  # noqa: E731
    pairs = {(span(out.entities[r.head]), span(out.entities[r.tail]), r.label) for r in out.relations}
    assert pairs == {(actor, first_loc, "CONTROLS"), (first_loc, second_loc, "LOCATED_IN")}
    assert all(out.text[s:e] == w for s, e, w in zip(out.word_starts, out.word_ends, out.words))


def test_real_training_split_stays_valid(data_dir):
    examples = examples_from_split(load_splits(data_dir, 0)["train"])
    bank = MentionBank(examples)
    rng = random.Random(3)
    changed = 0
    for ex in examples:
        out = replace_mentions(ex, bank, 0.5, rng)
        assert is_valid_iob2(out.tags) and len(out.tags) == len(out.words)
        assert all(out.text[s:e] == w for s, e, w in zip(out.word_starts, out.word_ends, out.words))
        in_order = sorted(ex.entities, key=lambda e: e.start)
        assert [e.label for e in out.entities] == [e.label for e in in_order]
        typed = sorted((ex.entities[r.head].label, ex.entities[r.tail].label, r.label) for r in ex.relations)
        assert sorted((out.entities[r.head].label, out.entities[r.tail].label, r.label) for r in out.relations) == typed
        changed += out.words != ex.words
    assert changed > len(examples) // 2


def test_out_of_range_probability_is_a_config_error():
    with pytest.raises(ConfigError, match="mention_replacement"):
        load_config(ROOT / "configs" / "tiny.yaml", ["mention_replacement=1.5"])


def test_augmented_run_trains_differently_and_resumes_to_the_same_log(tmp_path, data_dir):
    plain, straight, resumed = tmp_path / "plain", tmp_path / "straight", tmp_path / "resumed"
    train_tiny(plain, data_dir, "epochs=3")
    train_tiny(straight, data_dir, "epochs=3", "mention_replacement=0.5")
    train_tiny_interrupted(resumed, data_dir, 2, "epochs=3", "mention_replacement=0.5")
    read = lambda out: [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert read(straight)[0]["loss"] != pytest.approx(read(plain)[0]["loss"]), "augmentation changed nothing"
    assert "mention replacement p=0.5" in (straight / "best" / "README.md").read_text()
    assert "mention replacement" not in (plain / "best" / "README.md").read_text()
    assert_same_log(straight, resumed)
