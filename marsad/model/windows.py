"""Words -> sub-word windows for the encoder, keeping the word <-> token maps both heads need.

The unit everywhere is the schema's word (:mod:`marsad.words`): tags are predicted on a word's
first sub-word and spans are word ranges, so character offsets come straight from the words.
A sentence longer than the encoder's window is cut into overlapping word windows.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from marsad.text import normalize_word


@dataclass
class Window:
    """One encoder input: words ``[word_start, word_end)`` of a sentence."""

    word_start: int
    word_end: int
    input_ids: list[int]
    first_token: list[int]  # per word in the window: index of its first sub-word
    last_token: list[int]  # per word: index of its last sub-word


_PIECE_CACHE_SIZE = 200_000


def _word_piece_counts(tokenizer: PreTrainedTokenizerBase, words: list[str]) -> list[list[int]]:
    """Sub-word ids per word, memoised per tokenizer: news text repeats its words heavily, and the
    bundled tokenizer's normaliser is the slowest step of prediction on CPU."""
    cache: dict[str, list[int]] | None = getattr(tokenizer, "_marsad_piece_cache", None)
    if cache is None:
        cache = {}
        tokenizer._marsad_piece_cache = cache
    missing = list(dict.fromkeys(w for w in words if w not in cache))
    if missing:
        if len(cache) + len(missing) > _PIECE_CACHE_SIZE:
            cache.clear()
        encoded = tokenizer(missing, add_special_tokens=False)["input_ids"]
        cache.update((w, ids or [tokenizer.unk_token_id]) for w, ids in zip(missing, encoded))
    return [cache[w] for w in words]


def special_affixes(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single sequence (e.g. [CLS] ... [SEP]).

    Read off an actual encoding, since transformers 5 tokenizer backends do not all expose
    ``build_inputs_with_special_tokens``.
    """
    cached = getattr(tokenizer, "_marsad_affixes", None)
    if cached is None:
        bare = tokenizer("x", add_special_tokens=False)["input_ids"]
        full = tokenizer("x", add_special_tokens=True)["input_ids"]
        at = next(i for i in range(len(full) - len(bare) + 1) if full[i : i + len(bare)] == bare)
        cached = (full[:at], full[at + len(bare) :])
        tokenizer._marsad_affixes = cached
    return cached


def make_windows(
    tokenizer: PreTrainedTokenizerBase,
    words: list[str],
    steps: list[str],
    max_length: int,
    stride_words: int | None = None,
    overlap: float = 0.5,
) -> list[Window]:
    """Encode ``words`` into windows of at most ``max_length`` sub-words (special tokens included).

    Each word is tokenised on its own (after ``steps``), so a word's pieces never depend on its
    neighbours and windows can be cut at any word. Consecutive windows overlap by ``overlap`` of a
    window (about half by default) so every word is seen with context on both sides in some
    window; ``stride_words`` fixes the step in words instead.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    pieces = (
        _word_piece_counts(tokenizer, [normalize_word(w, steps) for w in words]) if words else []
    )
    prefix, suffix = special_affixes(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room for sub-words")
    windows: list[Window] = []
    start = 0
    while True:
        end, used = start, 0
        while end < len(words) and used + min(len(pieces[end]), budget) <= budget:
            used += min(len(pieces[end]), budget)
            end += 1
        end = max(end, start + 1) if words else 0
        ids: list[int] = []
        first, last = [], []
        offset = len(prefix)
        for w in range(start, end):
            word_ids = pieces[w][:budget]
            first.append(offset + len(ids))
            ids.extend(word_ids)
            last.append(offset + len(ids) - 1)
        windows.append(Window(start, end, prefix + ids + suffix, first, last))
        if end >= len(words):
            return windows
        step = stride_words or max(1, int((end - start) * (1 - overlap)))
        start = start + step
