"""Refitting a finished run on train + dev with its dev choices (marsad.refit, eval/refit.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, load_script, read_log

from marsad.config import ConfigError, load_config
from marsad.data.examples import load_examples
from marsad.training.curves import read_training_log, training_curves_figure
from marsad.training.trainer import Trainer

FOLD = 1


@pytest.fixture(scope="module")
def cv_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A one-fold tiny cross-validation run with both priors, the thing a refit repeats."""
    out = tmp_path_factory.mktemp("cv")
    assert (
        load_script("eval/crossval.py").main(
            [
                "--config",
                str(ROOT / "configs" / "tiny.yaml"),
                "--folds",
                str(FOLD),
                "--out",
                str(out),
                "--set",
                f"data_dir={data_dir}",
                "--set",
                "epochs=4",
                "--set",
                "lexical_prior=true",
                "--set",
                "relation_prior=true",
            ]
        )
        == 0
    )
    return out


def refit_cfg(source: Path, out: Path, data_dir: Path, *overrides: str):
    return load_config(
        ROOT / "configs" / "tiny.yaml",
        [
            f"data_dir={data_dir}",
            "epochs=4",
            "lexical_prior=true",
            "relation_prior=true",
            f"fold={FOLD}",
            f"refit_from={source}",
            f"output_dir={out}",
            *overrides,
        ],
    )


def test_refit_script_trains_on_train_and_dev_for_the_kept_epoch_with_dev_choices(
    cv_run, data_dir, tmp_path, capsys
):
    refit = load_script("eval/refit.py")
    assert refit.main([str(cv_run)]) == 0
    source = json.loads((cv_run / f"fold{FOLD}" / "best" / "marsad.json").read_text())
    meta = json.loads((cv_run / "refit" / f"fold{FOLD}" / "best" / "marsad.json").read_text())
    splits = load_examples(data_dir, FOLD)
    assert meta["data"]["train_sentences"] == len(splits["train"]) + len(splits["dev"])
    assert meta["data"]["dev_sentences"] == 0 and meta["refit"]["train_includes_dev"] is True
    assert meta["epoch"] == source["epoch"] and meta["refit"]["path"] == str(
        cv_run / f"fold{FOLD}" / "best"
    )
    for key in ("lexical_prior", "relation_prior"):
        assert meta[key] == source[key]
    assert meta["decoding"] == source["decoding"]
    log = read_log(cv_run / "refit" / f"fold{FOLD}")
    assert [r["epoch"] for r in log] == list(range(1, source["epoch"] + 1))
    # the same 4-epoch learning-rate schedule, stopped at the kept epoch (not a schedule squeezed
    # into it)
    source_lr = next(
        r["lr"] for r in read_log(cv_run / f"fold{FOLD}") if r["epoch"] == source["epoch"]
    )
    assert log[-1]["lr"] == pytest.approx(source_lr, rel=0.05)
    results = json.loads((cv_run / "refit" / "results.json").read_text())
    assert list(results["summary"])[:2] == ["model, dev-selected", "model, refit on train + dev"]
    assert results["train_sentences"] == [meta["data"]["train_sentences"]]
    original = json.loads((cv_run / "results.json").read_text())
    assert results["summary"]["CRF as in the run"] == original["summary"]["CRF baseline"]
    assert results["dev_summary"] is None  # dev trained the refit: no dev score to give
    assert "| entity micro-F1 |" in (cv_run / "refit" / "results.md").read_text()
    capsys.readouterr()
    assert refit.main([str(cv_run)]) == 0  # read back, not retrained
    assert "reusing the finished refit" in capsys.readouterr().out
    # the refit tree is a cross-validation run to compare.py, paired on the same test sentences
    compare = load_script("eval/compare.py")
    assert (
        compare.main(
            [str(cv_run), str(cv_run / "refit"), "--data", str(data_dir), "--bootstrap", "200"]
        )
        == 0
    )
    # and beside the CRF refitted on the same sentences (refit.py's column), not the run's
    capsys.readouterr()
    assert (
        compare.main(
            [
                "crf",
                str(cv_run / "refit"),
                "--data",
                str(data_dir),
                "--bootstrap",
                "200",
                "--baseline-data",
                "train+dev",
            ]
        )
        == 0
    )
    crf_f1 = results["summary"]["CRF on train + dev"]["entity micro-F1"]["mean"]
    assert f"| entity micro-F1 | {crf_f1:.3f} |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        compare.main(
            [str(cv_run), str(cv_run / "refit"), "--data", str(data_dir), "--split", "dev"]
        )
    assert "trained on its run's dev sentences" in capsys.readouterr().err
    evaluate = load_script("eval/evaluate.py")
    with pytest.raises(SystemExit):  # its dev sentences are training sentences now
        evaluate.main(
            [
                "--checkpoint",
                str(cv_run / "refit" / f"fold{FOLD}" / "best"),
                "--fold",
                str(FOLD),
                "--split",
                "dev",
                "--data",
                str(data_dir),
                "--out",
                str(tmp_path),
            ]
        )
    assert "trained on its run's dev sentences" in capsys.readouterr().err


def test_refit_without_dev_scores_dev_at_the_carried_over_settings(cv_run, data_dir, tmp_path):
    source = cv_run / f"fold{FOLD}" / "best"
    best = Trainer(refit_cfg(source, tmp_path, data_dir, "refit_include_dev=false")).train()
    meta = json.loads((tmp_path / "best" / "marsad.json").read_text())
    splits = load_examples(data_dir, FOLD)
    assert meta["data"]["train_sentences"] == len(splits["train"])
    assert meta["data"]["dev_sentences"] == len(splits["dev"])
    assert meta["dev_metrics"]["entities"]["micro"]["f1"] == best["entity_f1"]
    assert not (tmp_path / "dev_sentences.jsonl").exists()  # nothing selected on dev
    records = read_training_log(tmp_path / "metrics.jsonl")
    assert "dev_entity_f1" not in records[0]
    training_curves_figure({"refit": records})  # a log of losses alone still draws


def test_refit_refuses_a_source_it_cannot_repeat(cv_run, data_dir, tmp_path):
    source = cv_run / f"fold{FOLD}" / "best"
    cases = [
        (refit_cfg(source, tmp_path / "a", data_dir, "fold=2"), "trained on run 'fold1'"),
        (
            refit_cfg(source, tmp_path / "b", data_dir, "dropout=0.5"),
            "dropout: 0.1 there, 0.5 here",
        ),
        (refit_cfg(tmp_path / "missing", tmp_path / "c", data_dir), "does not exist"),
        (refit_cfg(source, tmp_path / "d", data_dir, "epochs=2"), "epochs"),
    ]
    a_refit = tmp_path / "refit"
    shutil.copytree(source, a_refit)
    meta = json.loads((a_refit / "marsad.json").read_text())
    meta["refit"] = {"path": str(source)}
    (a_refit / "marsad.json").write_text(json.dumps(meta))
    cases.append((refit_cfg(a_refit, tmp_path / "e", data_dir), "is itself a refit"))
    for cfg, message in cases:
        with pytest.raises(ConfigError, match=message):
            Trainer(cfg).train()


def test_train_command_refits_after_training(data_dir, tmp_path, capsys):
    train = load_script("train/train.py")
    common = [
        "--config",
        str(ROOT / "configs" / "tiny.yaml"),
        "--set",
        f"data_dir={data_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "epochs=2",
    ]
    assert train.main([*common, "--refit"]) == 0
    kept = json.loads((tmp_path / "best" / "marsad.json").read_text())["epoch"]
    meta = json.loads((tmp_path / "refit" / "best" / "marsad.json").read_text())
    assert meta["refit"]["path"] == str(tmp_path / "best") and meta["epoch"] == kept
    assert meta["data"]["run"] == "default (fold0)" and meta["data"]["dev_sentences"] == 0
    assert "refit: " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        train.main([*common, "--refit", "--set", f"refit_from={tmp_path / 'best'}"])


def test_refit_stops_before_replacing_a_refit_made_with_other_settings(cv_run, capsys):
    refit = load_script("eval/refit.py")
    assert refit.main([str(cv_run), "--name", "guarded"]) == 0
    best = cv_run / "guarded" / f"fold{FOLD}" / "best"
    before = (best / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    with pytest.raises(SystemExit):  # a forgotten or extra --set must not silently retrain over it
        refit.main([str(cv_run), "--name", "guarded", "--set", "num_threads=1"])
    err = capsys.readouterr().err
    assert str(best) in err and "num_threads" in err and "--overwrite" in err
    assert (best / "model.safetensors").stat().st_mtime_ns == before
    assert (
        refit.main([str(cv_run), "--name", "guarded", "--set", "num_threads=1", "--overwrite"]) == 0
    )
    assert json.loads((best / "marsad.json").read_text())["training_config"]["num_threads"] == 1
    assert (
        refit.main([str(cv_run), "--name", "guarded", "--set", "num_threads=1"]) == 0
    )  # now the same: read back
    assert "reusing the finished refit" in capsys.readouterr().out


def test_a_failing_refit_is_one_line_with_exit_1(cv_run, capsys, monkeypatch):
    """A run-time failure of the refit's training (a NaN loss, an encoder, a corpus problem) is
    its message alone with exit 1, not a traceback. The refit repeats its source's settings, so a
    diverging refit is simulated at the trainer."""
    from marsad.commands import refit as refit_command
    from marsad.training.trainer import NonFiniteLoss

    class Diverging:
        def __init__(self, cfg, resume=False):
            pass

        def train(self):
            raise NonFiniteLoss("epoch 1, step 3: training loss is nan (tagging nan, relation 1.0)")

    monkeypatch.setattr(refit_command, "Trainer", Diverging)
    code = load_script("eval/refit.py").main([str(cv_run), "--name", "diverged"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "error:" in x]
    assert (
        line
        == "marsad refit: error: epoch 1, step 3: training loss is nan (tagging nan, relation 1.0)"
    )
    assert not (cv_run / "diverged" / f"fold{FOLD}" / "best").exists()
