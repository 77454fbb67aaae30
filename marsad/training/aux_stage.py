"""Auxiliary stage: fine-tune the encoder on ANERcorp's own PERS/ORG/LOC/MISC labels first.

The seed corpus names one battle's actors and places; ANERcorp's ~4,000 training sentences of real
news from many topics name thousands of others. Fine-tuning the encoder on them before the joint
Marsad training teaches it what a name looks like in Arabic news, not which names one battle has.
The stage is cached under the cache root, keyed by everything that shapes it (encoder, file
content, options, seed), so cross-validation folds and reruns pay for it once. The stage's output
is a stock token-classification checkpoint: its 4-type head is scored on ANERcorp's test split by
``marsad anercorp --aux``, and joint training starts from its encoder (the head is replaced).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
)

from marsad.aux_tagging import tag_words, word_windows
from marsad.config import TrainConfig
from marsad.data.anercorp import ANERCORP_TAGS, ANERCORP_TYPES, read_conll, split_held_out
from marsad.evaluation.metrics import entity_scores
from marsad.fileio import atomic_directory, cache_root
from marsad.inference import pad_batch
from marsad.model.encoders.resolve import EncoderChoice

logger = logging.getLogger(__name__)
STAGE_FILE = "aux_stage.json"
TAG_INDEX = {t: i for i, t in enumerate(ANERCORP_TAGS)}


@dataclass(frozen=True)
class AuxStage:
    path: Path  # token-classification checkpoint with ANERCORP_TAGS labels
    info: dict[str, Any]  # what trained it and its held-out scores (STAGE_FILE)


def stage_settings(encoder: EncoderChoice, cfg: TrainConfig) -> dict[str, Any]:
    """Everything that shapes the stage's weights; its hash names the cache entry."""
    corpus = Path(cfg.aux_corpus)
    if not corpus.is_file():
        raise FileNotFoundError(f"aux_corpus: {corpus} is not a file")
    return {
        "encoder": encoder.used,
        "encoder_path": encoder.path,
        "corpus": corpus.name,
        "corpus_sha256": hashlib.sha256(corpus.read_bytes()).hexdigest(),
        "held_out": cfg.aux_dev_sentences,
        "epochs": cfg.aux_epochs,
        "learning_rate": cfg.aux_learning_rate,
        "batch_size": cfg.aux_batch_size,
        "weight_decay": cfg.weight_decay,
        "warmup_ratio": cfg.warmup_ratio,
        "max_grad_norm": cfg.max_grad_norm,
        "freeze_word_embeddings": cfg.freeze_word_embeddings,
        "preprocessing": list(cfg.preprocessing),
        "max_length": cfg.max_length,
        "seed": cfg.seed,
        "num_threads": cfg.num_threads,  # CPU results differ by thread count
    }


def held_out_scores(model, tokenizer, sentences, cfg: TrainConfig) -> dict[str, Any]:
    """4-type strict IOB2 scores of the stage's head on ANERcorp sentences (seqeval)."""
    predicted = tag_words(
        model,
        tokenizer,
        [list(s.words) for s in sentences],
        cfg.preprocessing,
        cfg.max_length,
        cfg.eval_batch_size,
    )
    scores = entity_scores([list(s.tags) for s in sentences], predicted)
    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    scores["per_type"] = {t: scores["per_type"].get(t, zero) for t in ANERCORP_TYPES}
    return scores


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of windows of similar length (less padding on CPU), in shuffled order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = 50 * batch_size
    batches = []
    for p in range(0, len(order), pool):
        chunk = sorted(order[p : p + pool], key=lambda k: lengths[k])
        batches += [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def train_stage(encoder: EncoderChoice, cfg: TrainConfig, dest: Path, settings: dict) -> None:
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    train_part, held = split_held_out(read_conll(cfg.aux_corpus), cfg.aux_dev_sentences)
    tokenizer = AutoTokenizer.from_pretrained(encoder.path)
    model = AutoModelForTokenClassification.from_pretrained(
        encoder.path,
        num_labels=len(ANERCORP_TAGS),
        id2label=dict(enumerate(ANERCORP_TAGS)),
        label2id=dict(TAG_INDEX),
    )
    if cfg.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    windows = word_windows(
        tokenizer, [list(s.words) for s in train_part], cfg.preprocessing, cfg.max_length
    )
    labels = []
    for i, w in windows:
        row = [-100] * len(w.input_ids)
        for j, tok in enumerate(w.first_token):
            row[tok] = TAG_INDEX[train_part[i].tags[w.word_start + j]]
        labels.append(row)
    lengths = [len(w.input_ids) for _, w in windows]
    steps = math.ceil(len(windows) / cfg.aux_batch_size) * cfg.aux_epochs
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=cfg.aux_learning_rate,
        weight_decay=cfg.weight_decay,
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * steps), steps)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    history, scores = [], None
    for epoch in range(1, cfg.aux_epochs + 1):
        model.train()
        total, batches = 0.0, _batches(lengths, cfg.aux_batch_size, rng)
        bar = tqdm(batches, desc=f"aux stage epoch {epoch}", unit="batch", disable=not cfg.progress)
        for batch in bar:
            ids, mask = pad_batch([windows[k][1] for k in batch], tokenizer.pad_token_id, device)
            y = torch.full(ids.shape, -100, dtype=torch.long)
            for r, k in enumerate(batch):
                y[r, : len(labels[k])] = torch.tensor(labels[k])
            loss = model(input_ids=ids, attention_mask=mask, labels=y.to(device)).loss
            loss.backward()
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        record = {"epoch": epoch, "loss": total / max(1, len(batches))}
        if held:
            scores = held_out_scores(model, tokenizer, held, cfg)
            record["held_out_micro_f1"] = scores["micro"]["f1"]
        history.append(record)
        logger.info("aux stage epoch %d: %s", epoch, record)
    info = {
        "settings": settings,
        "train_sentences": len(train_part),
        "held_out_sentences": len(held),
        "held_out_first_line": held[0].line if held else None,
        "history": history,
        **({"held_out": scores} if scores else {}),
    }
    with atomic_directory(dest) as tmp:
        model.cpu().save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / STAGE_FILE).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def prepare_aux_stage(encoder: EncoderChoice, cfg: TrainConfig) -> AuxStage:
    """The cached stage for this encoder and configuration, trained first if absent."""
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    settings = stage_settings(encoder, cfg)
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    dest = cache_root() / f"aux-stage-{key}"
    if not (dest / STAGE_FILE).exists():
        logger.info("training the auxiliary stage on %s into %s", cfg.aux_corpus, dest)
        train_stage(encoder, cfg, dest, settings)
    info = json.loads((dest / STAGE_FILE).read_text(encoding="utf-8"))
    return AuxStage(dest, info)
