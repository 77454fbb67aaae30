"""The committed BIO view and splits are exactly what the scripts regenerate; splits do not leak."""

from __future__ import annotations

import json

from conftest import load_script

from marsad.data.bio import render_bio
from marsad.data.corpus import bio_to_spans, read_corpus, spans_to_bio
from marsad.data.load import load_splits
from marsad.data.similarity import similarity_matrix
from marsad.data.splits import CLUSTER_THRESHOLD, build_splits
from marsad.text import split_sentences


def test_bio_files_are_in_sync(data_dir):
    sentences = read_corpus(data_dir)
    docs = sorted({s.doc_id for s in sentences})
    assert sorted(p.stem for p in (data_dir / "bio").glob("*.bio")) == docs
    for doc in docs:
        expected = render_bio([s for s in sentences if s.doc_id == doc])
        assert (data_dir / "bio" / f"{doc}.bio").read_text(encoding="utf-8") == expected, (
            f"data/bio/{doc}.bio is stale: run python scripts/make_bio.py"
        )


def test_splits_file_is_in_sync(data_dir):
    stored = json.loads((data_dir / "splits.json").read_text(encoding="utf-8"))
    assert stored == json.loads(
        json.dumps(build_splits(read_corpus(data_dir)), ensure_ascii=False)
    ), "data/splits.json is stale: run python scripts/make_splits.py"


def test_every_raw_sentence_is_annotated(data_dir):
    sentences = read_corpus(data_dir)
    for raw in sorted((data_dir / "raw").glob("*.txt")):
        expected = [(s.start, s.text) for s in split_sentences(raw.read_text(encoding="utf-8"))]
        got = [(s.offset, s.text) for s in sentences if s.doc_id == raw.stem]
        assert got == expected


def test_no_near_duplicates_across_folds(data_dir):
    sentences = read_corpus(data_dir)
    splits = build_splits(sentences)
    fold_of = {sid: k for k, fold in enumerate(splits["folds"]) for sid in fold}
    assert len(fold_of) == len(sentences)
    sim = similarity_matrix([s.text for s in sentences])
    for i, a in enumerate(sentences):
        for j, b in enumerate(sentences):
            if sim[i][j] >= CLUSTER_THRESHOLD:
                assert fold_of[a.sent_id] == fold_of[b.sent_id], (a.sent_id, b.sent_id, sim[i][j])


def test_runs_partition_the_corpus(data_dir):
    splits = json.loads((data_dir / "splits.json").read_text(encoding="utf-8"))
    n = sum(len(f) for f in splits["folds"])
    for _name, run in splits["runs"].items():
        roles = [set(run[r]) for r in ("train", "dev", "test")]
        assert sum(len(r) for r in roles) == n and not (
            roles[0] & roles[1] or roles[0] & roles[2] or roles[1] & roles[2]
        )
        assert all(v < CLUSTER_THRESHOLD for v in run["test_max_similarity"].values())


def test_load_splits_dataset_dict(data_dir):
    dd = load_splits(data_dir)
    assert set(dd) == {"train", "dev", "test"}
    names = dd["train"].features["tags"].feature.names
    row = dd["test"][0]
    assert len(row["words"]) == len(row["tags"]) == len(row["word_starts"])
    assert row["max_train_similarity"] >= 0
    assert dd["train"][0]["max_train_similarity"] == -1
    for r in dd["train"]:
        spans = bio_to_spans(
            list(zip(r["word_starts"], r["word_ends"])), [names[t] for t in r["tags"]]
        )
        assert sorted(spans) == sorted((e["start"], e["end"], e["label"]) for e in r["entities"])
    fold3 = load_splits(data_dir, fold=3)
    assert {r["sent_id"] for r in fold3["test"]} != {r["sent_id"] for r in dd["test"]}


def test_bio_round_trip_and_orphans():
    words = [(0, 2), (3, 5), (6, 8), (9, 11)]
    spans = [(0, 5, "ACTOR"), (9, 11, "LOCATION")]
    assert bio_to_spans(words, spans_to_bio(words, spans)) == spans
    assert bio_to_spans(words, ["I-ACTOR", "O", "B-QUANTITY", "I-QUANTITY"]) == [
        (6, 11, "QUANTITY")
    ]


def test_dataset_card_is_in_sync(data_dir):
    module = load_script("scripts/data_card.py")
    assert (data_dir / "README.md").read_text(encoding="utf-8") == module.render(data_dir), (
        "data/README.md is stale: run python scripts/data_card.py"
    )
