"""Long text without sentence punctuation costs linear time: windowed pairs, indexed features."""

import json
import random

from conftest import ROOT, load_script

from marsad.data.examples import WordEntity
from marsad.inference import window_pairs
from marsad.model.relation_prior import MentionIndex, pair_features
from marsad.model.windows import Window
from marsad.schema import candidate_pairs

LABELS = ("ACTOR", "LOCATION", "QUANTITY")


def random_mentions(rng, words):
    entities, pos = [], 0
    while True:
        pos += rng.randint(0, 6)
        width = rng.randint(1, 3)
        if pos + width > words:
            return entities
        entities.append(WordEntity(pos, pos + width, rng.choice(LABELS)))
        pos += width


def windows_over(words, size, step):
    starts = list(range(0, max(1, words - size + step), step))
    return [Window(a, min(words, a + size), [], [], []) for a in starts]


def centrality(window, word):
    return min(word - window.word_start, window.word_end - 1 - word)


def brute_force(windows, entities):
    """The rule before windowed enumeration: every pair, its best holding window."""
    out = {}
    for h, t in candidate_pairs([e.label for e in entities]):
        lo = min(entities[h].start, entities[t].start)
        hi = max(entities[h].end, entities[t].end)
        holding = [
            (min(centrality(w, lo), centrality(w, hi - 1)), k)
            for k, w in enumerate(windows)
            if w.word_start <= lo and hi <= w.word_end
        ]
        if holding:
            out[(h, t)] = max(holding)[1]
    return out


def test_window_pairs_equal_the_all_pairs_rule():
    rng = random.Random(3)
    for _ in range(40):
        words = rng.randint(5, 120)
        entities = random_mentions(rng, words)
        windows = windows_over(words, rng.randint(4, 40), rng.randint(2, 20))
        assert window_pairs(windows, entities) == brute_force(windows, entities)


def test_indexed_pair_features_equal_the_scans():
    rng = random.Random(5)
    for _ in range(40):
        words = [rng.choice(["قصف", "الجيش", "في", "على", "بلدة", "و"]) for _ in range(60)]
        entities = random_mentions(rng, len(words))
        index = MentionIndex(entities)
        assert index.usable
        for h, t in candidate_pairs([e.label for e in entities]):
            assert pair_features(words, entities, h, t, index) == pair_features(
                words, entities, h, t
            )


def test_long_input_benchmark_reports_the_ratio(tiny_run, tmp_path, capsys):
    bench = load_script("scripts/bench_long_input.py")
    out = tmp_path / "bench.json"
    args = ["--checkpoint", str(tiny_run / "best"), "--chars", "3000", "--json", str(out)]
    assert bench.main([*args, "--workdir", str(tmp_path), "--data", str(ROOT / "data")]) == 0
    result = json.loads(out.read_text())
    assert set(result["rows"]) == {"punctuated", "unpunctuated"} and result["ratio"] > 0
    assert "unpunctuated / punctuated chars/s" in capsys.readouterr().out
