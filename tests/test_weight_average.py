"""The moving average of the weights: its arithmetic, the swap in and out, and its saved state."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from marsad.weight_average import WeightAverage


def model_with_a_frozen_part() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    return model


def test_average_follows_the_ramped_decay_by_hand():
    model = model_with_a_frozen_part()
    avg = WeightAverage(model, decay=0.2)
    expected = model[1].bias.detach().clone()
    for step, value in enumerate([1.0, -2.0, 4.0], start=1):
        model[1].bias.data.fill_(value)
        avg.update()
        decay = min(0.2, (1 + step) / (10 + step))  # the ramp's 2/11 at the first step, then the cap 0.2
        expected = decay * expected + (1 - decay) * value
    assert torch.allclose(avg.shadow["1.bias"], expected)
    assert "0.weight" not in avg.shadow, "frozen parameters are not averaged"


def test_swapped_in_holds_the_average_and_restores_the_weights_even_on_error():
    model = model_with_a_frozen_part()
    avg = WeightAverage(model, decay=0.9)
    raw = model[1].weight.detach().clone()
    avg.shadow["1.weight"].fill_(7.0)
    with pytest.raises(RuntimeError), avg.swapped_in():
        assert torch.equal(model[1].weight, torch.full_like(raw, 7.0))
        raise RuntimeError("evaluation failed")
    assert torch.equal(model[1].weight, raw)
    assert torch.equal(avg.shadow["1.weight"], torch.full_like(raw, 7.0))


def test_state_round_trips_and_a_foreign_state_is_refused():
    model = model_with_a_frozen_part()
    avg = WeightAverage(model, decay=0.9)
    model[1].bias.data.add_(1.0)
    avg.update()
    again = WeightAverage(model_with_a_frozen_part(), decay=0.9)
    again.load_state_dict(avg.state_dict())
    assert again.updates == 1 and torch.equal(again.shadow["1.bias"], avg.shadow["1.bias"])
    other = WeightAverage(nn.Linear(3, 2), decay=0.9)
    with pytest.raises(ValueError, match="does not fit the model"):
        other.load_state_dict(avg.state_dict())


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_decay_outside_the_open_unit_interval_is_refused(decay):
    with pytest.raises(ValueError, match="decay must be in"):
        WeightAverage(nn.Linear(2, 2), decay)
