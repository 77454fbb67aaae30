"""Gold sentences -> word-level training/eval examples (entities as word spans, relations by index)."""
from __future__ import annotations

from dataclasses import dataclass

from marsad.inference import WordEntity, WordRelation
from marsad.modeling import RELATION_LABELS


@dataclass
class Example:
    sent_id: str
    text: str
    words: list[str]
    word_starts: list[int]
    word_ends: list[int]
    tags: list[str]
    entities: list[WordEntity]
    relations: list[WordRelation]
    max_train_similarity: float = -1.0

    def char_span(self, e: WordEntity) -> tuple[int, int, str]:
        return self.word_starts[e.start], self.word_ends[e.end - 1], e.label


def example_from_record(record: dict, tag_names: list[str]) -> Example:
    """Convert a ``load_splits`` row (tags as ClassLabel ids) to an :class:`Example`."""
    starts, ends = record["word_starts"], record["word_ends"]
    index_of: dict[str, int] = {}
    entities: list[WordEntity] = []
    for ent in sorted(record["entities"], key=lambda e: e["start"]):
        first = starts.index(ent["start"])
        last = ends.index(ent["end"])
        index_of[ent["id"]] = len(entities)
        entities.append(WordEntity(first, last + 1, ent["label"]))
    relations = [WordRelation(index_of[r["head"]], index_of[r["tail"]], r["label"]) for r in record["relations"]]
    assert all(r.label in RELATION_LABELS for r in relations)
    return Example(record["sent_id"], record["text"], record["words"], starts, ends,
                   [tag_names[t] for t in record["tags"]], entities, relations,
                   float(record.get("max_train_similarity", -1.0)))


def examples_from_split(dataset) -> list[Example]:
    names = dataset.features["tags"].feature.names
    return [example_from_record(r, names) for r in dataset]
