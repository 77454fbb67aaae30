"""Baselines on tiny synthetic Arabic-like data: they learn the obvious and always emit valid
IOB2."""

from __future__ import annotations

from marsad.data.corpus import Entity, Relation, Sentence
from marsad.data.examples import Example, WordEntity, WordRelation
from marsad.evaluation.baselines import LexiconTagger, MajorityRelationBaseline
from marsad.features import (
    PROCLITICS,
    CrfTagger,
    is_number_word,
    repair_iob2,
    strip_proclitics,
    word_features,
    word_shape,
)
from marsad.model.decoding import is_valid_iob2
from marsad.schema import BIO_TAGS

PLACES = ["الميادين", "البوكمال", "الرقة", "دمشق", "حلب", "درعا"]
TRAIN = [
    (f"سيطرت قوات النظام على {p}".split(), ["O", "B-ACTOR", "I-ACTOR", "O", "B-LOCATION"])
    for p in PLACES[:3]
] + [
    (
        f"هاجم داعش مدينة {p} ، وقتل 5 مدنيين".split(),
        ["O", "B-ACTOR", "O", "B-LOCATION", "O", "O", "B-QUANTITY", "I-QUANTITY"],
    )
    for p in PLACES[3:5]
]


def test_crf_learns_a_toy_pattern():
    crf = CrfTagger(max_iterations=50).fit([w for w, _ in TRAIN * 2], [t for _, t in TRAIN * 2])
    test = [
        "سيطرت قوات النظام على درعا".split(),
        "هاجم داعش مدينة الميادين ، وقتل 7 مدنيين".split(),
        [],
    ]
    pred = crf.predict(test)
    assert pred[0] == ["O", "B-ACTOR", "I-ACTOR", "O", "B-LOCATION"]
    assert pred[1][:2] == ["O", "B-ACTOR"] and pred[1][6:] == ["B-QUANTITY", "I-QUANTITY"]
    assert pred[2] == []
    assert all(is_valid_iob2(p) and len(p) == len(w) for p, w in zip(pred, test))
    # L-BFGS training is deterministic: a second fit predicts the same
    again = CrfTagger(max_iterations=50).fit([w for w, _ in TRAIN * 2], [t for _, t in TRAIN * 2])
    assert again.predict(test) == pred


def test_crf_accepts_tag_ids_as_well_as_strings():
    words = [w for w, _ in TRAIN]
    pred = (
        CrfTagger(max_iterations=20)
        .fit(words, [[BIO_TAGS.index(t) for t in ts] for _, ts in TRAIN])
        .predict(words)
    )
    assert all(is_valid_iob2(p) for p in pred)


def test_lexicon_tagger_and_repair():
    lex = LexiconTagger().fit([["النظام", "قوات"]], [["I-ACTOR", "B-ACTOR"]])
    assert lex.predict([["النظام", "مجهول"]]) == [
        ["B-ACTOR", "O"]
    ]  # lone I- after BOS repaired, unseen word O
    assert lex.predict([["مجهول", "النظام"]]) == [["O", "B-ACTOR"]]  # I- after O repaired
    assert lex.predict([["قوات", "النظام"]]) == [
        ["B-ACTOR", "I-ACTOR"]
    ]  # a real continuation is kept
    assert repair_iob2(["B-ACTOR", "I-LOCATION", "I-LOCATION"]) == [
        "B-ACTOR",
        "B-LOCATION",
        "I-LOCATION",
    ]
    assert repair_iob2(["O", "I-QUANTITY", "O", "B-ACTOR", "I-ACTOR"]) == [
        "O",
        "B-QUANTITY",
        "O",
        "B-ACTOR",
        "I-ACTOR",
    ]


def test_lexicon_most_frequent_tag_and_ties():
    lex = LexiconTagger().fit(
        [["دمشق"], ["دمشق"], ["دمشق"], ["أمس"], ["أمس"]],
        [["B-LOCATION"], ["B-LOCATION"], ["B-ACTOR"], ["B-ACTOR"], ["O"]],
    )
    assert lex.predict([["دمشق", "أمس"]]) == [["B-LOCATION", "O"]]  # 2 vs 1; a 1-1 tie goes to O


def test_strip_proclitics_and_features():
    assert strip_proclitics("والميادين") == "ميادين" and strip_proclitics("لداعش") == "داعش"
    assert strip_proclitics("للنظام") == "نظام" and strip_proclitics("وبالرقة") == "رقة"
    assert strip_proclitics("لـداعش") == "داعش"  # tatweel-joined preposition
    assert (
        strip_proclitics("ال") == "ال" and strip_proclitics("وزن") == "وزن"
    )  # stems keep >= 2 / 3 letters
    assert {"وال", "بال", "لل", "فال", "كال", "و", "ف", "ب", "ل", "ك", "ال"} <= set(PROCLITICS)
    assert word_shape("2023") == "d" and word_shape("١٢") == "d" and word_shape("12.5") == "dpd"
    assert word_shape("،") == "p" and word_shape("ISIS") == "x" and word_shape("الرقة") == "a"
    f = word_features(["قتل", "5"], 1)
    assert f["is_digit"] and f["-1:w"] == "قتل" and f["1:w"] == "EOS" and f["-2:w"] == "BOS"
    assert word_features(["،"], 0)["is_punct"]


def _example(entities, relations):
    return Example("s", "", [], [], [], [], entities, relations)


def test_number_words_are_quantity_cues_with_any_clitic_or_tanween():
    for word in ("ثمانين", "أربعة", "لمئات", "بالعشرات", "وعشرات", "ألفاً", "نصف"):
        assert is_number_word(word), word
    for word in ("الميادين", "مقاتل", "نحو", "عشيرة", "5"):
        assert not is_number_word(word), word
    f = word_features(["من", "ثلاث", "جهات"], 2)
    assert f["-1:number_word"] and not f["number_word"]


def test_majority_relation_baseline():
    a, loc, q = (
        WordEntity(0, 1, "ACTOR"),
        WordEntity(2, 3, "LOCATION"),
        WordEntity(4, 5, "QUANTITY"),
    )
    train = [
        _example([a, loc], [WordRelation(0, 1, "CONTROLS")]),
        _example([a, loc], [WordRelation(0, 1, "CONTROLS")]),
        _example([a, loc], []),
        _example([q, a], [WordRelation(0, 1, "QUANTITY_OF")]),
        _example([q, a], []),
        _example([q, a], []),
    ]
    base = MajorityRelationBaseline().fit(train)
    # ACTOR -> LOCATION: CONTROLS 2 vs NONE 1; LOCATION -> ACTOR has no signature, so is no
    # candidate
    assert base.majority[("ACTOR", "LOCATION")] == "CONTROLS"
    assert ("LOCATION", "ACTOR") not in base.majority
    assert base.predict([a, loc]) == [(0, 1, "CONTROLS")]
    assert base.predict([loc, a]) == [(1, 0, "CONTROLS")]
    # QUANTITY -> ACTOR: NONE 2 vs QUANTITY_OF 1 -> nothing; ACTOR -> QUANTITY is no candidate
    assert base.majority[("QUANTITY", "ACTOR")] == "NONE" and base.predict([q, a]) == []
    # type pair never seen in training (ACTOR -> ACTOR): nothing
    assert base.predict([a, WordEntity(1, 2, "ACTOR")]) == []
    # tuples work too, and several entities give every fitting ordered pair
    assert base.predict([(0, 1, "ACTOR"), (2, 3, "LOCATION"), (4, 5, "LOCATION")]) == [
        (0, 1, "CONTROLS"),
        (0, 2, "CONTROLS"),
    ]


def test_majority_relation_baseline_ties_go_to_none():
    a, loc = WordEntity(0, 1, "ACTOR"), WordEntity(2, 3, "LOCATION")
    base = MajorityRelationBaseline().fit(
        [_example([a, loc], [WordRelation(0, 1, "CONTROLS")]), _example([a, loc], [])]
    )
    assert base.predict([a, loc]) == []


def test_majority_relation_baseline_reads_corpus_sentences_and_rows():
    ents = [Entity("T1", "ACTOR", 0, 4, "قوات"), Entity("T2", "LOCATION", 10, 15, "الرقة")]
    sentence = Sentence("d", "d-s00", 0, "", ents, [Relation("T1", "T2", "LOCATED_IN")])
    row = {
        "entities": [vars(e) for e in ents],
        "relations": [{"head": "T1", "tail": "T2", "label": "LOCATED_IN"}],
    }
    for data in ([sentence], [row]):
        assert MajorityRelationBaseline().fit(data).predict(ents) == [(0, 1, "LOCATED_IN")]
