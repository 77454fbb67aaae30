"""Checkpoint directories: a plain HF token-classification model plus the relation head and
metadata.

Layout (all written into a temp dir and swapped into place atomically):
  config.json, model.safetensors     the tagger; loads with AutoModelForTokenClassification
  tokenizer.json, tokenizer_config.json, ...
  relation_head.safetensors          the relation head's weights
  marsad.json                        schema, label sets, preprocessing, encoder provenance, data
                                     hash, training config, dev metrics, and under "decoding" the
                                     settings dev chose (marsad.model.settings.DecodingSettings)
  README.md                          model card
  (marsad.json lists every other file's size and SHA-256 under "files"; loading checks them)
  activation_absmax.safetensors      (best checkpoints) activation ranges on training sentences, for
                                     smoothed int8 inference (marsad.quantization)
  lexical_crf.crfsuite               (lexical_prior models) the feature CRF mixed into tag decoding,
                                     see marsad.model.lexical_prior; its weight is a decoding
                                     setting
  relation_prior.json                (relation_prior models) the feature classifier mixed into
                                     relation decoding, see marsad.model.relation_prior; its weight
                                     is a decoding setting
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from marsad.fileio import atomic_directory
from marsad.model.joint import JointModel, RelationHead
from marsad.model.lexical_prior import PRIOR_FILE, LexicalPrior
from marsad.model.relation_prior import RELATION_PRIOR_FILE, RelationPrior
from marsad.model.settings import META_KEY as SETTINGS_KEY
from marsad.model.settings import DecodingSettings
from marsad.model.windows import special_affixes
from marsad.schema import BIO_TAGS, ENTITY_TYPES, RELATION_LABELS, SCHEMA_VERSION
from marsad.text import check_steps

META_FILE = "marsad.json"
RELATION_FILE = "relation_head.safetensors"
FORMAT_VERSION = 1
FILES_KEY = "files"  # in marsad.json: name -> {"bytes", "sha256"} of every other file
TOKENIZER_CONFIG = "tokenizer_config.json"
LABEL_FIELDS = {
    "bio_tags": BIO_TAGS,
    "entity_types": ENTITY_TYPES,
    "relation_labels": RELATION_LABELS,
}


class CheckpointError(RuntimeError):
    """A checkpoint directory is missing a file or its files disagree; the message names which."""


@dataclass(frozen=True)
class Loaded:
    model: JointModel
    tokenizer: PreTrainedTokenizerBase
    meta: dict[str, Any]
    decoding: DecodingSettings  # what dev chose; inference takes it from here

    @property
    def preprocessing(self) -> list[str]:
        return list(self.meta["preprocessing"])

    @property
    def max_length(self) -> int:
        return int(self.meta["max_length"])


def base_meta(
    preprocessing: list[str], max_length: int, head_shape: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "bio_tags": list(BIO_TAGS),
        "entity_types": list(ENTITY_TYPES),
        "relation_labels": list(RELATION_LABELS),
        "preprocessing": list(preprocessing),
        "max_length": max_length,
        "relation_head": head_shape,
    }


def save_checkpoint(
    dest: Path,
    model: JointModel,
    tokenizer: PreTrainedTokenizerBase,
    meta: dict[str, Any],
    model_card: str,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write the checkpoint atomically: ``dest`` is either the old or the complete new checkpoint.

    ``extra(tmp_dir)`` may add files (e.g. optimizer state) inside the same atomic write.
    """
    for key, described in priors_meta(model).items():
        if meta.get(key) != described:
            what = key.replace("_", " ")
            model_has = f"absent {what}" if described is None else what
            raise ValueError(
                f"meta {key}={meta.get(key)!r} does not describe the model's {model_has}"
            )
    if SETTINGS_KEY not in meta:
        raise ValueError(
            f"meta lacks {SETTINGS_KEY!r}: the decoding settings dev chose (DecodingSettings)"
        )
    unmet = DecodingSettings.from_meta(meta).unmet_priors(
        model.lexical_prior is not None, model.relation_prior is not None
    )
    if unmet:
        raise ValueError(f"meta {unmet} but the model has none")
    with atomic_directory(Path(dest)) as tmp:
        model.tagger.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        state = {
            k: v.detach().cpu().contiguous() for k, v in model.relation_head.state_dict().items()
        }
        save_file(state, str(tmp / RELATION_FILE))
        for prior in (model.lexical_prior, model.relation_prior):
            if prior is not None:
                prior.save(tmp)
        (tmp / "README.md").write_text(model_card, encoding="utf-8")
        if extra is not None:
            extra(tmp)
        meta = {**meta, FILES_KEY: file_digests(tmp)}  # checked at load: damage is named, not run
        (tmp / META_FILE).write_text(
            json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return Path(dest)


def sha256_file(path: Path) -> str:
    """A file's SHA-256, read in 1 MiB blocks (weights are hundreds of MB)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file of a checkpoint but its metadata (which holds them)."""
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(Path(directory).iterdir())
        if p.is_file() and p.name != META_FILE
    }


def listed_files(directory: Path, meta: dict[str, Any]) -> list[tuple[Path, int, str]]:
    """The files ``marsad.json`` lists, as (path, bytes, sha256), each checked before any is opened:
    a plain regular file inside ``directory``. An entry naming ``/dev/zero``, ``../..`` or a symlink
    out of the checkpoint would otherwise be read (a device or FIFO never ends)."""
    meta_path = directory / META_FILE
    files = meta.get(FILES_KEY, {})  # checkpoints written before the list was kept have none
    if not isinstance(files, dict):
        raise CheckpointError(
            f"{meta_path}: {FILES_KEY!r} must be an object (file name -> bytes and sha256), "
            f"got {type(files).__name__}"
        )
    root = directory.resolve()
    listed = []
    for name, want in files.items():
        where = f"{meta_path}: {FILES_KEY!r} entry {name!r}"
        if not (
            isinstance(want, dict)
            and isinstance(want.get("bytes"), int)
            and not isinstance(want["bytes"], bool)
            and want["bytes"] >= 0
            and isinstance(want.get("sha256"), str)
        ):
            raise CheckpointError(
                f"{where}: expected {{'bytes': int, 'sha256': str}}, got {want!r}"
            )
        path = directory / name
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise CheckpointError(f"{where}: cannot be resolved: {exc}") from exc
        if resolved == root or not resolved.is_relative_to(root):
            raise CheckpointError(
                f"{where}: names {resolved}, outside the checkpoint directory {root}; refused"
            )
        if not path.exists():
            raise CheckpointError(f"{path}: missing (listed in {META_FILE})")
        if not resolved.is_file():
            raise CheckpointError(
                f"{where}: {path} is not a regular file (a directory, device or FIFO); refused"
            )
        listed.append((path, want["bytes"], want["sha256"]))
    return listed


def verify_files(directory: Path, meta: dict[str, Any], hashes: bool = True) -> None:
    """Every file ``marsad.json`` lists is there, inside the checkpoint, with its size and
    (``hashes``) SHA-256; checkpoints written before the list was kept have none to check."""
    for path, size_wanted, sha256 in listed_files(Path(directory), meta):
        size = path.stat().st_size
        if size != size_wanted:
            raise CheckpointError(
                f"{path}: {size} bytes, {META_FILE} says {size_wanted}: the file is truncated or "
                "was changed after the checkpoint was written"
            )
        if hashes and sha256_file(path) != sha256:
            raise CheckpointError(
                f"{path}: SHA-256 differs from {META_FILE}: the file is damaged or was changed "
                "after the checkpoint was written"
            )


def priors_meta(model: JointModel) -> dict[str, dict[str, Any] | None]:
    """What ``marsad.json`` says of the model's two decoding priors (None: the model has none)."""
    lexical, relation = model.lexical_prior, model.relation_prior
    return {
        "lexical_prior": None if lexical is None else {"file": PRIOR_FILE},
        "relation_prior": None if relation is None else {"file": RELATION_PRIOR_FILE},
    }


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CheckpointError(
            f"{path.parent} is not a Marsad checkpoint: missing {path.name} ({what})"
        )
    if not path.is_file():  # a directory, device or FIFO: reading it fails or never ends
        raise CheckpointError(f"{path} is not a regular file ({what})")
    return path


def read_meta(directory: Path) -> dict[str, Any]:
    """``marsad.json``, checked field by field: what would load and then fail on every document
    (an unknown preprocessing step, a bad ``max_length``, label lists of another schema) is
    refused here, naming the file and the field."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
    meta_path = _require(directory / META_FILE, "Marsad metadata")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{meta_path} is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{meta_path}: the top level is {type(meta).__name__}, not an object of fields"
        )
    for key in (
        "schema_version",
        "bio_tags",
        "relation_labels",
        "preprocessing",
        "max_length",
        "relation_head",
    ):
        if key not in meta:
            raise CheckpointError(f"{meta_path} lacks key {key!r}")
    if meta["schema_version"] != SCHEMA_VERSION:
        raise CheckpointError(
            f"{meta_path}: schema version {meta['schema_version']} != this code's {SCHEMA_VERSION}"
        )
    _check_labels(meta_path, meta)
    _check_preprocessing(meta_path, meta)
    _check_head_shape(meta_path, meta["relation_head"])
    return meta


def _check_labels(meta_path: Path, meta: dict[str, Any]) -> None:
    """The label lists are this code's schema (decoding reads the code's; ``entity_types`` is
    absent from the oldest checkpoints)."""
    for key, schema in LABEL_FIELDS.items():
        if key in meta and meta[key] != list(schema):
            raise CheckpointError(
                f"{meta_path}: {key} {meta[key]!r} differs from this code's schema "
                f"{list(schema)}: label sets differ"
            )


def _check_preprocessing(meta_path: Path, meta: dict[str, Any]) -> None:
    steps, max_length = meta["preprocessing"], meta["max_length"]
    if not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
        raise CheckpointError(
            f"{meta_path}: preprocessing must be a list of step names, got {steps!r}"
        )
    try:
        check_steps(steps)
    except ValueError as exc:
        raise CheckpointError(f"{meta_path}: preprocessing: {exc}") from exc
    if not _is_int(max_length, 1):
        raise CheckpointError(
            f"{meta_path}: max_length must be a positive integer (sub-words per window), "
            f"got {max_length!r}"
        )


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


# relation_head fields, what each must be, and the test (the head is built from them before its
# weights are read); left_context, pair_attention and markers are absent from older checkpoints
HEAD_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "mlp_hidden": ("an integer >= 1", lambda v: _is_int(v, 1)),
    "feature_dim": ("an integer >= 1", lambda v: _is_int(v, 1)),
    "dropout": (
        "a number in [0, 1)",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
    ),
    "left_context": ("an integer >= 0", lambda v: _is_int(v, 0)),
    "pair_attention": ("true or false", lambda v: isinstance(v, bool)),
    "markers": ("true or false", lambda v: isinstance(v, bool)),
}
OPTIONAL_HEAD_FIELDS = ("left_context", "pair_attention", "markers")


def _check_head_shape(meta_path: Path, shape: Any) -> None:
    if not isinstance(shape, dict):
        raise CheckpointError(f"{meta_path}: relation_head must be an object, got {shape!r}")
    for key, (what, valid) in HEAD_FIELDS.items():
        if key not in shape and key not in OPTIONAL_HEAD_FIELDS:
            raise CheckpointError(f"{meta_path}: relation_head lacks {key!r}")
        if key in shape and not valid(shape[key]):
            raise CheckpointError(
                f"{meta_path}: relation_head.{key} must be {what}, got {shape[key]!r}"
            )


def _check_id2label(config_path: Path, meta: dict[str, Any]) -> None:
    """config.json's labels are marsad.json's tags, in order."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{config_path} is not valid JSON: {exc}") from exc
    raw = config.get("id2label", {}) if isinstance(config, dict) else None
    try:
        id2label = {int(k): v for k, v in raw.items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{config_path}: id2label must map integer ids to tags, got {raw!r}"
        ) from exc
    if [id2label.get(i) for i in range(len(BIO_TAGS))] != list(BIO_TAGS) or len(id2label) != len(
        BIO_TAGS
    ):
        raise CheckpointError(
            f"{config_path}: id2label {id2label} does not match {META_FILE} bio_tags "
            f"{meta['bio_tags']}"
        )


def _check_windows(meta_path: Path, max_length: int, config: Any, tokenizer: Any) -> None:
    """``max_length`` fits the encoder's positions and leaves room for a sub-word between the
    special tokens; otherwise every document would fail at prediction."""
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and max_length > positions:
        raise CheckpointError(
            f"{meta_path}: max_length {max_length} exceeds the encoder's {positions} positions "
            "(config.json max_position_embeddings)"
        )
    prefix, suffix = special_affixes(tokenizer)
    if max_length <= len(prefix) + len(suffix):
        raise CheckpointError(
            f"{meta_path}: max_length {max_length} leaves no room for a sub-word beside the "
            f"{len(prefix) + len(suffix)} special tokens"
        )


def _check_tagger_weights(directory: Path, meta: dict[str, Any], info: dict[str, Any]) -> None:
    """Every tagger weight was read with the shape config.json gives it: a tag head with another
    number of labels than ``bio_tags`` would otherwise be replaced by random rows."""
    if info["mismatched_keys"]:
        key, in_file, wanted = min(info["mismatched_keys"], key=str)
        raise CheckpointError(
            f"{directory}: tagger weight {key} has shape {list(in_file)}, config.json and "
            f"{META_FILE} ({len(meta['bio_tags'])} bio_tags) give {list(wanted)}: the weights do "
            "not match the labels"
        )
    if info["missing_keys"]:
        raise CheckpointError(
            f"{directory}: tagger weights lack {sorted(info['missing_keys'])}: they would be random"
        )


def _check_head_labels(
    directory: Path, meta: dict[str, Any], head: RelationHead, state: dict[str, torch.Tensor]
) -> None:
    """The relation head's weights have a row per entity type (type embedding) and per relation
    label (last layer), as many as ``marsad.json`` lists: named here, before the generic
    state-dict error."""
    counts = {
        "entity_types": ("type_emb.weight", meta.get("entity_types", list(ENTITY_TYPES))),
        "relation_labels": (f"mlp.{len(head.mlp) - 1}.weight", meta["relation_labels"]),
    }
    for field, (key, labels) in counts.items():
        if key in state and state[key].shape[0] != len(labels):
            raise CheckpointError(
                f"{directory / RELATION_FILE}: {key} has {state[key].shape[0]} rows but "
                f"{META_FILE} {field} lists {len(labels)}: the weights do not match the labels"
            )


def load_tokenizer(directory: Path, tagger_config: Any) -> PreTrainedTokenizerBase:
    """The checkpoint's tokenizer as it was saved.

    ``AutoTokenizer`` needs ``tokenizer_config.json``: without it (a checkpoint from before the
    file list, where nothing noticed the file was lost) it picks a class from config.json's
    ``model_type`` and rebuilds the tokenizer, replacing tokenizer.json's normaliser (e.g. BERT's
    lower-casing and accent stripping, which turns أ into ا, instead of the file's NFC), so tokens
    silently differ from training. Then tokenizer.json is loaded as it is, and its padding and
    unknown tokens are read from the file and the model config.
    """
    path = directory / "tokenizer.json"
    if (directory / TOKENIZER_CONFIG).is_file() or not path.is_file():
        return AutoTokenizer.from_pretrained(directory)
    data = json.loads(path.read_text(encoding="utf-8"))
    positions = getattr(tagger_config, "max_position_embeddings", None)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(path), **({"model_max_length": positions} if positions else {})
    )
    backend = tokenizer.backend_tokenizer
    model = data.get("model") or {}
    unk = model.get("unk_token")
    if isinstance(model.get("unk_id"), int):  # Unigram keeps an id
        unk = backend.id_to_token(model["unk_id"])
    pad_id = getattr(tagger_config, "pad_token_id", None)
    pad = backend.id_to_token(pad_id) if isinstance(pad_id, int) else None
    if pad is None:
        raise CheckpointError(
            f"{directory}: no {TOKENIZER_CONFIG}, and config.json's pad_token_id {pad_id!r} names "
            f"no token of tokenizer.json: copy the encoder's {TOKENIZER_CONFIG} into the "
            "checkpoint"
        )
    tokenizer.add_special_tokens({"pad_token": pad, **({"unk_token": unk} if unk else {})})
    return tokenizer


def load_checkpoint(
    directory: Path | str, device: str | torch.device = "cpu", verify_hashes: bool = True
) -> Loaded:
    """Load a checkpoint written by :func:`save_checkpoint`, checking that its parts agree. File
    sizes are always checked against ``marsad.json``; ``verify_hashes=False`` skips their SHA-256
    (about a second per 500 MB of weights) when the files are known to be intact."""
    directory = Path(directory)
    meta = read_meta(directory)
    config_path = _require(directory / "config.json", "tagger config")
    if not any(
        (directory / n).exists() for n in ("model.safetensors", "pytorch_model.bin")
    ) and not any(directory.glob("model-*.safetensors")):
        raise CheckpointError(
            f"{directory} is not a Marsad checkpoint: missing model.safetensors (tagger weights)"
        )
    if not any(
        (directory / n).exists() for n in ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model")
    ):
        raise CheckpointError(
            f"{directory} is not a Marsad checkpoint: missing tokenizer.json (tokenizer)"
        )
    rel_path = _require(directory / RELATION_FILE, "relation head weights")
    verify_files(directory, meta, hashes=verify_hashes)
    _check_id2label(config_path, meta)
    try:
        tagger, info = AutoModelForTokenClassification.from_pretrained(
            directory, output_loading_info=True, ignore_mismatched_sizes=True
        )
        tokenizer = load_tokenizer(directory, tagger.config)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors and tokenizers raise their own types
        raise CheckpointError(
            f"cannot load tagger/tokenizer from {directory}: {type(exc).__name__}: {exc}"
        ) from exc
    _check_tagger_weights(directory, meta, info)
    _check_windows(directory / META_FILE, meta["max_length"], tagger.config, tokenizer)
    broken = [n for n, p in tagger.named_parameters() if not torch.isfinite(p).all()]
    if broken:
        raise CheckpointError(
            f"{directory}: tagger weights hold NaN or infinite values in {len(broken)} tensor(s), "
            f"e.g. {broken[0]}: the weights are damaged"
        )
    shape = meta["relation_head"]
    retired = {
        key: value
        for key, value in (
            ("projection", shape.get("projection", 0)),
            ("tag_transitions", meta.get("tag_transitions", False)),
        )
        if value
    }
    # options retired after losing on dev (git tag retired-options); their weights have no reader
    # now
    if retired:
        raise CheckpointError(
            f"{directory / META_FILE}: the model uses retired option(s) {retired} "
            "(see docs/experiments.md, 'Retired options'); load it with the code at "
            "tag retired-options"
        )
    head = RelationHead(
        tagger.config.hidden_size,
        shape["mlp_hidden"],
        shape["feature_dim"],
        shape["dropout"],
        shape.get("left_context", 0),
        shape.get("pair_attention", False),
        shape.get("markers", False),
    )
    try:
        state = load_file(str(rel_path))
    except Exception as exc:  # noqa: BLE001 - any corruption is a checkpoint error
        raise CheckpointError(
            f"{rel_path} does not fit the relation head described in {META_FILE}: {exc}"
        ) from exc
    _check_head_labels(directory, meta, head, state)
    try:
        state.pop(
            "none_bias", None
        )  # checkpoints before DecodingSettings kept the threshold here too
        head.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any corruption or shape mismatch is a checkpoint error
        raise CheckpointError(
            f"{rel_path} does not fit the relation head described in {META_FILE} "
            f"(hidden {tagger.config.hidden_size}, {shape}): {exc}"
        ) from exc
    prior = None
    if meta.get("lexical_prior"):  # older checkpoints lack the key: no prior
        prior_path = _require(
            directory / PRIOR_FILE, "lexical prior CRF; marsad.json says the model has one"
        )
        try:
            prior = LexicalPrior.load(prior_path)
        except Exception as exc:  # noqa: BLE001 - crfsuite raises bare errors on a corrupt model file
            raise CheckpointError(f"{prior_path} is not a readable crfsuite model: {exc}") from exc
    relation_prior = None
    if meta.get("relation_prior"):  # older checkpoints lack the key: no relation prior
        prior_file = _require(
            directory / RELATION_PRIOR_FILE, "relation prior; marsad.json says the model has one"
        )
        try:
            relation_prior = RelationPrior.load(prior_file)
        except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
            raise CheckpointError(
                f"{prior_file} is not a relation prior written by this code: {exc!r}"
            ) from exc
    try:
        decoding = DecodingSettings.from_meta(meta)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{directory / META_FILE}: bad decoding settings: {exc}") from exc
    unmet = decoding.unmet_priors(prior is not None, relation_prior is not None)
    if unmet:
        raise CheckpointError(f"{directory / META_FILE}: {unmet} but the checkpoint has none")
    model = JointModel(tagger, head, prior, relation_prior).to(device).eval()
    return Loaded(model, tokenizer, meta, decoding)
