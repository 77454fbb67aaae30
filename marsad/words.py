"""Word segmentation per the schema's word rule; the one tokeniser used by data, training and prediction.

Words are whitespace-separated runs with every Unicode punctuation mark (general category P)
split off as a word of its own, except a decimal or thousands separator (. , ٫ ٬) between two
digits, which stays inside the number. Digits are Western, Eastern Arabic and Persian alike.
Fused proclitics stay in the word. A tatweel-joined preposition ("لـ", "بـ") is split from a
following punctuation mark (because the mark is split off) but stays fused before a number or
word: tatweel is a letter modifier (category Lm), not punctuation.
"""
from __future__ import annotations

import unicodedata

import regex

DIGITS = "0-9٠-٩۰-۹"
NUMBER_SEPARATORS = ".,٫٬"
# A word: non-space, non-punctuation characters, or a separator flanked by two digits.
_WORD_RE = regex.compile(
    rf"(?:[^\s\p{{P}}]|(?<=[{DIGITS}])[{regex.escape(NUMBER_SEPARATORS)}](?=[{DIGITS}]))+|\p{{P}}"
)


def is_punctuation(char: str) -> bool:
    """Whether ``char`` is split off as a word of its own (Unicode general category P)."""
    return unicodedata.category(char).startswith("P")


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
