"""Joint training loop: CPU or GPU, plain ``python`` or ``accelerate launch``.

Reproducible on CPU and GPU (seeded init, shuffling and dropout; deterministic kernels), early
stopping and best-checkpoint selection on dev scores (``selection_metric``), relation threshold
tuned on dev, resumable from ``output_dir/last``. With ``refit_from`` it instead repeats a finished
run's dev choices on train + dev (:mod:`marsad.refit`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, broadcast_object_list
from safetensors.torch import save_file
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    AutoTokenizer,
    get_linear_schedule_with_warmup,
    set_seed,
)

from marsad.config import ConfigError, TrainConfig, check_max_length, check_paths
from marsad.data.anercorp import read_conll, schema_examples, split_held_out
from marsad.data.examples import Example, WordEntity, load_examples
from marsad.evaluation.scoring import (
    NONE_BIAS_GRID,
    EvalPredictions,
    predict_examples,
    score_predictions,
    sentence_scores,
    tune_prior_weight,
    tune_relation_prior,
)
from marsad.inference import build_pair_batch, candidate_pairs, pad_batch, tags_to_entities
from marsad.model.card import render_model_card
from marsad.model.checkpoint import base_meta, priors_meta, save_checkpoint
from marsad.model.decoding import viterbi_decode
from marsad.model.encoders.resolve import EncoderChoice, resolve_encoder
from marsad.model.joint import JointModel, RelationHead
from marsad.model.lexical_prior import LexicalPrior
from marsad.model.relation_prior import RelationPrior
from marsad.model.settings import META_KEY as SETTINGS_KEY
from marsad.model.settings import DecodingSettings
from marsad.model.windows import Window, make_windows
from marsad.quantization import ACTIVATION_FILE, activation_absmax
from marsad.schema import BIO_TAGS, RELATION_LABELS
from marsad.text import check_steps
from marsad.training.aux_stage import AuxStage, prepare_aux_stage
from marsad.training.curves import plot_training_curves, read_training_log
from marsad.training.refit import RefitSource, read_refit_source
from marsad.training.selection import DEV_SENTENCES_FILE, LOG_FILE, selection_score

logger = logging.getLogger(__name__)
TAG_INDEX = {t: i for i, t in enumerate(BIO_TAGS)}
REL_INDEX = {r: i for i, r in enumerate(RELATION_LABELS)}
STATE_FILE = "training_state.pt"


class NonFiniteLoss(RuntimeError):
    """Training diverged (a NaN or infinite loss or weight): stopped before a checkpoint of it."""


class TrainingChunk:
    """One encoder window of a training sentence, with the gold annotation that falls inside it."""

    def __init__(self, example: Example, window: Window):
        self.window = window
        lo, hi = window.word_start, window.word_end
        inside = [i for i, e in enumerate(example.entities) if lo <= e.start and e.end <= hi]
        remap = {old: new for new, old in enumerate(inside)}
        self.entities = [example.entities[i] for i in inside]
        self.relations = {
            (remap[r.head], remap[r.tail]): REL_INDEX[r.label]
            for r in example.relations
            if r.head in remap and r.tail in remap
        }
        self.tag_labels = [-100] * len(window.input_ids)
        for j, tok in enumerate(window.first_token):
            self.tag_labels[tok] = TAG_INDEX[example.tags[lo + j]]


def _truncate_log(path: Path, first_epoch: int) -> None:
    """Drop the lines of epochs from ``first_epoch`` on: a resumed run trains and logs them again
    (an epoch logged after last/ was written, then a crash), and a fresh run (``first_epoch`` 1)
    starts an empty log."""
    if not path.exists():
        return
    if first_epoch == 1:
        path.unlink()
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["epoch"] < first_epoch
    ]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def data_fingerprint(data_dir: Path) -> str:
    """SHA-256 over the annotation files and splits, recorded in checkpoints."""
    h = hashlib.sha256()
    for path in sorted((data_dir / "annotations").glob("*.jsonl")) + [data_dir / "splits.json"]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def build_model(encoder_path: str, cfg: TrainConfig, new_head: bool = False) -> JointModel:
    """``new_head``: the encoder comes with another tag head (the auxiliary stage's), replaced."""
    tagger = AutoModelForTokenClassification.from_pretrained(
        encoder_path,
        id2label=dict(enumerate(BIO_TAGS)),
        label2id={t: i for i, t in enumerate(BIO_TAGS)},
        ignore_mismatched_sizes=new_head,
    )
    if cfg.freeze_word_embeddings:
        tagger.get_input_embeddings().weight.requires_grad_(False)
    head = RelationHead(
        tagger.config.hidden_size,
        cfg.relation_hidden,
        cfg.width_embedding_dim,
        cfg.dropout,
        cfg.relation_left_context,
        cfg.relation_pair_attention,
        cfg.relation_markers,
    )
    return JointModel(tagger, head)


def head_shape(cfg: TrainConfig) -> dict[str, Any]:
    return {
        "mlp_hidden": cfg.relation_hidden,
        "feature_dim": cfg.width_embedding_dim,
        "dropout": cfg.dropout,
        "left_context": cfg.relation_left_context,
        "pair_attention": cfg.relation_pair_attention,
        "markers": cfg.relation_markers,
    }


def _predicted_negatives(logits: torch.Tensor, chunk: TrainingChunk, row: int) -> list[WordEntity]:
    """Spans the current tagger predicts that are not gold: extra NONE-only relation candidates."""
    lp = logits[row, chunk.window.first_token].float().log_softmax(-1).cpu().numpy()
    gold = {(e.start, e.end, e.label) for e in chunk.entities}
    shift = chunk.window.word_start
    return [
        WordEntity(e.start + shift, e.end + shift, e.label)
        for e in tags_to_entities(viterbi_decode(lp))
        if (e.start + shift, e.end + shift, e.label) not in gold
    ]


def _relation_inputs(chunks: list[TrainingChunk], tag_logits: torch.Tensor | None):
    rows, labels = [], []
    for row, chunk in enumerate(chunks):
        ents = list(chunk.entities)
        if tag_logits is not None:
            ents += _predicted_negatives(tag_logits, chunk, row)
        pairs = candidate_pairs(ents)
        if pairs:
            rows.append((row, chunk.window, ents, pairs))
            labels.append([chunk.relations.get(p, 0) for p in pairs])
    return (build_pair_batch(rows, labels), rows) if rows else (None, rows)


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: bool = False):
        check_steps(cfg.preprocessing)
        self.cfg = cfg
        self.resume = resume
        self.out = Path(cfg.output_dir)
        if (
            cfg.deterministic
        ):  # cuBLAS reads this once, at its first call; the README's reproducibility needs it
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        self.accelerator = Accelerator(
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)]
        )
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)

    # ---- set-up -------------------------------------------------------------------------
    def _prepare(self) -> None:
        cfg = self.cfg
        check_paths(cfg)
        set_seed(cfg.seed)
        if (
            cfg.deterministic
        ):  # an op without a deterministic kernel raises, naming itself, rather than drifting
            torch.use_deterministic_algorithms(True)
        data_dir = Path(cfg.data_dir)
        self.splits = load_examples(data_dir, cfg.fold, cfg.train_fraction, cfg.seed)
        self.train_examples = self.splits["train"]
        self.dev_examples = self.splits["dev"]
        self.extra_data = self._add_extra_data()
        run_name = "default (fold0)" if cfg.fold is None else f"fold{cfg.fold}"
        fingerprint = data_fingerprint(data_dir)
        self.refit: RefitSource | None = (
            read_refit_source(cfg, run_name, fingerprint) if cfg.refit_from else None
        )
        # the settings saved with last/: the latest epoch's dev choice (a refit's: its source's)
        self.last_decoding = DecodingSettings() if self.refit is None else self.refit.decoding
        if (
            self.refit is not None and cfg.refit_include_dev
        ):  # dev has made its choices: now it trains
            self.train_examples, self.dev_examples = self.train_examples + self.dev_examples, []
        with (
            self.accelerator.main_process_first()
        ):  # one process converts/builds into the cache, the others reuse it
            self.encoder: EncoderChoice = resolve_encoder(
                cfg.model,
                cfg.fallback_model,
                tiny_texts=[e.text for e in self.train_examples],
                tiny_shape={
                    "hidden_size": cfg.tiny_hidden_size,
                    "layers": cfg.tiny_layers,
                    "heads": cfg.tiny_heads,
                    "vocab_size": cfg.tiny_vocab_size,
                    "seed": cfg.seed,
                },
            )
            check_max_length(cfg, AutoConfig.from_pretrained(self.encoder.path), self.encoder.used)
            self.aux_stage: AuxStage | None = (
                prepare_aux_stage(self.encoder, cfg) if cfg.aux_corpus and cfg.aux_epochs else None
            )
        self.aux_dev_examples = self._aux_dev_examples()
        self.tokenizer = AutoTokenizer.from_pretrained(self.encoder.path)
        set_seed(cfg.seed)  # the same initial heads whatever resolving the encoder consumed
        if self.aux_stage is None:
            self.model = build_model(self.encoder.path, cfg)
        else:
            self.model = build_model(str(self.aux_stage.path), cfg, new_head=True)
        if cfg.lexical_prior:  # deterministic, from the training sentences only
            self.model.lexical_prior = LexicalPrior.fit(
                [ex.words for ex in self.train_examples], [ex.tags for ex in self.train_examples]
            )
        if cfg.relation_prior:  # deterministic, from the training sentences' gold mentions only
            self.model.relation_prior = RelationPrior.fit(self.train_examples)
        self.chunks = [c for ex in self.train_examples for c in self._chunks(ex)]
        head_params = list(self.model.relation_head.parameters()) + [
            p for n, p in self.model.tagger.named_parameters() if "classifier" in n
        ]
        head_ids = {id(p) for p in head_params}
        encoder_params = {
            n: p
            for n, p in self.model.tagger.named_parameters()
            if id(p) not in head_ids and p.requires_grad
        }
        encoder_ids = {id(p) for p in encoder_params.values()}
        stray = [
            p
            for p in self.model.parameters()
            if id(p) not in head_ids | encoder_ids and p.requires_grad
        ]
        if stray:
            raise RuntimeError(
                f"{len(stray)} trainable parameters are neither encoder nor head parameters"
            )
        groups = [
            {"params": list(encoder_params.values()), "lr": cfg.learning_rate},
            {"params": head_params, "lr": cfg.head_learning_rate},
        ]
        self.optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
        n = self.accelerator.num_processes
        self.steps_per_epoch = max(1, math.ceil(len(self.chunks) / (cfg.batch_size * n)))
        # accelerate steps a prepared scheduler once per process at every optimizer step (it assumes
        # batches grew n-fold), so the schedule is laid out in n x the optimizer steps; otherwise
        # the learning rate would reach zero after 1/n of the epochs under multi-process training
        steps = self.steps_per_epoch * cfg.epochs
        warmup_steps = int(cfg.warmup_ratio * steps)
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, warmup_steps * n, steps * n
        )
        # the first epoch that may become the best one: the one in which the warm-up ends
        self.first_selectable_epoch = (
            max(1, math.ceil(warmup_steps / self.steps_per_epoch)) if cfg.select_after_warmup else 1
        )
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(
            self.model, self.optimizer, self.scheduler
        )
        weights = torch.ones(len(RELATION_LABELS))
        weights[0] = cfg.none_weight
        self.rel_weights = weights.to(self.accelerator.device)
        self.meta_common = {
            **base_meta(cfg.preprocessing, cfg.max_length, head_shape(cfg)),
            "encoder": self.encoder.to_dict(),
            "data": {
                "dir": str(data_dir),
                "run": run_name,
                "fingerprint": fingerprint,
                "train_sentences": len(self.train_examples),
                "dev_sentences": len(self.dev_examples),
                **({"extra": self.extra_data} if self.extra_data else {}),
                **({"aux": self._aux_meta()} if cfg.aux_corpus else {}),
            },
            "training_config": cfg.to_dict(),
            **(
                {}
                if self.refit is None
                else {
                    "refit": {**self.refit.to_dict(), "train_includes_dev": cfg.refit_include_dev}
                }
            ),
        }

    def _add_extra_data(self) -> dict[str, dict[str, Any]]:
        """Join each ``extra_data`` corpus's default run to training and dev (its test, if any,
        stays out); returns what was added, for the checkpoint's metadata."""
        added: dict[str, dict[str, Any]] = {}
        for directory in self.cfg.extra_data:
            extra = load_examples(directory)
            seen = {ex.sent_id for ex in self.train_examples + self.dev_examples}
            clash = sorted({ex.sent_id for ex in extra["train"] + extra["dev"]} & seen)
            if clash:
                raise ConfigError(f"extra_data {directory}: sentence ids {clash[:3]} occur twice")
            self.train_examples = self.train_examples + extra["train"]
            self.dev_examples = self.dev_examples + extra["dev"]
            added[directory] = {
                "fingerprint": data_fingerprint(Path(directory)),
                "train_sentences": len(extra["train"]),
                "dev_sentences": len(extra["dev"]),
            }
        return added

    def _aux_dev_examples(self) -> list[Example]:
        """The auxiliary corpus's held-out sentences, mapped to ACTOR/LOCATION: dev text from
        outside the battle. Kept apart from ``dev_examples``, which a refit trains on."""
        if not self.cfg.aux_corpus or not self.cfg.aux_dev_sentences:
            return []
        _, held = split_held_out(read_conll(self.cfg.aux_corpus), self.cfg.aux_dev_sentences)
        return schema_examples(held, source=Path(self.cfg.aux_corpus).stem)

    def _aux_meta(self) -> dict[str, Any]:
        """The auxiliary corpus's part in this run: held-out dev sentences and, if trained, the
        stage (its cache directory holds the 4-type head that ``marsad anercorp --aux-stage``
        scores)."""
        meta: dict[str, Any] = {
            "file": str(self.cfg.aux_corpus),
            "dev_sentences": len(self.aux_dev_examples),
        }
        if self.aux_stage is not None:
            info = self.aux_stage.info
            meta["stage"] = {
                "cache": self.aux_stage.path.name,
                "corpus_sha256": info["settings"]["corpus_sha256"],
                "train_sentences": info["train_sentences"],
                "held_out_micro_f1": info.get("held_out", {}).get("micro", {}).get("f1"),
            }
        return meta

    # ---- one epoch ----------------------------------------------------------------------
    def _chunks(self, example: Example) -> list[TrainingChunk]:
        return [
            TrainingChunk(example, w)
            for w in make_windows(
                self.tokenizer, example.words, self.cfg.preprocessing, self.cfg.max_length
            )
        ]

    def _epoch_order(self, epoch: int) -> list[int]:
        gen = torch.Generator().manual_seed(self.cfg.seed * 1000 + epoch)
        order = torch.randperm(len(self.chunks), generator=gen).tolist()
        n, rank = self.accelerator.num_processes, self.accelerator.process_index
        per = self.steps_per_epoch * self.cfg.batch_size
        order = (order * n)[: per * n]  # every process gets the same number of batches
        return order[rank::n]

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg, acc = self.cfg, self.accelerator
        self.model.train()
        order = self._epoch_order(epoch)
        totals = {"loss": 0.0, "tag_loss": 0.0, "relation_loss": 0.0}
        bar = tqdm(
            range(0, len(order), cfg.batch_size),
            desc=f"epoch {epoch}",
            unit="batch",
            disable=not (cfg.progress and acc.is_local_main_process),
            leave=False,
        )
        for b in bar:
            chunks = [self.chunks[i] for i in order[b : b + cfg.batch_size]]
            ids, mask = pad_batch(
                [c.window for c in chunks], self.tokenizer.pad_token_id, acc.device
            )
            labels = torch.full(ids.shape, -100, dtype=torch.long)
            for r, c in enumerate(chunks):
                labels[r, : len(c.tag_labels)] = torch.tensor(c.tag_labels)
            use_predicted = cfg.predicted_entity_negatives
            with acc.autocast():
                tag_loss, _, rel_logits, pairs = self.model(
                    ids,
                    mask,
                    labels.to(acc.device),
                    pairs=lambda logits, chunks=chunks, use_predicted=use_predicted: (
                        _relation_inputs(chunks, logits if use_predicted else None)[0]
                    ),
                )
                rel_loss = torch.zeros((), device=acc.device)
                if rel_logits is not None:
                    rel_loss = torch.nn.functional.cross_entropy(
                        rel_logits.float(), pairs.labels, weight=self.rel_weights
                    )
                loss = tag_loss + cfg.relation_weight * rel_loss
            if not math.isfinite(loss.item()):  # before the step: the weights are still sound
                raise NonFiniteLoss(
                    f"epoch {epoch}, step {b // cfg.batch_size + 1}: training loss is "
                    f"{loss.item()} (tagging {tag_loss.item()}, relation {rel_loss.item()}); "
                    "stopped, no checkpoint of this epoch written: lower the learning rates, "
                    "relation_weight or none_weight, or clip with max_grad_norm"
                )
            acc.backward(loss)
            if cfg.max_grad_norm:
                acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad()
            totals["loss"] += loss.item()
            totals["tag_loss"] += tag_loss.item()
            totals["relation_loss"] += rel_loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        broken = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if broken:  # the epoch's last step can break the weights with a finite loss
            raise NonFiniteLoss(
                f"epoch {epoch}: {len(broken)} weight tensor(s) are no longer finite after the "
                f"last step (first: {broken[0]}); stopped, no checkpoint of this epoch written"
            )
        steps = max(1, math.ceil(len(order) / cfg.batch_size))
        return {k: v / steps for k, v in totals.items()}

    # ---- state ----------------------------------------------------------------------------
    def _save_last(self, epoch: int, best: dict[str, Any], metrics: dict[str, Any]) -> None:
        model = self.accelerator.unwrap_model(self.model)
        meta = {
            **self.meta_common,
            "epoch": epoch,
            "dev_metrics": metrics,
            SETTINGS_KEY: self.last_decoding.to_dict(),
            **priors_meta(model),
        }
        state = {
            "epoch": epoch,
            "best": best,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }
        # weights and optimizer state in one atomic write, so a crash never pairs mismatched halves
        save_checkpoint(
            self.out / "last",
            model,
            self.tokenizer,
            meta,
            render_model_card(meta),
            extra=lambda tmp: torch.save(state, tmp / STATE_FILE),
        )

    def _load_last(self) -> tuple[int, dict[str, Any]]:
        from marsad.model.checkpoint import load_checkpoint

        state_path = self.out / "last" / STATE_FILE
        if not state_path.exists():
            raise FileNotFoundError(
                f"cannot resume: {state_path} does not exist (no finished epoch in {self.out})"
            )
        loaded = load_checkpoint(self.out / "last")
        model = self.accelerator.unwrap_model(self.model)
        model.load_state_dict(loaded.model.state_dict())  # tagger and relation head
        state = torch.load(state_path, weights_only=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        if (
            state.get("cuda_rng") is not None and torch.cuda.is_available()
        ):  # GPU dropout draws from these
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return state["epoch"] + 1, state["best"]

    # ---- dev evaluation -------------------------------------------------------------------
    def _evaluate_dev(self, model: JointModel) -> tuple[EvalPredictions, DecodingSettings]:
        """Dev predictions and the decoding settings chosen on them: the lexical prior's weight (on
        entity F1, then the entities and relations are redone at that weight) and the relation
        threshold, jointly with the relation prior's weight, when configured."""
        cfg = self.cfg
        # the model alone first: the priors' weights are tuned from its scores
        settings = DecodingSettings()

        def predict(decoding: DecodingSettings) -> EvalPredictions:
            return predict_examples(
                model,
                self.tokenizer,
                self.dev_examples + self.aux_dev_examples,
                cfg.preprocessing,
                cfg.max_length,
                cfg.eval_batch_size,
                decoding=decoding,
            )

        preds = predict(settings)
        if model.lexical_prior is not None:
            settings = replace(
                settings, lexical_weight=tune_prior_weight(preds, model.lexical_prior)
            )
            if settings.lexical_weight:
                preds = predict(settings)
        if cfg.tune_none_bias or model.relation_prior is not None:
            weight, bias = tune_relation_prior(
                preds, model.relation_prior, NONE_BIAS_GRID if cfg.tune_none_bias else (0.0,)
            )
            settings = replace(settings, relation_weight=weight or 0.0, none_bias=bias)
        return preds, settings

    def _save_calibration(self, model: JointModel, directory: Path) -> None:
        """Activation ranges over the training sentences, for smoothed int8 inference."""
        stats = activation_absmax(
            model,
            self.tokenizer,
            [ex.words for ex in self.train_examples],
            self.cfg.preprocessing,
            self.cfg.max_length,
        )
        save_file({k: v.contiguous() for k, v in stats.items()}, str(directory / ACTIVATION_FILE))

    def _evaluate_epoch(
        self, epoch: int, model: JointModel, record: dict[str, Any], best: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Score the model on dev into ``record``; save it as ``best`` if it beats it.
        Returns (dev, best)."""
        preds, settings = self._evaluate_dev(model)
        self.last_decoding = settings
        dev = score_predictions(preds)
        # kept so that selection rules can be compared afterwards on dev sentences they did not see
        with (self.out / DEV_SENTENCES_FILE).open("a", encoding="utf-8") as fh:
            fh.write(
                json.dumps(
                    {"epoch": epoch, "sentences": sentence_scores(preds)}, ensure_ascii=False
                )
                + "\n"
            )
        ent_f1, rel_f1 = dev["entities"]["micro"]["f1"], dev["relations_end_to_end"]["micro"]["f1"]
        record.update(
            {
                "dev_entity_f1": ent_f1,
                "dev_relation_f1": rel_f1,
                "none_bias": settings.none_bias,
                **(
                    {} if model.lexical_prior is None else {"prior_weight": settings.lexical_weight}
                ),
                **(
                    {}
                    if model.relation_prior is None
                    else {"relation_prior_weight": settings.relation_weight}
                ),
            }
        )
        score = selection_score(self.cfg.selection_metric, ent_f1, rel_f1)
        selectable = (
            epoch >= self.first_selectable_epoch
        )  # a warming-up epoch is neither best nor stale
        record["selectable"] = selectable
        if selectable and score > tuple(best.get("score", (-1.0,))):
            best = {
                "epoch": epoch,
                "entity_f1": ent_f1,
                "relation_f1": rel_f1,
                "score": score,
                "none_bias": settings.none_bias,
                "stale": 0,
            }
            meta = {
                **self.meta_common,
                "epoch": epoch,
                "dev_metrics": dev,
                SETTINGS_KEY: settings.to_dict(),
                **priors_meta(model),
            }
            save_checkpoint(
                self.out / "best",
                model,
                self.tokenizer,
                meta,
                render_model_card(meta),
                extra=lambda tmp: self._save_calibration(model, tmp),
            )
        elif selectable:
            best["stale"] += 1
        return dev, best

    # ---- main loop --------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        self._prepare()
        cfg, acc = self.cfg, self.accelerator
        self.out.mkdir(parents=True, exist_ok=True)
        log_path = self.out / LOG_FILE
        start_epoch, best = (
            1,
            {"epoch": 0, "entity_f1": -1.0, "relation_f1": -1.0, "score": (-1.0,), "stale": 0},
        )
        if self.resume:
            start_epoch, best = self._load_last()
            logger.info("resumed from %s at epoch %d", self.out / "last", start_epoch)
        if acc.is_main_process:
            for path in (log_path, self.out / DEV_SENTENCES_FILE):
                _truncate_log(path, start_epoch)
        if self.encoder.fallback_reason:
            logger.warning(
                "training with fallback encoder %s (requested %s: %s)",
                self.encoder.used,
                self.encoder.requested,
                self.encoder.fallback_reason,
            )
        last_epoch = (
            cfg.epochs if self.refit is None else self.refit.epoch
        )  # the schedule stays cfg.epochs long
        for epoch in range(start_epoch, last_epoch + 1):
            t0 = time.perf_counter()
            losses = self._train_epoch(epoch)
            record: dict[str, Any] = {
                "epoch": epoch,
                **losses,
                "lr": self.scheduler.get_last_lr()[0],
            }
            if (
                acc.is_main_process and self.refit is not None
            ):  # no selection: log the losses, keep resumable
                record.update(
                    {"seconds": round(time.perf_counter() - t0, 2), "best_epoch": last_epoch}
                )
                with log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
                self._save_last(epoch, best, {})
                logger.info("refit epoch %d of %d: loss %.4f", epoch, last_epoch, losses["loss"])
            elif acc.is_main_process:
                model = acc.unwrap_model(self.model)
                dev, best = self._evaluate_epoch(epoch, model, record, best)
                record["seconds"] = round(time.perf_counter() - t0, 2)
                record["best_epoch"] = best["epoch"]
                with log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
                self._save_last(epoch, best, dev)
                logger.info(
                    "epoch %d: loss %.4f dev entity F1 %.4f relation F1 %.4f (best epoch %d)",
                    epoch,
                    losses["loss"],
                    record["dev_entity_f1"],
                    record["dev_relation_f1"],
                    best["epoch"],
                )
            acc.wait_for_everyone()
            best = broadcast_object_list([best])[0]
            if self.refit is None and cfg.patience and best["stale"] >= cfg.patience:
                logger.info(
                    "early stopping: no dev %s gain for %d epochs",
                    cfg.selection_metric,
                    cfg.patience,
                )
                break
        if acc.is_main_process and self.refit is not None:
            model = acc.unwrap_model(self.model)
            best = self._save_refit(model)
        if acc.is_main_process:
            plot_training_curves(
                {self.out.name: read_training_log(log_path)},
                self.out / "training_curves.png",
                title=f"{self.encoder.used}, {self.out}",
            )
        return best

    def _save_refit(self, model: JointModel) -> dict[str, Any]:
        """Save the refit as ``best`` with its source's dev choices; score dev when it was held
        out."""
        refit = self.refit
        dev: dict[str, Any] = {}
        if (
            self.dev_examples
        ):  # refit_include_dev false: dev unseen, scored at the carried-over settings
            dev = score_predictions(
                predict_examples(
                    model,
                    self.tokenizer,
                    self.dev_examples,
                    self.cfg.preprocessing,
                    self.cfg.max_length,
                    self.cfg.eval_batch_size,
                    decoding=refit.decoding,
                )
            )
        meta = {
            **self.meta_common,
            "epoch": refit.epoch,
            "dev_metrics": dev,
            SETTINGS_KEY: refit.decoding.to_dict(),
            **priors_meta(model),
        }
        save_checkpoint(
            self.out / "best",
            model,
            self.tokenizer,
            meta,
            render_model_card(meta),
            extra=lambda tmp: self._save_calibration(model, tmp),
        )
        f1 = {
            k: dev[key]["micro"]["f1"] if dev else float("nan")
            for k, key in (("entity_f1", "entities"), ("relation_f1", "relations_end_to_end"))
        }
        return {"epoch": refit.epoch, **f1, "none_bias": refit.decoding.none_bias, "stale": 0}
