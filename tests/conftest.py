"""Shared fixtures: tests run offline against the real corpus and a tiny random encoder."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The committed corpus, or ``$MARSAD_TEST_DATA`` to run the suite against another data
    directory."""
    return Path(os.environ.get("MARSAD_TEST_DATA", ROOT / "data"))


@pytest.fixture
def data_copy(tmp_path: Path, data_dir: Path) -> Path:
    """A writable copy of data/ (annotations, raw, splits) for tests that break files."""
    dest = tmp_path / "data"
    for sub in ("annotations", "raw"):
        shutil.copytree(data_dir / sub, dest / sub)
    shutil.copy(data_dir / "splits.json", dest / "splits.json")
    return dest


TEST_THREADS = 2  # the suite's numbers are the same on any machine: thread count changes sums


@pytest.fixture(autouse=True)
def _same_thread_count():
    """Every test runs with torch on ``TEST_THREADS`` threads, whatever an earlier one set (a
    ``num_threads`` option or a benchmark's ``--threads`` changes torch's global setting): runs
    compared with one another must sum in the same order."""
    import torch

    torch.set_num_threads(TEST_THREADS)
    yield
    torch.set_num_threads(TEST_THREADS)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep built encoders out of the user's cache, except the bundled e5 conversion (slow to
    redo)."""
    os.environ.setdefault("MARSAD_CACHE", str(tmp_path_factory.mktemp("marsad-cache")))


def train_tiny(out: Path, data_dir: Path, *overrides: str) -> dict:
    from marsad.config import load_config
    from marsad.training.trainer import Trainer

    cfg = load_config(
        ROOT / "configs" / "tiny.yaml", [f"output_dir={out}", f"data_dir={data_dir}", *overrides]
    )
    return Trainer(cfg).train()


def train_tiny_interrupted(out: Path, data_dir: Path, crash_epoch: int, *overrides: str) -> None:
    """Train until ``crash_epoch`` starts (a simulated crash), then ``--resume`` to the end."""
    from marsad.config import load_config
    from marsad.training.trainer import Trainer

    original = Trainer._train_epoch

    def crash(self, epoch):
        if epoch == crash_epoch:
            raise KeyboardInterrupt
        return original(self, epoch)

    Trainer._train_epoch = crash
    try:
        with pytest.raises(KeyboardInterrupt):
            train_tiny(out, data_dir, *overrides)
    finally:
        Trainer._train_epoch = original
    logged = [
        json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()
    ]
    assert logged == list(range(1, crash_epoch)), "the crash should leave the finished epochs' log"
    cfg = load_config(
        ROOT / "configs" / "tiny.yaml", [f"output_dir={out}", f"data_dir={data_dir}", *overrides]
    )
    Trainer(cfg, resume=True).train()


def load_script(rel: str):
    """A repository script (``scripts/...``, ``experiments/...``) imported as a module, to call its
    functions; ``eval/X.py`` and ``train/X.py`` are wrappers, so their command module
    ``marsad.commands.X``."""
    if rel.startswith(("eval/", "train/")):
        return importlib.import_module(f"marsad.commands.{Path(rel).stem}")
    spec = importlib.util.spec_from_file_location(Path(rel).stem + "_script", ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crossfit_fold0_row(
    script: str, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, *extra_args: str
) -> list[str]:
    """The fold-0 row's cells (fold column dropped) printed by a cross-fit script run on
    ``checkpoint`` laid out as a one-fold crossval directory (the default split is fold 0's)."""
    if not (tmp_path / "fold0").exists():
        (tmp_path / "fold0").mkdir()
        shutil.copytree(checkpoint, tmp_path / "fold0" / "best")
    assert load_script(script).main(["--runs", str(tmp_path), "--folds", "0", *extra_args]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| 0 |"))
    return row.strip("|").split("|")[1:]


def read_log(out: Path) -> list[dict]:
    """The per-epoch records of a run's metrics.jsonl."""
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def assert_same_log(a: Path, b: Path) -> None:
    """Two runs logged the same epochs with the same numbers (wall-clock seconds aside) and the same
    per-sentence dev counts."""
    for x, y in zip(read_log(a), read_log(b), strict=True):
        x.pop("seconds"), y.pop("seconds")
        assert x == pytest.approx(y, rel=1e-6, abs=1e-9)
    assert (a / "dev_sentences.jsonl").read_text() == (b / "dev_sentences.jsonl").read_text()


def forget_digests(ckpt: Path) -> None:
    """Drop the file list from marsad.json, as in checkpoints written before it was kept, so the
    checks behind it are reached."""
    meta = json.loads((ckpt / "marsad.json").read_text())
    del meta["files"]
    (ckpt / "marsad.json").write_text(json.dumps(meta))


def checkpoint_from_before(option_key: str, source: Path, dest: Path, *files: str) -> Path:
    """A copy of checkpoint ``source`` as written before an option existed: its ``marsad.json``
    key and its own files removed, the decoding settings as they were kept then (only the
    relation threshold, as ``relation_none_bias``), and no file list (kept since later still)."""
    shutil.copytree(source, dest)
    meta = json.loads((dest / "marsad.json").read_text())
    del meta[option_key]
    del meta["files"]
    meta["relation_none_bias"] = meta.pop("decoding")["none_bias"]
    (dest / "marsad.json").write_text(json.dumps(meta))
    for name in files:
        (dest / name).unlink()
    return dest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """One 10-epoch tiny-model training run shared by the tests that need a trained checkpoint."""
    out = tmp_path_factory.mktemp("tiny-run")
    train_tiny(out, data_dir, "epochs=10")
    return out


@pytest.fixture(scope="session")
def tiny_priors_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A tiny training run with both decoding priors (lexical CRF and relation prior), shared by
    the tests that need a checkpoint shipping them."""
    out = tmp_path_factory.mktemp("tiny-priors-run")
    train_tiny(out, data_dir, "epochs=4", "lexical_prior=true", "relation_prior=true")
    return out
