"""Learned tag-transition scores over words: a linear-chain CRF on top of the tagger's emissions.

With a softmax tagger every word is tagged on its own, and constrained Viterbi only forbids invalid
IOB2 steps. A boundary error seen in the cross-validation error listings is a span cut in two:
"تنظيم داعش" tagged B-ACTOR B-ACTOR, since "داعش" alone is usually B-ACTOR. B-ACTOR -> B-ACTOR is
valid IOB2 but rare (8 of 259 B-ACTOR tags in the corpus), and a CRF learns how rare from the
training sentences jointly with the emissions. (On this corpus it did not beat the softmax tagger
on dev; see the README's "Tried, not shipped".)

The tagger itself stays a stock token-classification model (its logits are the emissions at each
word's first sub-word), so a checkpoint still loads in the transformers pipeline; the transition
scores live in ``tag_transitions.safetensors`` beside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from marsad.decoding import allowed_transitions
from marsad.schema import BIO_TAGS

INVALID = -1e4  # score of a transition IOB2 forbids (finite, so the forward algorithm stays NaN-free)


@dataclass(frozen=True)
class TransitionScores:
    """Additive scores for Viterbi: ``start[T]``, ``trans[T_prev, T_cur]``, ``end[T]``."""

    start: np.ndarray
    trans: np.ndarray
    end: np.ndarray


class TagTransitions(nn.Module):
    """Start, transition and end scores of a linear-chain CRF over the IOB2 tags (zeros at first)."""

    def __init__(self, n_tags: int = len(BIO_TAGS)):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(n_tags))
        self.trans = nn.Parameter(torch.zeros(n_tags, n_tags))
        self.end = nn.Parameter(torch.zeros(n_tags))
        start_ok, trans_ok = allowed_transitions()
        self.register_buffer("start_ok", torch.from_numpy(start_ok), persistent=False)
        self.register_buffer("trans_ok", torch.from_numpy(trans_ok), persistent=False)

    def _masked_trans(self) -> torch.Tensor:
        return self.trans.masked_fill(~self.trans_ok, INVALID)

    def scores(self) -> TransitionScores:
        """Decoding scores, with IOB2-invalid starts and steps forbidden."""
        with torch.no_grad():
            start = self.start.masked_fill(~self.start_ok, INVALID)
            return TransitionScores(start.float().cpu().numpy(), self._masked_trans().float().cpu().numpy(),
                                    self.end.float().cpu().numpy())

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of the gold tag paths, summed over sequences.

        ``emissions [B, W, T]``, ``tags [B, W]``, ``mask [B, W]`` (True on real words, a prefix of each
        row). The start is not constrained here: a training window that begins inside an entity
        legitimately starts with an I- tag.
        """
        emissions = emissions.float()
        trans = self._masked_trans().float()
        batch = torch.arange(emissions.shape[0], device=emissions.device)
        maskf = mask.float()
        # score of the gold path
        gold = self.start[tags[:, 0]] + emissions[batch, 0, tags[:, 0]]
        for i in range(1, emissions.shape[1]):
            step = trans[tags[:, i - 1], tags[:, i]] + emissions[batch, i, tags[:, i]]
            gold = gold + step * maskf[:, i]
        lengths = mask.long().sum(1)
        gold = gold + self.end[tags[batch, lengths - 1]]
        # log partition by the forward algorithm
        alpha = self.start.float() + emissions[:, 0]
        for i in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha[:, :, None] + trans[None], dim=1) + emissions[:, i]
            alpha = torch.where(mask[:, i, None], nxt, alpha)
        log_z = torch.logsumexp(alpha + self.end.float(), dim=1)
        return (log_z - gold).sum()

    def nll_from_tokens(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean per-word NLL from token-level ``logits [B, L, T]`` and ``labels [B, L]`` (-100 except at
        each word's first sub-word), so its scale matches the token cross-entropy it replaces."""
        labelled = labels != -100
        counts = labelled.sum(1)
        keep = counts > 0
        if not bool(keep.any()):
            return logits.sum() * 0.0
        logits, labels, labelled, counts = logits[keep], labels[keep], labelled[keep], counts[keep]
        width = int(counts.max())
        # word j of row r sits at the j-th labelled token: stable sort moves labelled tokens first
        order = torch.sort((~labelled).long(), dim=1, stable=True).indices[:, :width]
        emissions = torch.gather(logits, 1, order[:, :, None].expand(-1, -1, logits.shape[-1]))
        tags = torch.gather(labels, 1, order)
        mask = torch.arange(width, device=logits.device)[None] < counts[:, None]
        tags = tags.masked_fill(~mask, 0)
        return self.nll(emissions, tags, mask) / counts.sum()
