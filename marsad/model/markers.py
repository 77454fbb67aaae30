"""Levitated entity markers: a second encoder pass in which each candidate pair is seen as a pair.

The relation head otherwise classifies a pair from hidden states computed once per window, before
any pair was chosen, so the encoder never knows which two mentions are asked about. Here, as in
PL-Marker's levitated markers and PURE's batched approximation, each pair adds four marker
tokens after the window's words (head start / end, tail start / end, embeddings typed by the
mention's entity type), each sharing the position id of the sub-word it marks. The words attend
only to words, so their states do not depend on the pairs packed beside them; a marker attends to
every word and to the three other markers of its own pair. One pass scores up to
``pairs_per_row`` pairs of a window; the pair's feature is the four markers' last hidden states.
"""

from __future__ import annotations

import torch
from torch import nn

from marsad.schema import ENTITY_TYPES

ROLES = 4  # head start, head end, tail start, tail end


class MarkerEmbeddings(nn.Module):
    """The ``ROLES x len(ENTITY_TYPES)`` typed marker embeddings, initialised as BERT's are."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.embedding = nn.Embedding(ROLES * len(ENTITY_TYPES), hidden_size)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, head_type: torch.Tensor, tail_type: torch.Tensor) -> torch.Tensor:
        """``[P, ROLES, hidden]`` marker embeddings of each pair."""
        n = len(ENTITY_TYPES)
        codes = torch.stack([head_type, n + head_type, 2 * n + tail_type, 3 * n + tail_type], -1)
        return self.embedding(codes)


def _chunks(example: torch.Tensor, size: int) -> list[tuple[int, torch.Tensor]]:
    """``(batch row, pair indices)`` groups of at most ``size`` pairs, each within one row."""
    out = []
    for row in example.unique().tolist():
        indices = (example == row).nonzero().flatten()
        out += [(row, indices[i : i + size]) for i in range(0, len(indices), size)]
    return out


def marker_states(
    encoder: nn.Module,
    markers: MarkerEmbeddings,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    pairs,
    pairs_per_row: int = 32,
) -> torch.Tensor:
    """``[P, ROLES * hidden]``: the last hidden states of each pair's four markers.

    ``encoder`` is the tagger's base model (a ``BertModel``): it receives ``inputs_embeds`` (the
    words' own embeddings, then the markers'), explicit ``position_ids`` and a 4-D additive mask.
    """
    words = encoder.get_input_embeddings()(input_ids)  # [B, T, H]
    width = input_ids.shape[1]
    limit = encoder.config.max_position_embeddings
    size = max(1, min(pairs_per_row, (limit - width) // ROLES))
    groups = _chunks(pairs.example, size)
    slots = ROLES * max(len(indices) for _, indices in groups)
    rows = torch.tensor([row for row, _ in groups], device=input_ids.device)
    embeds = words.new_zeros(len(groups), width + slots, words.shape[-1])
    embeds[:, :width] = words[rows]
    positions = torch.arange(width, device=input_ids.device).repeat(len(groups), 1)
    positions = torch.cat([positions, positions.new_zeros(len(groups), slots)], dim=1)
    pair_embeds = markers(pairs.head_type, pairs.tail_type)  # [P, ROLES, H]
    marked = torch.stack([pairs.head_first, pairs.head_last, pairs.tail_first, pairs.tail_last], -1)
    for g, (_, indices) in enumerate(groups):
        n = ROLES * len(indices)
        embeds[g, width : width + n] = pair_embeds[indices].reshape(n, -1)
        positions[g, width : width + n] = marked[indices].reshape(n)
    length = width + slots
    allowed = torch.zeros(len(groups), length, length, dtype=torch.bool, device=input_ids.device)
    allowed[:, :, :width] = attention_mask[rows].bool()[:, None, :]  # everyone reads the words
    own_pair = torch.block_diag(*[torch.ones(ROLES, ROLES)] * (slots // ROLES)).bool()
    allowed[:, width:, width:] = own_pair.to(input_ids.device)  # a marker reads its own pair's
    additive = torch.zeros(allowed.shape, dtype=embeds.dtype, device=embeds.device)
    additive = additive.masked_fill(~allowed, torch.finfo(embeds.dtype).min)[:, None]
    hidden = encoder(
        inputs_embeds=embeds, position_ids=positions, attention_mask=additive
    ).last_hidden_state
    out = hidden.new_zeros(len(pairs), ROLES, hidden.shape[-1])
    for g, (_, indices) in enumerate(groups):
        out[indices] = hidden[g, width : width + ROLES * len(indices)].reshape(
            len(indices), ROLES, -1
        )
    return out.reshape(len(pairs), -1)
