"""Rebuild the ANERcorp (CAMeL Lab splits) test file with its overwritten sentence-initial lines
repaired from the original corpus.

``python scripts/repair_anercorp.py [--source DIR] --out FILE``

The project reads the repaired file from the shared folder
(``../shared/external/ANERcorp-CamelLabSplits/ANERCorp_CamelLab_test.repaired.txt``, which this
script reproduces byte for byte; ``tests/test_repair_anercorp.py`` checks it); fetched data is not
kept in the repository.

In the released test split the first line (token and tag) of every sentence after the first was
overwritten with the train-file line at the same global token index (the source README,
"BIO validity and other problems found", item 1). ``ANERCorp_Benajiba.txt``, the unsplit original,
still holds the real tokens, so each overwritten line is replaced by the original token and tag,
normalised the way CAMeL normalised the release. Every other line is copied unchanged.

The test tokens are aligned to the original by a banded edit-distance alignment in which the
overwritten lines are wildcards (they can match any original token at no cost). The band is
centred on the offset voted by unique 5-grams, so no fixed offset is assumed. An overwritten
line is repaired only if every optimal alignment pairs it with the same original token; otherwise
the script stops with an error naming the sentence. Deterministic: rerunning gives no diff.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "external" / "ANERcorp-CamelLabSplits"
TRAIN_NAME = "ANERCorp_CamelLab_train.txt"
TEST_NAME = "ANERCorp_CamelLab_test.txt"
ORIGINAL_NAME = "ANERCorp_Benajiba.txt"

TYPES = ("PERS", "ORG", "LOC", "MISC")
# Misspelled entity types in the original, spelled the way the CAMeL train/test files spell them.
TYPE_FIXES = {
    "ERS": "PERS",
    "PER": "PERS",
    "PRG": "ORG",
    "ORF": "ORG",
    "OEG": "ORG",
    "MSIC": "MISC",
}
# Malformed tags with no single reading; the choice is CAMeL's own (its train file has I-PERS).
MALFORMED_CHOICES = {"B-LOCI-PERS": "I-PERS"}
FALLBACK_TAG = "O"  # for any other unmappable tag: well formed, opens no entity
BULLETS = "·•"  # CAMeL turned these into "."
RLM = "\u200f"  # CAMeL removed U+200F
TAG_SHAPE = re.compile(r"(?i)O|[BI]-?[A-Z]+")
GLUED_TAG_AFTER = re.compile(r"(.+?)(O|[BI]-[A-Z]+)")  # ".O": tag glued to the token
GLUED_TAG_BEFORE = re.compile(r"(O|[BI]-[A-Z]+)(.+)")  # "Oالإصابة": next token glued to a tag


class AlignmentError(RuntimeError):
    """The test split cannot be aligned unambiguously to the original corpus."""


@dataclass(frozen=True)
class OrigToken:
    """One normalised token of the original corpus, with the line it came from."""

    line_no: int
    token: str
    tag: str
    note: str | None = None  # set when the tag had to be fixed or chosen


@dataclass
class Repair:
    """Result of :func:`repair`: the repaired sentences and what was done to them."""

    sentences: list[list[str]]
    original_sentences: list[list[str]]
    replaced: list[tuple[int, str, str, OrigToken]] = field(default_factory=list)  # (sent, old..)
    signature: int = 0  # first lines equal to the train line at the same token index
    unsigned: list[int] = field(default_factory=list)  # sentences whose first line lacks it
    offset: int = 0
    cost: int = 0
    other_diffs: Counter = field(default_factory=Counter)
    orig_lines: tuple[int, int] = (0, 0)


def normalise_tag(raw: str) -> tuple[str, str | None]:
    """The CAMeL spelling of an original tag, and a note when it was not already well formed."""
    if raw == "O" or re.fullmatch(r"[BI]-(PERS|ORG|LOC|MISC)", raw):
        return raw, None
    if raw in MALFORMED_CHOICES:
        choice = MALFORMED_CHOICES[raw]
        return choice, f"malformed tag {raw!r}: chose {choice} (as CAMeL's train file)"
    upper = raw.upper()
    if upper == "O":
        return "O", f"tag {raw!r} -> O"
    m = re.fullmatch(r"([BI])-?([A-Z]+)", upper)
    if m and (m.group(2) in TYPES or m.group(2) in TYPE_FIXES):
        fixed = f"{m.group(1)}-{TYPE_FIXES.get(m.group(2), m.group(2))}"
        return fixed, f"tag {raw!r} -> {fixed}"
    return FALLBACK_TAG, f"unmappable tag {raw!r}: chose {FALLBACK_TAG}"


def _is_tag(text: str) -> bool:
    return TAG_SHAPE.fullmatch(text) is not None


def _split_bullets(line_no: int, token: str, tag: str, note: str | None) -> list[OrigToken]:
    """CAMeL wrote a "·"/"•" as "."; one glued to the end of a word became its own "." token."""
    if token and all(c in BULLETS for c in token):
        return [OrigToken(line_no, ".", tag, note)]
    stem = token.rstrip(BULLETS)
    if stem != token:
        return [OrigToken(line_no, stem, tag, note), OrigToken(line_no, ".", "O", note)]
    for c in BULLETS:
        token = token.replace(c, ".")
    return [OrigToken(line_no, token, tag, note)]


def parse_original_line(line_no: int, raw: str) -> list[OrigToken]:
    """Normalised tokens of one original line (0, 1 or 2 of them), repairing malformed lines."""
    cleaned = raw.replace(RLM, "")
    fields = cleaned.split()
    if not fields:
        return []
    if len(fields) == 1 and _is_tag(fields[0]) and cleaned.startswith(" "):
        if not raw.startswith(" "):
            return []  # a token made only of U+200F: CAMeL dropped it
        fields = ["-", fields[0]]  # no token at all: CAMeL's train file has "-" for these
    pairs: list[tuple[str, str]]
    if len(fields) == 1:
        m = GLUED_TAG_AFTER.fullmatch(fields[0])
        pairs = [(m.group(1), m.group(2))] if m else [(fields[0], "O")]
    elif len(fields) == 2:
        token, tag = fields
        if _is_tag(token) and not _is_tag(tag):
            token, tag = tag, token  # "B-PERS فيرسلاين": fields swapped
        pairs = [(token, tag)]
    else:
        m = GLUED_TAG_BEFORE.fullmatch(fields[1])
        if len(fields) == 3 and m:
            pairs = [(fields[0], m.group(1)), (m.group(2), fields[2])]
        else:
            pairs = [("".join(fields[:-1]), fields[-1])]
    malformed = cleaned.split(" ") != fields or pairs != [tuple(fields)]
    out: list[OrigToken] = []
    for token, raw_tag in pairs:
        tag, note = normalise_tag(raw_tag)
        if malformed:
            note = "; ".join(filter(None, [f"malformed line {raw!r}", note]))
        out.extend(_split_bullets(line_no, token, tag, note))
    return out


def read_original(path: Path) -> list[OrigToken]:
    """All normalised tokens of the unsplit original corpus."""
    tokens: list[OrigToken] = []
    for line_no, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        tokens.extend(parse_original_line(line_no, raw))
    return tokens


def read_sentences(path: Path) -> list[list[str]]:
    """Sentences of a release file as lists of ``TOKEN TAG`` lines."""
    text = path.read_text(encoding="utf-8").rstrip("\n")
    return [block.split("\n") for block in text.split("\n\n")]


def split_line(line: str) -> tuple[str, str]:
    token, tag = line.split(" ")
    return token, tag


def estimate_offset(
    test: Sequence[str], wild: Sequence[bool], orig: Sequence[str], n: int = 5
) -> tuple[int, Counter]:
    """Most common (original index - test index) over test n-grams unique in the original."""
    index: dict[tuple[str, ...], int] = {}
    for j in range(len(orig) - n + 1):
        key = tuple(orig[j : j + n])
        index[key] = -1 if key in index else j
    votes: Counter = Counter()
    for i in range(len(test) - n + 1):
        if any(wild[i : i + n]):
            continue
        j = index.get(tuple(test[i : i + n]), -1)
        if j >= 0:
            votes[j - i] += 1
    if not votes:
        raise AlignmentError("no n-gram of the test file occurs in the original corpus")
    return votes.most_common(1)[0][0], votes


def align(
    test: Sequence[str], wild: Sequence[bool], orig: Sequence[str], band: int = 64
) -> tuple[list[list[int]], int, int]:
    """For each test token, the original indices it is paired with in some optimal alignment.

    Edit distance with free leading/trailing original tokens, substitution 1, gap 1, and
    wildcard test tokens matching anything at cost 0, restricted to ``band`` diagonals either side
    of the voted offset. A token deleted in some optimal alignment gets ``-1`` among its
    candidates. Returns (candidates, offset, optimal cost).
    """
    d0, votes = estimate_offset(test, wild, orig)
    outside = sum(c for d, c in votes.items() if abs(d - d0) > band)
    if outside > 0.05 * sum(votes.values()):
        raise AlignmentError(f"{outside} n-gram votes lie outside the band; raise --band")
    vocab: dict[str, int] = {}
    o_ids = np.array([vocab.setdefault(t, len(vocab)) for t in orig], dtype=np.int64)
    t_ids = np.array([vocab.setdefault(t, len(vocab)) for t in test], dtype=np.int64)
    n, m = len(test), len(orig)
    inf = np.int64(1 << 40)
    ks = np.arange(-band, band + 1, dtype=np.int64)
    ramp = np.arange(len(ks), dtype=np.int64)  # gap cost 1 per step along a row
    pad = np.array([inf])

    def columns(i: int) -> tuple[np.ndarray, np.ndarray]:
        js = i + d0 + ks  # original prefix length of each band cell of row i
        return js, (js >= 0) & (js <= m)

    def sub(t: int, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = (o >= 0) & (o < m)
        cost = 0 if wild[t] else (o_ids[np.clip(o, 0, m - 1)] != t_ids[t]).astype(np.int64)
        return np.where(ok, cost, inf), ok

    fwd = np.empty((n + 1, len(ks)), dtype=np.int64)
    js, valid = columns(0)
    fwd[0] = np.where(valid, 0, inf)
    for i in range(1, n + 1):
        js, valid = columns(i)
        cost, _ = sub(i - 1, js - 1)
        prev = fwd[i - 1]
        a = np.minimum(prev + cost, np.concatenate([prev[1:], pad]) + 1)
        a = np.where(valid, np.minimum(a, inf), inf)
        fwd[i] = np.where(valid, np.minimum.accumulate(a - ramp) + ramp, inf)
    best = int(fwd[n].min())
    if best >= inf:
        raise AlignmentError("the test file does not fit in the alignment band; raise --band")
    candidates: list[list[int]] = [[] for _ in range(n)]
    js, valid = columns(n)
    nxt = np.where(valid, 0, inf)
    for i in range(n - 1, -1, -1):
        js, valid = columns(i)
        cost, ok = sub(i, js)
        diag = np.where(ok, nxt + cost, inf)
        dele = np.concatenate([pad, nxt[:-1]]) + 1
        through = fwd[i] + diag
        candidates[i] = [int(j) for j in js[through == best]]
        if (fwd[i] + dele == best).any():
            candidates[i].append(-1)
        a = np.where(valid, np.minimum(np.minimum(diag, dele), inf), inf)
        r = a + ramp
        nxt = np.where(valid, np.minimum.accumulate(r[::-1])[::-1] - ramp, inf)
    if int(nxt.min()) != best:  # forward and backward passes must agree
        raise AlignmentError("internal error: forward and backward alignment costs differ")
    return candidates, d0, best


def repair(source: Path) -> Repair:
    """Repair the test split in ``source``; raise :class:`AlignmentError` if it is ambiguous."""
    sentences = read_sentences(source / TEST_NAME)
    train = [line for s in read_sentences(source / TRAIN_NAME) for line in s]
    original = read_original(source / ORIGINAL_NAME)
    flat = [line for s in sentences for line in s]
    starts = [int(x) for x in np.cumsum([0] + [len(s) for s in sentences[:-1]])]
    result = Repair([list(s) for s in sentences], [list(s) for s in sentences])
    wild = [False] * len(flat)
    for k, start in enumerate(starts[1:], start=1):
        if start < len(train) and flat[start] == train[start]:
            wild[start] = True
            result.signature += 1
        else:
            result.unsigned.append(k)
    test_tokens = [split_line(line)[0] for line in flat]
    orig_tokens = [t.token for t in original]
    candidates, result.offset, result.cost = align(test_tokens, wild, orig_tokens)
    problems = []
    for k, start in enumerate(starts):
        if not wild[start]:
            continue
        cands = candidates[start]
        if len(cands) != 1 or cands[0] < 0:
            shown = ", ".join("deleted" if j < 0 else f"line {original[j].line_no}" for j in cands)
            problems.append(f"sentence {k + 1} (test line {start + 2 * k + 1}): {shown}")
            continue
        orig = original[cands[0]]
        old = flat[start]
        result.sentences[k][0] = f"{orig.token} {orig.tag}"
        result.replaced.append((k, old, result.sentences[k][0], orig))
    if problems:
        raise AlignmentError(
            "ambiguous alignment of the first line of "
            + f"{len(problems)} sentence(s): "
            + "; ".join(problems[:10])
        )
    aligned = [c[0] for c in candidates if len(c) == 1 and c[0] >= 0]
    result.orig_lines = (original[min(aligned)].line_no, original[max(aligned)].line_no)
    for i, line in enumerate(flat):
        if wild[i]:
            continue
        cands = candidates[i]
        if len(cands) != 1 or cands[0] < 0:
            result.other_diffs["unaligned"] += 1
            continue
        token, tag = split_line(line)
        orig = original[cands[0]]
        if token != orig.token:
            result.other_diffs["token"] += 1
            if i < len(train) and line == train[i]:
                result.other_diffs["token, equal to the train line at the same index"] += 1
        elif tag != orig.tag:
            result.other_diffs["tag only"] += 1
    return result


def strict_counts(sentences: Sequence[Sequence[str]]) -> Counter:
    """Entities per type under seqeval strict IOB2 (an orphan ``I-`` is not an entity)."""
    from marsad.evaluation.metrics import strict_spans

    counts: Counter = Counter()
    for s in sentences:
        counts.update(span[2] for span in strict_spans([split_line(line)[1] for line in s]))
    return counts


def render(sentences: Sequence[Sequence[str]]) -> str:
    """The release format: one ``TOKEN TAG`` per line, one empty line between sentences, no
    trailing newline."""
    return "\n\n".join("\n".join(s) for s in sentences)


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summary(result: Repair) -> list[str]:
    """Human-readable counts of what the repair did."""
    changed = [r for r in result.replaced if r[1] != r[2]]
    moves: Counter = Counter()
    for _, old, new, _ in changed:
        old_tag, new_tag = split_line(old)[1], split_line(new)[1]
        if old_tag == new_tag:
            continue
        if old_tag == "O":
            moves["O -> entity"] += 1
        elif new_tag == "O":
            moves["entity -> O"] += 1
        else:
            moves["entity -> other entity tag"] += 1
    n_tokens = sum(len(s) for s in result.sentences)
    notes = [(k, r[3]) for k, r in enumerate(result.replaced) if r[3].note]
    before, after = strict_counts(result.original_sentences), strict_counts(result.sentences)
    lines = [
        f"sentences: {len(result.sentences):,}",
        f"tokens: {n_tokens:,}",
        f"aligned to {ORIGINAL_NAME} lines {result.orig_lines[0]:,}-{result.orig_lines[1]:,} "
        f"(voted offset {result.offset:,}; alignment cost {result.cost})",
        f"sentence-initial lines after the first: {len(result.sentences) - 1:,}; "
        f"overwritten (equal to the train line at the same token index): {result.signature:,}",
        f"first lines replaced from the original: {len(changed):,}",
        f"first lines that already matched the original: {len(result.replaced) - len(changed):,}",
        f"replaced lines whose tag changed: {sum(moves.values()):,} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(moves.items()))
        + ")",
        f"replaced lines whose token changed: "
        f"{sum(split_line(o)[0] != split_line(n)[0] for _, o, n, _ in changed):,}",
    ]
    if result.unsigned:
        lines.append(f"first lines kept (no overwrite signature): sentences {result.unsigned[:20]}")
    for _, orig in notes:
        lines.append(f"replaced line from original line {orig.line_no:,}: {orig.note}")
    if not notes:
        lines.append("replaced lines with a misspelled or malformed original tag: none")
    diffs = ", ".join(f"{k} {v}" for k, v in sorted(result.other_diffs.items())) or "none"
    lines.append(f"other lines differing from the original (kept as released): {diffs}")
    lines.append("strict entities (seqeval IOB2)  before  after")
    for t in (*TYPES, None):
        b = sum(before.values()) if t is None else before[t]
        a = sum(after.values()) if t is None else after[t]
        lines.append(f"  {t or 'total':<29}{b:>6,} {a:>6,}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="release folder")
    parser.add_argument("--out", type=Path, required=True, help="repaired test file to write")
    args = parser.parse_args(argv)
    try:
        result = repair(args.source)
    except AlignmentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_atomic(args.out, render(result.sentences))
    print(f"wrote {args.out}")
    print("\n".join(summary(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
