"""ANERcorp (CAMeL Lab split) in CoNLL form: its own PERS/ORG/LOC/MISC tags, and the schema view.

ANERcorp is real news from many outlets and topics; it names persons, organisations and places the
seed battle never mentions. It serves twice: as supervision for an auxiliary PERS/ORG/LOC/MISC head
(:mod:`marsad.training.aux_stage`, train split only) and, mapped to the schema, as dev and test
text from outside the battle. The mapping (its README): PERS, ORG -> ACTOR; LOC -> LOCATION;
MISC -> O. It has no QUANTITY and no relation annotation, so examples built from it say which
entity types they annotate and that relations are not annotated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marsad.data.corpus import bio_to_spans
from marsad.data.examples import Example, WordEntity
from marsad.features import repair_iob2

ANERCORP_TYPES: tuple[str, ...] = ("PERS", "ORG", "LOC", "MISC")
ANERCORP_TAGS: tuple[str, ...] = ("O",) + tuple(
    f"{p}-{t}" for t in ANERCORP_TYPES for p in ("B", "I")
)
SCHEMA_MAPPING: dict[str, str | None] = {
    "PERS": "ACTOR",
    "ORG": "ACTOR",
    "LOC": "LOCATION",
    "MISC": None,
}
MAPPED_TYPES: tuple[str, ...] = ("ACTOR", "LOCATION")  # the schema types ANERcorp annotates


@dataclass(frozen=True)
class ConllSentence:
    line: int  # 1-based line of the sentence's first token, for error messages and ids
    words: tuple[str, ...]
    tags: tuple[str, ...]  # ANERcorp's own tags, valid IOB2


def read_conll(path: Path | str) -> list[ConllSentence]:
    """Sentences of ``TOKEN TAG`` lines separated by blank lines.

    Orphan I- tags are rewritten as B- (the stated convention, so strict IOB2 scoring is defined);
    a line that is not ``TOKEN TAG`` or an unknown tag is an error naming the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"ANERcorp file not found: {path}") from None
    sentences: list[ConllSentence] = []
    words: list[str] = []
    tags: list[str] = []
    first = 0

    def flush() -> None:
        if words:
            sentences.append(ConllSentence(first, tuple(words), tuple(repair_iob2(tags))))
        words.clear()
        tags.clear()

    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            flush()
            continue
        parts = line.split(" ")
        if len(parts) != 2:
            raise ValueError(f"{path}:{lineno}: expected 'TOKEN TAG', got {line!r}")
        token, tag = parts
        if tag not in ANERCORP_TAGS:
            raise ValueError(f"{path}:{lineno}: unknown tag {tag!r}")
        if not words:
            first = lineno
        words.append(token)
        tags.append(tag)
    flush()
    return sentences


def to_schema_tags(tags: tuple[str, ...] | list[str]) -> list[str]:
    """ANERcorp tags as schema tags (MISC dropped); still valid IOB2."""
    out = []
    for tag in tags:
        mapped = None if tag == "O" else SCHEMA_MAPPING[tag[2:]]
        out.append("O" if mapped is None else f"{tag[:2]}{mapped}")
    return repair_iob2(out)


def split_held_out(
    sentences: list[ConllSentence], held_out: int
) -> tuple[list[ConllSentence], list[ConllSentence]]:
    """(training part, held-out part): the last ``held_out`` sentences are held out, a sequential
    cut like the CAMeL split itself, so held-out sentences come from articles not trained on."""
    if not 0 <= held_out < len(sentences):
        raise ValueError(
            f"cannot hold out {held_out} of {len(sentences)} ANERcorp sentences"
            " (need 0 <= held_out < the number of sentences)"
        )
    cut = len(sentences) - held_out
    return sentences[:cut], sentences[cut:]


def schema_examples(sentences: list[ConllSentence], source: str) -> list[Example]:
    """Sentences as :class:`Example` with mapped ACTOR/LOCATION gold, marked as annotating only
    those types and no relations, so scoring ignores predicted QUANTITY and relations on them."""
    examples = []
    for s in sentences:
        starts, ends, pos = [], [], 0
        for w in s.words:
            starts.append(pos)
            ends.append(pos + len(w))
            pos += len(w) + 1
        tags = to_schema_tags(s.tags)
        spans = bio_to_spans([(i, i + 1) for i in range(len(s.words))], tags)
        examples.append(
            Example(
                sent_id=f"{source}:{s.line}",
                text=" ".join(s.words),
                words=list(s.words),
                word_starts=starts,
                word_ends=ends,
                tags=tags,
                entities=[WordEntity(a, b, label) for a, b, label in spans],
                relations=[],
                entity_types=MAPPED_TYPES,
                relations_annotated=False,
            )
        )
    return examples
