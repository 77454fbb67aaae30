"""Replaying a run's checkpoint selection from its logs, and cross-fitting selection rules on
dev."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from experiments.selection import DevLog, DevLogError, cross_fit, read_dev_log, replay_selection
from marsad.training.selection import selection_score
from tests.conftest import load_script, read_log


def test_replay_keeps_the_first_strict_best_after_warmup_and_stops_on_patience():
    ent = [0.9, 0.5, 0.6, 0.6, 0.55, 0.7, 0.95]
    rel = [0.9, 0.2, 0.1, 0.3, 0.1, 0.0, 0.0]
    selectable = [False] + [True] * 6  # epoch 1 warms up: its 1.8 never counts
    assert (
        replay_selection(ent, rel, selectable, "entity+relation", patience=0) == 6
    )  # 0.95 > 0.9 (epoch 4)
    assert (
        replay_selection(ent, rel, selectable, "entity+relation", patience=2) == 3
    )  # stops after 5, 6
    assert replay_selection(ent, rel, selectable, "entity", patience=0) == 6
    # epoch 4 ties epoch 3's 0.6 and wins on relation F1; epoch 5 is stale and ends a patience of 1
    assert replay_selection(ent, rel, selectable, "entity", patience=1) == 3
    assert (
        replay_selection(ent, [0.0] * 7, selectable, "entity", patience=1) == 2
    )  # a full tie keeps the first
    assert replay_selection(ent, rel, [False] * 7, "entity", patience=0) == -1
    assert selection_score("entity", 0.8, 0.3) == (0.8, 0.3)
    with pytest.raises(ValueError, match="unknown selection metric 'relation'"):
        selection_score("relation", 0.8, 0.3)


def test_real_run_log_sums_to_its_dev_scores_and_replays_its_kept_epoch(tiny_run):
    log = read_dev_log(
        tiny_run
    )  # checks every epoch's per-sentence counts against the logged dev F1
    records = read_log(tiny_run)
    assert log.epochs == [r["epoch"] for r in records] and len(log.sentence_ids) > 2
    f1 = log.f1()
    kept = replay_selection(f1[:, 0], f1[:, 1], log.selectable, "entity+relation", patience=0)
    assert log.epochs[kept] == records[-1]["best_epoch"]


def test_dev_log_disagreeing_with_metrics_is_refused_naming_the_line(tiny_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("metrics.jsonl", "dev_sentences.jsonl"):
        shutil.copy(tiny_run / name, run / name)
    lines = (run / "dev_sentences.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    sid = next(s for s, c in row["sentences"].items() if sum(c["entity micro-F1"]) > 0)
    tp, fp, fn = row["sentences"][sid]["entity micro-F1"]
    row["sentences"][sid]["entity micro-F1"] = [
        tp + 1,
        fp,
        fn + 1,
    ]  # a changed count, same sentence
    (run / "dev_sentences.jsonl").write_text(
        "\n".join([lines[0], json.dumps(row), *lines[2:]]) + "\n"
    )
    with pytest.raises(
        DevLogError, match=r"metrics.jsonl:2: dev F1 .* but .*dev_sentences.jsonl sums to"
    ):
        read_dev_log(run)
    (run / "dev_sentences.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(
        DevLogError, match=r"dev_sentences.jsonl has epochs \[1, .*\], .*metrics.jsonl has"
    ):
        read_dev_log(run)
    (run / "dev_sentences.jsonl").unlink()
    with pytest.raises(DevLogError, match=r"dev_sentences.jsonl does not exist"):
        read_dev_log(run)


def _log(per_epoch: list[list[tuple[tuple[int, int, int], tuple[int, int, int]]]]) -> DevLog:
    counts = np.asarray(per_epoch, dtype=np.int64)
    return DevLog(
        run=None,
        epochs=list(range(1, len(per_epoch) + 1)),
        selectable=[True] * len(per_epoch),
        sentence_ids=[f"s{i}" for i in range(counts.shape[1])],
        counts=counts,
    )


def test_cross_fit_on_identical_sentences_scores_the_full_dev_choice():
    # every sentence alike: each half scores as the whole, so the held-out score is the full-dev
    # choice's
    epochs = [((2, 1, 1), (0, 1, 1)), ((3, 0, 0), (0, 0, 1)), ((2, 0, 1), (1, 0, 0))]
    log = _log([[e] * 6 for e in epochs])
    f1 = log.f1()
    fits = cross_fit(log, ["entity", "entity+relation"], patience=0, n_splits=5)
    assert fits["entity"].entity_f1 == pytest.approx(f1[1, 0]) and fits["entity"].mean_epoch == 2
    assert (
        fits["entity+relation"].objective == pytest.approx(f1[2].sum())
        and fits["entity+relation"].mean_epoch == 3
    )


def test_cross_fit_scores_on_the_half_it_did_not_select_on():
    # sentence 0 favours epoch 1, sentence 1 epoch 2: selecting on one always loses on the other
    log = _log(
        [
            [((1, 0, 0), (0, 0, 0)), ((0, 1, 1), (0, 0, 0))],
            [((0, 1, 1), (0, 0, 0)), ((1, 0, 0), (0, 0, 0))],
        ]
    )
    fit = cross_fit(log, ["entity"], patience=0, n_splits=20, seed=3)["entity"]
    assert fit.entity_f1 == 0.0 and fit.relation_f1 == 0.0 and fit.mean_epoch == 1.5
    assert cross_fit(log, ["entity"], 0, 20, seed=3) == cross_fit(log, ["entity"], 0, 20, seed=3)
    with pytest.raises(DevLogError, match="1 dev sentence"):
        cross_fit(_log([[((1, 0, 0), (0, 0, 0))]]), ["entity"], 0, 1)


def test_script_reports_every_rule_per_fold_and_refuses_runs_without_logs(
    tiny_run, tmp_path, capsys
):
    study = tmp_path / "study" / "seed13" / "fold0"
    study.mkdir(parents=True)
    for name in ("metrics.jsonl", "dev_sentences.jsonl"):
        shutil.copy(tiny_run / name, study / name)
    script = load_script("experiments/selection_crossfit.py")
    assert (
        script.main(
            [str(tmp_path / "study"), "--splits", "4", "--patience", "0", "--out", str(tmp_path)]
        )
        == 0
    )
    report = capsys.readouterr().out
    assert (tmp_path / "selection.md").read_text() == report
    fits = json.loads((tmp_path / "selection.json").read_text())["runs"][str(study.parent)]["fold0"]
    assert set(fits) == {"entity", "entity+relation"}
    row = next(
        line for line in report.splitlines() if line.startswith(f"| {study.parent} | fold0 |")
    )
    objective = {m: fits[m]["entity_f1"] + fits[m]["relation_f1"] for m in fits}
    assert f"**{objective['entity']:.3f}**" in row
    assert row.endswith(f"| {objective['entity'] - objective['entity+relation']:+.3f} |")
    assert "folds won: entity+relation" in report
    assert "runs won: entity+relation" in report
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "nothing")])
    assert "holds no dev_sentences.jsonl" in capsys.readouterr().err
