"""Near-duplicate detection between sentences (the articles share wire-service copy).

Similarity is the Jaccard index of character 5-gram sets after light normalisation (diacritics,
tatweel and punctuation removed, alef/ya/ta-marbuta variants unified, whitespace collapsed), so
"سوريا/سورية" or "عبد الرحمن/عبدالرحمن" do not hide a copied sentence.
"""

from __future__ import annotations

import re
import unicodedata

_DIACRITICS = re.compile(r"[\u064B-\u0652\u0670\u0640]")
_NON_WORD = re.compile(r"[^\w]+")
_CHAR_MAP = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
NGRAM = 5


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _DIACRITICS.sub("", text).translate(_CHAR_MAP)
    return _NON_WORD.sub(" ", text).strip()


def shingles(text: str, n: int = NGRAM) -> frozenset[str]:
    norm = normalise(text).replace(" ", "")
    return frozenset(norm[i : i + n] for i in range(max(1, len(norm) - n + 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def similarity_matrix(texts: list[str]) -> list[list[float]]:
    sh = [shingles(t) for t in texts]
    n = len(texts)
    m = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            m[i][j] = m[j][i] = jaccard(sh[i], sh[j])
    return m
