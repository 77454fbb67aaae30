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
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedTokenizerBase

from marsad.fileio import atomic_directory
from marsad.model.joint import JointModel, RelationHead
from marsad.model.lexical_prior import PRIOR_FILE, LexicalPrior
from marsad.model.relation_prior import RELATION_PRIOR_FILE, RelationPrior
from marsad.model.settings import META_KEY as SETTINGS_KEY
from marsad.model.settings import DecodingSettings
from marsad.schema import BIO_TAGS, ENTITY_TYPES, RELATION_LABELS, SCHEMA_VERSION

META_FILE = "marsad.json"
RELATION_FILE = "relation_head.safetensors"
FORMAT_VERSION = 1
FILES_KEY = "files"  # in marsad.json: name -> {"bytes", "sha256"} of every other file


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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file of a checkpoint but its metadata (which holds them)."""
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(Path(directory).iterdir())
        if p.is_file() and p.name != META_FILE
    }


def verify_files(directory: Path, meta: dict[str, Any], hashes: bool = True) -> None:
    """Every file ``marsad.json`` lists is there with its size and (``hashes``) SHA-256; checkpoints
    written before the list was kept have none to check."""
    for name, want in meta.get(FILES_KEY, {}).items():
        path = directory / name
        if not path.exists():
            raise CheckpointError(f"{path}: missing (listed in {META_FILE})")
        size = path.stat().st_size
        if size != want["bytes"]:
            raise CheckpointError(
                f"{path}: {size} bytes, {META_FILE} says {want['bytes']}: the file is truncated or "
                "was changed after the checkpoint was written"
            )
        if hashes and _sha256(path) != want["sha256"]:
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
    return path


def read_meta(directory: Path) -> dict[str, Any]:
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
    meta_path = _require(directory / META_FILE, "Marsad metadata")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{meta_path} is not valid JSON: {exc}") from exc
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
    if list(meta["bio_tags"]) != list(BIO_TAGS) or list(meta["relation_labels"]) != list(
        RELATION_LABELS
    ):
        raise CheckpointError(
            f"{meta_path}: label sets differ from this code's schema "
            f"(tags {meta['bio_tags']}, relations {meta['relation_labels']})"
        )
    return meta


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
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{config_path} is not valid JSON: {exc}") from exc
    id2label = {int(k): v for k, v in config.get("id2label", {}).items()}
    if [id2label.get(i) for i in range(len(BIO_TAGS))] != list(BIO_TAGS) or len(id2label) != len(
        BIO_TAGS
    ):
        raise CheckpointError(
            f"{config_path}: id2label {id2label} does not match {META_FILE} bio_tags "
            f"{meta['bio_tags']}"
        )
    try:
        tagger = AutoModelForTokenClassification.from_pretrained(directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
    except Exception as exc:  # noqa: BLE001 - safetensors and tokenizers raise their own types
        raise CheckpointError(
            f"cannot load tagger/tokenizer from {directory}: {type(exc).__name__}: {exc}"
        ) from exc
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
    )
    try:
        state = load_file(str(rel_path))
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
