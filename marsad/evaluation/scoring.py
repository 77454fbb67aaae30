"""Score a model on held-out examples: entities (seqeval strict IOB2) and relations in two
settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from marsad.data.corpus import bio_to_spans
from marsad.data.examples import Example, WordEntity, WordRelation
from marsad.evaluation.baselines import MajorityRelationBaseline
from marsad.evaluation.event_scores import event_scores, extraction_events
from marsad.evaluation.metrics import (
    Counts,
    SentenceExtraction,
    entity_counts,
    entity_scores,
    relation_counts,
    relation_scores,
    relation_sentence_counts,
)
from marsad.events import Event
from marsad.inference import SentenceOutput, decode_entities, extract_both
from marsad.model.checkpoint import Loaded
from marsad.model.joint import JointModel
from marsad.model.lexical_prior import WEIGHT_GRID, LexicalPrior
from marsad.model.relation_prior import WEIGHT_GRID as RELATION_WEIGHT_GRID
from marsad.model.relation_prior import RelationPrior
from marsad.model.settings import DecodingSettings
from marsad.schema import ENTITY_TYPES, RELATION_TYPES


@dataclass
class EvalPredictions:
    examples: list[Example]
    end_to_end: list[SentenceOutput]  # predicted entities and relations
    gold_entities: list[SentenceOutput]  # relations predicted over the gold entities

    def subset(self, indices: list[int]) -> EvalPredictions:
        """The same predictions for some sentences only (the outputs are shared, not copied)."""
        return EvalPredictions(
            [self.examples[i] for i in indices],
            [self.end_to_end[i] for i in indices],
            [self.gold_entities[i] for i in indices],
        )


def to_extraction(example: Example, output: SentenceOutput) -> SentenceExtraction:
    """Character-span view of a word-level output, the unit all metrics compare; entity types and
    relations the example does not annotate are left out (they can be neither right nor wrong)."""
    return SentenceExtraction(
        entities=tuple(
            example.char_span(e) for e in output.entities if e.label in example.entity_types
        ),
        relations=tuple((r.head, r.tail, r.label) for r in output.relations)
        if example.relations_annotated
        else (),
    )


def gold_extraction(example: Example) -> SentenceExtraction:
    return to_extraction(example, SentenceOutput(example.entities, example.relations))


def output_tags(example: Example, output: SentenceOutput) -> list[str]:
    tags = ["O"] * len(example.words)
    for e in output.entities:
        if e.label not in example.entity_types:
            continue
        for i in range(e.start, e.end):
            tags[i] = f"{'B' if i == e.start else 'I'}-{e.label}"
    return tags


def predict_examples(
    model: JointModel,
    tokenizer,
    examples: list[Example],
    preprocessing: list[str],
    max_length: int,
    batch_size: int = 32,
    progress: bool = False,
    *,
    decoding: DecodingSettings,
) -> EvalPredictions:
    gold = [[WordEntity(e.start, e.end, e.label) for e in ex.entities] for ex in examples]
    e2e, with_gold = extract_both(
        model,
        tokenizer,
        [ex.words for ex in examples],
        preprocessing,
        max_length,
        batch_size,
        gold,
        progress,
        decoding=decoding,
    )
    return EvalPredictions(examples, e2e, with_gold)


def predict_checkpoint(
    loaded: Loaded,
    examples: list[Example],
    batch_size: int = 32,
    progress: bool = False,
    decoding: DecodingSettings | None = None,
) -> EvalPredictions:
    """:func:`predict_examples` with a loaded checkpoint's own model, tokenizer, preprocessing,
    window and decoding settings (``decoding`` overrides the last, e.g. a prior's weight at 0)."""
    return predict_examples(
        loaded.model,
        loaded.tokenizer,
        examples,
        loaded.preprocessing,
        loaded.max_length,
        batch_size,
        progress,
        decoding=loaded.decoding if decoding is None else decoding,
    )


def _word_entities(ex: Example, tags: list[str]) -> list[WordEntity]:
    spans = bio_to_spans([(i, i + 1) for i in range(len(ex.words))], tags)
    return [WordEntity(s, e, label) for s, e, label in spans]


def baseline_predictions(
    tagger, relations: MajorityRelationBaseline, train: list[Example], test: list[Example]
) -> EvalPredictions:
    """Fit a baseline tagger (``CrfTagger``/``LexiconTagger``) on ``train`` and predict ``test``,
    relations by ``relations`` (already fitted) over its entities and over the gold ones, as the
    model is scored."""
    tagger.fit([ex.words for ex in train], [ex.tags for ex in train])
    predicted = tagger.predict([ex.words for ex in test])
    e2e, gold = [], []
    for ex, tags in zip(test, predicted):
        ents = _word_entities(ex, tags)
        e2e.append(
            SentenceOutput(ents, [WordRelation(h, t, lab) for h, t, lab in relations.predict(ents)])
        )
        gold.append(
            SentenceOutput(
                ex.entities,
                [WordRelation(h, t, lab) for h, t, lab in relations.predict(ex.entities)],
            )
        )
    return EvalPredictions(test, e2e, gold)


def score_predictions(preds: EvalPredictions) -> dict[str, Any]:
    gold = [gold_extraction(ex) for ex in preds.examples]
    return {
        "n_sentences": len(preds.examples),
        "entities": entity_scores(
            [ex.tags for ex in preds.examples],
            [output_tags(ex, o) for ex, o in zip(preds.examples, preds.end_to_end)],
        ),
        "relations_end_to_end": relation_scores(
            gold, [to_extraction(ex, o) for ex, o in zip(preds.examples, preds.end_to_end)]
        ),
        "relations_gold_entities": relation_scores(
            gold, [to_extraction(ex, o) for ex, o in zip(preds.examples, preds.gold_entities)]
        ),
        "events": event_scores(*sentence_events_of(preds)),
    }


def sentence_events_of(preds: EvalPredictions) -> tuple[list[list[Event]], list[list[Event]]]:
    """Gold and end-to-end predicted events, sentence by sentence (:mod:`marsad.events`)."""
    gold = [extraction_events(ex.text, gold_extraction(ex)) for ex in preds.examples]
    pred = [
        extraction_events(ex.text, to_extraction(ex, o))
        for ex, o in zip(preds.examples, preds.end_to_end)
    ]
    return gold, pred


RELATION_SETTINGS: tuple[str, ...] = ("end-to-end", "gold entities")
# the scores a sentence's (tp, fp, fn) are kept for: paired comparisons and the dev log of every
# epoch; per relation label too, since a micro F1 over ~170 relations hides which labels can be
# trusted
SCORES: tuple[str, ...] = (
    "entity micro-F1",
    *(f"{t} F1" for t in ENTITY_TYPES),
    *(f"relation micro-F1 ({s})" for s in RELATION_SETTINGS),
    *(f"{label} F1 ({s})" for s in RELATION_SETTINGS for label in RELATION_TYPES),
)

SentenceScores = dict[str, dict[str, Counts]]  # sent_id -> score name -> (tp, fp, fn)


def sentence_scores(preds: EvalPredictions) -> SentenceScores:
    """Each sentence's (tp, fp, fn) for every score in :data:`SCORES`, strict matching as in
    evaluation."""
    out: SentenceScores = {}
    for ex, e2e, with_gold in zip(preds.examples, preds.end_to_end, preds.gold_entities):
        gold, pred = gold_extraction(ex), to_extraction(ex, e2e)
        row = {"entity micro-F1": entity_counts(gold, pred)}
        for label in ENTITY_TYPES:
            g = {e for e in gold.entities if e[2] == label}
            p = {e for e in pred.entities if e[2] == label}
            row[f"{label} F1"] = (len(g & p), len(p - g), len(g - p))
        for setting, predicted in zip(RELATION_SETTINGS, (pred, to_extraction(ex, with_gold))):
            row[f"relation micro-F1 ({setting})"] = relation_sentence_counts(gold, predicted)
            per_label = relation_counts(gold, predicted)
            for label in RELATION_TYPES:
                row[f"{label} F1 ({setting})"] = per_label[label]
        if ex.sent_id in out:
            raise ValueError(f"sentence {ex.sent_id} occurs twice in one set of predictions")
        out[ex.sent_id] = row
    return out


# NONE-logit shifts tried when tuning the relation threshold on dev (0 = plain argmax)
NONE_BIAS_GRID: tuple[float, ...] = tuple(float(b) for b in np.arange(-2.0, 6.01, 0.5))


def tune_none_bias(preds: EvalPredictions, grid: tuple[float, ...] = NONE_BIAS_GRID) -> float:
    """The NONE bias that maximises end-to-end relation micro-F1 on ``preds`` (ties: the smallest
    shift).

    Call it on dev predictions only; the outputs are left decoded at the chosen bias.
    """
    return tune_relation_prior(preds, None, grid)[1]


def tune_relation_prior(
    preds: EvalPredictions,
    prior: RelationPrior | None,
    bias_grid: tuple[float, ...] = NONE_BIAS_GRID,
    weight_grid: tuple[float, ...] = RELATION_WEIGHT_GRID,
) -> tuple[float | None, float]:
    """The (relation-prior weight, NONE bias) that maximise end-to-end relation micro-F1 on
    ``preds`` (ties: the smaller weight, then the smaller shift). Call it on dev predictions only;
    the outputs of both settings are left decoded at the chosen pair. Without a prior only the bias
    is tuned (weight None: the outputs keep their mixture).
    """
    outputs = preds.end_to_end + preds.gold_entities
    if prior is not None:
        for ex, out in zip(preds.examples * 2, outputs):
            if out.candidates:
                out.candidate_prior = prior.log_probs(ex.words, out.entities, out.candidates)
    gold = [gold_extraction(ex) for ex in preds.examples]

    def decode(targets: list[SentenceOutput], weight: float | None, bias: float) -> None:
        for out in targets:
            if weight is not None:
                out.prior_weight = weight
            out.decode_relations(bias)

    def f1_at(weight_bias: tuple[float | None, float]) -> float:
        decode(preds.end_to_end, *weight_bias)
        return relation_scores(
            gold, [to_extraction(ex, o) for ex, o in zip(preds.examples, preds.end_to_end)]
        )["micro"]["f1"]

    weights = sorted(weight_grid) if prior is not None else [None]
    grid = [(w, b) for w in weights for b in sorted(bias_grid, key=abs)]
    weight, bias = max(grid, key=f1_at)  # max keeps the first of equals
    decode(outputs, weight, bias)
    return weight, bias


def tune_prior_weight(
    preds: EvalPredictions, prior: LexicalPrior, grid: tuple[float, ...] = WEIGHT_GRID
) -> float:
    """The lexical-prior weight that maximises entity micro-F1 on ``preds`` (ties: the smaller
    weight).

    Re-decodes the stored encoder scores, so no encoder pass per weight. Call it on dev predictions
    only.
    """
    crf_log_probs = [prior.log_marginals(ex.words) for ex in preds.examples]
    gold = [ex.tags for ex in preds.examples]

    def f1_at(weight: float) -> float:
        predicted = [
            output_tags(ex, SentenceOutput(decode_entities(out.word_log_probs, prior, lp, weight)))
            for ex, out, lp in zip(preds.examples, preds.end_to_end, crf_log_probs)
        ]
        return entity_scores(gold, predicted)["micro"]["f1"]

    return max(sorted(grid), key=f1_at)
