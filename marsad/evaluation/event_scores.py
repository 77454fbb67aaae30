"""Event-level scores: an event is right when its type, actor and target are (spans and types);
location and quantities are compared as attributes of the right ones."""

from __future__ import annotations

from collections.abc import Sequence

from marsad.evaluation.metrics import SentenceExtraction, prf
from marsad.events import EVENT_TYPES, Event, Mention, sentence_events


def _span(m: Mention | None) -> tuple[int, int, str] | None:
    return None if m is None else (m.start, m.end, m.label)


def event_key(e: Event) -> tuple:
    """What makes an event right: its type, actor and target (spans and types)."""
    return (e.event_type, _span(e.actor), _span(e.target))


def _quantities(e: Event) -> tuple[frozenset, frozenset]:
    return (
        frozenset(map(_span, e.actor_quantities)),
        frozenset(map(_span, e.target_quantities)),
    )


Counts = tuple[int, int, int]


def extraction_events(text: str, extraction: SentenceExtraction) -> list[Event]:
    """The events of one sentence's :class:`SentenceExtraction` (spans into ``text``)."""
    mentions = [Mention(label, text[a:b], a, b) for a, b, label in extraction.entities]
    return sentence_events(mentions, [(h, t, lab, None) for h, t, lab in extraction.relations])


def _sentence_counts(gold: Sequence[Event], pred: Sequence[Event]) -> dict[str, list]:
    """Per event type [tp, fp, fn] and, over the right events, [right, location agrees,
    quantities agree] under ``"attributes"``."""
    counts: dict[str, list] = {t: [0, 0, 0] for t in EVENT_TYPES}
    attributes = [0, 0, 0]
    gold_by_key = {event_key(e): e for e in gold}
    pred_by_key = {event_key(e): e for e in pred}
    for key in gold_by_key.keys() | pred_by_key.keys():
        c = counts[key[0]]
        if key in gold_by_key and key in pred_by_key:
            c[0] += 1
            ge, pe = gold_by_key[key], pred_by_key[key]
            attributes[0] += 1
            attributes[1] += _span(ge.location) == _span(pe.location)
            attributes[2] += _quantities(ge) == _quantities(pe)
        elif key in pred_by_key:
            c[1] += 1
        else:
            c[2] += 1
    counts["attributes"] = attributes
    return counts


def sentence_event_counts(
    gold: Sequence[Sequence[Event]], pred: Sequence[Sequence[Event]]
) -> list[Counts]:
    """Per-sentence event (tp, fp, fn), the input :func:`bootstrap_ci` resamples."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    out = []
    for g, p in zip(gold, pred):
        c = _sentence_counts(g, p)
        out.append(tuple(sum(c[t][i] for t in EVENT_TYPES) for i in range(3)))
    return out


def event_scores(gold: Sequence[Sequence[Event]], pred: Sequence[Sequence[Event]]) -> dict:
    """Event P/R/F1 over sentence-aligned lists of events (an event is right when type, actor and
    target are; micro and per type), and, over the right ones, the share whose location and whose
    quantities agree too (attributes, not part of the match; None when no event is right)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    totals: dict[str, list] = {t: [0, 0, 0] for t in EVENT_TYPES}
    attributes = [0, 0, 0]
    for g, p in zip(gold, pred):
        c = _sentence_counts(g, p)
        for t in EVENT_TYPES:
            totals[t] = [a + b for a, b in zip(totals[t], c[t])]
        attributes = [a + b for a, b in zip(attributes, c["attributes"])]
    matched = attributes[0]
    return {
        "per_type": {t: prf(*c) for t, c in totals.items()},
        "micro": prf(*(sum(c[i] for c in totals.values()) for i in range(3))),
        "matched": matched,
        "location_agreement": attributes[1] / matched if matched else None,
        "quantity_agreement": attributes[2] / matched if matched else None,
    }
