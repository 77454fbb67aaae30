from marsad.text import split_sentences, split_words, word_spans


def test_punctuation_is_split_off():
    assert split_words("قال: «داعش» (سانا)، و…") == [
        "قال",
        ":",
        "«",
        "داعش",
        "»",
        "(",
        "سانا",
        ")",
        "،",
        "و",
        "…",
    ]


def test_tatweel_preposition_splits_only_before_punctuation():
    assert split_words("لـ«الشرق الأوسط»") == ["لـ", "«", "الشرق", "الأوسط", "»"]
    assert split_words("بـ150 عنصراً") == ["بـ150", "عنصراً"]
    assert split_words("بـ(داعش)") == ["بـ", "(", "داعش", ")"]


def test_proclitics_stay_in_the_word():
    assert split_words("لداعش وبمدينة") == ["لداعش", "وبمدينة"]


def test_word_spans_are_exact_offsets():
    text = "  سيطرت قوات النظام،\tأمس. "
    assert [text[a:b] for a, b in word_spans(text)] == split_words(text)


def test_sentences_split_on_newlines_and_terminators_not_brackets():
    text = "أ ب. ج د» هـ\nقادة (...) كما قال؟ نعم\n\nEmail\n"
    got = [s.text for s in split_sentences(text)]
    assert got == ["أ ب.", "ج د» هـ", "قادة (...) كما قال؟", "نعم"]
    for s in split_sentences(text):
        assert text[s.start : s.end] == s.text


def test_furniture_kept_when_asked():
    assert [s.text for s in split_sentences("تويتر", drop_furniture=False)] == ["تويتر"]
    assert split_sentences("تويتر") == []


def test_every_unicode_punctuation_mark_is_split_off():
    text = "“حماس” – غزة/رفح؛ قال—نعم ‘أ’ 90%"
    assert split_words(text) == [
        "“",
        "حماس",
        "”",
        "–",
        "غزة",
        "/",
        "رفح",
        "؛",
        "قال",
        "—",
        "نعم",
        "‘",
        "أ",
        "’",
        "90",
        "%",
    ]


def test_separators_between_digits_stay_in_the_number_in_every_script():
    assert split_words("3.5 و1,200 و٣٫٥ و۱۲٬۵۰۰") == ["3.5", "و1,200", "و٣٫٥", "و۱۲٬۵۰۰"]
    assert split_words("بلغ 300. ثم 4، و٥,") == ["بلغ", "300", ".", "ثم", "4", "،", "و٥", ","]


def test_separators_that_are_not_whitespace_to_regex_split_words():
    # ZERO WIDTH SPACE and the information separators FS..US: word boundaries, never word content
    for sep in ["\u200b", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029", "\u00a0"]:
        text = f"قوات{sep}النظام"
        assert split_words(text) == ["قوات", "النظام"], repr(sep)
        assert [text[a:b] for a, b in word_spans(text)] == ["قوات", "النظام"]
