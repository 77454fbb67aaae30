"""Relation-head cost when pairs far outnumber mentions (long run-on sentences).

    python scripts/bench_head_per_mention.py --checkpoint DIR [--rounds 2]

Times a checkpoint's relation head in eval mode (the span columns of its first layer applied once
per distinct mention, ``RelationHead._mention_spans``) against the same head fed one concatenated
feature row per pair (the arithmetic of training), on random hidden states: 8 windows of 256
sub-words, up to 60 one-word mentions each, every ordered pair. Same pairs, one process, rounds
taken in turn; the best round of each counts.
"""

from __future__ import annotations

import argparse
import time

import torch

from marsad.model.checkpoint import load_checkpoint
from marsad.model.joint import BETWEEN_BUCKETS, PairBatch, RelationHead


def random_pairs(windows: int, tokens: int, mentions: int, seed: int = 0) -> PairBatch:
    gen = torch.Generator().manual_seed(seed)
    ex, heads, tails = [], [], []
    for e in range(windows):
        starts = torch.randint(1, tokens - 6, (mentions,), generator=gen).unique()
        a, b = torch.meshgrid(starts, starts, indexing="ij")
        keep = a != b
        ex.append(torch.full((int(keep.sum()),), e))
        heads.append(a[keep])
        tails.append(b[keep])
    example, head, tail = torch.cat(ex), torch.cat(heads), torch.cat(tails)
    n, one = len(example), torch.ones(len(example), dtype=torch.long)
    return PairBatch(
        example=example,
        head_first=head,
        head_last=head + 1,
        tail_first=tail,
        tail_last=tail + 1,
        head_type=torch.randint(0, 3, (n,), generator=gen),
        tail_type=torch.randint(0, 3, (n,), generator=gen),
        head_width=one,
        tail_width=one,
        distance=torch.randint(0, 8, (n,), generator=gen),
        between=torch.randint(0, BETWEEN_BUCKETS, (n,), generator=gen),
    )


def per_pair_logits(head: RelationHead, hidden: torch.Tensor, pairs: PairBatch) -> torch.Tensor:
    def span(first, last, width, typ):
        return head._span(hidden, pairs.example, first, last, width, typ)

    features = torch.cat(
        [
            span(pairs.head_first, pairs.head_last, pairs.head_width, pairs.head_type),
            span(pairs.tail_first, pairs.tail_last, pairs.tail_width, pairs.tail_type),
            *head._context(hidden, pairs),
            head.distance_emb(pairs.distance),
            head.between_emb(pairs.between.clamp(0, BETWEEN_BUCKETS - 1)),
        ],
        dim=-1,
    )
    return head.mlp(features)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    model = load_checkpoint(args.checkpoint).model
    head = model.relation_head.eval()
    if head.pair_attention is not None or head.markers is not None:
        parser.error("the per-pair reference covers the plain head only")
    hidden_size = model.tagger.config.hidden_size
    torch.manual_seed(0)
    hidden = torch.randn(8, 256, hidden_size)
    pairs = random_pairs(8, 256, 60)
    best = {"per pair": float("inf"), "per mention": float("inf")}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for name, run in (
                ("per pair", lambda: per_pair_logits(head, hidden, pairs)),
                ("per mention", lambda: head(hidden, pairs)),
            ):
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
    print(f"{len(pairs):,} pairs over 8 windows")
    for name, seconds in best.items():
        print(f"{name:>12}: {seconds:.3f} s")
    print(f"per mention / per pair speed: {best['per pair'] / best['per mention']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
