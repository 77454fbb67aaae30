"""Characters the model should never see: offsets stay exact into the caller's string."""

import random
import unicodedata

from marsad.text import clean_text, split_sentences, word_spans

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


WORD_SEPARATORS = [
    "\u200b",  # ZERO WIDTH SPACE
    "\x0b",  # VT
    "\x0c",  # FF
    "\x85",  # NEL
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
    "\x1c",  # FS .. US: information separators (str.isspace)
    "\x1f",
    "\u00a0",  # NO-BREAK SPACE
    "\u3000",  # IDEOGRAPHIC SPACE
]


def clean_words(text: str, steps: list[str] = STEPS) -> list[str]:
    """The caller's slices of the clean text's words."""
    clean = clean_text(text, steps)
    return [text[slice(*clean.span(a, b))] for a, b in word_spans(clean.text)]


def test_word_separating_characters_become_separators():
    for sep in WORD_SEPARATORS:
        assert clean_words(f"قوات{sep}النظام") == ["قوات", "النظام"], repr(sep)


def test_line_breaks_end_a_sentence_like_a_newline():
    for brk in ["\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\r"]:
        text = f"سيطرت قوات{brk}الميادين"
        clean = clean_text(text, STEPS)
        got = [text[slice(*clean.span(s.start, s.end))] for s in split_sentences(clean.text)]
        assert got == ["سيطرت قوات", "الميادين"], repr(brk)


def test_joiners_bidi_marks_bom_and_soft_hyphen_inside_a_word_are_dropped():
    for mark in ["\u200c", "\u200d", "\u200e", "\u2066", "\ufeff", "\u00ad", "\u2060"]:
        assert clean_text(f"قو{mark}ات", STEPS).text == "قوات", repr(mark)


def test_isolated_and_medial_harakat_forms_do_not_split_a_word():
    # U+FE72 dammatan isolated, U+FE76 fatha isolated, U+FE77 fatha medial, U+FC60 shadda+fatha
    for form in ["\ufe72", "\ufe76", "\ufe77", "\ufe7c", "\ufc60", "\ufcf2"]:
        assert clean_text(f"قو{form}ات", STEPS).text == "قوات", hex(ord(form))
    # a checkpoint that keeps diacritics reads the mark itself, on the letter before it
    assert clean_text("قو\ufe76ات", ["strip_tatweel"]).text == "قو\u064eات"
    assert clean_text("قو\ufe77ات", []).text == "قو\u064eات"
    assert clean_text("ف\ufe73ي", STEPS).text == "في"  # a glyph fragment, no letter


def test_persian_yeh_and_keheh_fold_to_the_arabic_letters_a_reader_sees():
    # medial yeh has dots (ي); a word-final one is dotless, as Arabic alef maqsura (ى) is
    text = "سیطرت کتائب علی ایران"
    clean = clean_text(text, STEPS)
    assert clean.text == "سيطرت كتائب على ايران"
    assert clean.origin == list(range(len(text)))
    assert clean_text("علیً،", STEPS).text == "على،"  # a haraka does not end the word
    assert clean_text("علیـه", []).text == "عليـه"  # nor does tatweel (decided before steps)
    # the presentation forms of Farsi yeh and keheh fold the same way
    assert clean_text("\ufbfe\ufb8e \ufbfc", STEPS).text == "يك ى"
