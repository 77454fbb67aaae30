"""What a refit takes over from the run it refits: the dev choices, and nothing trained.

A run chooses on dev which epoch to keep, the two priors' weights and the relation threshold, so
its dev sentences cannot also train it. Once those choices are made they can be carried over to a
fresh run of the same configuration that trains on train + dev for that many epochs: about a third
more training sentences, which the learning curve (README) says is what this corpus lacks most.
The refit is scored on test only; nothing about it is chosen by looking at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marsad.config import ConfigError, TrainConfig
from marsad.model.checkpoint import CheckpointError, read_meta
from marsad.model.settings import DecodingSettings

# Settings a refit may change without making the source's choices meaningless for it.
REFIT_MAY_DIFFER = {
    "output_dir",
    "progress",
    "num_threads",
    "eval_batch_size",
    "patience",
    "train_fraction",
    "refit_from",
    "refit_include_dev",
}


@dataclass(frozen=True)
class RefitSource:
    path: str
    epoch: (
        int  # train exactly this many epochs (of the same ``epochs``-long learning-rate schedule)
    )
    decoding: DecodingSettings  # the source's dev-chosen prior weights and relation threshold

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "epoch": self.epoch, "decoding": self.decoding.to_dict()}


def read_refit_source(cfg: TrainConfig, run_name: str, fingerprint: str) -> RefitSource:
    """The dev choices saved in ``cfg.refit_from``; an error naming the mismatch when that
    checkpoint is not a dev-selected run of this configuration on this run of this data."""
    directory = Path(cfg.refit_from)
    try:
        meta = read_meta(directory)
    except CheckpointError as exc:  # a missing or foreign directory: say so as a config error
        raise ConfigError(f"refit_from: {exc}") from exc
    if meta.get("refit"):
        raise ConfigError(
            f"refit_from: {directory} is itself a refit; refit from the dev-selected "
            "run it came from"
        )
    data = meta.get("data", {})
    if data.get("run") != run_name:
        raise ConfigError(
            f"refit_from: {directory} was trained on run {data.get('run')!r}, this config trains "
            f"{run_name!r}; its dev choices belong to its own run (set fold to match)"
        )
    if data.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"refit_from: {directory} was trained on other data (fingerprint "
            f"{str(data.get('fingerprint'))[:16]}, the data now {fingerprint[:16]})"
        )
    saved = meta.get("training_config", {})
    defaults = TrainConfig().to_dict()
    wanted = cfg.to_dict()
    changed = sorted(
        k
        for k, v in wanted.items()
        if k not in REFIT_MAY_DIFFER and k != "fold" and saved.get(k, defaults[k]) != v
    )
    if changed:
        raise ConfigError(
            f"refit_from: {directory} was trained with other settings ("
            + ", ".join(
                f"{k}: {saved.get(k, defaults[k])!r} there, {wanted[k]!r} here" for k in changed
            )
            + "); a refit repeats its source's configuration"
        )
    epoch = int(meta.get("epoch", 0))
    if not 1 <= epoch <= cfg.epochs:
        raise ConfigError(f"refit_from: {directory} kept epoch {epoch}, not one of 1..{cfg.epochs}")
    return RefitSource(str(directory), epoch, DecodingSettings.from_meta(meta))
