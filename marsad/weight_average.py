"""An exponential moving average of the trainable weights, evaluated and saved in their place.

Why: on ~60 training sentences the dev scores jump by several points from one epoch to the next,
and which epoch dev happens to keep moves test entity F1 by about 3 points per fold. Scoring an
average of the weights over recent optimizer steps (Polyak averaging: about ``1 / (1 - decay)`` of
them once the ramp in :meth:`WeightAverage.current_decay` has reached the decay; before that, about
the last tenth of the steps so far) instead of the weights of a single step makes the kept model
less a matter of where one step landed.

Hand-written rather than ``torch.optim.swa_utils.AveragedModel``, which deep-copies the whole
module: here that would be the frozen 250k-row word-embedding matrix too, for nothing.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """Shadow copies of ``model``'s trainable parameters, updated after every optimizer step."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight-average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.shadow = {n: p.detach().clone() for n, p in self.params.items()}
        self.updates = 0

    def current_decay(self) -> float:
        """The decay, ramped up over the first steps (as in TensorFlow's ExponentialMovingAverage
        with ``num_updates``), so the random initial heads are forgotten quickly."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        step = 1.0 - self.current_decay()
        for name, param in self.params.items():
            self.shadow[name].lerp_(param.detach(), step)

    @torch.no_grad()
    def _swap(self) -> None:
        for name, param in self.params.items():
            held = param.detach().clone()
            param.copy_(self.shadow[name])
            self.shadow[name].copy_(held)

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The model carries the averaged weights inside the block and its own ones again after it."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "shadow": {n: t.cpu() for n, t in self.shadow.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        differing = sorted(set(self.shadow) ^ set(state["shadow"]))
        if differing:
            raise ValueError(f"weight-average state does not fit the model (differing parameters: {differing[:5]})")
        self.updates = int(state["updates"])
        for name, tensor in state["shadow"].items():
            self.shadow[name].copy_(tensor)
