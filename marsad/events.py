"""Mentions and relations -> event rows, the unit conflict-data analysts count (ACLED, UCDP GED).

One event per ATTACKS, CONTROLS or SUPPORTS relation: its head is the actor, its tail the target
(an actor or a place). The other three relations of the same sentence fill the event's
attributes, and only through a stated link (the schema's relations are sentence-internal and
Marsad guesses nothing from mere proximity):

- **location**: the target, when it is a place; else the place the target is LOCATED_IN; else
  the place the actor is LOCATED_IN; else none. ``location_source`` says which rule gave it.
- **quantities**: every QUANTITY_OF pointing at the actor (``actor_quantities``) or the target
  (``target_quantities``).
- **associated actors**: every actor linked to the actor (``actor_associates``) or to the target
  (``target_associates``) by AFFILIATED_WITH, in either direction.

Coordination needs no rule of its own: "A and B attacked X" is annotated (and predicted) as two
ATTACKS relations, so it gives two events. Every mention keeps its exact character offsets into
the document (``document[m.start:m.end] == m.text``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marsad.data.corpus import Sentence

EVENT_TYPES: tuple[str, ...] = ("ATTACKS", "CONTROLS", "SUPPORTS")


@dataclass(frozen=True)
class Mention:
    label: str
    text: str
    start: int  # character offsets into the document
    end: int
    score: float | None = None  # the model's; None for gold


@dataclass
class Event:
    doc_id: str | None
    sentence: int  # index of the sentence in its document
    sentence_start: int
    sentence_end: int
    event_type: str  # the relation: ATTACKS, CONTROLS or SUPPORTS
    actor: Mention
    target: Mention
    location: Mention | None = None
    location_source: str = ""  # "target", "target LOCATED_IN", "actor LOCATED_IN" or ""
    actor_quantities: list[Mention] = field(default_factory=list)
    target_quantities: list[Mention] = field(default_factory=list)
    actor_associates: list[Mention] = field(default_factory=list)
    target_associates: list[Mention] = field(default_factory=list)
    score: float | None = None  # the relation's score; None for gold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (head index, tail index, label, score) into the sentence's mention list
RelationTuple = tuple[int, int, str, float | None]


def sentence_events(
    mentions: Sequence[Mention],
    relations: Iterable[RelationTuple],
    sentence: int = 0,
    sentence_start: int = 0,
    sentence_end: int = 0,
    doc_id: str | None = None,
) -> list[Event]:
    """The events of one sentence, in the order of its event relations."""
    relations = list(relations)

    def linked(label: str, index: int, as_head: bool) -> list[int]:
        """Mentions joined to ``index`` by ``label``: tails where it is the head, or heads where
        it is the tail."""
        if as_head:
            return [t for h, t, lab, _ in relations if lab == label and h == index]
        return [h for h, t, lab, _ in relations if lab == label and t == index]

    def associates(index: int) -> list[Mention]:
        ids = linked("AFFILIATED_WITH", index, True) + linked("AFFILIATED_WITH", index, False)
        return [mentions[k] for k in sorted(set(ids))]

    events = []
    for head, tail, label, score in relations:
        if label not in EVENT_TYPES:
            continue
        actor, target = mentions[head], mentions[tail]
        location, source = None, ""
        if target.label == "LOCATION":
            location, source = target, "target"
        else:
            for who, name in ((tail, "target"), (head, "actor")):
                places = linked("LOCATED_IN", who, True)
                if places:
                    location, source = mentions[min(places)], f"{name} LOCATED_IN"
                    break
        events.append(
            Event(
                doc_id=doc_id,
                sentence=sentence,
                sentence_start=sentence_start,
                sentence_end=sentence_end,
                event_type=label,
                actor=actor,
                target=target,
                location=location,
                location_source=source,
                actor_quantities=[mentions[k] for k in linked("QUANTITY_OF", head, False)],
                target_quantities=[mentions[k] for k in linked("QUANTITY_OF", tail, False)],
                actor_associates=associates(head),
                target_associates=associates(tail),
                score=score,
            )
        )
    return events


def gold_events(sentences: Sequence[Sentence]) -> list[Event]:
    """The events of annotated corpus sentences (one document's, in order), offsets into the
    document."""
    events = []
    for s, sent in enumerate(sentences):
        ids = {e.id: i for i, e in enumerate(sent.entities)}
        mentions = [
            Mention(e.label, e.text, sent.offset + e.start, sent.offset + e.end)
            for e in sent.entities
        ]
        relations = [(ids[r.head], ids[r.tail], r.label, None) for r in sent.relations]
        events += sentence_events(
            mentions, relations, s, sent.offset, sent.offset + len(sent.text), sent.doc_id
        )
    return events
