"""The joint model: one encoder, a token-classification head and a span-pair relation head.

The tagger is a stock ``AutoModelForTokenClassification`` so a checkpoint loads in plain
transformers and its ``token-classification`` pipeline. The relation head (in the spirit of
SpERT / PURE) classifies ordered pairs of entity mentions from the encoder's last hidden states:
each span is its first and last sub-word vectors plus width and type embeddings; the pair adds the
max-pooled context between the spans (and, optionally, before the earlier one), a signed
word-distance embedding and an embedding of how many other mentions stand between the two (62% of
gold relations have none, so "is it the nearest mention" is the single most telling cue on this
data). Labels whose type signature does not fit the pair are masked out, so a prediction is always
schema-valid.

The NONE threshold and the two priors' weights are decoding choices made on dev after training,
kept apart in :class:`marsad.model.settings.DecodingSettings`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from marsad.model.lexical_prior import LexicalPrior
from marsad.model.markers import ROLES, MarkerEmbeddings, marker_states
from marsad.model.relation_prior import RelationPrior
from marsad.schema import ENTITY_TYPES, RELATION_LABELS, allowed_labels_by_type

WIDTH_BUCKETS = 12  # entity width in words: 1..11, 12+
BETWEEN_BUCKETS = 5  # other mentions between the pair: 0..3, 4+
_DIST_EDGES = (0, 1, 2, 3, 4, 6, 9, 14, 22, 35)  # |word gap| bucket lower edges


def distance_bucket(gap: int) -> int:
    """Signed bucket of the word gap from head to tail (negative: tail comes first)."""
    b = max(i for i, edge in enumerate(_DIST_EDGES) if abs(gap) >= edge)
    return b if gap >= 0 else len(_DIST_EDGES) + b


def label_mask() -> torch.Tensor:
    """``[n_types, n_types, n_labels]``: which relation labels fit a (head, tail) type pair."""
    return torch.tensor(allowed_labels_by_type(), dtype=torch.bool)


@dataclass
class PairBatch:
    """Candidate pairs of one batch, as parallel integer tensors of length P."""

    example: torch.Tensor  # row of the batch
    head_first: torch.Tensor  # token index of the head's first sub-word
    head_last: torch.Tensor
    tail_first: torch.Tensor
    tail_last: torch.Tensor
    head_type: torch.Tensor  # index into ENTITY_TYPES
    tail_type: torch.Tensor
    head_width: torch.Tensor  # in words
    tail_width: torch.Tensor
    distance: torch.Tensor  # distance bucket (see distance_bucket)
    between: torch.Tensor  # number of other mentions strictly between the two spans
    row_tokens: torch.Tensor | None = None  # sub-words of the pair's window row ([CLS] .. [SEP])
    labels: torch.Tensor | None = None  # index into RELATION_LABELS

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(
            **{
                k: (v.to(device) if isinstance(v, torch.Tensor) else v)
                for k, v in vars(self).items()
            }
        )

    def __len__(self) -> int:
        return int(self.example.numel())


def _range_max(
    hidden: torch.Tensor, example: torch.Tensor, ranges: list[tuple[torch.Tensor, torch.Tensor]]
) -> list[torch.Tensor]:
    """Per ``(start, stop)`` pair of index tensors: the max of ``hidden[example, start:stop]`` per
    row (zeros where the range is empty).

    A range-maximum table (level k = max over 2**k consecutive tokens), built once for all ranges,
    answers every range with two lookups, instead of materialising a [pairs, tokens, hidden] masked
    copy, which made the relation head a visible share of prediction time.
    """
    levels = []
    for start, stop in ranges:
        length = stop - start
        level = torch.full_like(length, -1)  # -1: empty range
        nonempty = length > 0
        level[nonempty] = torch.floor(torch.log2(length[nonempty].float())).long()
        levels.append(level)
    tables = [hidden]
    top = max((int(level.max()) for level in levels if level.numel()), default=0)
    for k in range(1, top + 1):  # tables[k][b, t] = max(hidden[b, t : t + 2**k])
        half = 1 << (k - 1)
        tables.append(torch.maximum(tables[-1][:, :-half], tables[-1][:, half:]))
    outs = []
    for (start, stop), level in zip(ranges, levels):
        out = hidden.new_zeros(example.numel(), hidden.shape[-1])
        for k in level[level >= 0].unique().tolist():
            sel = level == k
            ex, a, b = example[sel], start[sel], stop[sel] - (1 << k)
            out[sel] = torch.maximum(tables[k][ex, a], tables[k][ex, b])
        outs.append(out)
    return outs


class PairAttention(nn.Module):
    """A context vector per pair, attending over its whole window with a query made from the two
    spans: the word that names a relation may stand before both mentions (verb-first clauses),
    after both (passive agents: "قُصفت X بطائرات تابعة لـY") or between them, and which word matters
    depends on the pair, which a fixed max-pool cannot tell."""

    def __init__(self, span_dim: int, hidden_size: int, key_dim: int = 64, value_dim: int = 128):
        super().__init__()
        self.query = nn.Linear(span_dim, key_dim)
        self.key = nn.Linear(hidden_size, key_dim)
        self.value = nn.Linear(hidden_size, value_dim)
        self.scale = key_dim**-0.5
        self.out_dim = value_dim

    def forward(
        self, hidden: torch.Tensor, pairs: PairBatch, head: torch.Tensor, tail: torch.Tensor
    ) -> torch.Tensor:
        if pairs.row_tokens is None:
            raise ValueError("pair attention needs PairBatch.row_tokens (build_pair_batch sets it)")
        keys, values = self.key(hidden), self.value(hidden)  # [B, T, k], [B, T, v]
        query = self.query(torch.cat([head, tail], dim=-1))  # [P, k]
        scores = torch.einsum("pk,ptk->pt", query, keys[pairs.example]) * self.scale
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        inside = (positions >= 1) & (positions < (pairs.row_tokens - 1).unsqueeze(1))  # no CLS/SEP
        scores = scores.masked_fill(~inside, float("-inf")).softmax(-1)
        return torch.einsum("pt,ptv->pv", scores, values[pairs.example])


class RelationHead(nn.Module):
    """``left_context > 0`` adds a max-pool over that many sub-words before the earlier span: Arabic
    news is largely verb-first ("سيطرت قوات النظام على الميادين"), so the word that names the
    relation often precedes both mentions rather than standing between them. ``pair_attention``
    adds a pair-conditioned attention pool over the window (:class:`PairAttention`); ``markers``
    adds the states of the pair's levitated markers from a second encoder pass
    (:mod:`marsad.model.markers`, computed by :meth:`JointModel.relation_logits`).
    """

    def __init__(
        self,
        hidden_size: int,
        mlp_hidden: int = 256,
        feature_dim: int = 32,
        dropout: float = 0.1,
        left_context: int = 0,
        pair_attention: bool = False,
        markers: bool = False,
    ):
        super().__init__()
        self.left_context = left_context
        self.width_emb = nn.Embedding(WIDTH_BUCKETS, feature_dim)
        self.type_emb = nn.Embedding(len(ENTITY_TYPES), feature_dim)
        self.distance_emb = nn.Embedding(2 * len(_DIST_EDGES), feature_dim)
        self.between_emb = nn.Embedding(BETWEEN_BUCKETS, feature_dim)
        span_dim = 2 * hidden_size + 2 * feature_dim
        self.pair_attention = PairAttention(2 * span_dim, hidden_size) if pair_attention else None
        self.markers = MarkerEmbeddings(hidden_size) if markers else None
        option_dim = (self.pair_attention.out_dim if pair_attention else 0) + (
            ROLES * hidden_size if markers else 0
        )
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(
                2 * span_dim
                + (2 if left_context else 1) * hidden_size
                + 2 * feature_dim
                + option_dim,
                mlp_hidden,
            ),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_hidden, len(RELATION_LABELS)),
        )
        self.register_buffer("allowed", label_mask(), persistent=False)

    def _span(
        self,
        hidden: torch.Tensor,
        ex: torch.Tensor,
        first: torch.Tensor,
        last: torch.Tensor,
        width: torch.Tensor,
        typ: torch.Tensor,
    ) -> torch.Tensor:
        return torch.cat(
            [
                hidden[ex, first],
                hidden[ex, last],
                self.width_emb(width.clamp(1, WIDTH_BUCKETS) - 1),
                self.type_emb(typ),
            ],
            dim=-1,
        )

    def _context(self, hidden: torch.Tensor, pairs: PairBatch) -> list[torch.Tensor]:
        """Max-pool of the tokens strictly between the two spans (zeros when adjacent) and, with
        ``left_context``, of up to that many tokens before the earlier span (never the leading
        [CLS])."""
        first = torch.minimum(pairs.head_first, pairs.tail_first)
        earlier_last = torch.minimum(pairs.head_last, pairs.tail_last)
        ranges = [(earlier_last + 1, torch.maximum(pairs.head_first, pairs.tail_first))]
        if self.left_context:
            ranges.append(((first - self.left_context).clamp(min=1), first))
        return _range_max(hidden, pairs.example, ranges)

    def _mention_spans(
        self, hidden: torch.Tensor, pairs: PairBatch
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The span vectors of the distinct mentions among the pairs' heads and tails, and which
        of them each pair's head and tail is: a mention in a long sentence stands in hundreds of
        pairs, so its vector (and, at prediction, its share of the first layer) is made once."""
        n = len(pairs)
        example = torch.cat([pairs.example, pairs.example])
        first = torch.cat([pairs.head_first, pairs.tail_first])
        last = torch.cat([pairs.head_last, pairs.tail_last])
        width = torch.cat([pairs.head_width, pairs.tail_width]).clamp(1, WIDTH_BUCKETS)
        typ = torch.cat([pairs.head_type, pairs.tail_type])
        tokens = hidden.shape[1]
        key = (((example * tokens + first) * tokens + last) * (WIDTH_BUCKETS + 1) + width) * len(
            ENTITY_TYPES
        ) + typ
        distinct, which = torch.unique(key, return_inverse=True)
        counts = torch.bincount(which, minlength=distinct.numel())
        one = torch.argsort(which, stable=True)[torch.cumsum(counts, 0) - counts]  # a row of each
        spans = self._span(hidden, example[one], first[one], last[one], width[one], typ[one])
        return spans, which[:n], which[n:]

    def forward(
        self, hidden: torch.Tensor, pairs: PairBatch, marker_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``[P, len(RELATION_LABELS)]`` with type-invalid labels set to -inf.

        Out of training (no dropout before the first layer) that layer is split by its inputs:
        the head's and tail's columns are applied once per distinct mention and gathered per pair,
        which is the same sum in another order and keeps long run-on sentences (hundreds of
        thousands of pairs over a few thousand mentions) from paying the span columns per pair.
        """
        spans, head_of, tail_of = self._mention_spans(hidden, pairs)
        per_pair = self.training or self.pair_attention is not None
        head = spans[head_of] if per_pair else None
        tail = spans[tail_of] if per_pair else None
        rest = [
            *self._context(hidden, pairs),
            self.distance_emb(pairs.distance),
            self.between_emb(pairs.between.clamp(0, BETWEEN_BUCKETS - 1)),
        ]
        if self.pair_attention is not None:
            rest.append(self.pair_attention(hidden, pairs, head, tail))
        if self.markers is not None:
            if marker_features is None:
                raise ValueError(
                    "a head with markers needs marker_features (JointModel.relation_logits)"
                )
            rest.append(marker_features)
        if self.training:
            logits = self.mlp(torch.cat([head, tail, *rest], dim=-1))
        else:
            first_layer: nn.Linear = self.mlp[1]
            span_dim = spans.shape[-1]
            w_head, w_tail, w_rest = first_layer.weight.split(
                [span_dim, span_dim, first_layer.in_features - 2 * span_dim], dim=1
            )
            pre = (
                (spans @ w_head.T)[head_of]
                + (spans @ w_tail.T)[tail_of]
                + torch.nn.functional.linear(torch.cat(rest, dim=-1), w_rest, first_layer.bias)
            )
            logits = self.mlp[2:](pre)
        allowed = self.allowed[pairs.head_type, pairs.tail_type]
        return logits.masked_fill(~allowed, float("-inf"))


class JointModel(nn.Module):
    """Tagger (a HF token-classification model) + relation head over the same hidden states, and
    optionally a feature CRF whose marginals are mixed into the tag scores at decoding time
    (:mod:`marsad.lexical_prior`), and a feature classifier whose relation probabilities are mixed
    into the head's (:mod:`marsad.relation_prior`). The two priors are not modules: no tensors, no
    gradient."""

    def __init__(
        self,
        tagger: nn.Module,
        relation_head: RelationHead,
        lexical_prior: LexicalPrior | None = None,
        relation_prior: RelationPrior | None = None,
    ):
        super().__init__()
        self.tagger = tagger
        self.relation_head = relation_head
        self.lexical_prior = lexical_prior
        self.relation_prior = relation_prior

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        tag_labels: torch.Tensor | None = None,
        pairs: PairBatch | Callable[[torch.Tensor], PairBatch | None] | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None, PairBatch | None]:
        """Returns (tag loss or None, tag logits [B, T, n_tags], relation logits [P, n_labels] or
        None, pairs).

        The tag loss is token cross-entropy over each word's first sub-word.
        ``pairs`` may be a function of the (detached) tag logits, so training can add the tagger's
        own predicted spans as candidates within one forward pass (one pass keeps DDP happy).
        """
        out = self.tagger(
            input_ids=input_ids,
            attention_mask=attention_mask,
            labels=tag_labels,
            output_hidden_states=True,
        )
        tag_loss = out.loss
        if callable(pairs):
            pairs = pairs(out.logits.detach())
        rel_logits = None
        if pairs is not None and len(pairs):
            pairs = pairs.to(out.logits.device)
            rel_logits = self.relation_logits(
                out.hidden_states[-1], pairs, input_ids, attention_mask
            )
        return tag_loss, out.logits, rel_logits, pairs

    def relation_logits(
        self,
        hidden: torch.Tensor,
        pairs: PairBatch,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> torch.Tensor:
        """The relation head's logits over the windows ``input_ids`` whose last hidden states are
        ``hidden``; with markers, after the pairs' marker pass over the same windows."""
        head = self.relation_head
        features = None
        if head.markers is not None:
            features = marker_states(
                self.tagger.base_model, head.markers, input_ids, attention_mask, pairs
            )
        return head(hidden, pairs, features)
