"""Batch runs survive bad documents: error records in place, exit 3, --resume, closed pipes."""

import json
import re
import shutil
import subprocess
import sys

import pytest
import torch

from marsad.commands import predict as predict_cli

GOOD = "سيطرت قوات النظام على الميادين."


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _mixed_input(path):
    rows = [
        json.dumps({"id": "a", "text": GOOD}, ensure_ascii=False).encode(),
        b"{broken",
        json.dumps({"id": "c", "body": "no text field"}).encode(),
        b"",  # blank lines are skipped in JSONL
        b'{"id": "d", "text": "\\u0642\\u0627\\u0644 \\ud800"}',  # a lone surrogate
        '{"id": "e", "text": "bad bytes \xff"}'.encode("latin-1"),
        json.dumps({"id": "f", "text": GOOD}, ensure_ascii=False).encode(),
    ]
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def test_bad_documents_become_error_records_in_place(tiny_run, tmp_path, capsys):
    src, out = _mixed_input(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    args = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--jsonl"]
    code = predict_cli.main([*args, "--output", str(out), "--docs-per-step", "2"])
    rows = _lines(out)
    assert code == predict_cli.EXIT_SKIPPED
    assert [r.get("id") for r in rows] == ["a", None, "c", "d", None, "f"]
    errors = {r["line"]: r["error"] for r in rows if "error" in r}
    assert errors[2].startswith("invalid JSON") and "string field 'text'" in errors[3]
    assert "not UTF-8" in errors[6]
    assert "entities" in rows[0] and "entities" in rows[5]
    # a lone surrogate is a separator for the model; the record keeps the text, escaped
    assert "entities" in rows[3] and rows[3]["text"].endswith("\ud800")
    assert "bad document(s) written as error records (input lines 2, 3" in capsys.readouterr().err


def test_resume_continues_from_the_last_complete_line(tiny_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(f"{GOOD} {i}" for i in range(7)) + "\n", encoding="utf-8")
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    base = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--docs-per-step", "3"]
    assert predict_cli.main([*base, "--output", str(full)]) == 0
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    part.write_text("".join(lines[:4]) + lines[4][:10], encoding="utf-8")  # a crash mid-line
    assert predict_cli.main([*base, "--output", str(part), "--resume"]) == 0
    assert part.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")


def test_missing_input_and_resume_without_output_are_one_line_errors(tiny_run, tmp_path, capsys):
    with pytest.raises(SystemExit, match="input file not found: .*nowhere.txt"):
        predict_cli.main(
            ["--checkpoint", str(tiny_run / "best"), "--input", str(tmp_path / "nowhere.txt")]
        )
    with pytest.raises(SystemExit):
        predict_cli.main(["--checkpoint", str(tiny_run / "best"), "--resume"])
    assert "--resume needs --output" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(tiny_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n".join([GOOD] * 200) + "\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "marsad.cli", "predict", "--checkpoint", str(tiny_run / "best")]
    proc = subprocess.Popen(
        [*cmd, "--input", str(src), "--docs-per-step", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and json.loads(first)["text"] == GOOD
    assert "Traceback" not in err and "BrokenPipeError" not in err


def _strict(line):
    """A line as strict JSON: NaN and Infinity are refused, as any JSON reader but Python's."""
    return json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} written: {line}"))


def test_lines_python_cannot_read_are_error_records_and_resume_goes_past_them(tiny_run, tmp_path):
    good = json.dumps({"id": "a", "text": GOOD}, ensure_ascii=False)
    rows = [
        good,
        '{"id": "b", "text": "x", "n": ' + "9" * 5000 + "}",  # past int max-str-digits
        "[" * 5000 + "]" * 5000,  # deeper than the recursion limit
        f'{{"id": "d", "text": "{GOOD}", "score": NaN}}',  # json.loads takes these three
        f'{{"id": "e", "text": "{GOOD}", "score": -Infinity}}',
        f'{{"id": "f", "text": "{GOOD}", "score": 1e999}}',
        good.replace('"a"', '"g"'),
    ]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--jsonl"]
    assert predict_cli.main([*args, "--output", str(out), "--docs-per-step", "2"]) == 3
    records = [_strict(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in records] == ["a", None, None, None, None, None, "g"]
    errors = {r["line"]: r["error"] for r in records if "error" in r}
    assert sorted(errors) == [2, 3, 4, 5, 6]
    assert "5000 digits" in errors[2] and "nested too deeply" in errors[3]
    assert "NaN" in errors[4] and "Infinity" in errors[5] and "out of range" in errors[6]
    # a crash just before the huge number: --resume reads it as an error record and goes on
    full = out.read_text(encoding="utf-8")
    out.write_text("".join(full.splitlines(keepends=True)[:1]), encoding="utf-8")
    assert predict_cli.main([*args, "--output", str(out), "--resume"]) == 3
    assert out.read_text(encoding="utf-8") == full


def _interrupt_at_step(monkeypatch, n):
    """Ctrl-C while the ``n``-th step is being predicted (the steps before it are written)."""
    real, calls = predict_cli._predict_step, []

    def step(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_cli, "_predict_step", step)
    return lambda: monkeypatch.setattr(predict_cli, "_predict_step", real)


def test_after_ctrl_c_resume_reports_the_whole_outputs_error_records(
    tiny_run, tmp_path, monkeypatch, capsys
):
    src = _mixed_input(tmp_path / "in.jsonl")  # error records at input lines 2, 3 and 6
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    base = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--jsonl"]
    base += ["--docs-per-step", "3"]
    assert predict_cli.main([*base, "--output", str(full)]) == predict_cli.EXIT_SKIPPED
    capsys.readouterr()
    restore = _interrupt_at_step(monkeypatch, 2)
    assert predict_cli.main([*base, "--output", str(part)]) == predict_cli.EXIT_INTERRUPTED
    assert "3 document(s), to input line 3, are in" in capsys.readouterr().err
    restore()
    assert predict_cli.main([*base, "--output", str(part), "--resume"]) == 3
    err = capsys.readouterr().err
    assert "3 bad document(s) written as error records (input lines 2, 3, 6)" in err
    assert "2 of them by the run resumed" in err
    assert part.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")


def test_resume_refuses_the_output_of_another_input(tiny_run, tmp_path, capsys):
    first, other = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(f"{GOOD}\n{GOOD} 2\n", encoding="utf-8")
    other.write_text(f"{GOOD} 3\n{GOOD}\n", encoding="utf-8")  # same size, other bytes
    out = tmp_path / "out.jsonl"
    ckpt = ["--checkpoint", str(tiny_run / "best")]
    assert predict_cli.main([*ckpt, "--input", str(first), "--output", str(out)]) == 0
    record = json.loads((tmp_path / "out.jsonl.marsad-resume.json").read_text(encoding="utf-8"))
    assert record["size"] == first.stat().st_size and record["input"].endswith("a.txt")
    for flags, reason in (
        (["--input", str(other)], "whose first bytes differ"),
        (["--input", str(first), "--jsonl"], "written without --jsonl"),
    ):
        with pytest.raises(SystemExit, match=f"does not continue this input: .*{reason}"):
            predict_cli.main([*ckpt, *flags, "--output", str(out), "--resume"])
    other.write_text(f"{GOOD}\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="of 118 bytes, not 58"):
        predict_cli.main([*ckpt, "--input", str(other), "--output", str(out), "--resume"])
    # the same input, copied elsewhere, continues
    copy = tmp_path / "copy.txt"
    copy.write_bytes(first.read_bytes())
    assert predict_cli.main([*ckpt, "--input", str(copy), "--output", str(out), "--resume"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


def _one_line_exit(args, match):
    """``main(args)`` stops with one ``marsad predict: ...`` line matching ``match``."""
    with pytest.raises(SystemExit) as stop:
        predict_cli.main(args)
    message = str(stop.value.code)
    assert message.startswith("marsad predict: ") and "\n" not in message, message
    assert re.search(match, message), message


def test_checkpoint_output_and_device_problems_are_one_line_errors(tiny_run, tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text(GOOD + "\n", encoding="utf-8")
    base = ["--input", str(src)]
    ckpt = ["--checkpoint", str(tiny_run / "best")]
    _one_line_exit(["--checkpoint", str(tmp_path / "nowhere"), *base], "cannot load.*not exist")
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_run / "best", damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    _one_line_exit(["--checkpoint", str(damaged), *base], f"cannot load.*{weights.name}")
    for output, extra in (
        (tmp_path / "no" / "dir" / "out.jsonl", []),
        (tmp_path / "no" / "dir" / "out.csv", ["--format", "csv"]),
        (tmp_path, []),  # a directory
    ):
        _one_line_exit([*ckpt, *base, *extra, "--output", str(output)], str(output.name))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _one_line_exit([*ckpt, *base, "--device", "cuda"], "--device cuda: no CUDA GPU")


def test_jsonl_and_whole_together_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        predict_cli.main(["--checkpoint", str(tmp_path), "--jsonl", "--whole"])
    assert "--whole reads the input as one plain-text document" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_interrupted_table_keeps_its_finished_rows(fmt, tiny_run, tmp_path, monkeypatch, capsys):
    import pandas as pd

    src = tmp_path / "in.jsonl"
    rows = [{"id": f"d{i}", "text": f"{GOOD} {i}"} for i in range(6)]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    full, out = tmp_path / f"full.{fmt}", tmp_path / f"out.{fmt}"
    base = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--jsonl"]
    base += ["--format", fmt, "--docs-per-step", "2"]
    assert predict_cli.main([*base, "--output", str(full)]) == 0
    _interrupt_at_step(monkeypatch, 3)
    assert predict_cli.main([*base, "--output", str(out)]) == predict_cli.EXIT_INTERRUPTED
    partial = tmp_path / f"out.{fmt}.partial"
    assert f"the rows of 4 document(s), to input line 4, are in {partial}" in (
        capsys.readouterr().err
    )
    assert not out.exists()
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    expected = read(full)
    expected = expected[expected["doc_id"].isin({"d0", "d1", "d2", "d3"})]
    assert len(expected) > 0
    pd.testing.assert_frame_equal(read(partial), expected.reset_index(drop=True))


def test_a_table_keeps_no_half_written_step(tmp_path):
    from marsad.tables import COLUMNS, TableWriter

    row = {c: None for c, _ in COLUMNS["mentions"]}
    row.update(doc_id="a", sentence=0, mention=0, label="ACTOR", text="x", start=0, end=1)
    writer = TableWriter(tmp_path / "m.csv", "csv", "mentions")
    writer.write([row])
    with pytest.raises(ValueError):  # the second row fails after the first was written
        writer.write([row, {**row, "unknown column": 1}])
    partial = writer.abort()
    assert partial == tmp_path / "m.csv.partial"
    assert partial.read_text(encoding="utf-8").splitlines()[1:] == ["a,0,0,ACTOR,x,0,1,"]
