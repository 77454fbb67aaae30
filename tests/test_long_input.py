"""Long text without sentence punctuation costs linear time: windowed pairs, indexed features."""

import json
import random

import numpy as np
from conftest import ROOT, load_script

from marsad.data.examples import WordEntity
from marsad.data.mentions import MentionIndex
from marsad.inference import window_pairs
from marsad.model.relation_prior import pair_features
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
    args += ["--repeats", "2", "--workdir", str(tmp_path), "--data", str(ROOT / "data")]
    assert bench.main(args) == 0
    result = json.loads(out.read_text())
    assert set(result["rows"]) == {"punctuated", "unpunctuated"} and result["ratio"] > 0
    for row in result["rows"].values():
        assert len(row["all_seconds"]) == 2 and row["seconds"] == min(row["all_seconds"])
    assert len(result["load_average"]["before"]) == 3 and result["cpus"] >= 1
    out = capsys.readouterr().out
    assert "unpunctuated / punctuated chars/s" in out and "load average" in out


def test_pair_batch_counts_the_mentions_between_as_the_scan_does():
    """The relation head's "between" feature, read from the mention index, equals the count of
    mentions lying strictly between the two spans."""
    from marsad.inference import build_pair_batch

    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(10, 80)
        entities = random_mentions(rng, n)
        pairs = candidate_pairs([e.label for e in entities])
        if len(pairs) < 2:
            continue
        window = Window(0, n, [0] * (n + 2), list(range(1, n + 1)), list(range(1, n + 1)))
        between = build_pair_batch([(0, window, entities, pairs)]).between.tolist()
        expected = []
        for h, t in pairs:
            lo = min(entities[h].end, entities[t].end)
            hi = max(entities[h].start, entities[t].start)
            expected.append(sum(1 for e in entities if lo <= e.start and e.end <= hi))
        assert between == expected


def test_long_sentence_pairs_score_as_when_each_window_is_encoded_alone(tiny_run, data_dir):
    """A long sentence's pairs are scored from the hidden states its windows had in the batched
    tagging pass; the logits equal those of encoding each pair's window on its own (padding in
    the batch changes sums by float noise only)."""
    import torch

    from marsad.data.corpus import read_corpus
    from marsad.inference import build_pair_batch, extract, pad_batch
    from marsad.model.checkpoint import load_checkpoint
    from marsad.model.windows import make_windows
    from marsad.text import split_words

    loaded = load_checkpoint(tiny_run / "best")
    steps = loaded.preprocessing
    words = [w for s in read_corpus(data_dir)[:30] for w in split_words(s.text.rstrip("."))]
    (out,) = extract(
        loaded.model, loaded.tokenizer, [words], steps, 48, batch_size=4, decoding=loaded.decoding
    )
    windows = make_windows(loaded.tokenizer, words, steps, 48)
    assert len(windows) > 3 and out.candidates
    chosen = window_pairs(windows, out.entities)
    rows = []
    with torch.inference_mode():
        for h, t in out.candidates:
            k = chosen[(h, t)]
            ids, mask = pad_batch([windows[k]], loaded.tokenizer.pad_token_id, torch.device("cpu"))
            hidden = loaded.model.tagger(
                input_ids=ids, attention_mask=mask, output_hidden_states=True
            ).hidden_states[-1]
            pb = build_pair_batch([(0, windows[k], out.entities, [(h, t)])])
            rows.append(loaded.model.relation_head(hidden, pb)[0].numpy())
    np.testing.assert_allclose(out.candidate_logits, np.array(rows), atol=1e-4, rtol=1e-4)


def test_window_overlap_sets_the_step_and_every_word_stays_covered(tiny_run, data_dir):
    import pytest

    from marsad.data.corpus import read_corpus
    from marsad.model.checkpoint import load_checkpoint
    from marsad.model.windows import make_windows
    from marsad.text import split_words

    loaded = load_checkpoint(tiny_run / "best")
    words = [w for s in read_corpus(data_dir)[:20] for w in split_words(s.text)]
    counts = {}
    for overlap in (0.5, 1 / 3, 0.0):
        windows = make_windows(loaded.tokenizer, words, loaded.preprocessing, 48, overlap=overlap)
        covered = {w for win in windows for w in range(win.word_start, win.word_end)}
        assert covered == set(range(len(words)))
        if overlap == 0.0:  # no overlap: consecutive windows meet
            assert all(a.word_end == b.word_start for a, b in zip(windows, windows[1:]))
        counts[overlap] = len(windows)
    assert counts[0.5] > counts[1 / 3] > counts[0.0]
    with pytest.raises(ValueError, match="overlap must be in"):
        make_windows(loaded.tokenizer, words, loaded.preprocessing, 48, overlap=1.0)


def test_window_overlap_study_prints_each_overlap(tiny_run, data_dir, capsys):
    study = load_script("experiments/window_overlap.py")
    assert study.main(["--checkpoint", str(tiny_run / "best"), "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "| sentence by sentence |" in out and out.count("| run-on |") == 3


def overlapping_mentions(rng, words):
    """Mentions that may nest or overlap (gold mentions can), sorted by start only."""
    entities = []
    for _ in range(rng.randint(0, words // 2)):
        start = rng.randrange(words)
        end = min(words, start + rng.randint(1, 4))
        entities.append(WordEntity(start, end, rng.choice(LABELS)))
    return entities


def test_window_pairs_of_overlapping_or_no_mentions_equal_the_all_pairs_rule():
    rng = random.Random(13)
    for _ in range(40):
        words = rng.randint(1, 90)
        entities = overlapping_mentions(rng, words)
        windows = windows_over(words, rng.randint(3, 30), rng.randint(1, 15))
        assert window_pairs(windows, entities) == brute_force(windows, entities)


def test_long_sentence_pair_batch_as_arrays_equals_the_row_by_row_batch():
    """The array-built batch of a long sentence's pairs (rows = windows of a chunk, token maps of
    uneven sub-word counts) holds the same columns as :func:`build_pair_batch`."""
    from marsad.inference import _window_pair_batch, build_pair_batch, window_pair_arrays

    rng = random.Random(19)
    for _ in range(20):
        n = rng.randint(20, 150)
        entities = random_mentions(rng, n)
        pieces = [rng.randint(1, 3) for _ in range(n)]
        windows = []
        for a in range(0, n, 10):
            b = min(n, a + 25)
            first = [1 + sum(pieces[a:w]) for w in range(a, b)]
            last = [f + pieces[w] - 1 for f, w in zip(first, range(a, b))]
            windows.append(Window(a, b, [0] * (last[-1] + 2), first, last))
        heads, tails, window = window_pair_arrays(windows, entities)
        if not len(heads):
            continue
        chunk = sorted(set(window.tolist()))[1::2] or sorted(set(window.tolist()))
        keep = np.isin(window, chunk)
        heads, tails, window = heads[keep], tails[keep], window[keep]
        rows = np.searchsorted(chunk, window)
        got = _window_pair_batch(windows, chunk, entities, heads, tails, rows)
        want = build_pair_batch(
            [
                (row, windows[k], entities, [(int(h), int(t))])
                for row, k, h, t in zip(rows, window, heads, tails)
            ]
        )
        for name, value in vars(want).items():
            if value is not None:
                assert getattr(got, name).tolist() == value.tolist(), name


def test_long_sentence_pairs_are_not_built_pair_by_pair(tiny_run, data_dir, monkeypatch):
    """A long sentence's decoded mentions (in word order) get their pair batch as arrays: the
    row-by-row builder, a Python step per pair, is never called for them."""
    from marsad import inference
    from marsad.data.corpus import read_corpus
    from marsad.model.checkpoint import load_checkpoint
    from marsad.text import split_words

    loaded = load_checkpoint(tiny_run / "best")
    words = [w for s in read_corpus(data_dir)[:30] for w in split_words(s.text.rstrip("."))]
    run = dict(batch_size=4, decoding=loaded.decoding)
    (before,) = inference.extract(
        loaded.model, loaded.tokenizer, [words], loaded.preprocessing, 48, **run
    )
    assert len(make_windows_of(loaded, words)) > 3 and before.candidates

    def row_by_row(rows, labels=None):
        if any(len(r[1].input_ids) and r[1].word_end - r[1].word_start < len(words) for r in rows):
            raise AssertionError("a long sentence's pairs were built pair by pair")
        return build_pair_batch_orig(rows, labels)

    build_pair_batch_orig = inference.build_pair_batch
    monkeypatch.setattr(inference, "build_pair_batch", row_by_row)
    (after,) = inference.extract(
        loaded.model, loaded.tokenizer, [words], loaded.preprocessing, 48, **run
    )
    assert after == before and after.candidates == before.candidates
    np.testing.assert_array_equal(after.candidate_logits, before.candidate_logits)


def make_windows_of(loaded, words):
    from marsad.model.windows import make_windows

    return make_windows(loaded.tokenizer, words, loaded.preprocessing, 48)
