"""experiments.crossval_steps: one fold at a time, recorded folds never retrained, the summary once
all are recorded (tiny config)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from conftest import load_script

from marsad.commands import crossval

ROOT = Path(__file__).resolve().parents[1]
# fast folds: one epoch on a quarter of the training sentences
FAST = ["epochs=1", "train_fraction=0.25"]


def _steps_args(config: Path, out: Path, work: Path, data_dir: Path, *extra: str) -> list[str]:
    sets = [item for o in [f"data_dir={data_dir}", *FAST] for item in ("--set", o)]
    return [
        *("--config", str(config), "--seed", "3", "--out", str(out), "--work", str(work)),
        *sets,
        *extra,
    ]


def test_folds_recorded_one_at_a_time_skipped_then_summarised(data_dir, tmp_path, capsys):
    steps = load_script("experiments/crossval_steps.py")
    config, out, work = ROOT / "configs" / "tiny.yaml", tmp_path / "scores", tmp_path / "work"
    args = _steps_args(config, out, work, data_dir)

    assert steps.main([*args, "--max-folds", "1"]) == 0
    fold0 = json.loads((out / "fold0.json").read_text())
    sets = [f"data_dir={data_dir}", *FAST, "seed=3"]
    assert not (out / "fold1.json").exists(), "--max-folds 1 should stop after one fold"
    assert "[1, 2, 3, 4] remain" in capsys.readouterr().out
    assert fold0["seed"] == 3 and fold0["training_config"]["seed"] == 3
    assert fold0["crossval_command"].endswith("--folds 0 " + " ".join(f"--set {o}" for o in sets))
    assert fold0["machine"]["cpu_count"] >= 1 and fold0["machine"]["torch_threads"] >= 1
    assert fold0["git"]["commit"]

    # the same scores the plain `marsad crossval --folds 0` run writes
    plain = tmp_path / "plain"
    argv = ["--config", str(config), "--folds", "0", "--out", str(plain)]
    assert crossval.main([*argv, *(item for o in sets for item in ("--set", o))]) == 0
    plain_results = json.loads((plain / "results.json").read_text())
    assert fold0["scores"] == {k: v[0] for k, v in plain_results["per_fold"].items()}
    assert fold0["crossval_command"] == plain_results["command"]

    # a second call leaves fold 0 alone and trains fold 1
    fold0_text = (out / "fold0.json").read_text()
    weights = work / "fold0" / "fold0" / "best" / "model.safetensors"
    first = weights.stat().st_mtime_ns
    assert steps.main([*args, "--max-folds", "1"]) == 0
    assert (out / "fold0.json").read_text() == fold0_text
    assert weights.stat().st_mtime_ns == first, "a recorded fold should not be trained again"
    assert json.loads((out / "fold1.json").read_text())["fold"] == 1
    assert not (out / "fold2.json").exists()
    assert not (out / "results.md").exists(), "no summary before every fold is recorded"
    capsys.readouterr()

    # the remaining folds faked from the real ones, with distinct scores, then the real summary
    for k in (2, 3, 4):
        fake = json.loads((out / f"fold{k % 2}.json").read_text())
        fake["fold"] = k
        fake["scores"]["CRF"]["entities"]["micro"]["f1"] = k / 10
        (out / f"fold{k}.json").write_text(json.dumps(fake))
    assert steps.main([*args, "--max-folds", "0"]) == 0
    assert "nothing remains" in capsys.readouterr().out
    records = [json.loads((out / f"fold{k}.json").read_text()) for k in range(5)]
    crf = [r["scores"]["CRF"]["entities"]["micro"]["f1"] for r in records]
    results = json.loads((out / "results.json").read_text())
    assert results["folds"] == [0, 1, 2, 3, 4]
    row = results["summary"]["CRF baseline"]["entity micro-F1"]
    assert row["folds"] == crf
    assert row["mean"] == pytest.approx(statistics.fmean(crf))
    assert row["std"] == pytest.approx(statistics.stdev(crf))
    table = (out / "results.md").read_text()
    assert f"{statistics.fmean(crf):.3f} ± {statistics.stdev(crf):.3f}" in table
    assert "Model on dev (fold k+1" in table and "fold 4 at " in table


def test_a_fold_trained_with_other_settings_is_refused(data_dir, tmp_path, capsys):
    steps = load_script("experiments/crossval_steps.py")
    config, out = ROOT / "configs" / "tiny.yaml", tmp_path / "scores"
    out.mkdir()
    from marsad.config import load_config

    saved = load_config(config, [f"data_dir={data_dir}", *FAST, "seed=3", "fold=0", "dropout=0.3"])
    (out / "fold0.json").write_text(
        json.dumps(
            {
                "fold": 0,
                "seed": 3,
                "training_config": saved.to_dict(),
                "scores": dict.fromkeys(steps.SYSTEMS, {}),
            }
        )
    )
    args = _steps_args(config, out, tmp_path / "work", data_dir, "--max-folds", "0")
    with pytest.raises(SystemExit):
        steps.main(args)
    assert "fold0.json: fold 0 was trained with other settings (dropout) " in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):  # the seed is given once, by --seed
        steps.main([*args, "--set", "seed=4"])
