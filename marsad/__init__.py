"""Marsad: who did what where, and how many, in Arabic conflict news."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Predictor", "predict", "Prediction", "Entity", "Relation"]


def __getattr__(name: str):
    # Lazy: `import marsad` (e.g. for data tooling) must not pull in torch/transformers.
    if name in __all__:
        from marsad import predictor as _predictor

        return getattr(_predictor, name)
    raise AttributeError(f"module 'marsad' has no attribute {name!r}")
