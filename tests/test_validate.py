"""The validator catches each defect kind with a precise, located message."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from marsad.data.corpus import read_corpus
from marsad.data.validate import AnnotationError, validate_corpus

RAW = "سيطرت قوات النظام على الميادين.\nقال المرصد إن داعش انسحب من الرقة.\n"


def good_rows() -> list[dict]:
    return [
        {
            "doc_id": "doc",
            "sent_id": "doc-s00",
            "offset": 0,
            "text": "سيطرت قوات النظام على الميادين.",
            "entities": [
                {"id": "T1", "label": "ACTOR", "start": 6, "end": 17, "text": "قوات النظام"},
                {"id": "T2", "label": "LOCATION", "start": 22, "end": 30, "text": "الميادين"},
            ],
            "relations": [{"head": "T1", "tail": "T2", "label": "CONTROLS"}],
        },
        {
            "doc_id": "doc",
            "sent_id": "doc-s01",
            "offset": 32,
            "text": "قال المرصد إن داعش انسحب من الرقة.",
            "entities": [
                {"id": "T1", "label": "ACTOR", "start": 4, "end": 10, "text": "المرصد"},
                {"id": "T2", "label": "ACTOR", "start": 14, "end": 18, "text": "داعش"},
                {"id": "T3", "label": "LOCATION", "start": 28, "end": 33, "text": "الرقة"},
            ],
            "relations": [],
        },
    ]


def write(tmp_path: Path, rows: list[dict] | list[str]) -> Path:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "annotations").mkdir(exist_ok=True)
    (tmp_path / "raw" / "doc.txt").write_text(RAW, encoding="utf-8")
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    (tmp_path / "annotations" / "doc.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def messages(tmp_path: Path) -> list[str]:
    problems = validate_corpus(tmp_path / "annotations", tmp_path / "raw")
    return [f"{p.line}: {p.where}: {p.reason}" for p in problems]


def test_good_file_passes(tmp_path):
    assert messages(write(tmp_path, good_rows())) == []


def mutate(fn):
    rows = good_rows()
    fn(rows)
    return rows


CASES = [
    (
        "offset out of range",
        lambda r: r[0]["entities"][0].update(end=99),
        "1: doc-s00 entity T1: offsets [6, 99) out of range for sentence of length 31",
    ),
    (
        "text mismatch",
        lambda r: r[0]["entities"][0].update(text="قوات"),
        "1: doc-s00 entity T1: text 'قوات' does not match sentence[6:17] = 'قوات النظام'",
    ),
    (
        "not on word boundary",
        lambda r: r[0]["entities"][0].update(start=7, text="وات النظام"),
        "1: doc-s00 entity T1: start 7 is not on a word boundary",
    ),
    (
        "unknown label",
        lambda r: r[0]["entities"][1].update(label="PLACE"),
        "1: doc-s00 entity T2: unknown label 'PLACE' (allowed: ACTOR, LOCATION, QUANTITY)",
    ),
    (
        "missing endpoint",
        lambda r: r[0]["relations"][0].update(tail="T9"),
        "1: doc-s00 relation 0 (T1->T9 CONTROLS): endpoint T9 is not an entity of this sentence",
    ),
    (
        "type-invalid relation",
        lambda r: r[0]["relations"][0].update(head="T2", tail="T1"),
        "1: doc-s00 relation 0 (T2->T1 CONTROLS): CONTROLS needs ACTOR -> LOCATION, "
        "got LOCATION -> ACTOR",
    ),
    (
        "unknown relation",
        lambda r: r[0]["relations"][0].update(label="OWNS"),
        "1: doc-s00 relation 0 (T1->T2 OWNS): unknown relation label 'OWNS'",
    ),
    (
        "duplicate relation",
        lambda r: r[0]["relations"].append(dict(r[0]["relations"][0])),
        "1: doc-s00 relation 1 (T1->T2 CONTROLS): duplicate relation",
    ),
    (
        "two labels for one pair",
        lambda r: r[0]["relations"].append({"head": "T1", "tail": "T2", "label": "ATTACKS"}),
        "1: doc-s00 relation 1 (T1->T2 ATTACKS): pair already labelled CONTROLS",
    ),
    (
        "duplicate entity",
        lambda r: r[0]["entities"].append({**r[0]["entities"][0], "id": "T3"}),
        "1: doc-s00 entity T3: duplicate of entity T1 (same span [6, 17))",
    ),
    (
        "overlapping entity",
        lambda r: r[0]["entities"].append(
            {"id": "T3", "label": "ACTOR", "start": 11, "end": 30, "text": "النظام على الميادين"}
        ),
        "1: doc-s00 entity T3: overlaps entity T1 [6, 17)",
    ),
    (
        "duplicate entity id",
        lambda r: r[1]["entities"][1].update(id="T1"),
        "2: doc-s01 entity T1: duplicate entity id",
    ),
    (
        "sentence differs from raw",
        lambda r: r[1].update(offset=33),
        "2: doc-s01: text differs from the raw article at offset 33: 'ال المرصد إن "
        "داعش انسحب من الرقة.\\n'...",
    ),
    (
        "missing field",
        lambda r: r[1]["entities"][0].pop("label"),
        "2: doc-s01 entity T1: entity lacks field 'label'",
    ),
    (
        "misspelled entity key",
        lambda r: r[1]["entities"][0].update(lable="ACTOR"),
        "2: doc-s01 entity T1: entity has unknown field 'lable'; did you mean 'label'?",
    ),
    (
        "unknown sentence key",
        lambda r: r[0].update(source="wire"),
        "1: sentence: sentence has unknown field 'source' (known: doc_id, sent_id, offset, text, "
        "entities, relations)",
    ),
    (
        "duplicate sentence id",
        lambda r: r[1].update(sent_id="doc-s00"),
        "2: doc-s00: duplicate sent_id (first on line 1)",
    ),
]


@pytest.mark.parametrize("name,fn,expected", CASES, ids=[c[0] for c in CASES])
def test_each_defect_is_reported_precisely(tmp_path, name, fn, expected):
    assert expected in messages(write(tmp_path, mutate(fn)))


def test_missing_sentence_and_bad_json(tmp_path):
    rows = good_rows()
    write(tmp_path, [rows[0], "{not json"])
    got = messages(tmp_path)
    assert (
        "2: line: invalid JSON: Expecting property name enclosed in double quotes at column 2"
        in got
    )
    assert any("0: file: missing sentence at raw offset 32" in m for m in got)


def test_problem_string_names_file_and_line(tmp_path):
    write(tmp_path, mutate(lambda r: r[0]["entities"][1].update(label="PLACE")))
    problem = validate_corpus(tmp_path / "annotations", tmp_path / "raw")[0]
    assert str(problem).startswith(
        f"{tmp_path / 'annotations' / 'doc.jsonl'}:1: doc-s00 entity T2:"
    )


def test_loader_refuses_invalid_data(tmp_path):
    write(tmp_path, mutate(lambda r: r[0]["entities"][1].update(label="PLACE")))
    with pytest.raises(AnnotationError, match="unknown label 'PLACE'"):
        read_corpus(tmp_path)


def test_script_exit_codes(tmp_path, data_dir):
    script = Path(__file__).resolve().parents[1] / "scripts" / "validate_data.py"
    ok = subprocess.run(
        [sys.executable, str(script), "--data", str(data_dir)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout
    write(tmp_path, mutate(lambda r: r[0]["relations"][0].update(tail="T9")))
    bad = subprocess.run(
        [sys.executable, str(script), "--data", str(tmp_path)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "endpoint T9 is not an entity of this sentence" in bad.stdout


def write_second_doc(tmp_path: Path, second_sent_id: str) -> Path:
    """A second article ``doc2`` (the same text) whose second sentence is ``second_sent_id``."""
    rows = good_rows()
    for row, sid in zip(rows, ["doc2-s00", second_sent_id]):
        row.update(doc_id="doc2", sent_id=sid)
    (tmp_path / "raw" / "doc2.txt").write_text(RAW, encoding="utf-8")
    path = tmp_path / "annotations" / "doc2.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_a_sent_id_reused_in_another_file_is_reported_naming_both_files_and_lines(tmp_path):
    write(tmp_path, good_rows())
    second = write_second_doc(tmp_path, "doc-s01")
    problems = validate_corpus(tmp_path / "annotations", tmp_path / "raw")
    first = tmp_path / "annotations" / "doc.jsonl"
    assert [str(p) for p in problems] == [
        f"{second}:2: doc-s01: duplicate sent_id, also in {first}:2"
    ]


@pytest.mark.parametrize("validate", [True, False])
def test_the_loader_refuses_a_sent_id_used_twice_rather_than_keeping_one(tmp_path, validate):
    write(tmp_path, good_rows())
    second = write_second_doc(tmp_path, "doc-s01")
    with pytest.raises(AnnotationError, match=f"{second}:2: doc-s01: duplicate sent_id, also in"):
        read_corpus(tmp_path, validate=validate)


def test_splits_refuse_a_sent_id_used_twice(tmp_path):
    from marsad.data.corpus import Sentence
    from marsad.data.splits import build_splits, conflict_splits

    sentences = [Sentence("a", "x-s00", 0, "نص أول"), Sentence("b", "x-s00", 0, "نص ثان")]
    with pytest.raises(ValueError, match=r"'x-s00' \(documents a and b\)"):
        build_splits(sentences)
    with pytest.raises(ValueError, match=r"'x-s00' \(documents a and b\)"):
        conflict_splits(sentences, {"a": "c1", "b": "c2"}, n_dev=1)


def test_make_splits_refuses_a_sent_id_used_twice_and_writes_nothing(tmp_path):
    write(tmp_path, good_rows())
    second = write_second_doc(tmp_path, "doc-s01")
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_splits.py"
    done = subprocess.run(
        [sys.executable, str(script), "--data", str(tmp_path), "--no-plot"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert f"{second}:2: doc-s01: duplicate sent_id" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "splits.json").exists()


def test_invalid_utf8_is_reported_with_file_line_and_byte(tmp_path):
    write(tmp_path, good_rows())
    ann = tmp_path / "annotations" / "doc.jsonl"
    lines = ann.read_bytes().split(b"\n")
    lines[1] = lines[1][:20] + b"\xff" + lines[1][20:]
    ann.write_bytes(b"\n".join(lines))
    offset = len(lines[0]) + 1 + 20
    expected = f"{ann}:2: file: invalid UTF-8 at byte offset {offset} (line 2, byte 21 of the line)"
    assert [str(p)[: len(expected)] for p in validate_corpus(ann.parent, tmp_path / "raw")] == [
        expected
    ]
    with pytest.raises(AnnotationError, match=re.escape(expected)):
        read_corpus(tmp_path, validate=False)
    with pytest.raises(AnnotationError, match=re.escape(expected)):
        read_corpus(tmp_path)


def test_invalid_utf8_in_a_raw_article_is_located_and_its_annotations_still_checked(tmp_path):
    write(tmp_path, mutate(lambda r: r[0]["entities"][1].update(label="PLACE")))
    raw = tmp_path / "raw" / "doc.txt"
    raw.write_bytes(raw.read_bytes().replace("قال".encode(), b"\xd9"))  # a truncated letter
    got = [str(p) for p in validate_corpus(tmp_path / "annotations", tmp_path / "raw")]
    offset = len(RAW.split("\n")[0].encode()) + 1
    assert got[0] == (
        f"{raw}:2: file: invalid UTF-8 at byte offset {offset} (line 2, byte 1 of the line): "
        "b'\\xd9' invalid continuation byte"
    )
    assert any("unknown label 'PLACE'" in m for m in got[1:])
