"""Annotation audit: find places where the same thing is annotated differently.

Two kinds of rows:
- surface strings: a string annotated somewhere that, elsewhere on word boundaries, carries a
  different label or no label at all (occurrences inside a longer entity are not counted);
- relation patterns: the same (head text, tail text, words between them) with different relation
  labels, NONE included, which catches near-duplicate wire copy annotated two ways.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from marsad.data.corpus import Sentence
from marsad.data.similarity import normalise, similarity_matrix
from marsad.data.splits import CLUSTER_THRESHOLD
from marsad.schema import pair_can_relate
from marsad.text import word_aligned_occurrences


@dataclass(frozen=True)
class Occurrence:
    sent_id: str
    start: int
    # a label, "unlabeled", or "partial:<label>" when an entity overlaps it without equalling it
    status: str


@dataclass(frozen=True)
class SurfaceRow:
    surface: str
    counts: dict[str, int]
    occurrences: tuple[Occurrence, ...]


@dataclass(frozen=True)
class RelationRow:
    head: str
    tail: str
    between: str
    labels: dict[str, list[str]]  # label -> sent_ids


def _status(sentence: Sentence, start: int, end: int) -> str | None:
    """Label if an entity equals [start, end); None if inside a longer entity; else
    unlabeled/partial."""
    for e in sentence.entities:
        if (e.start, e.end) == (start, end):
            return e.label
    for e in sentence.entities:
        if e.start <= start and end <= e.end:
            return None
    for e in sentence.entities:
        if e.start < end and start < e.end:
            return f"partial:{e.label}"
    return "unlabeled"


def surface_inconsistencies(sentences: list[Sentence]) -> list[SurfaceRow]:
    surfaces = sorted({e.text for s in sentences for e in s.entities})
    rows = []
    for surface in surfaces:
        occ = []
        for s in sentences:
            for start in word_aligned_occurrences(s.text, surface):
                status = _status(s, start, start + len(surface))
                if status is not None:
                    occ.append(Occurrence(s.sent_id, start, status))
        counts: dict[str, int] = defaultdict(int)
        for o in occ:
            counts[o.status] += 1
        if len(counts) > 1:
            rows.append(SurfaceRow(surface, dict(counts), tuple(occ)))
    return rows


def relation_inconsistencies(sentences: list[Sentence]) -> list[RelationRow]:
    groups: dict[tuple[str, str, str], dict[str, list[str]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for s in sentences:
        labels = {(r.head, r.tail): r.label for r in s.relations}
        for h in s.entities:
            for t in s.entities:
                if h.id == t.id or not pair_can_relate(h.label, t.label):
                    continue
                lo, hi = (h.end, t.start) if h.end <= t.start else (t.end, h.start)
                between = " ".join(s.text[lo:hi].split()) if lo <= hi else ""
                if len(between.split()) > 12:
                    continue
                key = (
                    f"{h.text}/{h.label}",
                    f"{t.text}/{t.label}",
                    between if h.end <= t.start else f"(tail first) {between}",
                )
                groups[key][labels.get((h.id, t.id), "NONE")].append(s.sent_id)
    return [
        RelationRow(k[0], k[1], k[2], {lab: ids for lab, ids in v.items()})
        for k, v in sorted(groups.items())
        if len(v) > 1
    ]


def _key(text: str) -> str:
    """Surface key that survives wire-copy variation: normalised, one leading proclitic removed."""
    norm = normalise(text)
    return norm[1:] if norm[:1] in "وفبل" and len(norm) > 4 and not norm.startswith("لل") else norm


def _relation_keys(s: Sentence) -> set[tuple[str, str, str]]:
    by_id = {e.id: e for e in s.entities}
    return {(_key(by_id[r.head].text), _key(by_id[r.tail].text), r.label) for r in s.relations}


def _entity_keys(s: Sentence) -> set[str]:
    return {_key(e.text) for e in s.entities}


@dataclass(frozen=True)
class TwinRow:
    a: str
    b: str
    similarity: float
    only_a: tuple[tuple[str, str, str], ...]
    only_b: tuple[tuple[str, str, str], ...]


def near_duplicate_relation_diffs(
    sentences: list[Sentence], threshold: float = CLUSTER_THRESHOLD
) -> list[TwinRow]:
    """Near-twin sentences (similarity >= threshold) whose relations between shared mentions
    differ."""
    sim = similarity_matrix([s.text for s in sentences])
    rows = []
    for i, a in enumerate(sentences):
        for j in range(i + 1, len(sentences)):
            if sim[i][j] < threshold:
                continue
            b = sentences[j]
            shared = _entity_keys(a) & _entity_keys(b)
            ra = {r for r in _relation_keys(a) if r[0] in shared and r[1] in shared}
            rb = {r for r in _relation_keys(b) if r[0] in shared and r[1] in shared}
            if ra != rb:
                rows.append(
                    TwinRow(
                        a.sent_id,
                        b.sent_id,
                        round(sim[i][j], 2),
                        tuple(sorted(ra - rb)),
                        tuple(sorted(rb - ra)),
                    )
                )
    return rows


def render_markdown(sentences: list[Sentence]) -> str:
    surf = surface_inconsistencies(sentences)
    rels = relation_inconsistencies(sentences)
    lines = [
        "# Annotation audit",
        "",
        "Generated by `python scripts/audit_data.py --markdown > data/AUDIT.md`. Every "
        "row is either fixed",
        "in the data or justified in `data/GUIDELINES.md` (section 6 and the 'Audit' section).",
        "",
        f"## Surface strings labelled differently ({len(surf)})",
        "",
        "| surface | labels (count) | where |",
        "|---|---|---|",
    ]
    for row in surf:
        counts = ", ".join(f"{k} ×{v}" for k, v in sorted(row.counts.items()))
        majority = max(row.counts, key=row.counts.get)
        odd = "; ".join(
            f"{o.sent_id}@{o.start} {o.status}" for o in row.occurrences if o.status != majority
        )
        lines.append(f"| \u200f{row.surface} | {counts} | {odd} |")
    lines += [
        "",
        f"## Relation patterns labelled differently ({len(rels)})",
        "",
        "| head | tail | words between | labels (sentences) |",
        "|---|---|---|---|",
    ]
    for r in rels:
        labs = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(r.labels.items()))
        lines.append(f"| \u200f{r.head} | \u200f{r.tail} | \u200f{r.between} | {labs} |")
    twins = near_duplicate_relation_diffs(sentences)
    lines += [
        "",
        f"## Near-twin sentences whose relations differ ({len(twins)})",
        "",
        "Relations between mentions both sentences share (normalised surface, one "
        "proclitic removed).",
        "",
        "| sentence A | sentence B | similarity | only in A | only in B |",
        "|---|---|---:|---|---|",
    ]
    for t in twins:
        fmt = lambda rs: "; ".join(f"\u200f{h} → {tl} {lab}" for h, tl, lab in rs) or "—"  # noqa: E731
        lines.append(f"| {t.a} | {t.b} | {t.similarity} | {fmt(t.only_a)} | {fmt(t.only_b)} |")
    return "\n".join(lines) + "\n"
