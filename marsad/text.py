"""Text units shared by data, training and prediction: words, sentences and per-word normalisation.

One module so the schema's word rule, the sentence splitter and the encoder's normalisation can
never drift apart between the corpus tools and ``predict``.

Words: runs separated by whitespace (Unicode White_Space, plus ZERO WIDTH SPACE and the information
separators U+001C to U+001F, see :data:`WORD_SEPARATORS`) with every Unicode punctuation mark
(general category P) split off as a word of its own, except a decimal or thousands separator
(. , ٫ ٬) between two digits, which stays inside the number. Digits are Western, Eastern Arabic
and Persian alike. Fused proclitics stay in the word. A tatweel-joined preposition ("لـ", "بـ") is
split from a following punctuation mark (because the mark is split off) but stays fused before a
number or word: tatweel is a letter modifier (category Lm), not punctuation.

Sentences: a newline always ends a sentence; inside a line a sentence ends after . ! ? ؟
(optionally followed by a closing » or ") when whitespace follows. Brackets do not close a
sentence, so "(...)" in running text never splits. Lines that are page furniture (share buttons,
font-size widgets, "Email") are not sentences and are listed here so the exclusion is explicit.

Normalisation: predictions are made per word and every word keeps its character span in the
caller's string, so normalisation can change or delete characters without ever moving an offset.
The step names are stored in each checkpoint and replayed at prediction time, on the characters of
the caller's text before words are split (:func:`clean_text`), with separators, invisible
characters, controls, emoji, Arabic presentation forms and Persian letters handled there too (for
every checkpoint: those foldings are not steps).
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
# Word boundaries that the regex module's \s (Unicode White_Space) does not include: ZERO WIDTH
# SPACE (a word break by definition) and the ASCII information separators FS GS RS US (whitespace
# to Python's str.isspace). Never word content, in the corpus or a caller's text.
WORD_SEPARATORS = "\u200b\x1c\x1d\x1e\x1f"
# A word: non-space, non-punctuation characters, or a separator flanked by two digits.
_WORD_RE = regex.compile(
    rf"(?:[^\s\p{{P}}{WORD_SEPARATORS}]"
    rf"|(?<=[{DIGITS}])[{regex.escape(NUMBER_SEPARATORS)}](?=[{DIGITS}]))+|\p{{P}}"
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
# Unicode's mandatory line breaks other than "\n": each becomes "\n", so it ends a sentence too.
_LINE_BREAKS = frozenset("\r\x0b\x0c\x85\u2028\u2029")
_TAIL_FRAGMENT = "\ufe73"  # a piece of a glyph, no letter
_KEHEH, _KAF = "\u06a9", "\u0643"  # Persian ک, Arabic ك
_FARSI_YEH, _YEH, _ALEF_MAKSURA = "\u06cc", "\u064a", "\u0649"  # ی, ي, ى


@dataclass(frozen=True)
class CleanText:
    """Text as the model reads it, with ``origin[i]``: the index in the caller's string of the
    character clean ``text[i]`` came from, so any clean span maps back exactly."""

    text: str
    origin: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The caller's span of clean ``text[start:end]`` (``end > start``)."""
        return self.origin[start], self.origin[end - 1] + 1


def _fold_presentation_form(char: str) -> str:
    """NFKC turns a PDF-copied glyph form into its letters. A form that is only a haraka (U+FE70 to
    U+FE7F, the shadda ligatures U+FC5E to U+FC63 and U+FCF2 to U+FCF4) comes out as a space or a
    tatweel carrying the mark, which would split or stretch the word it sits in: keep the mark."""
    if char == _TAIL_FRAGMENT:
        return ""
    folded = unicodedata.normalize("NFKC", char)
    marks = folded[1:]
    if folded[:1] in (" ", "\u0640") and marks and all(_is_mark(c) for c in marks):
        return marks
    return folded


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _repair_char(char: str) -> str:
    """What one character of the caller's text stands for, before the per-word steps."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate (valid in JSON, not text): a separator
        return " "
    if char in _LINE_BREAKS:
        return "\n"
    if char in "\n\t":
        return char
    if char.isspace() or char in WORD_SEPARATORS:  # NBSP, ZWSP, FS..US and other spaces
        return " "
    category = unicodedata.category(char)
    if category in ("Cf", "Cc"):
        return ""  # zero-width (non-)joiners, bidi marks, BOM, soft hyphen, NUL: inside a word
    if category in ("So", "Co", "Cn"):  # emoji and other symbols, private use, unassigned
        return " "
    if any(lo <= code <= hi for lo, hi in _PRESENTATION_FORMS):
        char = _fold_presentation_form(char)
    return char.replace(_KEHEH, _KAF)


def _fold_farsi_yeh(chars: list[str]) -> None:
    """Persian ی as the Arabic letter a reader sees: dotted ي inside a word, dotless ى (alef
    maqsura) at its end, where Persian writes it without dots ("علی" is "على", not the name
    "علي"). Harakat after it do not end the word; tatweel does not either (it is a letter)."""
    for i, char in enumerate(chars):
        if char != _FARSI_YEH:
            continue
        j = i + 1
        while j < len(chars) and _is_mark(chars[j]):
            j += 1
        inside = j < len(chars) and unicodedata.category(chars[j]).startswith("L")
        chars[i] = _YEH if inside else _ALEF_MAKSURA


def clean_text(text: str, steps: list[str]) -> CleanText:
    """The caller's text as the encoder and both priors read it, offsets mapping back through
    ``origin``. Separators (whitespace of any kind, ZWSP, FS..US, emoji and other symbols, lone
    surrogates) become spaces and line breaks newlines; invisible characters that sit inside a word
    (joiners, bidi marks, BOM, soft hyphen, other controls) are dropped; Arabic presentation forms
    are folded (NFKC, a lone haraka form to its mark), Persian ک and ی to Arabic letters; then the
    per-word ``steps`` are applied character by character. A span's first and last characters are
    visible ones of the caller's text."""
    chars: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        out = _repair_char(char)
        chars.extend(out)
        origin.extend([i] * len(out))
    _fold_farsi_yeh(chars)
    kept: list[str] = []
    kept_origin: list[int] = []
    for char, i in zip(chars, origin):
        out = char
        for step in steps:
            out = STEPS[step](out)
        kept.append(out)
        kept_origin.extend([i] * len(out))
    return CleanText("".join(kept), kept_origin)
