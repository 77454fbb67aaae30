"""The model card (README.md) written into every checkpoint, from its own metadata.

The text is the Markdown template ``card_template.md`` beside this module; this module only works
out the values that fill it (``string.Template``: ``${name}`` placeholders).
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

from marsad.config import TrainConfig
from marsad.model.settings import DecodingSettings

_TEMPLATE = Template((Path(__file__).with_name("card_template.md")).read_text(encoding="utf-8"))

_SELECTION_WORDS = {
    "entity": "dev entity micro-F1, end-to-end relation F1 breaking ties",
    "entity+relation": "dev entity + end-to-end relation micro-F1",
}


def _scores_table(metrics: dict[str, Any]) -> str:
    rows = ["| score | precision | recall | F1 |", "|---|---:|---:|---:|"]
    ent = metrics.get("entities", {})
    for name, vals in ent.get("per_type", {}).items():
        rows.append(
            f"| entity {name} | {vals['precision']:.3f} | {vals['recall']:.3f} | {vals['f1']:.3f} |"
        )
    if "micro" in ent:
        m = ent["micro"]
        rows.append(
            f"| **entity micro** | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |"
        )
    for key, label in (
        ("relations_end_to_end", "relation micro, end-to-end"),
        ("relations_gold_entities", "relation micro, gold entities"),
    ):
        if key in metrics:
            m = metrics[key]["micro"]
            rows.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |")
    return "\n".join(rows)


def _other_data(data: dict[str, Any]) -> str:
    """The corpora beside the gold corpus: extra corpora and the auxiliary ANERcorp stage."""
    parts = [
        f"`{name}` ({d['train_sentences']} training and {d['dev_sentences']} dev sentences)"
        for name, d in data.get("extra", {}).items()
    ]
    aux = data.get("aux")
    if aux:
        stage = aux.get("stage")
        if stage:
            f1 = stage.get("held_out_micro_f1")
            parts.append(
                f"an encoder first fine-tuned on `{aux['file']}` ({stage['train_sentences']} "
                "sentences, its own PERS/ORG/LOC/MISC labels"
                + (f"; held-out 4-type micro-F1 {f1:.3f}" if f1 is not None else "")
                + ")"
            )
        parts.append(
            f"{aux['dev_sentences']} held-out sentences of it in dev (ACTOR/LOCATION only)"
        )
    return "\n- Also: " + "; ".join(parts) if parts else ""


def render_model_card(meta: dict[str, Any]) -> str:
    enc = meta.get("encoder", {})
    data = meta.get("data", {})
    cfg = meta.get("training_config", {})
    decoding = "constrained Viterbi (valid IOB2 only)"
    settings = DecodingSettings.from_meta(meta)
    prior = meta.get("lexical_prior")
    if prior:
        decoding += (
            ", over the encoder's tag log-probabilities mixed with weight "
            f"{settings.lexical_weight} with a "
            f"feature CRF's marginals (`{prior['file']}`, trained on the same training sentences; "
            "weight chosen on dev entity F1; the transformers pipeline does not use it)"
        )
    rel_prior = meta.get("relation_prior")
    relation_prior = (
        ", over the head's relation log-probabilities mixed with weight "
        f"{settings.relation_weight} with a feature classifier's (`{rel_prior['file']}`, fitted "
        "on the training sentences' gold mentions; weight tuned with the shift)"
        if rel_prior
        else ""
    )
    head = meta.get("relation_head", {})
    head_line = (
        f"MLP {head.get('mlp_hidden')} hidden"
        + (f", dropout {head['dropout']} in training" if "dropout" in head else "")
        + "; context pooled between the mentions"
        + (
            f" and over the {head['left_context']} sub-words before the earlier one"
            if head.get("left_context")
            else ""
        )
        + (
            ", and by an attention over the window queried by the pair"
            if head.get("pair_attention")
            else ""
        )
        + (
            "; each pair's four levitated entity markers from a second encoder pass"
            if head.get("markers")
            else ""
        )
    )
    subset = (
        f" (a share of {cfg['train_fraction']} of the run's training sentences, drawn with the "
        "seed: a learning-curve point, not a full model)"
        if cfg.get("train_fraction", 1.0) < 1
        else ""
    )
    metric = cfg.get("selection_metric", TrainConfig.selection_metric)
    selection = _SELECTION_WORDS.get(metric, f"dev {metric} F1") + (
        ", among the epochs after the learning-rate warm-up"
        if cfg.get("select_after_warmup")
        else ""
    )
    optimisation = (
        f"AdamW, learning rate {cfg.get('learning_rate')} for the encoder"
        f" and {cfg.get('head_learning_rate')} for the heads, batch {cfg.get('batch_size')}, "
        f"at most {cfg.get('epochs')} epochs"
    )
    refit = meta.get("refit")
    kept = f"Best epoch: {meta.get('epoch')} (chosen by {selection})"
    # trained afresh for the epoch another run kept, with that run's dev-chosen decoding settings
    if refit:
        sets = "train + dev" if refit.get("train_includes_dev") else "train"
        epochs = meta.get("epoch")
        kept = (
            f"Refit: trained afresh on {sets} for {epochs} epoch{'' if epochs == 1 else 's'}, as "
            f"many as `{refit.get('path')}` kept (chosen by {selection}), with its dev-chosen "
            "prior weights and relation threshold"
        )
    fallback = ""
    if enc.get("fallback_reason"):
        fallback = (
            f"\n> **Encoder fallback.** The config asked for `{enc['requested']}`, "
            "which was unavailable "
            f"({enc['fallback_reason']}); this model was trained on `{enc['used']}` instead.\n"
        )
    dev_scores_kind = (
        "none: dev sentences trained this refit"
        if refit and not meta.get("dev_metrics")
        else "selection set, not a test score"
        if not refit
        else "held out of this refit"
    )
    return _TEMPLATE.substitute(
        schema_version=meta.get("schema_version"),
        encoder_used=enc.get("used"),
        encoder_requested=enc.get("requested"),
        run=data.get("run"),
        train_sentences=data.get("train_sentences"),
        subset=subset,
        dev_sentences=data.get("dev_sentences"),
        fingerprint=data.get("fingerprint", "")[:16],
        other_data=_other_data(data),
        kept=kept,
        seed=cfg.get("seed"),
        preprocessing=meta.get("preprocessing"),
        optimisation=optimisation,
        head_line=head_line,
        decoding=decoding,
        none_bias=settings.none_bias,
        relation_prior=relation_prior,
        fallback=fallback,
        dev_scores_kind=dev_scores_kind,
        scores_table=_scores_table(meta.get("dev_metrics", {})),
    )
