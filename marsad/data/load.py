"""Load the corpus as a ``datasets.DatasetDict`` for the default split or one CV fold."""
from __future__ import annotations

import math
import random
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from marsad.data.corpus import Sentence, read_corpus
from marsad.data.splits import read_splits
from marsad.schema import BIO_TAGS

FEATURES = Features({
    "doc_id": Value("string"),
    "sent_id": Value("string"),
    "offset": Value("int32"),
    "text": Value("string"),
    "words": List(Value("string")),
    "word_starts": List(Value("int32")),
    "word_ends": List(Value("int32")),
    "tags": List(ClassLabel(names=list(BIO_TAGS))),
    "entities": List({"id": Value("string"), "label": Value("string"), "start": Value("int32"),
                      "end": Value("int32"), "text": Value("string")}),
    "relations": List({"head": Value("string"), "tail": Value("string"), "label": Value("string")}),
    "max_train_similarity": Value("float32"),
})


def _record(s: Sentence, max_sim: float | None) -> dict:
    spans = s.word_spans
    return {
        "doc_id": s.doc_id, "sent_id": s.sent_id, "offset": s.offset, "text": s.text,
        "words": s.words, "word_starts": [a for a, _ in spans], "word_ends": [b for _, b in spans],
        "tags": s.bio_tags(),
        "entities": [vars(e) for e in s.entities], "relations": [vars(r) for r in s.relations],
        "max_train_similarity": -1.0 if max_sim is None else max_sim,
    }


def load_splits(data_dir: Path | str = "data", fold: int | None = None, train_fraction: float = 1.0,
                seed: int = 0) -> DatasetDict:
    """Train/dev/test ``DatasetDict`` of the default split (``fold=None``) or CV run ``fold``.

    Test rows carry ``max_train_similarity`` (their best match among train+dev sentences);
    other rows carry -1. ``train_fraction < 1`` keeps that share of the training sentences (at
    least one), drawn with ``seed`` and kept in corpus order, for learning curves; dev and test
    are never touched.
    """
    if not 0 < train_fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {train_fraction}")
    data_dir = Path(data_dir)
    splits = read_splits(data_dir / "splits.json")
    run_name = splits["method"]["default"] if fold is None else f"fold{fold}"
    if run_name not in splits["runs"]:
        raise ValueError(f"no run {run_name!r} in {data_dir / 'splits.json'}; folds are 0..{len(splits['folds']) - 1}")
    run = splits["runs"][run_name]
    by_id = {s.sent_id: s for s in read_corpus(data_dir)}
    missing = [sid for role in ("train", "dev", "test") for sid in run[role] if sid not in by_id]
    if missing:
        raise ValueError(f"{data_dir / 'splits.json'} names sentences absent from the corpus: {missing[:5]}; "
                         "regenerate it with scripts/make_splits.py")
    sims = run["test_max_similarity"]
    ids = {role: list(run[role]) for role in ("train", "dev", "test")}
    if train_fraction < 1:
        keep = max(1, math.ceil(train_fraction * len(ids["train"])))
        chosen = set(random.Random(seed).sample(range(len(ids["train"])), keep))
        ids["train"] = [sid for i, sid in enumerate(ids["train"]) if i in chosen]
    return DatasetDict({
        role: Dataset.from_list([_record(by_id[sid], sims.get(sid)) for sid in ids[role]], features=FEATURES)
        for role in ("train", "dev", "test")
    })
