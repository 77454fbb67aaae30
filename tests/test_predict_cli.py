"""Batch runs survive bad documents: error records in place, exit 3, --resume, closed pipes."""

import json
import subprocess
import sys

import pytest

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
