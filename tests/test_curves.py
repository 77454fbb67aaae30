"""Training curves: the log reader's errors, the figure's data, the file training writes, the
script."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import load_script, read_log

from marsad.training.curves import TrainingLogError, read_training_log, training_curves_figure


def test_training_writes_its_curves(tiny_run):
    assert (tiny_run / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tiny_run.glob("*.tmp.png"))


def test_figure_shows_each_epoch_and_marks_the_kept_one(tiny_run):
    log = read_log(tiny_run)
    fig = training_curves_figure({"a": log})
    loss_ax, dev_ax = fig.axes
    lines = {line.get_label(): line for line in dev_ax.get_lines()}
    assert list(lines["a: entity"].get_ydata()) == [r["dev_entity_f1"] for r in log]
    assert list(lines["a: relation"].get_xdata()) == list(range(1, len(log) + 1))
    kept = next(r for r in log if r["epoch"] == log[-1]["best_epoch"])
    assert list(lines["_kept"].get_xdata()) == [kept["epoch"]] * 2
    assert list(lines["_kept"].get_ydata()) == [kept["dev_entity_f1"], kept["dev_relation_f1"]]
    assert [line.get_label() for line in loss_ax.get_lines()] == ["a: tagging", "a: relations"]


def test_log_reader_names_file_and_line(tmp_path):
    log = tmp_path / "metrics.jsonl"
    with pytest.raises(TrainingLogError, match="does not exist"):
        read_training_log(log)
    log.write_text("\n")
    with pytest.raises(TrainingLogError, match="no epoch records"):
        read_training_log(log)
    good = {
        "epoch": 1,
        "tag_loss": 1.0,
        "relation_loss": 1.0,
        "dev_entity_f1": 0.5,
        "dev_relation_f1": 0.2,
        "best_epoch": 1,
    }
    log.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(TrainingLogError, match=r"metrics.jsonl:2: not JSON"):
        read_training_log(log)
    log.write_text(
        json.dumps(good)
        + "\n"
        + json.dumps({k: v for k, v in good.items() if k != "tag_loss"})
        + "\n"
    )
    with pytest.raises(TrainingLogError, match=r"metrics.jsonl:2: epoch record lacks tag_loss"):
        read_training_log(log)


def test_plot_script_overlays_runs_and_refuses_bad_ones(tiny_run, tmp_path, capsys):
    plot = load_script("scripts/plot_curves.py")
    other = tmp_path / "runs" / "seed7"
    other.mkdir(parents=True)
    shutil.copy(tiny_run / "metrics.jsonl", other / "metrics.jsonl")
    out = tmp_path / "curves.png"
    assert plot.main([str(tiny_run), str(other / "metrics.jsonl"), "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit):
        plot.main([str(other), str(other / "metrics.jsonl"), "--out", str(out)])
    assert "the same directory" in capsys.readouterr().err
    (other / "metrics.jsonl").write_text("oops\n")
    with pytest.raises(SystemExit):
        plot.main([str(other), "--out", str(out)])
    assert "metrics.jsonl:1: not JSON" in capsys.readouterr().err
