"""Agreement between two annotations of the same articles, and what they disagree on.

Mentions are compared as exact (document, article offsets, label) spans and relations as
(head span, tail span, label), so two annotations agree on a relation only when both its mentions
agree too. Offsets are made article-level, so the two sides may split sentences differently.
Strict F1 is the usual agreement measure for span annotation (chance agreement on spans is
negligible, which makes kappa ill-defined here); it is symmetric, and precision/recall read the
second annotation against the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from marsad.evaluation.metrics import prf

Span = tuple[str, int, int, str]  # doc_id, article start, article end, label
Relation = tuple[Span, Span, str]


@dataclass(frozen=True)
class Annotation:
    """One annotation of a set of articles, in article-level offsets."""

    entities: frozenset[Span]
    relations: frozenset[Relation]
    sentences: dict[str, list[tuple[int, str]]]  # doc_id -> [(sentence offset, text)]

    @property
    def documents(self) -> set[str]:
        return {e[0] for e in self.entities} | set(self.sentences)


def read_annotation(directory: Path) -> Annotation:
    """Every ``*.jsonl`` of ``directory``; errors name the file, line and entity id."""
    files = sorted(Path(directory).glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"{directory}: no *.jsonl annotation files")
    entities: set[Span] = set()
    relations: set[Relation] = set()
    sentences: dict[str, list[tuple[int, str]]] = {}
    for path in files:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
                base = row["offset"]
                spans = {}
                for ent in row["entities"]:
                    if ent.get("start") is None or ent.get("end") is None:
                        raise ValueError(
                            f"entity {ent.get('id')} has no offsets (run scripts/fill_offsets.py)"
                        )
                    spans[ent["id"]] = (
                        row["doc_id"],
                        base + ent["start"],
                        base + ent["end"],
                        ent["label"],
                    )
                for rel in row["relations"]:
                    for end in ("head", "tail"):
                        if rel[end] not in spans:
                            raise ValueError(
                                f"relation {rel['label']} has unknown {end} {rel[end]!r}"
                            )
                    relations.add((spans[rel["head"]], spans[rel["tail"]], rel["label"]))
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"{where}: {exc}") from exc
            entities |= set(spans.values())
            sentences.setdefault(row["doc_id"], []).append((base, row["text"]))
    return Annotation(frozenset(entities), frozenset(relations), sentences)


def _scores(reference: frozenset, other: frozenset, label_of) -> dict[str, dict[str, float]]:
    labels = sorted({label_of(x) for x in reference | other})
    out = {}
    for label in labels:
        ref = {x for x in reference if label_of(x) == label}
        oth = {x for x in other if label_of(x) == label}
        out[label] = prf(len(ref & oth), len(oth - ref), len(ref - oth))
    out["micro"] = prf(len(reference & other), len(other - reference), len(reference - other))
    return out


def agreement(reference: Annotation, other: Annotation) -> dict[str, dict[str, dict[str, float]]]:
    """Strict F1 per label and micro, for entities and relations, over the documents both annotate.

    Comparing only shared documents keeps a partial second annotation (some articles) honest:
    articles it never covered are not counted as its misses.
    """
    docs = reference.documents & other.documents
    if not docs:
        raise ValueError("the two annotations share no document")

    def keep_entities(a: Annotation) -> frozenset[Span]:
        return frozenset(e for e in a.entities if e[0] in docs)

    def keep_relations(a: Annotation) -> frozenset[Relation]:
        return frozenset(r for r in a.relations if r[0][0] in docs)

    return {
        "documents": sorted(docs),
        "entities": _scores(keep_entities(reference), keep_entities(other), lambda x: x[3]),
        "relations": _scores(keep_relations(reference), keep_relations(other), lambda x: x[2]),
    }


def _sentence_of(annotation: Annotation, doc_id: str, start: int) -> tuple[int, str]:
    """The sentence (offset, text) of ``doc_id`` that holds article offset ``start``."""
    best = (0, "")
    for offset, text in annotation.sentences.get(doc_id, []):
        if offset <= start:
            best = (offset, text)
    return best


def disagreements(reference: Annotation, other: Annotation) -> list[dict]:
    """Every mention or relation only one side has, with its sentence, in article order.

    This is the adjudication list: each row says which side has it, the surface strings and the
    sentence, so a reviewer can decide by the guidelines without opening the files.
    """
    docs = reference.documents & other.documents
    rows = []

    def surface(span: Span) -> str:
        offset, text = _sentence_of(reference, span[0], span[1])
        return text[span[1] - offset : span[2] - offset]

    def row(kind: str, side: str, doc_id: str, start: int, label: str, text: str) -> dict:
        return {
            "kind": kind,
            "only_in": side,
            "doc_id": doc_id,
            "start": start,
            "label": label,
            "text": text,
            "sentence": _sentence_of(reference, doc_id, start)[1],
        }

    for side, mine, theirs in (("reference", reference, other), ("other", other, reference)):
        for e in mine.entities - theirs.entities:
            if e[0] in docs:
                rows.append(row("entity", side, e[0], e[1], e[3], surface(e)))
        for head, tail, label in mine.relations - theirs.relations:
            if head[0] in docs:
                rows.append(
                    row(
                        "relation",
                        side,
                        head[0],
                        min(head[1], tail[1]),
                        label,
                        f"{surface(head)} ({head[3]}) → {surface(tail)} ({tail[3]})",
                    )
                )
    return sorted(
        rows, key=lambda r: (r["doc_id"], r["start"], r["kind"], r["only_in"], r["label"])
    )
