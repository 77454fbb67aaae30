"""Training configuration: a typed dataclass read from YAML, with ``--set key=value`` overrides.

Unknown keys are an error naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from marsad.text import STEPS

SELECTION_METRICS = ("entity", "entity+relation")

# Options that lost on dev and were removed with their code (git tag retired-options; the record is
# in docs/experiments.md), with the value that meant "off". A saved config may still hold them at
# that value.
RETIRED_OPTIONS: dict[str, Any] = {
    "crf": False,
    "crf_learning_rate": 1.0e-2,  # only read with crf: true; saved configs carry the old default
    "weight_average_decay": 0.0,
    "mention_replacement": 0.0,
    "layer_lr_decay": 1.0,
    "relation_projection": 0,
}


# Training computes in float32: a larger option (say none_weight: 1e39) overflows in torch.
FLOAT32_MAX = 3.4028234663852886e38


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key and the file."""


def option(default: Any, help: str, *, group: str) -> Any:
    """A config field with its one-line help (shown by ``marsad train --help-options`` and in
    docs/training.md, which ``python -m marsad.config`` regenerates) and its group in that table."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, "group": group})
    return field(default=default, metadata={"help": help, "group": group})


@dataclass
class TrainConfig:
    """Every training option; the defaults are the shipped model options (each chosen on dev: the
    record is in docs/experiments.md), so a YAML file states only what it changes. Paths to corpora
    are not code defaults: configs/default.yaml names the shipped ones (``extra_data``,
    ``aux_corpus``), since a user training on their own annotations may not want them."""

    # encoder
    model: str = option(
        "aubmindlab/bert-base-arabertv02",
        "hub id, local Hugging Face directory, `bundled:multilingual-e5-small` or `tiny-random`",
        group="encoder",
    )
    fallback_model: str | None = option(
        None,
        "encoder used when `model` cannot be loaded (hub unreachable); null: fail instead",
        group="encoder",
    )
    freeze_word_embeddings: bool = option(
        True,
        "keep the word-embedding matrix fixed (halves CPU step time on the 250k-row e5 vocabulary)",
        group="encoder",
    )
    # data
    data_dir: str = option(
        "data", "directory holding annotations/, raw/ and splits.json", group="data"
    )
    fold: int | None = option(
        None, "null: the default split; k: cross-validation run k (0..4)", group="data"
    )
    output_dir: str = option(
        "runs/default", "where checkpoints (best/, last/) and logs go", group="data"
    )
    train_fraction: float = option(
        1.0,
        "train on this share of `data_dir`'s training sentences, drawn with `seed` "
        "(learning curves); dev and test unchanged",
        group="data",
    )
    extra_data: list[str] = option(
        [],
        "more corpora in the same format, each with a splits.json (e.g. data/team): their default "
        "run's train sentences join training and its dev sentences join dev",
        group="data",
    )
    aux_corpus: str | None = option(
        None,
        "an ANERcorp-format CoNLL training file (PERS/ORG/LOC/MISC): the encoder first fine-tunes "
        "on it with its own tag head (cached, `aux_epochs`), and its last `aux_dev_sentences` "
        "sentences join dev mapped to ACTOR/LOCATION; null: neither",
        group="auxiliary stage",
    )
    aux_dev_sentences: int = option(
        150,
        "sentences at the end of `aux_corpus` held out of the stage, scored in dev",
        group="auxiliary stage",
    )
    aux_epochs: int = option(
        2,
        "epochs of the auxiliary stage (0: no stage; the held-out sentences still join dev)",
        group="auxiliary stage",
    )
    aux_learning_rate: float = option(
        1.0e-4, "AdamW rate of the auxiliary stage (encoder and its head)", group="auxiliary stage"
    )
    aux_batch_size: int = option(
        16, "training windows per step in the auxiliary stage", group="auxiliary stage"
    )
    preprocessing: list[str] = option(
        ["strip_tatweel", "strip_diacritics"],
        "per-word normalisation steps, replayed at prediction time",
        group="data",
    )
    max_length: int = option(
        256, "sub-words per encoder window, special tokens included", group="data"
    )
    # optimisation
    seed: int = option(
        13, "seeds initialisation, shuffling, dropout and `train_fraction`", group="optimisation"
    )
    epochs: int = option(
        40,
        "length of the learning-rate schedule (and the most epochs trained)",
        group="optimisation",
    )
    batch_size: int = option(4, "training windows per step (per process)", group="optimisation")
    learning_rate: float = option(2.0e-4, "AdamW rate of the encoder", group="optimisation")
    head_learning_rate: float = option(
        2.0e-3, "AdamW rate of the tag classifier and the relation head", group="optimisation"
    )
    weight_decay: float = option(0.01, "AdamW weight decay", group="optimisation")
    warmup_ratio: float = option(
        0.1, "share of the steps with a linearly rising rate", group="optimisation"
    )
    max_grad_norm: float = option(1.0, "gradient clipping norm (0: none)", group="optimisation")
    patience: int = option(
        10,
        "stop after this many selectable epochs without a dev gain (0: never)",
        group="optimisation",
    )
    selection_metric: str = option(
        "entity",
        "dev score that keeps an epoch: `entity` (entity micro-F1, "
        "relation F1 breaks ties) or `entity+relation` (their sum)",
        group="selection",
    )
    select_after_warmup: bool = option(
        True, "never keep an epoch of the warm-up as best", group="selection"
    )
    # heads
    lexical_prior: bool = option(
        True,
        "mix a feature CRF's tag marginals into tag decoding, weight chosen on dev",
        group="heads",
    )
    relation_prior: bool = option(
        True,
        "mix a feature classifier's relation probabilities into the head's, "
        "weight chosen on dev with the NONE threshold",
        group="heads",
    )
    relation_weight: float = option(
        1.0, "joint loss = tagging + relation_weight x relation", group="heads"
    )
    relation_hidden: int = option(256, "hidden units of the relation head's MLP", group="heads")
    relation_left_context: int = option(
        8, "also max-pool this many sub-words before the earlier mention (0: off)", group="heads"
    )
    relation_pair_attention: bool = option(
        False,
        "add a pair-conditioned attention pool over the window to the relation head",
        group="heads",
    )
    relation_markers: bool = option(
        False,
        "add levitated entity markers to the relation head (a second encoder pass over the pairs)",
        group="heads",
    )
    width_embedding_dim: int = option(
        32, "size of the width, type, distance and between embeddings", group="heads"
    )
    none_weight: float = option(0.25, "class weight of NONE in the relation loss", group="heads")
    predicted_entity_negatives: bool = option(
        True,
        "add the tagger's non-gold spans as NONE-only relation candidates in training",
        group="heads",
    )
    dropout: float = option(
        0.3, "dropout in the relation head's MLP (the encoder keeps its own)", group="heads"
    )
    tune_none_bias: bool = option(
        True, "choose the relation decision threshold on dev", group="heads"
    )
    # tiny-random encoder shape (tests and smoke runs)
    tiny_hidden_size: int = option(
        64, "hidden size of the `tiny-random` encoder", group="tiny encoder"
    )
    tiny_layers: int = option(2, "layers of the `tiny-random` encoder", group="tiny encoder")
    tiny_heads: int = option(
        2, "attention heads of the `tiny-random` encoder", group="tiny encoder"
    )
    tiny_vocab_size: int = option(
        2000, "WordPiece vocabulary of the `tiny-random` encoder", group="tiny encoder"
    )
    # run
    eval_batch_size: int = option(32, "windows per batch in dev evaluation", group="run")
    num_threads: int | None = option(
        None,
        "torch CPU threads (null: torch's default); results differ by thread count",
        group="run",
    )
    deterministic: bool = option(
        True,
        "deterministic kernels only, strictly (GPU too); false for an op without one",
        group="run",
    )
    refit_from: str | None = option(
        None,
        "a dev-selected checkpoint of this configuration whose kept epoch and "
        "decoding settings a retraining reuses (marsad refit, marsad train --refit)",
        group="run",
    )
    refit_include_dev: bool = option(
        True,
        "a refit trains on train + dev (false: dev stays out, to check refitting on it)",
        group="run",
    )
    progress: bool = option(True, "progress bars", group="run")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _optional_samples() -> dict[str, Any]:
    """Fields typed ``X | None``: a sample of the type X they take otherwise (read from the
    annotations, so a new optional option cannot be left out)."""
    hints = typing.get_type_hints(TrainConfig)
    out = {}
    for name, hint in hints.items():
        args = typing.get_args(hint)
        if type(None) in args:
            (kind,) = [a for a in args if a is not type(None)]
            out[name] = kind()
    return out


_OPTIONAL_SAMPLES: dict[str, Any] = _optional_samples()


def _coerce(name: str, value: Any, source: str) -> Any:
    """Check a value against the field's default type (YAML already parsed scalars)."""
    default = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    sample = (
        default.default if default.default is not dataclasses.MISSING else default.default_factory()
    )
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
        if not math.isfinite(value) or abs(value) > FLOAT32_MAX:  # .inf passes the ranges below
            raise ConfigError(
                f"{source}: key {name!r} must be a finite number (float32, at most "
                f"{FLOAT32_MAX:.4g} in size), got {value!r}"
            )
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
        raise ConfigError(
            f"{source}: retired option(s) {on} (off values: "
            f"{ {k: RETIRED_OPTIONS[k] for k in on} }); they lost on dev and were removed "
            "(docs/experiments.md, 'Retired options'; the code is at git tag retired-options)"
        )
    return {k: v for k, v in values.items() if k not in RETIRED_OPTIONS}


def _apply(values: dict[str, Any], source: str) -> dict[str, Any]:
    known = set(TrainConfig.field_names())
    out = {}
    for key, value in drop_retired(values, source).items():
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f" (known keys: {', '.join(sorted(known))})"
            )
            raise ConfigError(f"{source}: unknown config key {key!r}{hint}")
        out[key] = _coerce(key, value, source)
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps
    the last one silently, so an edit further down a config could undo one above unseen)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                seen = key in first_line
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {first_line[key]})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """The 1-based line and the reason of a YAML error."""
    mark = getattr(exc, "problem_mark", None)
    return (mark.line + 1 if mark is not None else None), str(getattr(exc, "problem", None) or exc)


def _override_items(pairs: list[str]) -> list[tuple[str, Any, str]]:
    """``["epochs=3"]`` -> ``[("epochs", 3, "--set epochs=3")]``: each value parsed as a YAML
    scalar and paired with the override that gave it, which errors name."""
    out = []
    for pair in pairs:
        source = f"--set {pair}"
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{source}: expected key=value, e.g. --set epochs=3")
        try:
            value = yaml.load(raw, Loader=_UniqueKeyLoader) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: cannot parse the value: {_yaml_problem(exc)[1]}") from exc
        out.append((key.strip(), value, source))
    return out


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=3", "model=tiny-random"]`` -> dict, values parsed as YAML scalars."""
    return {key: value for key, value, _ in _override_items(pairs)}


def _read_yaml(path: Path) -> dict[str, Any]:
    """The mapping a config file holds; YAML errors and repeated keys name the file and line."""
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte offset {exc.start}: {exc.reason})") from exc
    except yaml.YAMLError as exc:
        line, problem = _yaml_problem(exc)
        where = f"{path}:{line}" if line is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from exc
    if loaded is None:  # an empty file (or only comments): every option at its default
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys to values")
    return loaded


def _merge(
    values: dict[str, Any], source: str, overrides: list[str] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """``values`` (read from ``source``) with the overrides applied, and where each key came from
    (the file, or the ``--set key=value`` that set it last)."""
    merged = _apply(values, source)
    origin = dict.fromkeys(merged, source)
    for key, value, pair_source in _override_items(overrides or []):
        for name, checked in _apply({key: value}, pair_source).items():
            merged[name] = checked
            origin[name] = pair_source
    return merged, origin


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (``None``: defaults only) and apply ``key=value`` overrides."""
    loaded = _read_yaml(Path(path)) if path is not None else {}
    source = str(path) if path is not None else "config defaults"
    values, origin = _merge(loaded, source, overrides)
    return _validated(TrainConfig(**values), origin, source)


def config_from_dict(
    values: dict[str, Any], source: str, overrides: list[str] | None = None
) -> TrainConfig:
    """A config saved as a dict (a checkpoint's ``training_config``), with ``key=value`` overrides;
    keys added to the code since it was saved take their defaults, retired keys at their "off" value
    are dropped (:func:`drop_retired`)."""
    merged, origin = _merge(values, source, overrides)
    return _validated(TrainConfig(**merged), origin, source)


# AdamW moves each weight by about the rate at every step: above 1 a run diverges at once (and
# above ~3e37 torch cannot even take the step, float32 overflows).
LEARNING_RATES = "in (0, 1]"

# Numeric ranges checked at load time: key -> (test, what the key must be).
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epochs": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "eval_batch_size": (lambda v: v >= 1, ">= 1"),
    "learning_rate": (lambda v: 0 < v <= 1, LEARNING_RATES),
    "head_learning_rate": (lambda v: 0 < v <= 1, LEARNING_RATES),
    "weight_decay": (lambda v: v >= 0, ">= 0"),
    "warmup_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "max_grad_norm": (lambda v: v >= 0, ">= 0 (0: no clipping)"),
    "patience": (lambda v: v >= 0, ">= 0 (0: never stop early)"),
    "max_length": (lambda v: v >= 16, ">= 16"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "relation_weight": (lambda v: v >= 0, ">= 0"),
    "none_weight": (lambda v: v > 0, "> 0"),
    "relation_hidden": (lambda v: v >= 1, ">= 1"),
    "relation_left_context": (lambda v: v >= 0, ">= 0 (0: off)"),
    "width_embedding_dim": (lambda v: v >= 1, ">= 1"),
    "aux_dev_sentences": (lambda v: v >= 0, ">= 0"),
    "aux_epochs": (lambda v: v >= 0, ">= 0 (0: no stage)"),
    "aux_learning_rate": (lambda v: 0 < v <= 1, LEARNING_RATES),
    "aux_batch_size": (lambda v: v >= 1, ">= 1"),
    "train_fraction": (lambda v: 0 < v <= 1, "in (0, 1] (1 = all training sentences)"),
    "num_threads": (lambda v: v is None or v >= 1, ">= 1 or null"),
    "fold": (lambda v: v is None or 0 <= v < 5, "0..4 or null"),
    **{
        k: (lambda v: v >= 1, ">= 1")
        for k in ("tiny_hidden_size", "tiny_layers", "tiny_heads", "tiny_vocab_size")
    },
}


# Options naming a directory: an empty one would mean the current directory (best/ written there).
NON_EMPTY_PATHS = ("data_dir", "output_dir")


def _validated(
    cfg: TrainConfig, origin: dict[str, str] | None = None, source: str = "config"
) -> TrainConfig:
    """``cfg`` once every option is in range; an error names where the bad value came from
    (``origin``: key -> file or ``--set key=value``; else ``source``)."""
    origin = origin or {}

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{origin.get(key, source)}: {message}")

    for key, (ok, wanted) in RANGES.items():
        value = getattr(cfg, key)
        if not ok(value):
            raise fail(key, f"{key} must be {wanted}, got {value!r}")
    for key in NON_EMPTY_PATHS:
        if not getattr(cfg, key).strip():
            raise fail(key, f"{key} must not be empty (it would mean the current directory)")
    unknown_steps = [step for step in cfg.preprocessing if step not in STEPS]
    if unknown_steps:
        raise fail(
            "preprocessing",
            f"preprocessing has unknown step(s) {unknown_steps}; known: {sorted(STEPS)}",
        )
    if cfg.selection_metric not in SELECTION_METRICS:
        raise fail(
            "selection_metric",
            f"selection_metric must be one of {', '.join(SELECTION_METRICS)}, "
            f"got {cfg.selection_metric!r}",
        )
    return cfg


def check_max_length(cfg: TrainConfig, encoder_config: Any, encoder: str) -> None:
    """Refuse a ``max_length`` longer than the encoder can position (a Hugging Face config's
    ``max_position_embeddings``; RoBERTa-style encoders start positions after the padding id):
    training would pass, and the checkpoint fail on every long sentence."""
    positions = getattr(encoder_config, "max_position_embeddings", None)
    if not isinstance(positions, int):
        return
    limit = positions
    if getattr(encoder_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        limit -= (getattr(encoder_config, "pad_token_id", None) or 0) + 1
    if cfg.max_length > limit:
        raise ConfigError(
            f"max_length: {cfg.max_length} is more than the encoder {encoder!r} can position "
            f"({limit} sub-words, max_position_embeddings {positions}); set max_length <= {limit}"
        )


def options_markdown() -> str:
    """The option table of docs/training.md, one row per field, from the help texts above."""
    rows = ["| option | default | what it does |", "|---|---|---|"]
    group = None
    for f in dataclasses.fields(TrainConfig):
        if f.metadata["group"] != group:
            group = f.metadata["group"]
            rows.append(f"| **{group}** | | |")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        shown = (
            "null"
            if default is None
            else str(default).lower()
            if isinstance(default, bool)
            else default
        )
        rows.append(f"| `{f.name}` | `{shown}` | {f.metadata['help']} |")
    return "\n".join(rows) + "\n"


def check_paths(cfg: TrainConfig) -> None:
    """The corpora a training run reads exist (checked when training starts, not when a config is
    read: a checkpoint's saved config may name another machine's paths)."""
    for key, directory in [("data_dir", cfg.data_dir)] + [
        ("extra_data", d) for d in cfg.extra_data
    ]:
        if not (Path(directory) / "splits.json").is_file():
            raise ConfigError(
                f"{key}: {directory} is not a corpus directory (no splits.json in it)"
            )
    if cfg.aux_corpus and not Path(cfg.aux_corpus).is_file():
        raise ConfigError(f"aux_corpus: {cfg.aux_corpus} is not a file")
