"""Turn the config's ``model`` field into something ``from_pretrained`` can load, offline when
needed.

A hub id that is neither cached nor reachable falls back to ``fallback_model`` after one quick
check (a TCP connect with a short timeout, or ``HF_HUB_OFFLINE``), instead of the ~50 s of retries a
plain ``from_pretrained`` spends before failing. The encoder actually used is recorded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from marsad.fileio import cache_root

logger = logging.getLogger(__name__)

BUNDLED_E5 = "bundled:multilingual-e5-small"
TINY_RANDOM = "tiny-random"


class EncoderUnavailable(RuntimeError):
    """The configured encoder cannot be loaded here and no usable fallback is configured."""


@dataclass(frozen=True)
class EncoderChoice:
    requested: str  # the config's ``model``
    used: str  # what was loaded: a hub id, "bundled:...", "tiny-random" or a local path
    path: str  # what to pass to from_pretrained
    fallback_reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _hub_is_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo_id, "config.json")
        return isinstance(hit, str)
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        return False


def hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """One quick check for the hub; returns (reachable, reason if not)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False, "HF_HUB_OFFLINE is set"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = (
        endpoint.hostname or "huggingface.co",
        endpoint.port or (443 if endpoint.scheme == "https" else 80),
    )
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as exc:
        return False, f"cannot reach {host}:{port} ({exc.__class__.__name__}: {exc})"


def _tiny_dir(texts: list[str], shape: dict) -> Path:
    key = hashlib.sha256(repr((sorted(shape.items()), texts)).encode()).hexdigest()[:16]
    return cache_root() / f"tiny-random-{key}"


def _materialise(name: str, tiny_texts: list[str], tiny_shape: dict) -> str:
    """Local path for the non-hub encoder names; the name itself for hub ids and local dirs."""
    if name == TINY_RANDOM:
        from marsad.model.encoders.tiny import build_tiny_encoder

        dest = _tiny_dir(tiny_texts, tiny_shape)
        if not (dest / "config.json").exists():
            build_tiny_encoder(dest, tiny_texts, **tiny_shape)
        return str(dest)
    if name == BUNDLED_E5:
        from marsad.model.encoders.bundled_e5 import ensure_bundled_e5

        return str(ensure_bundled_e5())
    if name.startswith("bundled:"):
        raise EncoderUnavailable(f"unknown bundled encoder {name!r}; available: {BUNDLED_E5}")
    return name


def _is_local_or_builtin(name: str) -> bool:
    return name in (TINY_RANDOM,) or name.startswith("bundled:") or Path(name).is_dir()


def resolve_encoder(
    model: str,
    fallback_model: str | None = None,
    tiny_texts: list[str] | None = None,
    tiny_shape: dict | None = None,
) -> EncoderChoice:
    """Pick the encoder to load; falls back loudly when a hub id is out of reach."""
    tiny_texts, tiny_shape = tiny_texts or [], tiny_shape or {}
    if _is_local_or_builtin(model) or _hub_is_cached(model):
        return EncoderChoice(model, model, _materialise(model, tiny_texts, tiny_shape))
    if looks_like_path(model):
        raise EncoderUnavailable(f"encoder directory {model!r} does not exist")
    reachable, reason = hub_reachable()
    if reachable:
        return EncoderChoice(model, model, model)
    if not fallback_model:
        raise EncoderUnavailable(
            f"hub model {model!r} is not cached and the hub is unreachable ({reason}); "
            "set fallback_model in the config or download the model first"
        )
    banner = "!" * 78
    logger.warning(
        "\n%s\nENCODER FALLBACK: %r is unavailable (%s).\nTraining with %r instead; "
        "this is recorded in the checkpoint and every report.\n%s",
        banner,
        model,
        reason,
        fallback_model,
        banner,
    )
    return EncoderChoice(
        model, fallback_model, _materialise(fallback_model, tiny_texts, tiny_shape), reason
    )


def looks_like_path(name: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything with more parts or a leading ./ ~ / is a
    path."""
    return (
        name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.replace("/", "")
    )
