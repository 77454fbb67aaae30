"""``marsad import`` against hostile inputs (#37): nothing lost, nobody let in. An existing document
is not replaced unless asked; a doc_id cannot name a file outside ``--out``; an unknown layout, a
float offset, bad UTF-8 or a malformed Label Studio result is a located error, never a crash or a
silent drop; brat files with CRLF line ends or a BOM import with exact offsets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from marsad.annotation.records import write_documents
from marsad.commands import export_annotations, import_annotations
from tests.test_annotation_tools import (
    DOCCANO_LINE,
    EXPECTED_ENTITIES,
    LS_EXPORT,
    TEXT,
    hand_written,
    write,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data"


def run_import(fmt: str, inputs: list[str], out: Path, *extra: str) -> int:
    return import_annotations.main(["--format", fmt, *inputs, "--out", str(out), *extra])


def gold_tasks(tmp_path: Path) -> tuple[list[dict], str]:
    """The seed corpus as Label Studio annotations, and the name of its first document."""
    exported = tmp_path / "ls"
    assert export_annotations.main(["--format", "labelstudio", "--out", str(exported)]) == 0
    tasks = json.loads((exported / "tasks.json").read_text(encoding="utf-8"))
    return tasks, tasks[0]["data"]["doc_id"]


# ---- 1. an existing document is not replaced unless asked


def test_a_partial_export_does_not_cut_an_existing_document_unless_asked(tmp_path, capsys):
    tasks, doc = gold_tasks(tmp_path)
    out = tmp_path / "annotations"
    full = write(tmp_path / "full.json", json.dumps(tasks, ensure_ascii=False))
    assert run_import("labelstudio", [str(full)], out) == 0
    gold = (out / f"{doc}.jsonl").read_bytes()
    doc_tasks = [t for t in tasks if t["data"]["doc_id"] == doc]
    lost = [t["data"]["sent_id"] for t in doc_tasks[3:]]
    assert len(lost) >= 2
    partial = write(tmp_path / "partial.json", json.dumps(doc_tasks[:3], ensure_ascii=False))
    capsys.readouterr()

    assert run_import("labelstudio", [str(partial)], out) == 1
    err = capsys.readouterr().err
    assert f"{doc}.jsonl" in err and "--overwrite" in err
    assert all(sent_id in err for sent_id in lost)
    assert (out / f"{doc}.jsonl").read_bytes() == gold

    # the same document again: nothing would be lost, but it is still not replaced unasked
    assert run_import("labelstudio", [str(full)], out) == 1
    assert "exists" in capsys.readouterr().err

    assert run_import("labelstudio", [str(partial)], out, "--overwrite") == 0
    err = capsys.readouterr().err
    assert all(sent_id in err for sent_id in lost)  # said, even when asked
    assert len((out / f"{doc}.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp file left


# ---- 2. a doc_id names one file inside --out, or the document is not written

BAD_DOC_IDS = [
    "../escaped",
    "../../escaped",
    "<absolute>",  # replaced by a path under the test's own directory
    "sub/escaped",
    "sub\\escaped",
    None,
    "",
    ".",
    "..",
    ".hidden",
    "nul\x00byte",
    "line\nbreak",
    " padded",
    "x" * 300,
    7,
]


@pytest.mark.parametrize("fmt", ["labelstudio", "doccano"])
@pytest.mark.parametrize("doc_id", BAD_DOC_IDS, ids=[repr(d)[:20] for d in BAD_DOC_IDS])
def test_an_unsafe_doc_id_is_a_located_error_and_nothing_is_written(fmt, doc_id, tmp_path, capsys):
    doc_id = str(tmp_path / "escaped") if doc_id == "<absolute>" else doc_id
    if fmt == "labelstudio":
        tasks = json.loads(json.dumps(LS_EXPORT))
        tasks[0]["data"]["doc_id"] = doc_id
        inputs = hand_written(fmt, tmp_path, tasks=tasks)
        where = "export.json task 41"
    else:
        line = {**DOCCANO_LINE, "doc_id": doc_id}
        inputs = hand_written(fmt, tmp_path, line=line)
        where = "hama.jsonl:1"
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "work" / "out"
    assert run_import(fmt, inputs, out) == 1
    err = capsys.readouterr().err
    assert where in err and "doc_id" in err
    assert sorted(tmp_path.rglob("*")) == before  # not even --out was made


def test_a_label_studio_task_id_used_as_doc_id_is_checked_too(tmp_path, capsys):
    tasks = json.loads(json.dumps(LS_EXPORT))
    tasks[0]["id"] = "../escaped"  # no data.doc_id: the document is named after the task
    out = tmp_path / "out"
    assert run_import("labelstudio", hand_written("labelstudio", tmp_path, tasks=tasks), out) == 1
    assert "task ../escaped" in capsys.readouterr().err
    assert not (tmp_path / "escaped.jsonl").exists() and not out.exists()


def test_a_document_file_linked_outside_out_is_not_written_through(tmp_path, capsys):
    elsewhere = write(tmp_path / "elsewhere.jsonl", "kept\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "hama.jsonl").symlink_to(elsewhere)
    line = {**DOCCANO_LINE, "doc_id": "hama"}
    inputs = hand_written("doccano", tmp_path, line=line)
    assert run_import("doccano", inputs, out, "--overwrite") == 1
    assert "resolves outside" in capsys.readouterr().err
    assert elsewhere.read_text(encoding="utf-8") == "kept\n"
    assert (out / "hama.jsonl").is_symlink()


def test_write_documents_refuses_a_path_outside_its_directory(tmp_path):
    with pytest.raises(ValueError, match="doc_id '../x'"):
        write_documents({"../x": [{"offset": 0}]}, tmp_path / "out")
    assert not (tmp_path / "x.jsonl").exists()


# ---- 4. doccano: both layouts read, anything else refused by name, offsets are integers


def test_a_doccano_sequence_labelling_export_imports_its_entities(tmp_path):
    line = {"id": 7, "text": TEXT, "label": [[27, 31, "LOCATION"], [5, 20, "ACTOR"]]}
    out = tmp_path / "out"
    assert run_import("doccano", hand_written("doccano", tmp_path, line=line), out) == 0
    (record,) = [json.loads(x) for x in (out / "line1.jsonl").read_text("utf-8").splitlines()]
    assert record["entities"] == EXPECTED_ENTITIES and record["relations"] == []


REFUSED = [
    ({"id": 7, "text": TEXT, "label": ["violent", "urban"]}, "text-classification layout"),
    ({"id": 7, "text": TEXT}, "unknown doccano layout"),
    ({"id": 7, "text": TEXT, "spans": [[5, 20, "ACTOR"]]}, "unknown doccano layout"),
    ({**DOCCANO_LINE, "label": [[5, 20, "ACTOR"]]}, "both 'entities' and 'label'"),
    ({**DOCCANO_LINE, "entities": {"a": 1}}, "'entities' is not a list"),
    ({**DOCCANO_LINE, "relations": "ATTACKS"}, "'relations' is not a list"),
    ({"id": 7, "text": TEXT, "label": [[5, 20, "ACTOR"], [27, 31]]}, "[start, end, label]"),
    ({"id": 7, "text": TEXT, "label": [[5.0, 20, "ACTOR"]]}, "start 5.0 is not an integer"),
    ({"id": 7, "text": TEXT, "label": [[5, 20.5, "ACTOR"]]}, "end 20.5 is not an integer"),
]


@pytest.mark.parametrize("line,message", REFUSED, ids=[m for _, m in REFUSED])
def test_a_doccano_line_in_another_layout_is_refused_by_name(line, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_import("doccano", hand_written("doccano", tmp_path, line=line), out) == 1
    err = capsys.readouterr().err
    assert message in err and "hama.jsonl:1" in err
    assert not out.exists()


@pytest.mark.parametrize("value", [5.0, 5.5, True, "5"])
def test_a_doccano_relation_layout_offset_that_is_not_an_integer_is_refused(
    value, tmp_path, capsys
):
    line = json.loads(json.dumps(DOCCANO_LINE))
    line["entities"][1]["start_offset"] = value
    assert run_import("doccano", hand_written("doccano", tmp_path, line=line), tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert f"start_offset {value!r} is not an integer" in err and "hama.jsonl:1" in err


# ---- 11. bad UTF-8 names the file and byte; malformed Label Studio results name the task


@pytest.mark.parametrize("fmt", ["labelstudio", "brat", "doccano"])
def test_invalid_utf8_is_a_located_error(fmt, tmp_path, capsys):
    inputs = hand_written(fmt, tmp_path)
    path = Path(inputs[0])
    if fmt == "brat":
        path = path.with_suffix(".ann")
    data = path.read_bytes()
    cut = data.index("حماة".encode())  # the first byte of a two-byte character
    path.write_bytes(data[:cut] + b"\xff" + data[cut + 1 :])
    out = tmp_path / "out"
    assert run_import(fmt, inputs, out) == 1
    err = capsys.readouterr().err
    assert f"{path}: invalid UTF-8 at byte {cut}" in err
    assert not out.exists()


def _ls_with(change) -> list:
    tasks = json.loads(json.dumps(LS_EXPORT))
    change(tasks[0]["annotations"][1])
    return tasks


MALFORMED = {
    "value is a list": (lambda a: a["result"][0].update(value=[27, 31]), "value is not an object"),
    "value is a string": (lambda a: a["result"][0].update(value="x"), "value is not an object"),
    "region is a string": (lambda a: a["result"].__setitem__(0, "xK9a"), "result 0 is not an"),
    "region is a number": (lambda a: a["result"].__setitem__(0, 3), "result 0 is not an object"),
    "result is an object": (lambda a: a.update(result={"id": "xK9a"}), "result is not a list"),
    "result is a number": (lambda a: a.update(result=3), "result is not a list"),
    "labels is a string": (
        lambda a: a["result"][0]["value"].update(labels="LOCATION"),
        "labels is not a list",
    ),
    "start is a boolean": (
        lambda a: a["result"][0]["value"].update(start=True),
        "start True is not an integer",
    ),
    "relation labels is a string": (
        lambda a: a["result"][2].update(labels="ATTACKS"),
        "labels is not a list",
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_label_studio_result_is_a_located_error(name, tmp_path, capsys):
    change, message = MALFORMED[name]
    inputs = hand_written("labelstudio", tmp_path, tasks=_ls_with(change))
    out = tmp_path / "out"
    assert run_import("labelstudio", inputs, out) == 1
    err = capsys.readouterr().err
    assert "export.json task 41" in err and message in err
    assert not out.exists()


@pytest.mark.parametrize("annotations", [{"id": 2}, 3, "done"])
def test_label_studio_annotations_that_are_not_a_list_are_a_located_error(
    annotations, tmp_path, capsys
):
    tasks = json.loads(json.dumps(LS_EXPORT))
    tasks[0]["annotations"] = annotations
    inputs = hand_written("labelstudio", tmp_path, tasks=tasks)
    assert run_import("labelstudio", inputs, tmp_path / "out") == 1
    assert "export.json task 41: annotations is not a list" in capsys.readouterr().err


# ---- 13. brat: CRLF line ends and a BOM import with exact offsets


def as_written_by_windows(txt: str, ann: str) -> tuple[str, str]:
    """The exported ``.txt`` with a BOM and CRLF line ends, and its ``.ann`` with the offsets brat
    gives on that file (every character counts, the BOM and each CR included)."""
    lf = [i for i, c in enumerate(txt) if c == "\n"]

    def moved(offset: int) -> int:
        return offset + 1 + sum(1 for i in lf if i < offset)

    def shift(line: str) -> str:
        if not line.startswith("T"):
            return line
        ident, span, surface = line.split("\t")
        label, a, b = span.split(" ")
        return f"{ident}\t{label} {moved(int(a))} {moved(int(b))}\t{surface}"

    return "\ufeff" + txt.replace("\n", "\r\n"), "".join(shift(x) + "\n" for x in ann.splitlines())


def test_brat_files_with_crlf_and_a_bom_import_byte_for_byte(tmp_path):
    exported, back = tmp_path / "brat", tmp_path / "back"
    assert export_annotations.main(["--format", "brat", "--out", str(exported)]) == 0
    for txt_path in sorted(exported.glob("*.txt")):
        ann_path = txt_path.with_suffix(".ann")
        txt, ann = as_written_by_windows(
            txt_path.read_text(encoding="utf-8"), ann_path.read_text(encoding="utf-8")
        )
        txt_path.write_bytes(txt.encode("utf-8"))
        ann_path.write_bytes(ann.replace("\n", "\r\n").encode("utf-8"))
    assert run_import("brat", [str(exported)], back) == 0
    originals = sorted((SEEDS / "annotations").glob("*.jsonl"))
    assert [p.name for p in sorted(back.glob("*.jsonl"))] == [p.name for p in originals]
    for path in originals:
        assert (back / path.name).read_bytes() == path.read_bytes(), path.name


def test_brat_offsets_counted_without_the_crs_are_refused_saying_why(tmp_path, capsys):
    txt = "جملة أولى.\r\n" + TEXT + "\r\n"
    first = len("جملة أولى.\n")  # offsets of an LF copy of the file, not of this one
    ann = f"T1\tLOCATION {first + 27} {first + 31}\tحماة\n"
    write(tmp_path / "in" / "hama.ann", ann)
    (tmp_path / "in" / "hama.txt").write_bytes(txt.encode("utf-8"))
    assert run_import("brat", [str(tmp_path / "in")], tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "hama.ann:1" in err and re.search(r"CRLF|\\r", err)


def test_export_of_a_corpus_file_that_is_not_utf8_names_it(tmp_path):
    from marsad.commands.export_annotations import main as export_main

    annotations = tmp_path / "data" / "annotations"
    annotations.mkdir(parents=True)
    (annotations / "doc.jsonl").write_bytes(b'{"doc_id": "doc"}\n{"text": "\xff"}\n')
    with pytest.raises(SystemExit) as stop:
        export_main(
            ["--format", "brat", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "o")]
        )
    assert (
        "doc.jsonl" in str(stop.value)
        and "invalid UTF-8" in str(stop.value)
        and "line 2" in str(stop.value)
    )
