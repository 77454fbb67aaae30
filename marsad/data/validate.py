"""Validate gold annotation files against the schema and the raw articles.

Problems are collected, not raised one at a time, so an annotator sees every defect of a file in
one run, each with file, line, sentence/entity/relation id and the reason.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marsad.schema import ENTITY_TYPES, RELATION_SIGNATURES, relation_fits
from marsad.text import split_sentences, word_spans


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    where: str  # "sent_id", "sent_id entity T3" or "sent_id relation R2 (T1->T4)"
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: {self.reason}"


class AnnotationError(ValueError):
    """Raised by loaders when annotation files do not validate; lists every problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:50])
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} annotation problem(s):\n{shown}{more}")


_SENTENCE_KEYS = {
    "doc_id": str,
    "sent_id": str,
    "offset": int,
    "text": str,
    "entities": list,
    "relations": list,
}
_ENTITY_KEYS = {"id": str, "label": str, "start": int, "end": int, "text": str}
_RELATION_KEYS = {"head": str, "tail": str, "label": str}


def _type_problems(obj: Any, keys: dict[str, type], what: str) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{what} must be a JSON object, got {type(obj).__name__}"]
    out = []
    for key, typ in keys.items():
        if key not in obj:
            out.append(f"{what} lacks field {key!r}")
        elif not isinstance(obj[key], typ) or (typ is int and isinstance(obj[key], bool)):
            out.append(
                f"{what} field {key!r} must be {typ.__name__}, got {type(obj[key]).__name__}"
            )
    return out


def _unknown_keys(obj: Any, keys: dict[str, type], what: str) -> list[str]:
    """Fields the format does not have: a misspelled key ("lable") must not pass unseen. Reported
    without skipping the record, so its other problems are listed too."""
    if not isinstance(obj, dict):
        return []
    out = []
    for key in sorted(set(obj) - set(keys)):
        close = difflib.get_close_matches(key, list(keys), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(keys)})"
        out.append(f"{what} has unknown field {key!r}{hint}")
    return out


def _check_entities(row: dict, report) -> dict[str, dict]:
    """Check entities of one sentence; return the well-formed ones by id."""
    text = row["text"]
    spans = word_spans(text)
    starts, ends = {s for s, _ in spans}, {e for _, e in spans}
    by_id: dict[str, dict] = {}
    placed: list[dict] = []
    for ent in row["entities"]:
        eid = ent.get("id", "?") if isinstance(ent, dict) else "?"
        where = f"entity {eid}"
        for problem in _unknown_keys(ent, _ENTITY_KEYS, "entity"):
            report(where, problem)
        bad = _type_problems(ent, _ENTITY_KEYS, "entity")
        if bad:
            for b in bad:
                report(where, b)
            continue
        if eid in by_id:
            report(where, "duplicate entity id")
            continue
        by_id[eid] = ent
        s, e = ent["start"], ent["end"]
        if ent["label"] not in ENTITY_TYPES:
            report(where, f"unknown label {ent['label']!r} (allowed: {', '.join(ENTITY_TYPES)})")
        if not 0 <= s < e <= len(text):
            report(where, f"offsets [{s}, {e}) out of range for sentence of length {len(text)}")
            continue
        if text[s:e] != ent["text"]:
            report(where, f"text {ent['text']!r} does not match sentence[{s}:{e}] = {text[s:e]!r}")
            continue
        if s not in starts:
            report(where, f"start {s} is not on a word boundary")
        if e not in ends:
            report(where, f"end {e} is not on a word boundary")
        for other in placed:
            if (other["start"], other["end"]) == (s, e):
                report(where, f"duplicate of entity {other['id']} (same span [{s}, {e}))")
            elif other["start"] < e and s < other["end"]:
                report(where, f"overlaps entity {other['id']} [{other['start']}, {other['end']})")
        placed.append(ent)
    return by_id


def _check_relations(row: dict, entities: dict[str, dict], report) -> None:
    seen: dict[tuple[str, str], str] = {}
    for i, rel in enumerate(row["relations"]):
        for problem in _unknown_keys(rel, _RELATION_KEYS, "relation"):
            report(f"relation {i}", problem)
        bad = _type_problems(rel, _RELATION_KEYS, "relation")
        where = (
            f"relation {i}"
            if bad
            else f"relation {i} ({rel['head']}->{rel['tail']} {rel['label']})"
        )
        if bad:
            for b in bad:
                report(where, b)
            continue
        head, tail, label = entities.get(rel["head"]), entities.get(rel["tail"]), rel["label"]
        if label not in RELATION_SIGNATURES:
            report(where, f"unknown relation label {label!r}")
            continue
        if head is None or tail is None:
            missing = rel["head"] if head is None else rel["tail"]
            report(where, f"endpoint {missing} is not an entity of this sentence")
            continue
        if rel["head"] == rel["tail"]:
            report(where, "head and tail are the same entity")
            continue
        if not relation_fits(label, head["label"], tail["label"]):
            heads, tails = RELATION_SIGNATURES[label]
            report(
                where,
                f"{label} needs {'|'.join(sorted(heads))} -> {'|'.join(sorted(tails))}, "
                f"got {head['label']} -> {tail['label']}",
            )
        key = (rel["head"], rel["tail"])
        if key in seen:
            what = (
                "duplicate relation" if seen[key] == label else f"pair already labelled {seen[key]}"
            )
            report(where, what)
        else:
            seen[key] = label


def row_problems(row: dict) -> list[tuple[str, str]]:
    """``(where, reason)`` for each schema problem of one sentence record's entities and relations:
    :func:`validate_file`'s checks without a file, for importers that place problems in their own
    source (file and line, task id)."""
    found: list[tuple[str, str]] = []

    def report(where: str, reason: str) -> None:
        found.append((where, reason))

    _check_relations(row, _check_entities(row, report), report)
    return found


def _utf8_problem(path: Path, data: bytes, exc: UnicodeDecodeError) -> Problem:
    """Where ``data`` (the bytes of ``path``) stops being UTF-8: a bare UnicodeDecodeError names
    neither the file nor the line."""
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return Problem(
        str(path),
        line,
        "file",
        f"invalid UTF-8 at byte offset {exc.start} (line {line}, byte {column} of the line): "
        f"{exc.object[exc.start : exc.end]!r} {exc.reason}",
    )


def utf8_problems(path: Path, data: bytes) -> list[Problem]:
    """One problem per line of ``data`` that is not valid UTF-8 (empty when all of it is)."""
    problems = []
    start = 0
    for raw_line in data.split(b"\n"):
        try:
            raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            shifted = UnicodeDecodeError(
                exc.encoding, data, start + exc.start, start + exc.end, exc.reason
            )
            problems.append(_utf8_problem(path, data, shifted))
        start += len(raw_line) + 1
    return problems


def read_utf8(path: Path) -> str:
    """The text of ``path``; invalid UTF-8 raises :class:`AnnotationError` naming the file, line
    and byte of every bad line."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AnnotationError(utf8_problems(path, data)) from None


def _duplicate_reason(path: Path, first: tuple[str, int]) -> str:
    file, line = first
    return (
        f"duplicate sent_id (first on line {line})"
        if file == str(path)
        else f"duplicate sent_id, also in {file}:{line}"
    )


def validate_file(
    path: Path,
    raw_text: str | None,
    first_seen: dict[str, tuple[str, int]] | None = None,
) -> list[Problem]:
    """Validate one annotation JSONL file; ``raw_text`` is its article (None: skip raw checks).

    ``first_seen`` maps each sent_id met so far to its file and line; :func:`validate_corpus`
    shares one across files, so an id reused in another file is reported, naming both places
    (loading would otherwise keep one of the two sentences, possibly in two folds)."""
    problems: list[Problem] = []
    first_seen = {} if first_seen is None else first_seen
    present: set[tuple[int, str]] = set()
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return utf8_problems(path, data)
    for lineno, line in enumerate(text.splitlines(), 1):

        def report(where: str, reason: str, _line: int = lineno) -> None:
            problems.append(Problem(str(path), _line, where, reason))

        if not line.strip():
            report("line", "empty line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            report("line", f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        for problem in _unknown_keys(row, _SENTENCE_KEYS, "sentence"):
            report("sentence", problem)
        bad = _type_problems(row, _SENTENCE_KEYS, "sentence")
        if bad:
            for b in bad:
                report("sentence", b)
            continue
        sid = row["sent_id"]

        def sreport(where: str, reason: str, _line: int = lineno, _sid: str = sid) -> None:
            problems.append(Problem(str(path), _line, f"{_sid} {where}".strip(), reason))

        if sid in first_seen:
            sreport("", _duplicate_reason(path, first_seen[sid]))
        else:
            first_seen[sid] = (str(path), lineno)
        if row["doc_id"] != path.stem:
            sreport("", f"doc_id {row['doc_id']!r} does not match file name {path.stem!r}")
        if raw_text is not None:
            raw_slice = raw_text[row["offset"] : row["offset"] + len(row["text"])]
            if raw_slice != row["text"]:
                sreport(
                    "",
                    f"text differs from the raw article at offset {row['offset']}: "
                    f"{raw_slice[:40]!r}...",
                )
            present.add((row["offset"], row["text"]))
        entities = _check_entities(row, sreport)
        _check_relations(row, entities, sreport)
    if raw_text is not None:
        for sent in split_sentences(raw_text):
            if (sent.start, sent.text) not in present:
                problems.append(
                    Problem(
                        str(path),
                        0,
                        "file",
                        f"missing sentence at raw offset {sent.start}: {sent.text[:50]!r}",
                    )
                )
    return problems


def validate_corpus(annotations_dir: Path, raw_dir: Path | None) -> list[Problem]:
    """Validate every ``*.jsonl`` in ``annotations_dir``; each must have a raw article of the same
    stem."""
    problems: list[Problem] = []
    files = sorted(Path(annotations_dir).glob("*.jsonl"))
    if not files:
        return [Problem(str(annotations_dir), 0, "corpus", "no *.jsonl annotation files")]
    first_seen: dict[str, tuple[str, int]] = {}  # sent_id -> (file, line), across files
    for path in files:
        raw_text = None
        if raw_dir is not None:
            raw_path = Path(raw_dir) / f"{path.stem}.txt"
            if not raw_path.exists():
                problems.append(Problem(str(path), 0, "file", f"no raw article {raw_path}"))
                continue
            try:
                raw_text = read_utf8(raw_path)
            except AnnotationError as exc:  # still check the annotations, without the raw text
                problems.extend(exc.problems)
        problems.extend(validate_file(path, raw_text, first_seen))
    if raw_dir is not None:
        for raw_path in sorted(Path(raw_dir).glob("*.txt")):
            if not (Path(annotations_dir) / f"{raw_path.stem}.jsonl").exists():
                problems.append(
                    Problem(str(raw_path), 0, "file", "raw article has no annotation file")
                )
    return problems
