"""``marsad train`` fails with one located message and no checkpoint, never a traceback: a bad
config or ``--set`` (exit 2), a corpus, encoder or divergence problem at run time (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from marsad.commands import train as train_cli

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny.yaml")


def run(capsys, config: str, *overrides: str) -> tuple[int, str]:
    """Exit status and stderr of ``marsad train --config CONFIG --set ...`` (in process)."""
    args = ["--config", config]
    for pair in overrides:
        args += ["--set", pair]
    try:
        code = train_cli.main(args)
    except SystemExit as stop:  # argparse's parser.error
        code = stop.code
    return code, capsys.readouterr().err


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "error:" in x]
    return line


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("epochs", "--set epochs: expected key=value"),
        ("epoch=2", "--set epoch=2: unknown config key 'epoch'; did you mean 'epochs'?"),
        ("epochs=[", "--set epochs=[: cannot parse the value"),
        ("epochs=three", "--set epochs=three: key 'epochs' must be an integer, got 'three'"),
        ("learning_rate=.inf", "--set learning_rate=.inf: key 'learning_rate' must be a finite"),
        ("output_dir=", "--set output_dir=: key 'output_dir' must not be empty"),
    ],
)
def test_a_malformed_override_is_one_line_with_exit_2(capsys, pair, message):
    code, err = run(capsys, TINY, pair)
    assert code == 2 and message in one_error_line(err)


def test_max_length_beyond_the_encoder_is_refused_before_training(capsys, tmp_path, data_dir):
    out = tmp_path / "run"
    code, err = run(capsys, TINY, f"data_dir={data_dir}", f"output_dir={out}", "max_length=1024")
    assert code == 2
    assert (
        "max_length: 1024 is more than the encoder 'tiny-random' can position (512 sub-words, "
        "max_position_embeddings 512); set max_length <= 512" in one_error_line(err)
    )
    assert not (out / "best").exists()


def test_a_diverging_run_stops_naming_epoch_and_step_and_saves_nothing(capsys, tmp_path, data_dir):
    out = tmp_path / "run"
    code, err = run(
        capsys,
        TINY,
        f"data_dir={data_dir}",
        f"output_dir={out}",
        "none_weight=3e38",  # float32 holds it, not the relation loss it weighs
        "epochs=2",
    )
    line = one_error_line(err)
    assert code == 1 and line.startswith("marsad train: error: epoch 1, step ")
    assert (
        "training loss is nan (tagging " in line and "no checkpoint of this epoch written" in line
    )
    assert not (out / "best").exists() and not (out / "last").exists()


def test_an_empty_config_with_an_unloadable_encoder_is_one_line(capsys, tmp_path, data_dir):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    code, err = run(
        capsys,
        str(empty),
        f"data_dir={data_dir}",
        f"output_dir={tmp_path / 'run'}",
        "model=nobody/no-such-encoder",
    )
    assert code == 1 and "'nobody/no-such-encoder' is not cached" in one_error_line(err)


def test_a_corpus_that_is_not_utf8_is_named_with_its_line(capsys, tmp_path, data_copy):
    path = sorted((data_copy / "annotations").glob("*.jsonl"))[0]
    data = path.read_bytes()
    second = data.index(b"\n") + 1
    path.write_bytes(data[:second] + b"\xff" + data[second:])
    code, err = run(capsys, TINY, f"data_dir={data_copy}", f"output_dir={tmp_path / 'run'}")
    assert code == 1 and "Traceback" not in err
    assert f"{path}:2: file: invalid UTF-8 at byte offset {second} (line 2, byte 1" in err


def test_weights_broken_by_an_epochs_last_step_stop_the_run_before_its_checkpoint(
    capsys, tmp_path, data_dir, monkeypatch
):
    """An optimizer step that leaves a NaN weight behind a finite loss (a fault injected into
    AdamW): on an epoch's last step no later loss shows it, and dev scoring would save it."""
    import torch

    step = torch.optim.AdamW.step

    def faulty_step(self, *args, **kwargs):
        result = step(self, *args, **kwargs)
        with torch.no_grad():
            self.param_groups[-1]["params"][0].fill_(float("nan"))
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", faulty_step)
    out = tmp_path / "run"
    code, err = run(
        capsys,
        TINY,
        f"data_dir={data_dir}",
        f"output_dir={out}",
        "batch_size=100000",  # one step per epoch
        "epochs=1",
    )
    line = one_error_line(err)
    assert code == 1 and line.startswith("marsad train: error: epoch 1: 1 weight tensor(s) are ")
    assert "no longer finite after the last step" in line
    assert not (out / "best").exists() and not (out / "last").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=nobody/no-such-encoder"], "fold 1: hub model 'nobody/no-such-encoder' is not"),
        (["none_weight=3e38", "epochs=2"], "fold 1: epoch 1, step "),
    ],
)
def test_a_failing_crossval_fold_is_one_line_naming_the_fold(
    capsys, tmp_path, data_dir, overrides, message
):
    from marsad.commands import crossval

    args = ["--config", TINY, "--folds", "1", "--out", str(tmp_path / "cv")]
    for pair in [f"data_dir={data_dir}", *overrides]:
        args += ["--set", pair]
    code = crossval.main(args)
    line = one_error_line(capsys.readouterr().err)
    assert code == 1 and line.startswith(f"marsad crossval: error: {message}")
    assert not (tmp_path / "cv" / "fold1" / "best").exists()
