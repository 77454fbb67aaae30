"""Typed view of the gold corpus; reading always validates first so bad files fail loudly."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from marsad.data.validate import AnnotationError, Problem, read_utf8, validate_corpus
from marsad.schema import BIO_TAGS
from marsad.text import word_spans


@dataclass(frozen=True)
class Entity:
    id: str
    label: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Relation:
    head: str
    tail: str
    label: str


@dataclass
class Sentence:
    doc_id: str
    sent_id: str
    offset: int
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)

    @property
    def word_spans(self) -> list[tuple[int, int]]:
        return word_spans(self.text)

    @property
    def words(self) -> list[str]:
        return [self.text[s:e] for s, e in self.word_spans]

    def bio_tags(self) -> list[str]:
        """IOB2 tag per word; entity spans are on word boundaries (validated)."""
        return spans_to_bio(self.word_spans, [(e.start, e.end, e.label) for e in self.entities])


def spans_to_bio(words: list[tuple[int, int]], spans: list[tuple[int, int, str]]) -> list[str]:
    """Render character spans as word-level IOB2 tags."""
    tags = ["O"] * len(words)
    for start, end, label in spans:
        inside = [i for i, (ws, we) in enumerate(words) if ws >= start and we <= end]
        for k, i in enumerate(inside):
            tags[i] = f"{'B' if k == 0 else 'I'}-{label}"
    assert all(t in BIO_TAGS for t in tags)
    return tags


def bio_to_spans(words: list[tuple[int, int]], tags: list[str]) -> list[tuple[int, int, str]]:
    """Character spans of the entities in a (valid or not) IOB2 sequence; orphan I- tags are
    dropped."""
    spans: list[tuple[int, int, str]] = []
    current: list | None = None
    for (ws, we), tag in zip(words, tags):
        if tag.startswith("B-") or (
            tag.startswith("I-") and (current is None or current[2] != tag[2:])
        ):
            if current:
                spans.append(tuple(current))
            current = [ws, we, tag[2:]] if tag.startswith("B-") else None
        elif tag.startswith("I-"):
            current[1] = we
        else:
            if current:
                spans.append(tuple(current))
            current = None
    if current:
        spans.append(tuple(current))
    return spans


def _sentence_from_row(row: dict) -> Sentence:
    return Sentence(
        doc_id=row["doc_id"],
        sent_id=row["sent_id"],
        offset=row["offset"],
        text=row["text"],
        entities=[
            Entity(e["id"], e["label"], e["start"], e["end"], e["text"]) for e in row["entities"]
        ],
        relations=[Relation(r["head"], r["tail"], r["label"]) for r in row["relations"]],
    )


def read_corpus(data_dir: Path | str = "data", validate: bool = True) -> list[Sentence]:
    """All gold sentences of ``data_dir/annotations`` in file then line order.

    Raises :class:`AnnotationError` listing every problem when validation fails, and (validated
    or not) when a file is not UTF-8 or a sent_id occurs twice.
    """
    data_dir = Path(data_dir)
    raw_dir = data_dir / "raw"
    if validate:
        problems = validate_corpus(data_dir / "annotations", raw_dir if raw_dir.exists() else None)
        if problems:
            raise AnnotationError(problems)
    sentences = []
    first_seen: dict[str, tuple[Path, int]] = {}
    duplicates: list[Problem] = []
    for path in sorted((data_dir / "annotations").glob("*.jsonl")):
        for lineno, line in enumerate(read_utf8(path).splitlines(), 1):
            sentence = _sentence_from_row(json.loads(line))
            if sentence.sent_id in first_seen:  # even unvalidated: never keep one of two silently
                file, first = first_seen[sentence.sent_id]
                duplicates.append(
                    Problem(
                        str(path),
                        lineno,
                        sentence.sent_id,
                        f"duplicate sent_id, also in {file}:{first}",
                    )
                )
            first_seen.setdefault(sentence.sent_id, (path, lineno))
            sentences.append(sentence)
    if duplicates:
        raise AnnotationError(duplicates)
    return sentences
