"""Characters the model should never see: offsets stay exact into the caller's string."""

import random
import unicodedata

from marsad.text import clean_text, word_spans

STEPS = ["strip_tatweel", "strip_diacritics"]
INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2066",
    "\u2069",
    "\ufeff",
    "\x00",
    "\x07",
]
WORDS = ["قوات", "النظام", "الميادين", "سيطرت", "على", "٣٤", "جنديا", "«", "»", "."]


def test_presentation_forms_fold_and_diacritics_go():
    # "لا" as the ligature U+FEFB, "ب" as its isolated form U+FE8F, vocalised "قُوَّات"
    clean = clean_text("\ufefb \ufe8f قُوَّات", STEPS)
    assert clean.text == "لا ب قوات"
    assert clean.span(0, 2) == (0, 1)  # both letters of the ligature come from one character


def test_invisible_characters_never_edge_a_word():
    text = "\u2066الميادين\u2069\u200f \x00قوات\u200d"
    clean = clean_text(text, STEPS)
    words = [clean.span(a, b) for a, b in word_spans(clean.text)]
    assert [text[a:b] for a, b in words] == ["الميادين", "قوات"]


def test_emoji_and_lone_surrogates_are_separators():
    clean = clean_text("الميادين🔥قوات\ud800النظام", STEPS)
    assert [clean.text[a:b] for a, b in word_spans(clean.text)] == ["الميادين", "قوات", "النظام"]


def test_random_strings_map_back_exactly():
    rng = random.Random(7)
    pool = WORDS + INVISIBLE + ["ـ", "\u064e", "\ufefb", "\ufe8d", "🙂", "\ud83d", " ", "\n"]
    for _ in range(300):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 30)))
        clean = clean_text(text, STEPS)
        assert len(clean.origin) == len(clean.text)
        assert clean.origin == sorted(clean.origin)
        for a, b in word_spans(clean.text):
            start, end = clean.span(a, b)
            edge = text[start] + text[end - 1]
            assert all(unicodedata.category(c) not in ("Cf", "Cc", "Cs", "So") for c in edge)
            assert (
                unicodedata.normalize("NFKC", text[start:end])
                .replace("ـ", "")
                .startswith(clean.text[a])
            )
