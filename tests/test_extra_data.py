"""Corpora beside the seeds: conflict-grouped splits, and training that adds their train and dev."""

import json
import shutil
from pathlib import Path

from conftest import train_tiny

from marsad.data.corpus import read_corpus
from marsad.data.examples import load_examples
from marsad.data.splits import conflict_splits

TEAM = Path(__file__).resolve().parents[1] / "data" / "team"


def _conflicts(team: Path) -> dict[str, str]:
    docs = [json.loads(line) for line in (team / "documents.jsonl").read_text().splitlines()]
    return {d["doc_id"]: d["conflict"] for d in docs}


def test_no_conflict_straddles_training_and_held_out_text():
    conflict_of = _conflicts(TEAM)
    sentences = read_corpus(TEAM)
    committed = json.loads((TEAM / "splits.json").read_text())
    # the dev conflicts drawn for the first 19 conflicts are kept as the corpus grows
    assert committed["method"]["dev_conflicts"] == ["gaza", "lebanon", "libya", "mali"]
    splits = conflict_splits(
        sentences, conflict_of, dev_conflicts=["mali", "gaza", "libya", "lebanon"]
    )
    doc_of = {s.sent_id: s.doc_id for s in sentences}
    for name, run in splits["runs"].items():
        roles = {
            role: {conflict_of[doc_of[i]] for i in run[role]} for role in ("train", "dev", "test")
        }
        assert not roles["train"] & (roles["dev"] | roles["test"]), name
        assert len(run["train"]) + len(run["dev"]) + len(run["test"]) == len(sentences), name
    assert committed == splits, (
        "data/team/splits.json is stale: run python scripts/make_team_splits.py"
    )
    assert {len(load_examples(TEAM)[r]) for r in ("train", "dev")} == {
        len(splits["runs"]["conflicts"]["train"]),
        len(splits["runs"]["conflicts"]["dev"]),
    }


def test_training_adds_an_extra_corpus_to_train_and_dev(tmp_path, data_dir):
    extra = tmp_path / "extra"
    docs = ["tA_sudan_wire_01", "tB_mali_wire_01", "tC_iraq_wire_01"]
    for sub, ext in (("annotations", "jsonl"), ("raw", "txt")):
        (extra / sub).mkdir(parents=True)
        for doc in docs:
            shutil.copy(TEAM / sub / f"{doc}.{ext}", extra / sub / f"{doc}.{ext}")
    conflict_of = {doc: _conflicts(TEAM)[doc] for doc in docs}
    splits = conflict_splits(read_corpus(extra), conflict_of, n_dev=1)
    (extra / "splits.json").write_text(json.dumps(splits, ensure_ascii=False))
    out = tmp_path / "run"
    train_tiny(out, data_dir, "epochs=1", f"extra_data=[{extra}]")
    meta = json.loads((out / "best" / "marsad.json").read_text())
    added = meta["data"]["extra"][str(extra)]
    run = splits["runs"]["conflicts"]
    assert (added["train_sentences"], added["dev_sentences"]) == (
        len(run["train"]),
        len(run["dev"]),
    )
    seed = load_examples(data_dir)
    assert meta["data"]["train_sentences"] == len(seed["train"]) + len(run["train"])
    logged = json.loads((out / "dev_sentences.jsonl").read_text().splitlines()[0])["sentences"]
    assert set(run["dev"]) <= set(logged), "selection must see the extra corpus's dev sentences"


def test_a_growing_corpus_keeps_its_dev_conflicts_unless_asked(tmp_path):
    from conftest import load_script

    team = tmp_path / "team"
    shutil.copytree(TEAM, team)
    script = load_script("scripts/make_team_splits.py")
    kept = script.build(team)["method"]["dev_conflicts"]
    assert kept == ["gaza", "lebanon", "libya", "mali"]
    redrawn = script.build(team, resample_dev=True)["method"]["dev_conflicts"]
    assert redrawn != kept  # 47 conflicts: the seeded draw no longer lands on the committed four
    assert json.loads((team / "splits.json").read_text())["method"]["dev_conflicts"] == kept
