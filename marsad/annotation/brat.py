"""brat standoff: per document a ``.txt`` and an ``.ann`` with ``T`` (span) and ``R`` (relation)
lines, offsets into the ``.txt``.

Export writes each sentence at its document offset, the characters between sentences as
newlines, so offsets are the corpus's own. Import splits the ``.txt`` into sentences with
Marsad's splitter (:func:`marsad.text.split_sentences`; the same one ``make_skeleton.py`` uses),
names them ``<doc>-s00``, ``<doc>-s01``... and places each span in its sentence; a span or
relation across two sentences, a discontinuous span and any other annotation kind (events,
attributes, normalisations) are reported with file and line.

``.ann`` offsets count the characters of the ``.txt`` as written, as brat does: a leading BOM and
the CR of each CRLF line end count. The sentences' ``offset`` fields are into the article as
Marsad writes it (no BOM, LF line ends), so a document exported, then saved by a tool with CRLF
or a BOM, imports back byte for byte. Entity offsets are into the sentence and unaffected.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from pathlib import Path

from marsad.annotation.records import (
    AnnotationImportError,
    Imported,
    ImportProblem,
    doc_id_problem,
    make_record,
    read_utf8,
    record_problems,
    stand_in,
)
from marsad.text import split_sentences


def export_document(records: list[dict]) -> tuple[str, str]:
    """(``.txt``, ``.ann``) of one document's records."""
    chars: list[str] = []
    ann: list[str] = []
    ids: dict[tuple[str, str], str] = {}
    for record in sorted(records, key=lambda r: r["offset"]):
        gap = record["offset"] - len(chars)
        if gap < 0:
            raise ValueError(f"{record['sent_id']}: sentence overlaps the one before it")
        chars += ["\n"] * gap + list(record["text"])
        for e in record["entities"]:
            tid = f"T{len(ids) + 1}"
            ids[(record["sent_id"], e["id"])] = tid
            a, b = record["offset"] + e["start"], record["offset"] + e["end"]
            ann.append(f"{tid}\t{e['label']} {a} {b}\t{e['text']}")
    n = 0
    for record in records:
        for r in record["relations"]:
            n += 1
            head, tail = ids[(record["sent_id"], r["head"])], ids[(record["sent_id"], r["tail"])]
            ann.append(f"R{n}\t{r['label']} Arg1:{head} Arg2:{tail}")
    return "".join(chars) + "\n", "".join(line + "\n" for line in ann)


def line_view(text: str) -> str:
    """``text`` with a leading BOM as a space, each CRLF as space + LF and a lone CR as LF: the
    same length, so brat's offsets (characters of the ``.txt`` as written, BOM and CRs included)
    index it unchanged, and the sentence splitter sees LF line ends only."""
    view = text.replace("\r\n", " \n").replace("\r", "\n")
    return " " + view[1:] if view.startswith("\ufeff") else view


def corpus_offset(text: str) -> Callable[[int], int]:
    """Offset in ``text`` -> offset in the article as Marsad writes it (no BOM, LF line ends): the
    sentence ``offset`` field, so a file saved with CRLF or a BOM imports back byte for byte."""
    dropped = [i for i in range(len(text) - 1) if text[i] == "\r" and text[i + 1] == "\n"]
    if text.startswith("\ufeff"):
        dropped.insert(0, 0)
    return lambda i: i - bisect.bisect_left(dropped, i)


def _written_as(text: str) -> str:
    """A hint for a span whose text does not match, when the ``.txt`` has CRs or a BOM: brat
    counts them, a copy of the file without them gives other offsets."""
    found = [
        name
        for name, there in (("CR line ends (CRLF)", "\r" in text), ("a BOM", text[:1] == "\ufeff"))
        if there
    ]
    if not found:
        return ""
    return (
        f" (the .txt has {' and '.join(found)}, which brat offsets count as characters: were"
        " these offsets made on a copy without them?)"
    )


def import_document(txt_path: Path) -> list[Imported]:
    """Records of one ``.txt`` and the ``.ann`` beside it."""
    ann_path = txt_path.with_suffix(".ann")
    doc_id = txt_path.stem
    reason = doc_id_problem(doc_id)
    if reason:
        return [stand_in(ImportProblem(str(txt_path), "", reason))]
    try:
        text = read_utf8(txt_path)
        ann = read_utf8(ann_path).removeprefix("\ufeff") if ann_path.exists() else None
    except AnnotationImportError as exc:
        return [stand_in(*exc.problems)]
    sentences = split_sentences(line_view(text), drop_furniture=False)
    to_corpus = corpus_offset(text)
    spans: list[list] = [[] for _ in sentences]
    links: list[list] = [[] for _ in sentences]
    where_of: dict[str, int] = {}  # T id -> sentence index
    loose: list[ImportProblem] = []  # problems of lines, before any sentence holds them
    lines = [x.removesuffix("\r") for x in ann.split("\n")] if ann is not None else []
    if ann is None:
        loose.append(ImportProblem(str(ann_path), "", "missing .ann file"))

    def sentence_of(a: int, b: int) -> int | None:
        for k, s in enumerate(sentences):
            if s.start <= a and b <= s.end:
                return k
        return None

    for lineno, line in enumerate(lines, 1):
        where = f"{ann_path}:{lineno}"
        if not line.strip() or line.startswith("#"):  # blank, or an annotator's note
            continue
        fields = line.split("\t")
        ident = fields[0]
        if ident.startswith("T") and len(fields) >= 2:
            label, _, offsets = fields[1].partition(" ")
            if ";" in offsets:
                loose.append(ImportProblem(where, ident, "discontinuous span (not in the schema)"))
                continue
            try:
                a, b = (int(x) for x in offsets.split())
            except ValueError:
                loose.append(ImportProblem(where, ident, f"bad offsets {offsets!r}"))
                continue
            if len(fields) >= 3 and fields[2] != text[a:b]:
                loose.append(
                    ImportProblem(
                        where,
                        ident,
                        f"text {fields[2]!r} is not the .txt's [{a}:{b}] = {text[a:b]!r}"
                        + _written_as(text),
                    )
                )
                continue
            k = sentence_of(a, b)
            if k is None:
                loose.append(
                    ImportProblem(where, ident, f"span [{a}, {b}) is not inside one sentence")
                )
                continue
            where_of[ident] = k
            spans[k].append((ident, a - sentences[k].start, b - sentences[k].start, label))
        elif ident.startswith("R") and len(fields) >= 2:
            parts = fields[1].split()
            args = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
            head, tail = args.get("Arg1"), args.get("Arg2")
            if len(parts) != 3 or head is None or tail is None:
                loose.append(
                    ImportProblem(
                        where, ident, f"expected 'LABEL Arg1:T Arg2:T', got {fields[1]!r}"
                    )
                )
                continue
            if head not in where_of or tail not in where_of:
                loose.append(
                    ImportProblem(
                        where,
                        ident,
                        f"argument {head if head not in where_of else tail} is not a span "
                        "defined above",
                    )
                )
                continue
            if where_of[head] != where_of[tail]:
                loose.append(ImportProblem(where, ident, "relation across two sentences"))
                continue
            links[where_of[head]].append((head, tail, parts[0]))
        else:
            loose.append(ImportProblem(where, ident, f"unsupported annotation kind {ident[:1]!r}"))
    out = []
    for k, s in enumerate(sentences):
        sent_id = f"{doc_id}-s{k:02d}"
        record = make_record(doc_id, sent_id, to_corpus(s.start), s.text, spans[k], links[k])
        out.append((record, record_problems(record, str(ann_path))))
    if loose:  # a line no sentence holds: reported with a stand-in record, so the document is
        # left out whole (or, with --skip-invalid, written without the line's annotation)
        out.append(({"doc_id": doc_id, "sent_id": f"{doc_id} (.ann lines)"}, loose))
    return out
