import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_agreement_counts_a_dropped_entity(data_copy):
    path = data_copy / "annotations" / "004_93bab9112742cc71.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    row = next(r for r in rows if r["entities"])
    dropped = row["entities"].pop(0)
    row["relations"] = [r for r in row["relations"] if dropped["id"] not in (r["head"], r["tail"])]
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "agreement.py"),
            str(ROOT / "data" / "annotations"),
            str(data_copy / "annotations"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    n = sum(
        len(json.loads(line)["entities"])
        for p in (ROOT / "data" / "annotations").glob("*.jsonl")
        for line in p.read_text(encoding="utf-8").splitlines()
    )
    # other = reference minus one entity: P = 1, R = (n-1)/n
    recall = (n - 1) / n
    f1 = 2 * recall / (1 + recall)
    entity_micro = out.split("relations:")[0].strip().splitlines()[-1]
    assert f"F1 {f1:.3f}" in entity_micro and "P 1.000" in entity_micro


def _write(directory: Path, doc: str, rows: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{doc}.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return directory


def _row(doc: str, offset: int, text: str, entities: list[tuple], relations: list[tuple]) -> dict:
    return {
        "doc_id": doc,
        "sent_id": f"{doc}-s",
        "offset": offset,
        "text": text,
        "entities": [
            {"id": i, "label": lab, "start": s, "end": e, "text": text[s:e]}
            for i, lab, s, e in entities
        ],
        "relations": [{"head": h, "tail": t, "label": lab} for h, t, lab in relations],
    }


TEXT = "سيطرت قوات النظام على الميادين بدعم روسي"


def _reference(tmp_path: Path) -> Path:
    ents = [("T1", "ACTOR", 6, 17), ("T2", "LOCATION", 22, 30), ("T3", "ACTOR", 36, 40)]
    rels = [("T1", "T2", "CONTROLS"), ("T3", "T1", "SUPPORTS")]
    _write(tmp_path / "ref", "b", [_row("b", 0, "لا شيء هنا", [], [])])
    return _write(tmp_path / "ref", "a", [_row("a", 100, TEXT, ents, rels)])


def test_agreement_by_hand_with_a_relation_wrong_only_in_direction(tmp_path):
    from marsad.evaluation.agreement import agreement, disagreements, read_annotation

    # other: "قوات" alone instead of "قوات النظام" (so CONTROLS is lost with it), SUPPORTS reversed
    ents = [("T1", "ACTOR", 6, 10), ("T2", "LOCATION", 22, 30), ("T3", "ACTOR", 36, 40)]
    rels = [("T1", "T2", "CONTROLS"), ("T1", "T3", "SUPPORTS")]
    other = _write(tmp_path / "other", "a", [_row("a", 100, TEXT, ents, rels)])
    scores = agreement(read_annotation(_reference(tmp_path)), read_annotation(other))
    assert scores["documents"] == ["a"]  # "b" only in the reference: not counted against the other
    assert scores["entities"]["micro"] == {
        "precision": 2 / 3,
        "recall": 2 / 3,
        "f1": 2 / 3,
        "support": 3,
    }
    assert scores["entities"]["ACTOR"]["f1"] == 0.5 and scores["entities"]["LOCATION"]["f1"] == 1.0
    assert scores["relations"]["micro"]["f1"] == 0.0  # the reversed SUPPORTS counts as wrong
    assert scores["relations"]["SUPPORTS"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
    }

    rows = disagreements(read_annotation(_reference(tmp_path)), read_annotation(other))
    got = {(r["kind"], r["only_in"], r["label"], r["text"]) for r in rows}
    assert got == {
        ("entity", "reference", "ACTOR", "قوات النظام"),
        ("entity", "other", "ACTOR", "قوات"),
        ("relation", "reference", "CONTROLS", "قوات النظام (ACTOR) → الميادين (LOCATION)"),
        ("relation", "other", "CONTROLS", "قوات (ACTOR) → الميادين (LOCATION)"),
        ("relation", "reference", "SUPPORTS", "روسي (ACTOR) → قوات النظام (ACTOR)"),
        ("relation", "other", "SUPPORTS", "قوات (ACTOR) → روسي (ACTOR)"),
    }
    assert all(r["sentence"] == TEXT for r in rows)


def test_identical_annotations_agree_fully(tmp_path):
    from marsad.evaluation.agreement import agreement, disagreements, read_annotation

    ref = read_annotation(_reference(tmp_path))
    scores = agreement(ref, ref)
    assert scores["entities"]["micro"]["f1"] == 1.0 and scores["relations"]["micro"]["f1"] == 1.0
    assert disagreements(ref, ref) == []


def test_read_annotation_names_file_line_and_entity(tmp_path):
    from marsad.evaluation.agreement import read_annotation

    row = _row("a", 0, TEXT, [("T1", "ACTOR", 6, 17)], [])
    del row["entities"][0]["start"]
    _write(tmp_path / "x", "a", [_row("a", 0, "نص", [], []), row])
    with pytest.raises(ValueError, match=r"a\.jsonl:2: entity T1 has no offsets"):
        read_annotation(tmp_path / "x")
    row = _row("a", 0, TEXT, [("T1", "ACTOR", 6, 17)], [("T1", "T9", "CONTROLS")])
    _write(tmp_path / "y", "a", [row])
    with pytest.raises(ValueError, match=r"a\.jsonl:1: relation CONTROLS has unknown tail 'T9'"):
        read_annotation(tmp_path / "y")
    with pytest.raises(FileNotFoundError, match="no \\*.jsonl"):
        read_annotation(tmp_path / "empty")


def _passes(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "agreement").glob("*") if p.is_dir())


def test_stored_re_annotations_are_valid_and_complete(data_dir):
    from marsad.data.validate import validate_corpus

    passes = _passes(data_dir)
    if not passes:
        pytest.skip(f"{data_dir} holds no agreement/ re-annotation")
    for path in passes:
        problems = validate_corpus(
            path, data_dir / "raw"
        )  # every sentence of every article, valid spans
        assert not problems, "\n".join(map(str, problems))


def test_agreement_script_lists_disagreements(tmp_path):
    ents = [("T1", "ACTOR", 6, 17), ("T2", "LOCATION", 22, 30)]
    other = _write(
        tmp_path / "other", "a", [_row("a", 100, TEXT, ents, [("T1", "T2", "CONTROLS")])]
    )
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "agreement.py"),
            str(_reference(tmp_path)),
            str(other),
            "--list",
            "--json",
            str(tmp_path / "a.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "disagreements (2):" in out and "entity only in reference: ACTOR روسي" in out
    saved = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert saved["relations"]["micro"]["recall"] == 0.5 and len(saved["disagreements"]) == 2


def test_agreement_script_reports_a_bad_file_without_a_traceback(tmp_path):
    row = _row("a", 0, TEXT, [("T1", "ACTOR", 6, 17)], [])
    del row["entities"][0]["end"]
    other = _write(tmp_path / "other", "a", [row])
    script = str(ROOT / "scripts" / "agreement.py")
    done = subprocess.run(
        [sys.executable, script, str(_reference(tmp_path)), str(other)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    expected = (
        f"error: {other / 'a.jsonl'}:1: entity T1 has no offsets (run scripts/fill_offsets.py)"
    )
    assert done.stderr.strip() == expected
