"""brat standoff: per document a ``.txt`` and an ``.ann`` with ``T`` (span) and ``R`` (relation)
lines, offsets into the ``.txt``.

Export writes each sentence at its document offset, the characters between sentences as
newlines, so offsets are the corpus's own. Import splits the ``.txt`` into sentences with
Marsad's splitter (:func:`marsad.text.split_sentences`; the same one ``make_skeleton.py`` uses),
names them ``<doc>-s00``, ``<doc>-s01``... and places each span in its sentence; a span or
relation across two sentences, a discontinuous span and any other annotation kind (events,
attributes, normalisations) are reported with file and line.
"""

from __future__ import annotations

from pathlib import Path

from marsad.annotation.records import ImportProblem, make_record, record_problems
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


def import_document(txt_path: Path) -> list[tuple[dict, list[ImportProblem]]]:
    """Records of one ``.txt`` and the ``.ann`` beside it."""
    text = txt_path.read_text(encoding="utf-8")
    ann_path = txt_path.with_suffix(".ann")
    doc_id = txt_path.stem
    sentences = split_sentences(text, drop_furniture=False)
    spans: list[list] = [[] for _ in sentences]
    links: list[list] = [[] for _ in sentences]
    where_of: dict[str, int] = {}  # T id -> sentence index
    loose: list[ImportProblem] = []  # problems of lines, before any sentence holds them
    lines = ann_path.read_text(encoding="utf-8").splitlines() if ann_path.exists() else []
    if not ann_path.exists():
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
                        f"text {fields[2]!r} is not the .txt's [{a}:{b}] = {text[a:b]!r}",
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
        record = make_record(doc_id, f"{doc_id}-s{k:02d}", s.start, s.text, spans[k], links[k])
        out.append((record, record_problems(record, str(ann_path))))
    if loose:  # a line no sentence holds: reported with a stand-in record, so the document is
        # left out whole (or, with --skip-invalid, written without the line's annotation)
        out.append(({"doc_id": doc_id, "sent_id": f"{doc_id} (.ann lines)"}, loose))
    return out
