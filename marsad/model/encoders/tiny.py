"""A tiny randomly initialised BERT with a WordPiece vocabulary trained on given texts.

Used by tests and smoke runs: it exercises the real ``from_pretrained`` / tokenizer code paths
in seconds, offline.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from marsad.fileio import atomic_directory

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _train_wordpiece(texts: list[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    return tok


def build_tiny_encoder(
    dest: Path,
    texts: list[str],
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 2,
    vocab_size: int = 2000,
    seed: int = 0,
    max_positions: int = 512,
) -> Path:
    """Write a tiny BERT + fast tokenizer to ``dest`` (atomically) and return it."""
    with atomic_directory(Path(dest)) as tmp:
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=_train_wordpiece(texts, vocab_size),
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
            model_max_length=max_positions,
        )
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=hidden_size * 4,
            max_position_embeddings=max_positions,
            pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(seed)
        BertModel(config, add_pooling_layer=False).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(dest)
