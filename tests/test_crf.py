"""The CRF's likelihood and decoding against brute force over every tag path of short sequences."""
from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from marsad.checkpoint import CheckpointError, load_checkpoint
from marsad.crf import INVALID, TagTransitions
from marsad.decoding import is_valid_iob2, viterbi_decode
from marsad.schema import BIO_TAGS

from conftest import assert_same_log, checkpoint_from_before, train_tiny, train_tiny_interrupted

T = len(BIO_TAGS)


def _random_transitions(seed: int) -> TagTransitions:
    crf = TagTransitions(T)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return crf


def _path_score(crf: TagTransitions, em: torch.Tensor, path: tuple[int, ...], constrain_start: bool) -> float:
    trans = crf.trans.masked_fill(~crf.trans_ok, INVALID)
    start = crf.start.masked_fill(~crf.start_ok, INVALID) if constrain_start else crf.start
    score = start[path[0]] + em[0, path[0]] + crf.end[path[-1]]
    for i in range(1, len(path)):
        score = score + trans[path[i - 1], path[i]] + em[i, path[i]]
    return float(score.detach())


def test_nll_equals_brute_force_log_partition():
    crf = _random_transitions(0)
    gen = torch.Generator().manual_seed(1)
    lengths = [3, 1, 2]
    em = torch.randn(len(lengths), max(lengths), T, generator=gen)
    tags = torch.tensor([[0, 1, 2], [3, 0, 0], [1, 1, 0]])
    mask = torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]
    expected = 0.0
    for b, n in enumerate(lengths):
        scores = [_path_score(crf, em[b], p, False) for p in itertools.product(range(T), repeat=n)]
        log_z = float(torch.logsumexp(torch.tensor(scores), 0))
        expected += log_z - _path_score(crf, em[b], tuple(tags[b, :n].tolist()), False)
    assert abs(float(crf.nll(em, tags, mask).detach()) - expected) < 1e-3


def test_nll_gradient_reaches_transitions_and_emissions():
    crf = _random_transitions(2)
    em = torch.randn(1, 4, T, requires_grad=True)
    crf.nll(em, torch.tensor([[1, 2, 0, 3]]), torch.ones(1, 4, dtype=torch.bool)).backward()
    assert crf.trans.grad is not None and float(crf.trans.grad.abs().sum()) > 0
    assert em.grad is not None and float(em.grad.abs().sum()) > 0


def test_nll_from_tokens_uses_first_subwords_only():
    """Token rows with -100 between words give the same loss as the packed word sequence."""
    crf = _random_transitions(3)
    gen = torch.Generator().manual_seed(4)
    words = torch.randn(1, 3, T, generator=gen)
    tags = torch.tensor([[1, 2, 0]])
    tokens = torch.randn(1, 6, T, generator=gen)  # [CLS] w0 w0' w1 w2 [SEP]
    tokens[0, [1, 3, 4]] = words[0]
    labels = torch.tensor([[-100, 1, -100, 2, 0, -100]])
    packed = crf.nll(words, tags, torch.ones(1, 3, dtype=torch.bool)) / 3
    assert torch.allclose(crf.nll_from_tokens(tokens, labels), packed)


def test_viterbi_with_transitions_is_the_best_valid_path():
    rng = np.random.default_rng(5)
    for seed in range(5):
        crf = _random_transitions(10 + seed)
        scores = crf.scores()
        lp = rng.normal(size=(4, T)).astype(np.float64)
        em = torch.from_numpy(lp)
        best = max(itertools.product(range(T), repeat=4), key=lambda p: _path_score(crf, em, p, True))
        path = viterbi_decode(lp, scores)
        assert tuple(path) == best
        assert is_valid_iob2([BIO_TAGS[i] for i in path])


def test_zero_transitions_decode_like_plain_constrained_viterbi():
    lp = np.log(np.random.default_rng(6).dirichlet(np.ones(T), size=7))
    assert viterbi_decode(lp, TagTransitions(T).scores()) == viterbi_decode(lp)


# ---- the CRF option end to end (tiny model) -------------------------------------------------------

@pytest.fixture(scope="module")
def crf_run(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("tiny-crf")
    train_tiny(out, data_dir, "crf=true", "epochs=4")
    return out


def test_crf_checkpoint_saves_learned_transitions(crf_run):
    best = crf_run / "best"
    assert json.loads((best / "marsad.json").read_text())["tag_transitions"] is True
    loaded = load_checkpoint(best)
    assert loaded.model.transitions is not None
    assert float(loaded.model.transitions.trans.detach().abs().sum()) > 0, "training should move the transitions"
    assert "linear-chain CRF" in (best / "README.md").read_text()


def test_crf_checkpoint_without_transitions_file_is_named(crf_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(crf_run / "best", broken)
    (broken / "tag_transitions.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing tag_transitions.safetensors"):
        load_checkpoint(broken)


def test_checkpoint_from_before_the_crf_option_loads_without_one(tiny_run, tmp_path):
    old = checkpoint_from_before("tag_transitions", tiny_run / "best", tmp_path / "old")
    assert load_checkpoint(old).model.transitions is None


def test_crf_predictions_use_the_transitions(crf_run, monkeypatch):
    """Predictor hands the learned scores to Viterbi, and offsets stay exact."""
    import marsad.inference as inference
    from marsad.predictor import Predictor

    seen = []
    original = inference.viterbi_decode

    def spy(log_probs, transitions=None):
        seen.append(transitions)
        return original(log_probs, transitions)

    monkeypatch.setattr(inference, "viterbi_decode", spy)
    predictor = Predictor.from_pretrained(crf_run / "best")
    text = "سيطرت قوات سوريا الديمقراطية على حقل العمر في ريف دير الزور الشرقي."
    for e in predictor([text])[0].entities:
        assert text[e.start:e.end] == e.text
    expected = predictor.loaded.model.transitions.scores()
    assert seen and all(t is not None and np.array_equal(t.trans, expected.trans) for t in seen)


def test_crf_run_resumes_to_the_same_result(crf_run, tmp_path, data_dir):
    """The transitions and their optimiser state survive an interruption."""
    out = tmp_path / "resumed"
    train_tiny_interrupted(out, data_dir, 3, "crf=true", "epochs=4")
    assert_same_log(crf_run, out)
