"""Arabic word features: proclitics, light normalisation, number words, word shape; and the feature
CRF.

Both decoding priors (:mod:`marsad.model.lexical_prior`, :mod:`marsad.model.relation_prior`) and the
CRF baseline (:mod:`marsad.evaluation.baselines`) read words through these functions, so a change
to a feature reaches all three. The CRF is deterministic (L-BFGS: no random initialisation).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sklearn_crfsuite

from marsad.schema import BIO_TAGS
from marsad.text import is_punctuation


def tag_strings(tags: Sequence[int | str], names: Sequence[str] = BIO_TAGS) -> list[str]:
    """Tags as strings; ids are mapped through ``names`` (``load_splits``'s ClassLabel is
    ``BIO_TAGS``)."""
    return [names[t] if not isinstance(t, str) else t for t in tags]


def _proclitic_clusters() -> tuple[str, ...]:
    """Conjunction (و/ف) + preposition (ب/ك/ل) + article (ال), each optional; ل + ال is written لل.
    Longest first, so the longest cluster is stripped."""
    out = set()
    for conj in ("", "و", "ف"):
        for prep in ("", "ب", "ك", "ل"):
            for art in ("", "ال"):
                out.add(conj + ("لل" if prep == "ل" and art else prep + art))
    out.discard("")
    return tuple(sorted(out, key=lambda s: (-len(s), s)))


PROCLITICS: tuple[str, ...] = _proclitic_clusters()
_TATWEEL = "\u0640"
_NORMALISE = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_DIACRITICS = dict.fromkeys(
    range(0x064B, 0x0653)
)  # tanween, short vowels, shadda, sukun: "ألفاً" -> "ألفا"

# Arabic number words (cardinals, tens, hundreds, thousands, vague plurals, fractions), written out
# from the language, not from the corpus: a number written as a word is as much a QUANTITY cue as a
# digit, but on ~60 training sentences most number words never occur ("ثمانين", "لمئات")
NUMBER_WORDS: frozenset[str] = frozenset(
    "واحد واحدة اثنان اثنين اثنتان اثنتين ثلاث ثلاثة أربع أربعة خمس خمسة ست ستة سبع "
    "سبعة ثمان ثماني ثمانية "
    "تسع تسعة عشر عشرة عشرون عشرين ثلاثون ثلاثين أربعون أربعين خمسون خمسين ستون ستين سبعون سبعين "
    "ثمانون ثمانين تسعون تسعين مئة مائة مئتان مئتين مائتان مائتين مئات ألف ألفا ألفان ألفين آلاف "
    "مليون مليونا ملايين مليار مليارات عشرات بضع بضعة نصف ربع ثلث".split()
)


@lru_cache(maxsize=1 << 16)  # pure, called ~6 times per word by word_features
def strip_proclitics(word: str) -> str:
    """Remove the longest leading proclitic cluster (و ف ب ك ل ال and combinations such as
    وال بال لل فال كال وبال).

    A stem keeps at least two letters, three after a single-letter clitic, so short words that
    merely start with و/ب/ل are mostly left alone. Tatweel is dropped first ("لـداعش" -> "داعش").
    This is light stemming for features, not morphological analysis.
    """
    bare = word.replace(_TATWEEL, "") or word
    for p in PROCLITICS:
        if bare.startswith(p) and len(bare) - len(p) >= (3 if len(p) == 1 else 2):
            return bare[len(p) :]
    return bare


def normalise(word: str) -> str:
    """Merge common spelling variants (alef forms, alef maqsura, ta marbuta) for a sparse-safe
    feature."""
    return word.translate(_NORMALISE)


_NUMBER_KEYS = frozenset(normalise(w) for w in NUMBER_WORDS)


def _char_class(c: str) -> str:
    if c.isdigit():
        return "d"
    if c.isalpha():
        return "a" if "ARABIC" in unicodedata.name(c, "") else "x" if c.isascii() else "o"
    if is_punctuation(c):
        return "p"
    return "s"


@lru_cache(maxsize=1 << 16)  # pure, called ~6 times per word by word_features
def is_number_word(word: str) -> bool:
    """Whether the word, diacritics and proclitics removed, is one of :data:`NUMBER_WORDS`
    ("لمئات", "بالعشرات", "ثمانين", "أربعة")."""
    bare = word.translate(_DIACRITICS)
    return normalise(bare) in _NUMBER_KEYS or normalise(strip_proclitics(bare)) in _NUMBER_KEYS


@lru_cache(maxsize=1 << 16)  # pure, called ~6 times per word by word_features
def word_shape(word: str) -> str:
    """Collapsed character-class string: a = Arabic letter, x = Latin, d = digit (any script),
    p = punctuation, o = other letter, s = symbol; e.g. "2023" -> "d", "12.5" -> "dpd"."""
    out: list[str] = []
    for c in word:
        k = _char_class(c)
        if not out or out[-1] != k:
            out.append(k)
    return "".join(out)


def _length_bucket(n: int) -> str:
    return (
        "1"
        if n <= 1
        else "2"
        if n == 2
        else "3"
        if n == 3
        else "4-5"
        if n <= 5
        else "6-8"
        if n <= 8
        else "9+"
    )


def word_features(words: Sequence[str], i: int) -> dict[str, Any]:
    """CRF features of word ``i``: the word, its stem and affixes, digit/shape/length/punctuation
    cues, and the neighbouring words (±1 with stems and shapes, ±2 bare) with BOS/EOS markers."""
    w = words[i]
    stem = strip_proclitics(w)
    shape = word_shape(w)
    feats: dict[str, Any] = {
        "bias": 1.0,
        "w": w,
        "stem": stem,
        "norm": normalise(stem),
        "has_clitic": stem != w.replace(_TATWEEL, ""),
        "is_digit": w.isdigit(),
        "has_digit": any(c.isdigit() for c in w),
        "shape": shape,
        "is_punct": set(shape) == {"p"},
        "len": _length_bucket(len(w)),
        "number_word": is_number_word(w),
    }
    for k in (1, 2, 3):
        feats[f"pre{k}"] = w[:k]
        feats[f"suf{k}"] = w[-k:]
        feats[f"stem_pre{k}"] = stem[:k]
    for off in (-2, -1, 1, 2):
        j = i + off
        if 0 <= j < len(words):
            feats[f"{off}:w"] = words[j]
            if abs(off) == 1:
                feats[f"{off}:stem"] = strip_proclitics(words[j])
                feats[f"{off}:shape"] = word_shape(words[j])
                feats[f"{off}:number_word"] = is_number_word(words[j])
        else:
            feats[f"{off}:w"] = "BOS" if j < 0 else "EOS"
    return feats


def sentence_features(words: Sequence[str]) -> list[dict[str, Any]]:
    return [word_features(words, i) for i in range(len(words))]


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Turn an I-X that does not continue an X into B-X, so the output is valid IOB2.

    Repair (rather than dropping the word) keeps the word in an entity, which is what a tagger
    that emits I-X for it most plausibly meant.
    """
    out: list[str] = []
    prev = "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


# ---------------------------------------------------------------------------------------- taggers


class CrfTagger:
    """Linear-chain CRF (sklearn-crfsuite, L-BFGS with elastic net c1/c2) over
    :func:`word_features`.

    Training is deterministic: L-BFGS has no random initialisation or sampling, so the same
    sentences in the same order give the same model and cross-validation rows are reproducible
    without a seed. Predictions go through :func:`repair_iob2` because ``all_possible_transitions``
    lets the CRF emit (rarely) an O -> I-X transition.
    """

    def __init__(
        self,
        c1: float = 0.1,
        c2: float = 0.1,
        max_iterations: int = 100,
        all_possible_transitions: bool = True,
    ):
        self.crf = sklearn_crfsuite.CRF(
            algorithm="lbfgs",
            c1=c1,
            c2=c2,
            max_iterations=max_iterations,
            all_possible_transitions=all_possible_transitions,
        )

    def fit(
        self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[int | str]]
    ) -> CrfTagger:
        if len(sentences) != len(tags):
            raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag sequences")
        pairs = [(s, tag_strings(t)) for s, t in zip(sentences, tags) if len(s)]
        for s, t in pairs:
            if len(s) != len(t):
                raise ValueError(f"{len(s)} words but {len(t)} tags in {' '.join(s)[:60]!r}")
        if not pairs:
            raise ValueError("CrfTagger.fit needs at least one non-empty sentence")
        self.crf.fit([sentence_features(s) for s, _ in pairs], [t for _, t in pairs])
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Valid IOB2 tag strings, one list per sentence (empty sentences give ``[]``)."""
        nonempty = [s for s in sentences if len(s)]
        predicted = iter(
            self.crf.predict([sentence_features(s) for s in nonempty]) if nonempty else []
        )
        return [repair_iob2(list(next(predicted))) if len(s) else [] for s in sentences]
