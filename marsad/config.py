"""Training configuration: a typed dataclass read from YAML, with ``--set key=value`` overrides.

Unknown keys are an error naming the key, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


SELECTION_METRICS = ("entity", "entity+relation")

# Options that lost on dev and were removed with their code (git tag retired-options; the record is in
# docs/experiments.md), with the value that meant "off". A saved config may still hold them at that value.
RETIRED_OPTIONS: dict[str, Any] = {
    "crf": False,
    "crf_learning_rate": 1.0e-2,  # only read with crf: true; saved configs carry the old default
    "weight_average_decay": 0.0,
    "mention_replacement": 0.0,
    "layer_lr_decay": 1.0,
    "relation_projection": 0,
}


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key and the file."""


@dataclass
class TrainConfig:
    # encoder: hub id, local HF directory, "bundled:multilingual-e5-small" or "tiny-random"
    model: str = "aubmindlab/bert-base-arabertv02"
    fallback_model: str | None = None
    # data
    data_dir: str = "data"
    fold: int | None = None  # None: the default split; k: cross-validation run k
    output_dir: str = "runs/default"
    # <1: train on this share of the training sentences (a subset drawn with `seed`; dev and test
    # unchanged, baselines and priors get the same subset): learning curves (scripts/learning_curve.py)
    train_fraction: float = 1.0
    # text preprocessing applied identically at training and prediction time (stored in checkpoints)
    preprocessing: list[str] = field(default_factory=lambda: ["strip_tatweel", "strip_diacritics"])
    max_length: int = 256  # sub-words per window, including special tokens
    # optimisation
    seed: int = 13
    epochs: int = 30
    batch_size: int = 8
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    patience: int = 6  # epochs without dev gain (see selection_metric) before stopping; 0 disables
    # dev score that picks the best epoch: "entity" (entity micro-F1, relation F1 breaks ties; the shipped
    # configs: it did better on unseen dev halves, scripts/selection_crossfit.py) or "entity+relation"
    # (their sum: the relation head matures later than the tagger, but ~20 dev sentences make it noisy)
    selection_metric: str = "entity+relation"
    # keep no epoch as best before the learning-rate warm-up has ended: with a lexical prior an
    # untrained tagger still scores well on dev (the CRF carries it), so a lucky relation score on
    # ~20 dev sentences could otherwise keep a barely trained model (it happened: see README)
    select_after_warmup: bool = False
    freeze_word_embeddings: bool = False
    # heads
    # mix a feature CRF's tag marginals (trained on the same training sentences) into tag decoding,
    # with a weight chosen on dev entity F1 (marsad.lexical_prior)
    lexical_prior: bool = False
    # mix a feature classifier's relation probabilities (fitted on the training sentences' gold
    # mentions) into the relation head's, weight chosen on dev with the NONE threshold (marsad.relation_prior)
    relation_prior: bool = False
    relation_weight: float = 1.0  # joint loss = tagging + relation_weight * relation
    relation_hidden: int = 256
    relation_left_context: int = 0  # >0: also max-pool this many sub-words before the earlier mention
    width_embedding_dim: int = 32
    none_weight: float = 0.25  # class weight of NONE in the relation loss (NONE dominates the pairs)
    predicted_entity_negatives: bool = True  # add predicted non-gold spans as NONE-only candidates
    dropout: float = 0.1  # the relation head's MLP (the encoder keeps its own config)
    tune_none_bias: bool = True  # pick the relation decision threshold on dev (saved with the head)
    # tiny-random encoder shape (tests and smoke runs)
    tiny_hidden_size: int = 64
    tiny_layers: int = 2
    tiny_heads: int = 2
    tiny_vocab_size: int = 2000
    # misc
    eval_batch_size: int = 32
    num_threads: int | None = None  # torch CPU threads; None keeps torch's default
    deterministic: bool = True  # deterministic kernels only, strictly (GPU too); false for an op without one
    # refitting (eval/refit.py): a checkpoint of this configuration's run whose dev choices (kept epoch, prior
    # weights, relation threshold) are reused to train afresh, with no dev selection, on train + dev
    # (refit_include_dev; false keeps dev out, to check on it what refitting does)
    refit_from: str | None = None
    refit_include_dev: bool = True
    progress: bool = True

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Fields whose default is None: a sample of the type they take otherwise.
_OPTIONAL_SAMPLES: dict[str, Any] = {"fallback_model": "", "fold": 0, "num_threads": 0, "refit_from": ""}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Check a value against the field's default type (YAML already parsed scalars)."""
    default = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    sample = default.default if default.default is not dataclasses.MISSING else default.default_factory()
    sample = _OPTIONAL_SAMPLES.get(name, sample)
    if value is None and name in _OPTIONAL_SAMPLES:
        return value
    if value is None:
        raise ConfigError(f"{source}: key {name!r} must not be empty")
    if isinstance(sample, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: key {name!r} must be true/false, got {value!r}")
    elif isinstance(sample, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: key {name!r} must be an integer, got {value!r}")
    elif isinstance(sample, float):
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: key {name!r} must be a number, got {value!r}")
        value = float(value)
    elif isinstance(sample, list):
        if not isinstance(value, list):
            raise ConfigError(f"{source}: key {name!r} must be a list, got {value!r}")
    elif isinstance(sample, str) and not isinstance(value, str):
        raise ConfigError(f"{source}: key {name!r} must be a string, got {value!r}")
    return value


def drop_retired(values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` without the retired options that are "off"; a retired option set to anything else
    is an error, since the code that honoured it is gone."""
    on = {k: v for k, v in values.items() if k in RETIRED_OPTIONS and v != RETIRED_OPTIONS[k]}
    if on:
        raise ConfigError(f"{source}: retired option(s) {on} (off values: "
                          f"{ {k: RETIRED_OPTIONS[k] for k in on} }); they lost on dev and were removed "
                          "(docs/experiments.md, 'Retired options'; the code is at git tag retired-options)")
    return {k: v for k, v in values.items() if k not in RETIRED_OPTIONS}


def _apply(values: dict[str, Any], source: str) -> dict[str, Any]:
    known = set(TrainConfig.field_names())
    out = {}
    for key, value in drop_retired(values, source).items():
        if key not in known:
            raise ConfigError(f"{source}: unknown config key {key!r} (known keys: {', '.join(sorted(known))})")
        out[key] = _coerce(key, value, source)
    return out


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=3", "model=tiny-random"]`` -> dict, values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        key, raw = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (``None``: defaults only) and apply ``key=value`` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping of keys to values")
        values.update(_apply(loaded, str(path)))
    values.update(_apply(parse_overrides(overrides or []), "--set"))
    return _validated(TrainConfig(**values))


def config_from_dict(values: dict[str, Any], source: str, overrides: list[str] | None = None) -> TrainConfig:
    """A config saved as a dict (a checkpoint's ``training_config``), with ``key=value`` overrides; keys
    added to the code since it was saved take their defaults, retired keys at their "off" value are
    dropped (:func:`drop_retired`)."""
    merged = _apply(values, source)
    merged.update(_apply(parse_overrides(overrides or []), "--set"))
    return _validated(TrainConfig(**merged))


def _validated(cfg: TrainConfig) -> TrainConfig:
    if cfg.fold is not None and not 0 <= cfg.fold < 5:
        raise ConfigError(f"fold must be 0..4 or null, got {cfg.fold}")
    if not 0 < cfg.train_fraction <= 1:
        raise ConfigError(f"train_fraction must be in (0, 1] (1 = all training sentences), got {cfg.train_fraction}")
    if cfg.selection_metric not in SELECTION_METRICS:
        raise ConfigError(f"selection_metric must be one of {', '.join(SELECTION_METRICS)}, got {cfg.selection_metric!r}")
    return cfg
