"""Baselines for cross-validation: a feature CRF, a lexicon tagger and a majority relation classifier."""
from __future__ import annotations

import re
from collections import Counter, defaultdict

import sklearn_crfsuite

from marsad.inference import WordEntity, candidate_pairs
from marsad.schema import NO_RELATION

PROCLITICS = ("وبال", "وال", "فال", "بال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_ARABIC = re.compile(r"^[\u0600-\u06FF]+$")
_LATIN = re.compile(r"^[A-Za-z]+$")


def strip_proclitics(word: str) -> str:
    """Remove one common proclitic cluster, keeping at least two letters of stem."""
    for p in PROCLITICS:
        if word.startswith(p) and len(word) - len(p) >= 2:
            return word[len(p):]
    return word


def _shape(word: str) -> str:
    if word.isdigit():
        return "digits"
    if any(c.isdigit() for c in word):
        return "has_digit"
    if _ARABIC.match(word):
        return "arabic"
    if _LATIN.match(word):
        return "latin"
    if not any(c.isalnum() for c in word):
        return "punct"
    return "mixed"


def word_features(words: list[str], i: int) -> dict[str, object]:
    w = words[i]
    stem = strip_proclitics(w)
    feats: dict[str, object] = {
        "bias": 1.0, "w": w, "stem": stem, "shape": _shape(w), "len": min(len(w), 8),
        "has_al": "ال" in w[:4],
    }
    for k in (1, 2, 3):
        feats[f"pre{k}"] = w[:k]
        feats[f"suf{k}"] = w[-k:]
        feats[f"stem_pre{k}"] = stem[:k]
    for off in (-2, -1, 1, 2):
        j = i + off
        if 0 <= j < len(words):
            feats[f"{off}:w"] = words[j]
            feats[f"{off}:stem"] = strip_proclitics(words[j])
            feats[f"{off}:shape"] = _shape(words[j])
        else:
            feats[f"{off}:w"] = "BOS" if j < 0 else "EOS"
    return feats


class CrfTagger:
    """Linear-chain CRF (L-BFGS, elastic net) over standard Arabic word features.

    Training is deterministic (L-BFGS, no sampling), so cross-validation rows are reproducible.
    """

    def __init__(self, c1: float = 0.1, c2: float = 0.1, max_iterations: int = 100):
        self.crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=max_iterations,
                                        all_possible_transitions=True)

    def fit(self, sentences: list[list[str]], tags: list[list[str]]) -> "CrfTagger":
        self.crf.fit([[word_features(s, i) for i in range(len(s))] for s in sentences], tags)
        return self

    def predict(self, sentences: list[list[str]]) -> list[list[str]]:
        predicted = self.crf.predict([[word_features(s, i) for i in range(len(s))] for s in sentences])
        return [repair_iob2(list(p)) for p in predicted]


def repair_iob2(tags: list[str]) -> list[str]:
    """Turn an I-X that does not continue an X into B-X, so the output is valid IOB2."""
    out, prev = [], "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


class LexiconTagger:
    """Each word gets the tag it carried most often in training ('O' if unseen), then IOB2 repair.

    Word-level memorisation is the simplest lexicon baseline; repair keeps the output scoreable in
    strict mode (a lone I- becomes B-).
    """

    def fit(self, sentences: list[list[str]], tags: list[list[str]]) -> "LexiconTagger":
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for words, ts in zip(sentences, tags):
            for w, t in zip(words, ts):
                counts[w][t] += 1
        self.lexicon = {w: c.most_common(1)[0][0] for w, c in counts.items()}
        return self

    def predict(self, sentences: list[list[str]]) -> list[list[str]]:
        return [repair_iob2([self.lexicon.get(w, "O") for w in s]) for s in sentences]


class MajorityRelationBaseline:
    """For each ordered (head type, tail type) pair, predict its most frequent training label.

    Counted over all candidate pairs of gold mentions, NONE included: where NONE wins (as it does
    for most type pairs) the baseline predicts nothing for that type pair.
    """

    def fit(self, examples) -> "MajorityRelationBaseline":
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for ex in examples:
            gold = {(r.head, r.tail): r.label for r in ex.relations}
            for h, t in candidate_pairs(ex.entities):
                counts[(ex.entities[h].label, ex.entities[t].label)][gold.get((h, t), NO_RELATION)] += 1
        self.majority = {k: c.most_common(1)[0][0] for k, c in counts.items()}
        return self

    def predict(self, entities: list[WordEntity]) -> list[tuple[int, int, str]]:
        out = []
        for h, t in candidate_pairs(entities):
            label = self.majority.get((entities[h].label, entities[t].label), NO_RELATION)
            if label != NO_RELATION:
                out.append((h, t, label))
        return out
