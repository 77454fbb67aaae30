"""A feature CRF's tag marginals as a second opinion on the encoder's per-word tag scores.

On ~60 training sentences the fine-tuned encoder and a CRF over hand-made Arabic word features
(:mod:`marsad.baselines`) make different mistakes: the CRF is better on the frequent, repetitive
names (LOCATION), the encoder on QUANTITY and on unseen words. Decoding their log-linear mixture

    score(word, tag) = (1 - w) * log p_encoder(tag) + w * log p_crf(tag)

with constrained Viterbi keeps the best of both. The CRF is trained on the same training sentences
as the encoder (deterministic L-BFGS, seconds) and ``w`` is chosen on dev entity F1 alongside the
epoch, so nothing is fitted on held-out sentences. The CRF ships as a crfsuite model file in the
checkpoint (:data:`PRIOR_FILE`); ``w`` is stored in ``marsad.json``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sklearn_crfsuite

from marsad.features import CrfTagger, sentence_features
from marsad.schema import BIO_TAGS

PRIOR_FILE = "lexical_crf.crfsuite"
# mixture weights tried on dev (0 = the encoder alone)
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8)
_FLOOR = 1e-4  # probability given to a tag the CRF never saw in training (log 1e-4 = -9.2)


def check_crfsuite_file(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` starts with crfsuite's header (magic ``lCRF``, then the
    file's own size as little-endian uint32) and has exactly that size: a truncated or padded model
    makes the C library read out of bounds (a segfault, no message) instead of failing."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    size = path.stat().st_size
    if len(head) < 8 or head[:4] != b"lCRF":
        raise ValueError(f"{path}: not a crfsuite model (no 'lCRF' header)")
    declared = int.from_bytes(head[4:8], "little")
    if declared != size:
        raise ValueError(f"{path}: crfsuite model of {size} bytes, its header says {declared}")


class LexicalPrior:
    def __init__(self, crf: sklearn_crfsuite.CRF):
        self.crf = crf

    @classmethod
    def fit(
        cls, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[int | str]]
    ) -> LexicalPrior:
        return cls(CrfTagger().fit(sentences, tags).crf)

    @classmethod
    def load(cls, path: Path) -> LexicalPrior:
        check_crfsuite_file(Path(path))  # crfsuite reads a damaged file past its end and crashes
        crf = sklearn_crfsuite.CRF(model_filename=str(path))
        crf.tagger_  # noqa: B018 - open the model now, so a corrupt file fails at load time, not mid-prediction
        return cls(crf)

    def save(self, directory: Path) -> None:
        shutil.copyfile(self.crf.modelfile.name, Path(directory) / PRIOR_FILE)

    def log_marginals(self, words: Sequence[str]) -> np.ndarray:
        """``[len(words), len(BIO_TAGS)]`` log-probabilities of each tag at each word."""
        if not len(words):
            return np.zeros((0, len(BIO_TAGS)), dtype=np.float32)
        marginals = self.crf.predict_marginals_single(sentence_features(words))
        probs = (
            np.array([[m.get(tag, 0.0) for tag in BIO_TAGS] for m in marginals], dtype=np.float64)
            + _FLOOR
        )
        return np.log(probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)

    @staticmethod
    def mix(log_probs: np.ndarray, crf_log_probs: np.ndarray, weight: float) -> np.ndarray:
        """Per-word log-linear mixture, renormalised so entity scores stay probabilities (a per-word
        constant does not move the Viterbi path)."""
        w = weight
        if w == 0:
            return log_probs
        mixed = (1 - w) * log_probs + w * crf_log_probs
        top = mixed.max(axis=1, keepdims=True)
        return mixed - (top + np.log(np.exp(mixed - top).sum(axis=1, keepdims=True)))
