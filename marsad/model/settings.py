"""The decoding settings dev chooses after training: one immutable value, saved with the checkpoint.

Training fits the encoder and heads on the training sentences; three numbers are then chosen on
dev: the lexical prior's mixture weight (entity F1), and jointly the relation prior's weight and
the NONE-logit shift (end-to-end relation F1). They are decoding choices, not weights: one frozen
:class:`DecodingSettings`, written to ``marsad.json`` under ``"decoding"``, read back by
:func:`marsad.model.checkpoint.load_checkpoint` and passed into inference, so nothing downstream can
change what dev chose by accident.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

META_KEY = "decoding"


@dataclass(frozen=True)
class DecodingSettings:
    lexical_weight: float = (
        0.0  # feature-CRF tag marginals mixed into tag decoding (0: encoder alone)
    )
    relation_weight: float = (
        0.0  # feature-classifier relation probabilities mixed in (0: head alone)
    )
    none_bias: float = 0.0  # added to the NONE logit before relations are decoded (0: plain argmax)

    def __post_init__(self) -> None:
        for name in ("lexical_weight", "relation_weight"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} is a mixture weight in [0, 1], got {value!r}")
        if not (isinstance(self.none_bias, (int, float)) and math.isfinite(self.none_bias)):
            raise ValueError(f"none_bias must be a finite number, got {self.none_bias!r}")

    def unmet_priors(self, has_lexical: bool, has_relation: bool) -> str | None:
        """What these settings mix in that the model lacks ("a lexical prior in (weight 0.5)"), or
        None: the one check behind saving, loading and inference."""
        for name, weight, present in (
            ("lexical", self.lexical_weight, has_lexical),
            ("relation", self.relation_weight, has_relation),
        ):
            if weight and not present:
                return f"decoding mixes a {name} prior in (weight {weight})"
        return None

    def without_priors(self) -> DecodingSettings:
        """The same NONE shift with neither prior mixed in: how the model alone decodes (a model
        whose priors were dropped cannot run the settings that mix them in)."""
        return replace(self, lexical_weight=0.0, relation_weight=0.0)

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> DecodingSettings:
        """The settings a checkpoint's ``marsad.json`` records; checkpoints from before the key kept
        the weights beside each prior's file and the shift as ``relation_none_bias``."""
        if META_KEY in meta:
            settings = meta[META_KEY]
            if not isinstance(settings, dict):
                raise ValueError(f"{META_KEY!r} must be an object of settings, got {settings!r}")
            known = {"lexical_weight", "relation_weight", "none_bias"}
            unknown = sorted(set(settings) - known)
            if unknown:
                raise ValueError(f"unknown decoding setting(s) {unknown} (known: {sorted(known)})")
            for key, value in settings.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{META_KEY}.{key} must be a number, got {value!r}")
            return cls(**{k: float(v) for k, v in settings.items()})
        lexical, relation = meta.get("lexical_prior") or {}, meta.get("relation_prior") or {}
        return cls(
            float(lexical.get("weight", 0.0)),
            float(relation.get("weight", 0.0)),
            float(meta.get("relation_none_bias", 0.0)),
        )
