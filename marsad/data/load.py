"""The corpus as a ``datasets.DatasetDict``, for Hugging Face users: a view of
:func:`load_examples`.

Training and evaluation read :class:`marsad.data.examples.Example` lists; this view holds the same
sentences with their character-offset entities, word spans and IOB2 tags as a ``ClassLabel``.
"""

from __future__ import annotations

from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from marsad.data.examples import ROLES, Example, load_examples
from marsad.schema import BIO_TAGS

FEATURES = Features(
    {
        "sent_id": Value("string"),
        "text": Value("string"),
        "words": List(Value("string")),
        "word_starts": List(Value("int32")),
        "word_ends": List(Value("int32")),
        "tags": List(ClassLabel(names=list(BIO_TAGS))),
        "entities": List(
            {
                "start": Value("int32"),
                "end": Value("int32"),
                "label": Value("string"),
                "text": Value("string"),
            }
        ),
        "relations": List(
            {"head": Value("int32"), "tail": Value("int32"), "label": Value("string")}
        ),
        "max_train_similarity": Value("float32"),
    }
)


def _record(ex: Example) -> dict:
    entities = [
        {
            "start": ex.word_starts[e.start],
            "end": ex.word_ends[e.end - 1],
            "label": e.label,
            "text": ex.text[ex.word_starts[e.start] : ex.word_ends[e.end - 1]],
        }
        for e in ex.entities
    ]
    return {
        "sent_id": ex.sent_id,
        "text": ex.text,
        "words": ex.words,
        "word_starts": ex.word_starts,
        "word_ends": ex.word_ends,
        "tags": ex.tags,
        "entities": entities,
        "relations": [{"head": r.head, "tail": r.tail, "label": r.label} for r in ex.relations],
        "max_train_similarity": ex.max_train_similarity,
    }


def load_splits(
    data_dir: Path | str = "data",
    fold: int | None = None,
    train_fraction: float = 1.0,
    seed: int = 0,
) -> DatasetDict:
    """Train/dev/test ``DatasetDict`` of :func:`load_examples`' split (same arguments); relations
    point at entities by their index in the row's ``entities``."""
    examples = load_examples(data_dir, fold, train_fraction, seed)
    return DatasetDict(
        {
            role: Dataset.from_list([_record(ex) for ex in examples[role]], features=FEATURES)
            for role in ROLES
        }
    )
