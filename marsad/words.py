"""Word segmentation per the schema's word rule; the one tokeniser used by data, training and prediction.

Words are whitespace-separated runs with each listed punctuation mark split off as a word of its
own. Fused proclitics stay in the word. A tatweel-joined preposition ("لـ", "بـ") is split from a
following punctuation mark (because the mark is split off) but stays fused before a number or word.
"""
from __future__ import annotations

import re

# The schema's punctuation list: ، . , : ؛ ! ؟ ? « » " ' ( ) [ ] - …
SPLIT_PUNCTUATION = "،.,:؛!؟?«»\"'()[]-…"
_PUNCT_CLASS = re.escape(SPLIT_PUNCTUATION)
_WORD_RE = re.compile(rf"[{_PUNCT_CLASS}]|[^\s{_PUNCT_CLASS}]+")


def word_spans(text: str) -> list[tuple[int, int]]:
    """Return ``(start, end)`` character spans of the words of ``text``, in order."""
    return [m.span() for m in _WORD_RE.finditer(text)]


def split_words(text: str) -> list[str]:
    """Return the words of ``text`` (see :func:`word_spans`)."""
    return [text[s:e] for s, e in word_spans(text)]


def word_aligned_occurrences(text: str, surface: str) -> list[int]:
    """Start offsets where ``surface`` occurs in ``text`` beginning and ending on word boundaries."""
    spans = word_spans(text)
    starts, ends = {s for s, _ in spans}, {e for _, e in spans}
    hits, i = [], text.find(surface)
    while i != -1:
        if i in starts and i + len(surface) in ends:
            hits.append(i)
        i = text.find(surface, i + 1)
    return hits
