"""Text units shared by data, training and prediction: words, sentences and per-word normalisation.

One module so the schema's word rule, the sentence splitter and the encoder's normalisation can
never drift apart between the corpus tools and ``predict``.

Words: whitespace-separated runs with every Unicode punctuation mark (general category P) split off
as a word of its own, except a decimal or thousands separator (. , ٫ ٬) between two digits, which
stays inside the number. Digits are Western, Eastern Arabic and Persian alike. Fused proclitics stay
in the word. A tatweel-joined preposition ("لـ", "بـ") is split from a following punctuation mark
(because the mark is split off) but stays fused before a number or word: tatweel is a letter
modifier (category Lm), not punctuation.

Sentences: a newline always ends a sentence; inside a line a sentence ends after . ! ? ؟
(optionally followed by a closing » or ") when whitespace follows. Brackets do not close a
sentence, so "(...)" in running text never splits. Lines that are page furniture (share buttons,
font-size widgets, "Email") are not sentences and are listed here so the exclusion is explicit.

Normalisation: predictions are made per word and every word keeps its character span in the
caller's string, so normalisation can change or delete characters without ever moving an offset.
The step names are stored in each checkpoint and replayed at prediction time, on the characters of
the caller's text before words are split (:func:`clean_text`), with invisible characters, controls,
emoji and Arabic presentation forms handled there too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import regex

# ---- words

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
    """Start offsets where ``surface`` occurs in ``text`` beginning and ending on word
    boundaries."""
    spans = word_spans(text)
    starts, ends = {s for s, _ in spans}, {e for _, e in spans}
    hits, i = [], text.find(surface)
    while i != -1:
        if i in starts and i + len(surface) in ends:
            hits.append(i)
        i = text.find(surface, i + 1)
    return hits


# ---- sentences

# Whole lines that are page furniture, not article text (see data/GUIDELINES.md).
PAGE_FURNITURE: frozenset[str] = frozenset(
    {
        "ت + ت - الحجم الطبيعي",
        "Email",
        "مشاركة :",
        "تويتر",
        "التعليقات",
    }
)

_SENTENCE_END_RE = re.compile(r"[.!?؟][»\"]?(?=\s)")


@dataclass(frozen=True)
class RawSentence:
    start: int
    end: int
    text: str


def split_sentences(article: str, drop_furniture: bool = True) -> list[RawSentence]:
    """Return the article's sentences with offsets into ``article``.

    ``drop_furniture`` leaves out the :data:`PAGE_FURNITURE` lines (corpus building); prediction
    keeps every line, since a caller's text is all content as far as we know.
    """
    sentences: list[RawSentence] = []
    line_start = 0
    for line in article.split("\n"):
        if line.strip() and not (drop_furniture and line.strip() in PAGE_FURNITURE):
            cuts = [0] + [m.end() for m in _SENTENCE_END_RE.finditer(line)] + [len(line)]
            for a, b in zip(cuts, cuts[1:]):
                piece = line[a:b]
                stripped = piece.strip()
                if stripped:
                    start = line_start + a + (len(piece) - len(piece.lstrip()))
                    sentences.append(RawSentence(start, start + len(stripped), stripped))
        line_start += len(line) + 1
    return sentences


# ---- normalisation

_TATWEEL = re.compile("\u0640")
# Arabic harakat, shadda, sukun, superscript alef and Quranic marks
_DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED]")

STEPS: dict[str, Callable[[str], str]] = {
    "strip_tatweel": lambda w: _TATWEEL.sub("", w),
    "strip_diacritics": lambda w: _DIACRITICS.sub("", w),
}


def check_steps(steps: list[str]) -> None:
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown preprocessing step(s) {unknown}; known: {sorted(STEPS)}")


def normalize_word(word: str, steps: list[str]) -> str:
    """Apply ``steps`` to one word; a word that would vanish (e.g. a lone tatweel) is kept as is."""
    out = word
    for step in steps:
        out = STEPS[step](out)
    return out or word


# ---- character cleaning before prediction

_PRESENTATION_FORMS = ((0xFB50, 0xFDFF), (0xFE70, 0xFEFE))  # Arabic presentation forms A and B
_KEEP_CONTROLS = frozenset("\n\t\r")


@dataclass(frozen=True)
class CleanText:
    """Text as the model reads it, with ``origin[i]``: the index in the caller's string of the
    character clean ``text[i]`` came from, so any clean span maps back exactly."""

    text: str
    origin: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The caller's span of clean ``text[start:end]`` (``end > start``)."""
        return self.origin[start], self.origin[end - 1] + 1


def _clean_char(char: str, steps: list[str]) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate (valid in JSON, not text): a separator
        return " "
    category = unicodedata.category(char)
    if category == "Cf" or (category == "Cc" and char not in _KEEP_CONTROLS):
        return ""  # zero-width joiners, bidi marks, BOM, NUL and other controls: invisible
    if category in ("So", "Co", "Cn"):  # emoji and other symbols, private use, unassigned
        return " "
    if any(lo <= code <= hi for lo, hi in _PRESENTATION_FORMS):
        char = unicodedata.normalize("NFKC", char)  # PDF-copied glyph forms -> letters
    for step in steps:
        char = STEPS[step](char)
    return char


def clean_text(text: str, steps: list[str]) -> CleanText:
    """Drop invisible and control characters, split emoji and lone surrogates off as spaces, fold
    Arabic presentation forms (NFKC) and apply the per-word ``steps`` character by character, so
    the encoder and both priors read the same normalised words; offsets map back through
    ``origin``. A span's first and last characters are visible ones of the caller's text."""
    chars: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        out = _clean_char(char, steps)
        chars.append(out)
        origin.extend([i] * len(out))
    return CleanText("".join(chars), origin)
