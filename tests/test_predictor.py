"""``Predictor`` / ``predict``: exact offsets, valid structure, long inputs, bad inputs."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad import Prediction, Predictor, predict
from marsad.data.corpus import read_corpus

ARABIC = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
MIXED = st.one_of(
    ARABIC, st.sampled_from(list(" \n\t.،«»()…-:؟!0123456789abcXYZ😀\u0640\u064b\u0651"))
)


NOISY = st.one_of(
    MIXED,
    st.sampled_from(list("\u200b\u200d\u200f\u2066\u2069\ufeff\x00\x07\ufefb\ufe8f\ud800🔥")),
)
INVISIBLE = "\u200d\u200f\u2066\u2069\ufeff\x00"


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return Predictor.from_pretrained(tiny_run / "best", device="cpu")


def check_structure(text: str, result: Prediction) -> None:
    spans = sorted((e.start, e.end) for e in result.entities)
    for e in result.entities:
        assert text[e.start : e.end] == e.text and e.text.strip() == e.text and e.text
        assert e.label in {"ACTOR", "LOCATION", "QUANTITY"} and 0 <= e.score <= 1
    for (_a0, a1), (b0, _b1) in zip(spans, spans[1:]):
        assert a1 <= b0, "entities overlap"
    for r in result.relations:
        assert (
            0 <= r.head < len(result.entities)
            and 0 <= r.tail < len(result.entities)
            and r.head != r.tail
        )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(MIXED, max_size=300))
def test_offsets_are_exact_on_random_text(predictor, text):
    check_structure(text, predictor(text))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(NOISY, max_size=200))
def test_offsets_are_exact_with_invisible_characters_and_surrogates(predictor, text):
    result = predictor(text)
    check_structure(text, result)
    for e in result.entities:  # never an invisible or control character at a span's edge
        assert not {e.text[0], e.text[-1]} & set(INVISIBLE + "\ud800🔥")


def test_noisy_and_clean_text_give_the_same_entities(predictor, data_dir):
    """Invisible marks, controls and diacritics reach no consumer (encoder or priors)."""
    from marsad.text import clean_text

    steps = predictor.loaded.preprocessing
    for sentence in read_corpus(data_dir)[:30]:
        noisy = "".join(
            c
            + (INVISIBLE[i % len(INVISIBLE)] if i % 7 == 3 else "")
            + ("\u064e" if i % 11 == 5 else "")
            for i, c in enumerate(sentence.text)
        )
        plain, dirty = predictor(sentence.text), predictor(noisy)
        assert [(e.label, clean_text(e.text, steps).text) for e in dirty.entities] == [
            (e.label, e.text) for e in plain.entities
        ]
        assert [(r.head, r.tail, r.label) for r in dirty.relations] == [
            (r.head, r.tail, r.label) for r in plain.relations
        ]


def test_corpus_sentences(predictor, data_dir):
    texts = [s.text for s in read_corpus(data_dir)]
    results = predictor(texts, batch_size=7)
    assert len(results) == len(texts)
    for t, r in zip(texts, results):
        check_structure(t, r)
    assert any(r.entities for r in results)


def test_article_equals_its_sentences(predictor, data_dir):
    raw = (data_dir / "raw" / "004_93bab9112742cc71.txt").read_text(encoding="utf-8")
    whole = predictor(raw)
    check_structure(raw, whole)
    from marsad.text import split_sentences

    pieces = []
    for s in split_sentences(raw, drop_furniture=False):
        r = predictor(s.text)
        pieces += [(e.start + s.start, e.end + s.start, e.label, e.score) for e in r.entities]
    # batching pads differently, so scores may differ by float noise; spans and labels may not
    assert [(e.start, e.end, e.label) for e in whole.entities] == [p[:3] for p in pieces]
    assert [e.score for e in whole.entities] == pytest.approx([p[3] for p in pieces], abs=1e-3)


def test_long_input_is_windowed(predictor, data_dir):
    """A 'sentence' far longer than the encoder window still gets exact, non-overlapping
    entities."""
    sentences = [s.text.rstrip(".") for s in read_corpus(data_dir)][:40]
    text = " ، ".join(sentences) * 3
    small = Predictor(
        dataclasses.replace(predictor.loaded, meta={**predictor.loaded.meta, "max_length": 48}),
        predictor.device,
    )
    result = small(text)
    check_structure(text, result)
    assert result.entities


def test_bad_inputs(predictor, tiny_run):
    with pytest.raises(TypeError, match="got int"):
        predictor(5)
    with pytest.raises(TypeError, match="got bytes at position 1"):
        predictor(["نص", b"bytes"])
    with pytest.raises(TypeError, match="got NoneType"):
        predict(None, model=tiny_run / "best")
    for bad in (0, -1, 2.5):  # -1 used to return empty predictions, 0 a range() error
        with pytest.raises(ValueError, match=f"batch_size must be an integer >= 1, got {bad}"):
            predictor("نص", batch_size=bad)
    assert predictor("") == Prediction() and predictor("   \n\t ") == Prediction()
    for text in ("The army took the town. 42!", "12345", "😀😀 🙂"):
        check_structure(text, predictor(text))


def test_json_serialisation_and_convenience(tiny_run):
    text = "سيطرت قوات النظام على أربعة أحياء في مدينة الميادين."
    one = predict(text, model=tiny_run / "best")
    many = predict([text, text], model=tiny_run / "best")

    # the same extractions; scores equal up to float noise (on a GPU, a batch of two runs other
    # kernels)
    def extractions(p: Prediction) -> list[tuple]:
        return [(e.label, e.start, e.end) for e in p.entities] + [
            (r.head, r.tail, r.label) for r in p.relations
        ]

    for other in many:
        assert extractions(other) == extractions(one)
        scores = [x.score for x in (*other.entities, *other.relations)]
        assert scores == pytest.approx([x.score for x in (*one.entities, *one.relations)], abs=1e-3)
    assert json.loads(one.to_json()) == one.to_dict()


def test_int8_predictor_runs(tiny_run):
    q = Predictor.from_pretrained(tiny_run / "best", quantize=True)
    check_structure("سيطرت قوات النظام على الميادين.", q("سيطرت قوات النظام على الميادين."))
