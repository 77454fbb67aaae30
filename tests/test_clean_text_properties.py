"""Property tests of the character cleaning: for any input, every word the model reads maps back to
an exact, visible slice of the caller's string, and no letter is lost on the way."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.text import WORD_SEPARATORS, clean_text, split_sentences, word_spans

STEPS = ["strip_tatweel", "strip_diacritics"]
ARABIC = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
HOSTILE = st.sampled_from(
    list(
        " \n\t\r\x0b\x0c\x85\u2028\u2029\u00a0\u3000\x1c\x1f"  # separators and line breaks
        "\u200b\u200c\u200d\u200e\u200f\u2066\u2069\ufeff\u00ad\x00\x07"  # zero-width, controls
        "\ufe70\ufe71\ufe72\ufe73\ufe75\ufe76\ufe77\ufe7c\ufe7f\ufc5e\ufcf2"  # harakat forms
        "\ufefb\ufe8f\ufbfc\ufbfe\ufb8e\u06cc\u06a9\u0649\u064a"  # glyph forms, yeh and kaf
        ".،«»()…-:؟!0123456789abc🔥\ud800\ue000\u0640\u064b\u0651"
    )
)
TEXT = st.text(st.one_of(ARABIC, HOSTILE), max_size=120)
# a word's edge is never one of these in the caller's text
INVISIBLE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "So", "Zs", "Zl", "Zp")


def _word_slices(text: str, steps: list[str]) -> list[tuple[str, int, int]]:
    """(clean word, start, end in ``text``) for every word of every sentence the model reads."""
    clean = clean_text(text, steps)
    out = []
    for sent in split_sentences(clean.text, drop_furniture=False):
        for a, b in word_spans(sent.text):
            start, end = clean.span(sent.start + a, sent.start + b)
            out.append((sent.text[a:b], start, end))
    return out


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_origin_is_a_monotone_map_into_the_text(text):
    clean = clean_text(text, STEPS)
    assert len(clean.origin) == len(clean.text)
    assert clean.origin == sorted(clean.origin)
    assert all(0 <= i < len(text) for i in clean.origin)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from([STEPS, [], ["strip_tatweel"]]))
def test_every_word_slices_the_original_string_exactly(text, steps):
    for word, start, end in _word_slices(text, steps):
        assert 0 <= start < end <= len(text)
        edge = text[start] + text[end - 1]
        assert all(unicodedata.category(c) not in INVISIBLE_CATEGORIES for c in edge), repr(edge)
        assert not set(text[start:end]) & set(WORD_SEPARATORS + "\x0b\x0c\x85\u2028\u2029")
        # the slice alone cleans to the same word: nothing outside it leaked in
        assert clean_text(text[start:end], steps).text == word


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_no_letter_is_lost(text):
    """Every Arabic letter (not tatweel) of the caller's text is in the clean text, in place."""
    kept = set(clean_text(text, STEPS).origin)
    letters = [
        i
        for i, c in enumerate(text)
        if unicodedata.category(c) == "Lo" and "\u0620" <= c <= "\u06ff"
    ]
    assert all(i in kept for i in letters)
