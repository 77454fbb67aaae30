"""Text preprocessing for the encoder, applied word by word.

Predictions are made per word and every word keeps its character span in the caller's string, so
normalisation can change or delete characters without ever moving an offset. The step names are
stored in each checkpoint and replayed at prediction time.
"""
from __future__ import annotations

import re
from collections.abc import Callable

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
