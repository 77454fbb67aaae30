"""``Predictor`` on text whose words are separated or spelled in ways the corpus never shows: zero
width spaces and other separators, Persian letters, lone harakat glyph forms. The model must read
the same words as in plain text, and every offset must slice the caller's string."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad import Predictor
from marsad.data.corpus import read_corpus

SEPARATORS = ["\u200b", "\u00a0", "\x1f", "\u3000"]  # separate words, do not break lines
HOSTILE = st.one_of(
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
    st.sampled_from(
        list(" \u200b\x0b\x0c\x85\u2028\u2029\x1c\u00a0\ufe72\ufe76\ufe77\u06cc\u06a9.،0٣")
    ),
)


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return Predictor.from_pretrained(tiny_run / "best", device="cpu")


def _outputs(result):
    return (
        [(e.label, e.start, e.end) for e in result.entities],
        [(r.head, r.tail, r.label) for r in result.relations],
    )


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(HOSTILE, max_size=200))
def test_every_entity_offset_slices_the_original_string(predictor, text):
    for e in predictor(text).entities:
        assert 0 <= e.start < e.end <= len(text) and text[e.start : e.end] == e.text
        assert e.text == e.text.strip() and "\u200b" not in e.text


def test_any_word_separator_reads_as_a_space(predictor, data_dir):
    texts = [s.text for s in read_corpus(data_dir)[:30]]
    spaced = predictor(texts)
    separated = predictor(
        [re.sub(" ", lambda m: SEPARATORS[m.start() % len(SEPARATORS)], t) for t in texts]
    )
    assert [_outputs(r) for r in separated] == [_outputs(r) for r in spaced]


def test_persian_keyboard_spelling_reads_as_arabic(predictor, data_dir):
    texts = [s.text for s in read_corpus(data_dir)[:30]]
    # ي inside a word and ك anywhere, as a Persian keyboard types them
    persian = [re.sub("ي(?=[\u0621-\u064a])", "\u06cc", t).replace("ك", "\u06a9") for t in texts]
    assert persian != texts
    assert [_outputs(r) for r in predictor(persian)] == [_outputs(r) for r in predictor(texts)]
