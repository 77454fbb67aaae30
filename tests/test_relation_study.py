"""The relation study resumes: an ended run is scored as it is, a cut-off one trains on."""

from __future__ import annotations

from pathlib import Path

from experiments import relation_study


def test_a_run_with_best_but_no_curves_has_not_ended(tmp_path: Path):
    run = tmp_path / "rel-shipped"
    (run / "best").mkdir(parents=True)  # written from the first epoch on
    (run / "last").mkdir()
    assert not relation_study.finished(run)
    (run / "training_curves.png").write_bytes(b"")  # the trainer's last act
    assert relation_study.finished(run)


def test_a_cut_off_run_is_resumed_from_its_last_state(tmp_path: Path, monkeypatch):
    seen = {}

    class Recorder:
        def __init__(self, cfg, resume=False):
            seen["resume"], seen["output_dir"] = resume, cfg.output_dir

        def train(self):
            return {}

    import marsad.training.trainer as trainer

    monkeypatch.setattr(trainer, "Trainer", Recorder)
    run = tmp_path / "rel-extended-shipped"
    relation_study.train("extended-shipped", [], run)
    assert seen == {"resume": False, "output_dir": str(run)}
    (run / "last").mkdir(parents=True)
    relation_study.train("extended-shipped", [], run)
    assert seen["resume"] is True
