"""Relation head shapes and schema masking, with and without the input projection."""
from __future__ import annotations

import pytest
import torch

from marsad.modeling import RELATION_LABELS, PairBatch, RelationHead
from marsad.schema import ENTITY_TYPES


@pytest.mark.parametrize("projection", [0, 16])
def test_head_masks_labels_that_do_not_fit_the_types(projection):
    torch.manual_seed(0)
    head = RelationHead(hidden_size=32, mlp_hidden=8, feature_dim=4, projection=projection)
    q, a = ENTITY_TYPES.index("QUANTITY"), ENTITY_TYPES.index("ACTOR")
    t = lambda *v: torch.tensor(v)  # noqa: E731
    pairs = PairBatch(example=t(0, 0), head_first=t(1, 3), head_last=t(1, 3), tail_first=t(3, 1), tail_last=t(4, 1),
                      head_type=t(q, a), tail_type=t(a, q), head_width=t(1, 2), tail_width=t(2, 1),
                      distance=t(1, 11), between=t(0, 7))
    logits = head(torch.randn(1, 6, 32), pairs)
    assert logits.shape == (2, len(RELATION_LABELS))
    allowed_q_to_a = {RELATION_LABELS[i] for i in torch.isfinite(logits[0]).nonzero().flatten().tolist()}
    assert allowed_q_to_a == {"NONE", "QUANTITY_OF"}
    assert {RELATION_LABELS[i] for i in torch.isfinite(logits[1]).nonzero().flatten().tolist()} == {"NONE"}
    assert sum(p.numel() for p in head.project.parameters()) == (32 * 16 + 16 if projection else 0)
