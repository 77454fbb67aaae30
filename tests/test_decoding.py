import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from marsad.model.decoding import is_valid_iob2, viterbi_decode
from marsad.schema import BIO_TAGS


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(0, 30), st.just(len(BIO_TAGS))),
        elements=st.floats(-20, 20, width=32),
    )
)
def test_viterbi_output_is_always_valid_iob2(logits):
    log_probs = (
        logits - np.log(np.exp(logits).sum(axis=1, keepdims=True) + 1e-30)
        if len(logits)
        else logits
    )
    path = viterbi_decode(log_probs)
    assert len(path) == len(logits)
    assert is_valid_iob2([BIO_TAGS[i] for i in path])


def test_viterbi_prefers_valid_path_over_greedy_orphan():
    lp = np.log(np.full((2, len(BIO_TAGS)), 0.01))
    lp[0, BIO_TAGS.index("O")] = np.log(0.6)
    lp[0, BIO_TAGS.index("B-ACTOR")] = np.log(0.3)
    lp[1, BIO_TAGS.index("I-ACTOR")] = np.log(0.9)
    tags = [BIO_TAGS[i] for i in viterbi_decode(lp)]
    assert tags == ["B-ACTOR", "I-ACTOR"]


def test_valid_iob2_checker():
    assert is_valid_iob2(["B-ACTOR", "I-ACTOR", "O", "B-LOCATION"])
    assert not is_valid_iob2(["O", "I-ACTOR"])
    assert not is_valid_iob2(["B-ACTOR", "I-LOCATION"])
