from marsad.baselines import CrfTagger, LexiconTagger, MajorityRelationBaseline, repair_iob2, strip_proclitics
from marsad.decoding import is_valid_iob2
from marsad.examples import Example
from marsad.inference import WordEntity, WordRelation

TRAIN = [
    ("سيطرت قوات النظام على الميادين".split(), ["O", "B-ACTOR", "I-ACTOR", "O", "B-LOCATION"]),
    ("سيطرت قوات النظام على البوكمال".split(), ["O", "B-ACTOR", "I-ACTOR", "O", "B-LOCATION"]),
    ("هاجم داعش مدينة الرقة".split(), ["O", "B-ACTOR", "O", "B-LOCATION"]),
    ("هاجم داعش مدينة دمشق".split(), ["O", "B-ACTOR", "O", "B-LOCATION"]),
] * 3


def test_crf_learns_a_toy_pattern():
    crf = CrfTagger(max_iterations=50).fit([w for w, _ in TRAIN], [t for _, t in TRAIN])
    pred = crf.predict(["سيطرت قوات النظام على دمشق".split(), "هاجم داعش مدينة الميادين".split()])
    assert pred[0][:3] == ["O", "B-ACTOR", "I-ACTOR"] and pred[1][1] == "B-ACTOR"
    assert all(is_valid_iob2(p) for p in pred)


def test_lexicon_tagger_and_repair():
    lex = LexiconTagger().fit([["النظام", "قوات"]], [["I-ACTOR", "B-ACTOR"]])
    assert lex.predict([["النظام", "مجهول"]]) == [["B-ACTOR", "O"]]  # lone I- repaired, unseen word O
    assert repair_iob2(["B-ACTOR", "I-LOCATION", "I-LOCATION"]) == ["B-ACTOR", "B-LOCATION", "I-LOCATION"]


def test_strip_proclitics():
    assert strip_proclitics("والميادين") == "ميادين" and strip_proclitics("لداعش") == "داعش"
    assert strip_proclitics("ال") == "ال"


def _example(entities, relations):
    return Example("s", "", [], [], [], [], entities, relations)


def test_majority_relation_baseline():
    a, loc, q = WordEntity(0, 1, "ACTOR"), WordEntity(2, 3, "LOCATION"), WordEntity(4, 5, "QUANTITY")
    train = [_example([a, loc], [WordRelation(0, 1, "CONTROLS")]),
             _example([a, loc], [WordRelation(0, 1, "CONTROLS")]),
             _example([a, loc], []),
             _example([q, a], [])]
    base = MajorityRelationBaseline().fit(train)
    assert base.predict([a, loc]) == [(0, 1, "CONTROLS")]  # CONTROLS 2 vs NONE 1
    assert base.predict([q, a]) == []  # NONE is the majority for QUANTITY -> ACTOR
