"""Levitated markers (marsad.model.markers): a pair's marker states do not depend on which other
pairs share its pass, the words' states equal a plain encoding, and the markers are typed."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertModel

from marsad.model.joint import PairBatch
from marsad.model.markers import ROLES, MarkerEmbeddings, marker_states
from marsad.schema import ENTITY_TYPES


def _encoder() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    return BertModel(config).eval()


def _pairs(spans: list[tuple[int, int, int, int]], types: list[tuple[int, int]]) -> PairBatch:
    t = lambda i: torch.tensor([s[i] for s in spans])  # noqa: E731
    n = len(spans)
    return PairBatch(
        example=torch.zeros(n, dtype=torch.long),
        head_first=t(0),
        head_last=t(1),
        tail_first=t(2),
        tail_last=t(3),
        head_type=torch.tensor([a for a, _ in types]),
        tail_type=torch.tensor([b for _, b in types]),
        head_width=torch.ones(n, dtype=torch.long),
        tail_width=torch.ones(n, dtype=torch.long),
        distance=torch.zeros(n, dtype=torch.long),
        between=torch.zeros(n, dtype=torch.long),
        row_tokens=torch.full((n,), 10),
    )


def test_a_pair_reads_the_same_alone_or_packed_and_padding_is_unread():
    encoder, markers = _encoder(), MarkerEmbeddings(16)
    ids = torch.randint(5, 50, (1, 12))
    mask = torch.ones(1, 12, dtype=torch.long)
    mask[0, 10:] = 0
    actor, place = ENTITY_TYPES.index("ACTOR"), ENTITY_TYPES.index("LOCATION")
    spans = [(1, 2, 5, 5), (5, 5, 1, 2), (3, 3, 7, 8), (1, 2, 7, 8)]
    types = [(actor, place), (place, actor), (actor, place), (actor, place)]
    with torch.no_grad():
        packed = marker_states(encoder, markers, ids, mask, _pairs(spans, types), pairs_per_row=3)
        alone = marker_states(encoder, markers, ids, mask, _pairs(spans[:1], types[:1]))
        other_padding = ids.clone()
        other_padding[0, 10:] = 7
        padded = marker_states(encoder, markers, other_padding, mask, _pairs(spans, types))
        retyped = marker_states(encoder, markers, ids, mask, _pairs(spans[:1], [(actor, actor)]))
    assert packed.shape == (4, ROLES * 16)
    assert torch.allclose(packed[0], alone[0], atol=1e-5)
    assert torch.allclose(packed, padded, atol=1e-5)
    assert not torch.allclose(packed[0], retyped[0], atol=1e-3)  # the tail's type is seen
    assert not torch.allclose(packed[0], packed[3], atol=1e-3)  # another tail, another state


def test_the_words_ignore_the_markers():
    """Run the marker pass's encoder call by hand: the word positions equal a plain encoding."""
    encoder, markers = _encoder(), MarkerEmbeddings(16)
    ids, mask = torch.randint(5, 50, (1, 10)), torch.ones(1, 10, dtype=torch.long)
    seen = {}
    hook = encoder.register_forward_hook(
        lambda m, a, kw, out: seen.update(out=out), with_kwargs=True
    )
    with torch.no_grad():
        marker_states(encoder, markers, ids, mask, _pairs([(1, 1, 4, 5)], [(0, 1)]))
        hook.remove()
        plain = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(seen["out"].last_hidden_state[:, :10], plain, atol=1e-5)
