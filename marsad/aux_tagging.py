"""Word-level tagging with a plain token-classification model (the auxiliary ANERcorp head).

The auxiliary head is a stock ``AutoModelForTokenClassification`` whose labels are another corpus's
own (PERS/ORG/LOC/MISC); it is trained and scored word by word on the first sub-word, through the
same windows as the joint model, so a sentence longer than one window is still tagged whole.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from marsad.features import repair_iob2
from marsad.inference import pad_batch
from marsad.model.windows import Window, make_windows


def word_windows(
    tokenizer, sentences: list[list[str]], steps: list[str], max_length: int
) -> list[tuple[int, Window]]:
    """(sentence index, window) for every window of every sentence."""
    return [
        (i, w)
        for i, words in enumerate(sentences)
        for w in make_windows(tokenizer, words, steps, max_length)
    ]


@torch.no_grad()
def tag_words(
    model,
    tokenizer,
    sentences: list[list[str]],
    steps: list[str],
    max_length: int,
    batch_size: int = 32,
    progress: bool = False,
) -> list[list[str]]:
    """Argmax label of each word's first sub-word, repaired to valid IOB2. A word seen by two
    overlapping windows takes the window where it stands further from an edge."""
    model.eval()
    id2label = model.config.id2label
    device = next(model.parameters()).device
    items = word_windows(tokenizer, sentences, steps, max_length)
    order = sorted(range(len(items)), key=lambda k: len(items[k][1].input_ids))
    best: list[list[tuple[int, str] | None]] = [[None] * len(s) for s in sentences]
    for b in tqdm(
        range(0, len(order), batch_size), desc="tagging", unit="batch", disable=not progress
    ):
        batch = [items[k] for k in order[b : b + batch_size]]
        ids, mask = pad_batch([w for _, w in batch], tokenizer.pad_token_id, device)
        labels = model(input_ids=ids, attention_mask=mask).logits.argmax(-1).cpu()
        for row, (i, w) in enumerate(batch):
            for j, tok in enumerate(w.first_token):
                word = w.word_start + j
                centrality = min(word - w.word_start, w.word_end - 1 - word)
                seen = best[i][word]
                if seen is None or centrality > seen[0]:
                    best[i][word] = (centrality, id2label[int(labels[row, tok])])
    return [repair_iob2([t for _, t in row]) for row in best]  # type: ignore[misc]
