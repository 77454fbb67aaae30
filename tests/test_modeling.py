"""Relation head shapes and schema masking, with and without the left-context pooling."""

from __future__ import annotations

import pytest
import torch
from conftest import load_script

from marsad.model.joint import PairBatch, RelationHead
from marsad.schema import ENTITY_TYPES, RELATION_LABELS


@pytest.mark.parametrize("left_context", [0, 3])
def test_head_masks_labels_that_do_not_fit_the_types(left_context):
    torch.manual_seed(0)
    head = RelationHead(hidden_size=32, mlp_hidden=8, feature_dim=4, left_context=left_context)
    q, a = ENTITY_TYPES.index("QUANTITY"), ENTITY_TYPES.index("ACTOR")
    t = lambda *v: torch.tensor(v)  # noqa: E731
    pairs = PairBatch(
        example=t(0, 0),
        head_first=t(1, 3),
        head_last=t(1, 3),
        tail_first=t(3, 1),
        tail_last=t(4, 1),
        head_type=t(q, a),
        tail_type=t(a, q),
        head_width=t(1, 2),
        tail_width=t(2, 1),
        distance=t(1, 11),
        between=t(0, 7),
    )
    logits = head(torch.randn(1, 6, 32), pairs)
    assert logits.shape == (2, len(RELATION_LABELS))
    allowed_q_to_a = {
        RELATION_LABELS[i] for i in torch.isfinite(logits[0]).nonzero().flatten().tolist()
    }
    assert allowed_q_to_a == {"NONE", "QUANTITY_OF"}
    assert {RELATION_LABELS[i] for i in torch.isfinite(logits[1]).nonzero().flatten().tolist()} == {
        "NONE"
    }


def _naive_between(hidden: torch.Tensor, pairs: PairBatch) -> torch.Tensor:
    """Reference: mask everything outside the gap and take the max (zeros for an empty gap)."""
    left_end = torch.minimum(pairs.head_last, pairs.tail_last)
    right_start = torch.maximum(pairs.head_first, pairs.tail_first)
    positions = torch.arange(hidden.shape[1])
    inside = (positions[None, :] > left_end[:, None]) & (positions[None, :] < right_start[:, None])
    rows = hidden[pairs.example].masked_fill(~inside[..., None], float("-inf")).amax(dim=1)
    return torch.where(inside.any(dim=1, keepdim=True), rows, torch.zeros_like(rows))


def test_between_pooling_matches_the_naive_masked_max():
    torch.manual_seed(1)
    hidden = torch.randn(3, 40, 8, requires_grad=True)
    n = 200
    first_a, first_b = torch.randint(0, 40, (n,)), torch.randint(0, 40, (n,))
    width_a, width_b = torch.randint(0, 3, (n,)), torch.randint(0, 3, (n,))
    last_a, last_b = (first_a + width_a).clamp(max=39), (first_b + width_b).clamp(max=39)
    zeros = torch.zeros(n, dtype=torch.long)
    pairs = PairBatch(
        example=torch.randint(0, 3, (n,)),
        head_first=first_a,
        head_last=last_a,
        tail_first=first_b,
        tail_last=last_b,
        head_type=zeros,
        tail_type=zeros,
        head_width=zeros + 1,
        tail_width=zeros + 1,
        distance=zeros,
        between=zeros,
    )
    head = RelationHead(hidden_size=8, mlp_hidden=4, feature_dim=2)
    (fast,) = head._context(hidden, pairs)
    assert torch.equal(fast, _naive_between(hidden, pairs))
    assert (fast == 0).all(dim=1).any() and (fast != 0).any(dim=1).any()  # both kinds of gap occur
    fast.sum().backward()  # differentiable, as training needs
    assert hidden.grad is not None and hidden.grad.abs().sum() > 0


def test_left_context_pools_the_tokens_before_the_earlier_span():
    hidden = torch.zeros(1, 12, 2)
    hidden[0, :, 0] = torch.arange(
        12.0
    )  # channel 0 = position, so the max is the last pooled token
    hidden[0, :, 1] = -torch.arange(12.0)  # channel 1: its max is the first pooled token
    t = lambda *v: torch.tensor(v)  # noqa: E731
    zeros = t(0, 0, 0)
    # tail first (8 before 5), earlier span at token 5; far-left span at 2 (only token 1 is left of
    # it: position 0 is the [CLS]-style prefix); a span at token 1 has nothing on its left
    pairs = PairBatch(
        example=zeros,
        head_first=t(8, 2, 1),
        head_last=t(9, 2, 1),
        tail_first=t(5, 6, 4),
        tail_last=t(6, 7, 4),
        head_type=zeros,
        tail_type=zeros,
        head_width=zeros + 1,
        tail_width=zeros + 1,
        distance=zeros,
        between=zeros,
    )
    between, pooled = RelationHead(
        hidden_size=2, mlp_hidden=4, feature_dim=2, left_context=3
    )._context(hidden, pairs)
    assert between.tolist() == [[7.0, -7.0], [5.0, -3.0], [3.0, -2.0]]
    assert pooled.tolist() == [[4.0, -2.0], [1.0, -1.0], [0.0, 0.0]]


def _one_pair(row_tokens: int) -> PairBatch:
    t = lambda *v: torch.tensor(v)  # noqa: E731
    a = ENTITY_TYPES.index("ACTOR")
    return PairBatch(
        example=t(0),
        head_first=t(3),
        head_last=t(3),
        tail_first=t(5),
        tail_last=t(5),
        head_type=t(a),
        tail_type=t(a),
        head_width=t(1),
        tail_width=t(1),
        distance=t(1),
        between=t(0),
        row_tokens=t(row_tokens),
    )


@pytest.mark.parametrize("pair_attention", [False, True])
def test_pair_attention_reads_words_outside_the_gap_and_nothing_past_the_row(pair_attention):
    """A verb before both mentions (position 1) changes the pair's logits only with pair attention;
    padding past the row's [SEP] never does."""
    torch.manual_seed(2)
    head = RelationHead(hidden_size=16, mlp_hidden=8, feature_dim=4, pair_attention=pair_attention)
    head.eval()
    hidden = torch.randn(1, 10, 16)
    pairs = _one_pair(row_tokens=8)  # tokens 0..7: [CLS] w w H w T w [SEP]; 8, 9 are padding
    base = head(hidden, pairs)
    verb = hidden.clone()
    verb[0, 1] += 5.0
    padding = hidden.clone()
    padding[0, 8:] += 5.0
    assert torch.equal(head(padding, pairs), base)
    assert torch.equal(head(verb, pairs), base) is not pair_attention


def test_pair_attention_needs_the_row_lengths():
    head = RelationHead(hidden_size=16, mlp_hidden=8, feature_dim=4, pair_attention=True)
    pairs = _one_pair(row_tokens=8)
    pairs.row_tokens = None
    with pytest.raises(ValueError, match="row_tokens"):
        head(torch.randn(1, 10, 16), pairs)


def _reference_logits(head: RelationHead, hidden: torch.Tensor, pairs: PairBatch) -> torch.Tensor:
    """The head as one concatenated feature row per pair through the whole MLP (the training
    path's arithmetic, as the head's benchmark runs it), masked by the schema."""
    logits = load_script("scripts/bench_head_per_mention.py").per_pair_logits(head, hidden, pairs)
    return logits.masked_fill(~head.allowed[pairs.head_type, pairs.tail_type], float("-inf"))


@pytest.mark.parametrize("left_context", [0, 3])
def test_prediction_applies_the_span_columns_once_per_mention_with_the_same_logits(left_context):
    """Many pairs over few mentions (a long sentence): the per-mention first layer gives the
    per-pair concatenation's logits, in eval and (through the per-pair path) in training."""
    torch.manual_seed(2)
    hidden = torch.randn(2, 30, 16)
    starts = torch.tensor([2, 5, 9, 14, 20, 26])
    mentions = [(e, int(s), int(s) + w) for e in (0, 1) for s in starts for w in (0, 1)]
    heads, tails = zip(*[(a, b) for a in mentions for b in mentions if a != b and a[0] == b[0]])
    t = lambda v: torch.tensor(v)  # noqa: E731
    n = len(heads)
    types = torch.randint(0, len(ENTITY_TYPES), (len(mentions),))
    index = {m: i for i, m in enumerate(mentions)}
    pairs = PairBatch(
        example=t([h[0] for h in heads]),
        head_first=t([h[1] for h in heads]),
        head_last=t([h[2] for h in heads]),
        tail_first=t([m[1] for m in tails]),
        tail_last=t([m[2] for m in tails]),
        head_type=types[[index[h] for h in heads]],
        tail_type=types[[index[m] for m in tails]],
        head_width=t([h[2] - h[1] + 1 for h in heads]),
        tail_width=t([m[2] - m[1] + 1 for m in tails]),
        distance=torch.randint(0, 8, (n,)),
        between=torch.randint(0, 7, (n,)),
    )
    head = RelationHead(hidden_size=16, mlp_hidden=8, feature_dim=4, left_context=left_context)
    head.eval()
    spans, head_of, _ = head._mention_spans(hidden, pairs)
    assert spans.shape[0] == len(mentions) and head_of.max() < len(mentions)
    reference = _reference_logits(head, hidden, pairs)
    finite = torch.isfinite(reference)
    assert torch.equal(finite, torch.isfinite(head(hidden, pairs)))
    torch.testing.assert_close(head(hidden, pairs)[finite], reference[finite])
    head.mlp[0].p = head.mlp[3].p = 0.0  # training without dropout: the same arithmetic
    head.train()
    torch.testing.assert_close(head(hidden, pairs)[finite], reference[finite])
