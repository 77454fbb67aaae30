"""The annotation schema (``../shared/schema.md``) as data, so every module checks the same
rules."""

from __future__ import annotations

SCHEMA_VERSION = "1.0"

ENTITY_TYPES: tuple[str, ...] = ("ACTOR", "LOCATION", "QUANTITY")

# IOB2 tag inventory in a fixed order: tag ids are stored in checkpoints, so never reorder.
BIO_TAGS: tuple[str, ...] = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))

# relation label -> (allowed head types, allowed tail types)
RELATION_SIGNATURES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ATTACKS": (frozenset({"ACTOR"}), frozenset({"ACTOR", "LOCATION"})),
    "CONTROLS": (frozenset({"ACTOR"}), frozenset({"LOCATION"})),
    "SUPPORTS": (frozenset({"ACTOR"}), frozenset({"ACTOR"})),
    "LOCATED_IN": (frozenset({"ACTOR", "LOCATION"}), frozenset({"LOCATION"})),
    "QUANTITY_OF": (frozenset({"QUANTITY"}), frozenset({"ACTOR", "LOCATION"})),
    "AFFILIATED_WITH": (frozenset({"ACTOR"}), frozenset({"ACTOR"})),
}
RELATION_TYPES: tuple[str, ...] = tuple(RELATION_SIGNATURES)
NO_RELATION = "NONE"
# The relation head's classes in a fixed order (NONE first): stored in checkpoints, so never
# reorder.
RELATION_LABELS: tuple[str, ...] = (NO_RELATION,) + RELATION_TYPES


def relation_fits(label: str, head_type: str, tail_type: str) -> bool:
    """True when ``label`` may link a ``head_type`` head to a ``tail_type`` tail."""
    heads, tails = RELATION_SIGNATURES[label]
    return head_type in heads and tail_type in tails


def allowed_labels_by_type() -> tuple[tuple[tuple[bool, ...], ...], ...]:
    """``[head type][tail type][label]`` over ``ENTITY_TYPES`` x ``ENTITY_TYPES`` x
    ``RELATION_LABELS``: which labels a type pair may take (NONE always); the relation head and
    prior mask with it."""
    return tuple(
        tuple(
            (True,) + tuple(relation_fits(label, ht, tt) for label in RELATION_TYPES)
            for tt in ENTITY_TYPES
        )
        for ht in ENTITY_TYPES
    )


def pair_can_relate(head_type: str, tail_type: str) -> bool:
    """True when at least one relation type accepts this ordered type pair (candidate filter)."""
    return any(relation_fits(label, head_type, tail_type) for label in RELATION_TYPES)


def candidate_pairs(labels: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    """Ordered pairs of distinct mentions (by index) whose types some relation accepts.

    The one candidate rule shared by the model, its training and the majority baseline.
    """
    return [
        (h, t)
        for h, hl in enumerate(labels)
        for t, tl in enumerate(labels)
        if h != t and pair_can_relate(hl, tl)
    ]
