"""Training on a share of the data (train_fraction) and the learning-curve summary built on it."""

import json
import math

import pytest
from conftest import ROOT, load_script

from experiments.learning_curve import FoldPoint, LearningCurveError, read_run, slope_per_doubling
from marsad.config import ConfigError, load_config
from marsad.data.load import load_splits


def test_train_fraction_subsets_train_only_and_reproducibly(data_dir):
    full = load_splits(data_dir, 2)
    half = load_splits(data_dir, 2, train_fraction=0.5, seed=13)
    n = len(full["train"])
    assert len(half["train"]) == math.ceil(0.5 * n)
    assert set(half["train"]["sent_id"]) < set(full["train"]["sent_id"])
    order = [s for s in full["train"]["sent_id"] if s in set(half["train"]["sent_id"])]
    assert half["train"]["sent_id"] == order  # corpus order kept
    for role in ("dev", "test"):
        assert half[role]["sent_id"] == full[role]["sent_id"]
    assert (
        load_splits(data_dir, 2, train_fraction=0.5, seed=13)["train"]["sent_id"]
        == half["train"]["sent_id"]
    )
    assert (
        load_splits(data_dir, 2, train_fraction=0.5, seed=14)["train"]["sent_id"]
        != half["train"]["sent_id"]
    )
    assert len(load_splits(data_dir, 2, train_fraction=1e-6, seed=0)["train"]) == 1


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5"])
def test_train_fraction_out_of_range_is_a_config_error(value):
    with pytest.raises(
        ConfigError, match=rf"train_fraction must be in \(0, 1\].*got {float(value)}"
    ):
        load_config(ROOT / "configs" / "tiny.yaml", [f"train_fraction={value}"])


def _point(fold: int, size: int, score: float) -> FoldPoint:
    return FoldPoint("r", fold, 1.0, size, size, {"relation_e2e": score})


def test_slope_per_doubling_pools_within_fold_changes():
    # fold 0 gains 0.1 per doubling, fold 1 0.2 from a much higher level: pooled 0.15, levels
    # ignored
    points = [_point(0, 10, 0.2), _point(0, 20, 0.3), _point(1, 20, 0.5), _point(1, 40, 0.7)]
    assert slope_per_doubling(points, "relation_e2e") == pytest.approx(0.15)
    # a fold measured at one size only carries no slope information
    assert slope_per_doubling([*points, _point(2, 30, 0.9)], "relation_e2e") == pytest.approx(0.15)
    with pytest.raises(ValueError, match="two training sizes"):
        slope_per_doubling([_point(0, 10, 0.2), _point(1, 20, 0.3)], "relation_e2e")


def test_learning_curve_from_two_real_crossval_runs(data_dir, tmp_path, capsys):
    crossval = load_script("eval/crossval.py")
    runs = []
    for fraction in ("0.5", "1.0"):
        out = tmp_path / f"lc-{fraction}"
        assert (
            crossval.main(
                [
                    "--config",
                    str(ROOT / "configs" / "tiny.yaml"),
                    "--folds",
                    "1",
                    "--out",
                    str(out),
                    "--set",
                    f"data_dir={data_dir}",
                    "--set",
                    "epochs=1",
                    "--set",
                    f"train_fraction={fraction}",
                ]
            )
            == 0
        )
        runs.append(out)
    meta = json.loads((runs[0] / "fold1" / "best" / "marsad.json").read_text())
    n_train = len(load_splits(data_dir, 1)["train"])
    assert meta["data"]["train_sentences"] == math.ceil(
        0.5 * n_train
    )  # the trainer used the subset
    logged = json.loads((runs[0] / "results.json").read_text())["train_sentences"]
    assert logged == [math.ceil(0.5 * n_train)]  # and so did the baselines
    assert "learning-curve point" in (runs[0] / "fold1" / "best" / "README.md").read_text()

    points = read_run(runs[0]) + read_run(runs[1])
    assert [(p.train_fraction, p.train_sentences) for p in points] == [
        (0.5, math.ceil(0.5 * n_train)),
        (1.0, n_train),
    ]
    results = json.loads((runs[0] / "results.json").read_text())
    assert (
        points[0].scores["relation_e2e"]
        == results["per_fold"]["model"][0]["relations_end_to_end"]["micro"]["f1"]
    )

    script = load_script("experiments/learning_curve_report.py")
    assert script.main([str(r) for r in runs] + ["--out", str(tmp_path / "lc")]) == 0
    table = (tmp_path / "lc" / "learning_curve.md").read_text()
    assert f"| 0.5 | {math.ceil(0.5 * n_train)} |" in table and f"| 1 | {n_train} |" in table
    assert "points per doubling of the training relations" in table
    assert (tmp_path / "lc" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_learning_curve_names_an_unfinished_run(tmp_path):
    with pytest.raises(LearningCurveError, match="results.json does not exist"):
        read_run(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"folds": [1], "per_fold": {}}))
    with pytest.raises(LearningCurveError, match=r"fold1/best/marsad.json does not exist"):
        read_run(tmp_path)
