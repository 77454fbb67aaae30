"""Split a raw article into sentences with exact character offsets, leaving page furniture out.

Rule: a newline always ends a sentence; inside a line a sentence ends after . ! ? ؟ (optionally
followed by a closing » or ") when whitespace follows. Brackets do not close a sentence, so
"(...)" in running text never splits. Lines that are page furniture (share buttons, font-size
widgets, "Email") are not sentences and are listed here so the exclusion is explicit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Whole lines that are page furniture, not article text (see data/GUIDELINES.md).
PAGE_FURNITURE: frozenset[str] = frozenset({
    "ت + ت - الحجم الطبيعي",
    "Email",
    "مشاركة :",
    "تويتر",
    "التعليقات",
})

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
