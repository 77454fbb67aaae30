"""Round trips with Label Studio, brat and doccano: export then import gives back every corpus file
byte for byte; hand-written files in each tool's format import; defects are located, not
snapped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marsad.commands import export_annotations, import_annotations

ROOT = Path(__file__).resolve().parents[1]
CORPORA = [ROOT / "data", ROOT / "data" / "team"]
FORMATS = ["labelstudio", "brat", "doccano"]


def import_args(fmt: str, exported: Path) -> list[str]:
    if fmt == "labelstudio":
        return [str(exported / "tasks.json")]
    if fmt == "brat":
        return [str(exported)]
    return [str(p) for p in sorted(exported.glob("*.jsonl"))]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("corpus", CORPORA, ids=["seeds", "team"])
def test_export_then_import_gives_back_every_file_byte_for_byte(fmt, corpus, tmp_path):
    exported, back = tmp_path / "exported", tmp_path / "back"
    args = ["--format", fmt, "--data", str(corpus), "--out", str(exported)]
    assert export_annotations.main(args) == 0
    args = ["--format", fmt, *import_args(fmt, exported), "--out", str(back)]
    assert import_annotations.main(args) == 0
    originals = sorted((corpus / "annotations").glob("*.jsonl"))
    assert sorted(p.name for p in back.glob("*.jsonl")) == [p.name for p in originals]
    for path in originals:
        assert (back / path.name).read_bytes() == path.read_bytes(), path.name


def test_label_studio_export_is_the_tool_format_with_a_matching_config(tmp_path):
    assert export_annotations.main(["--format", "labelstudio", "--out", str(tmp_path)]) == 0
    tasks = json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))
    config = (tmp_path / "label_config.xml").read_text(encoding="utf-8")
    result = next(t for t in tasks if len(t["annotations"][0]["result"]) > 2)
    result = result["annotations"][0]["result"]
    region = next(r for r in result if r["type"] == "labels")
    assert region["from_name"] == "label" and region["to_name"] == "text"
    assert set(region["value"]) == {"start", "end", "text", "labels"}
    relation = next(r for r in result if r["type"] == "relation")
    assert {"from_id", "to_id", "labels"} <= set(relation)
    assert (
        '<Labels name="label" toName="text">' in config and '<Relation value="ATTACKS"/>' in config
    )


def test_label_studio_pre_annotations_carry_scores_and_are_not_imported_as_gold(
    tiny_run, tmp_path, capsys
):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "doc1.txt").write_text("سيطرت قوات النظام على الميادين. قصف التحالف الرقة.\n", "utf-8")
    out = tmp_path / "ls"
    args = ["--format", "labelstudio", "--out", str(out), "--checkpoint", str(tiny_run / "best")]
    assert export_annotations.main([*args, "--raw", str(raw)]) == 0
    tasks = json.loads((out / "tasks.json").read_text(encoding="utf-8"))
    assert [t["data"]["sent_id"] for t in tasks] == ["doc1-s00", "doc1-s01"]
    assert all("annotations" not in t and t["predictions"][0]["model_version"] for t in tasks)
    regions = [r for t in tasks for r in t["predictions"][0]["result"] if r["type"] == "labels"]
    assert all(0 <= r["score"] <= 1 for r in regions)
    assert import_annotations.main(["--format", "labelstudio", str(out / "tasks.json"),
                                    "--out", str(tmp_path / "back")]) == 1  # fmt: skip
    assert "task 0: doc1-s00: no annotation (predictions are not gold)" in capsys.readouterr().err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


TEXT = "قصفت القوات الحكومية مدينة حماة"
# a Label Studio export as the tool writes it: region ids are random strings, a cancelled
# annotation before the real one, extra keys everywhere
LS_EXPORT = [
    {
        "id": 41,
        "data": {"text": TEXT},
        "annotations": [
            {"id": 1, "was_cancelled": True, "result": []},
            {
                "id": 2,
                "completed_by": 3,
                "result": [
                    {"value": {"start": 27, "end": 31, "text": "حماة", "labels": ["LOCATION"]},
                     "id": "xK9a", "from_name": "label", "to_name": "text", "type": "labels",
                     "origin": "manual"},
                    {"value": {"start": 5, "end": 20, "text": "القوات الحكومية",
                               "labels": ["ACTOR"]},
                     "id": "b7Qe", "from_name": "label", "to_name": "text", "type": "labels"},
                    {"from_id": "b7Qe", "to_id": "xK9a", "type": "relation",
                     "direction": "right", "labels": ["ATTACKS"]},
                ],
            },
        ],
        "predictions": [],
    }
]  # fmt: skip
BRAT_ANN = (
    "T1\tACTOR 5 20\tالقوات الحكومية\nT2\tLOCATION 27 31\tحماة\nR1\tATTACKS Arg1:T1 Arg2:T2\n"
)
DOCCANO_LINE = {
    "id": 7,
    "text": TEXT,
    "entities": [
        {"id": 12, "label": "LOCATION", "start_offset": 27, "end_offset": 31},
        {"id": 11, "label": "ACTOR", "start_offset": 5, "end_offset": 20},
    ],
    "relations": [{"id": 3, "from_id": 11, "to_id": 12, "type": "ATTACKS"}],
    "Comments": [],
}
EXPECTED_ENTITIES = [
    {"id": "T1", "label": "ACTOR", "start": 5, "end": 20, "text": "القوات الحكومية"},
    {"id": "T2", "label": "LOCATION", "start": 27, "end": 31, "text": "حماة"},
]


def hand_written(fmt: str, tmp_path: Path, ann: str = BRAT_ANN, line: dict = DOCCANO_LINE,
                 tasks: list = LS_EXPORT) -> list[str]:  # fmt: skip
    if fmt == "labelstudio":
        return [str(write(tmp_path / "export.json", json.dumps(tasks, ensure_ascii=False)))]
    if fmt == "brat":
        write(tmp_path / "in" / "hama.ann", ann)
        return [str(write(tmp_path / "in" / "hama.txt", TEXT + "\n"))]
    return [str(write(tmp_path / "hama.jsonl", json.dumps(line, ensure_ascii=False) + "\n"))]


@pytest.mark.parametrize("fmt", FORMATS)
def test_hand_written_files_in_each_tools_format_import(fmt, tmp_path):
    out = tmp_path / "out"
    assert (
        import_annotations.main(["--format", fmt, *hand_written(fmt, tmp_path), "--out", str(out)])
        == 0
    )
    (path,) = out.glob("*.jsonl")
    (record,) = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert record["text"] == TEXT and record["offset"] == 0
    assert record["entities"] == EXPECTED_ENTITIES
    assert record["relations"] == [{"head": "T1", "tail": "T2", "label": "ATTACKS"}]


def _ls(start=5, end=20, label="ACTOR", rel="ATTACKS", to_id="xK9a"):
    tasks = json.loads(json.dumps(LS_EXPORT))
    result = tasks[0]["annotations"][1]["result"]
    result[1]["value"].update(start=start, end=end, text=TEXT[start:end], labels=[label])
    result[2].update(labels=[rel], to_id=to_id)
    return tasks


def _doccano(start=5, end=20, label="ACTOR", rel="ATTACKS", to_id=12):
    line = json.loads(json.dumps(DOCCANO_LINE))
    line["entities"][1].update(start_offset=start, end_offset=end, label=label)
    line["relations"][0].update(type=rel, to_id=to_id)
    return line


def _brat(start=5, end=20, label="ACTOR", rel="ATTACKS", to_id="T2"):
    return (f"T1\t{label} {start} {end}\t{TEXT[start:end]}\nT2\tLOCATION 27 31\tحماة\n"
            f"R1\t{rel} Arg1:T1 Arg2:{to_id}\n")  # fmt: skip


DEFECTS = [
    ({"start": 6}, "start 6 is not on a word boundary"),
    ({"label": "PERSON"}, "unknown label 'PERSON'"),
    ({"rel": "CONTROLS_X"}, "unknown relation label 'CONTROLS_X'"),
    ({"rel": "SUPPORTS"}, "SUPPORTS needs ACTOR -> ACTOR, got ACTOR -> LOCATION"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("defect,message", DEFECTS, ids=["boundary", "label", "relation", "types"])
def test_defects_are_located_and_their_document_not_written(fmt, defect, message, tmp_path, capsys):
    make = {"labelstudio": _ls, "brat": _brat, "doccano": _doccano}[fmt]
    bad = make(**defect)
    kwargs = {"labelstudio": {"tasks": bad}, "brat": {"ann": bad}, "doccano": {"line": bad}}[fmt]
    inputs = hand_written(fmt, tmp_path, **kwargs)
    out = tmp_path / "out"
    assert import_annotations.main(["--format", fmt, *inputs, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err
    where = {"labelstudio": "export.json task 41", "brat": "hama.ann", "doccano": "hama.jsonl:1"}
    assert where[fmt] in err
    assert not list(out.glob("*.jsonl"))
    # --skip-invalid: the document without its invalid sentence (here: its only one)
    assert (
        import_annotations.main(["--format", fmt, *inputs, "--out", str(out), "--skip-invalid"])
        == 0
    )
    assert not list(out.glob("*.jsonl"))


@pytest.mark.parametrize("fmt", ["labelstudio", "doccano"])
def test_a_relation_with_a_missing_end_is_located(fmt, tmp_path, capsys):
    bad = _ls(to_id="nope") if fmt == "labelstudio" else _doccano(to_id=99)
    kwargs = {"tasks": bad} if fmt == "labelstudio" else {"line": bad}
    inputs = hand_written(fmt, tmp_path, **kwargs)
    assert import_annotations.main(["--format", fmt, *inputs, "--out", str(tmp_path / "o")]) == 1
    assert "is not an entity of this sentence" in capsys.readouterr().err


def test_brat_defects_no_sentence_owns_are_located(tmp_path, capsys):
    for ann, message in (
        ("T1\tACTOR 5 11;12 20\tالقوات الحكومية\n", "discontinuous span"),
        (
            "T1\tACTOR 5 20\tالقوات الحكومية\nR1\tATTACKS Arg1:T1 Arg2:T9\n",
            "argument T9 is not a span",
        ),
        ("E1\tAttack:T1\n", "unsupported annotation kind 'E'"),
        ("T1\tACTOR 5 20\tالقوات\n", "is not the .txt's [5:20]"),
    ):
        inputs = hand_written("brat", tmp_path, ann=ann)
        assert (
            import_annotations.main(["--format", "brat", *inputs, "--out", str(tmp_path / "o")])
            == 1
        )
        err = capsys.readouterr().err
        assert message in err and "hama.ann:" in err
