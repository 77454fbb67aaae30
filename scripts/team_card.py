"""Regenerate the card of the multi-conflict corpus (data/team/README.md) and its leakage histogram.

    python scripts/team_card.py [--team data/team] [--seeds data] [--check]

Everything in the card is computed from the files: counts per conflict, register and label, number
forms, empty sentences, the agreement of the independent second annotation, and a leakage check:
each team sentence's most similar seed sentence (character 5-gram Jaccard, the measure
``make_splits.py`` clusters near-twins with). ``--check`` writes nothing and exits 1 when the card
is stale (the tests run the same comparison).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

from marsad.data.corpus import Sentence, read_corpus
from marsad.data.similarity import jaccard, shingles
from marsad.data.splits import CLUSTER_THRESHOLD
from marsad.evaluation.agreement import Annotation, agreement, read_annotation
from marsad.schema import ENTITY_TYPES, RELATION_TYPES

HISTOGRAM = "seed_similarity_hist.png"
NUMBER_FORMS = {
    "Western digits": re.compile(r"[0-9]"),
    "Eastern Arabic digits": re.compile(r"[٠-٩]"),
    "Persian digits": re.compile(r"[۰-۹]"),
    "range (بين … و / من … إلى)": re.compile(r"(بين|من)\s+\S+\s+(و|إلى\s)"),
    "approximator (نحو, حوالى, أكثر من, قرابة, زهاء, ما لا يقل عن)": re.compile(
        r"^(نحو|حوال[ىي]|أكثر من|قرابة|زهاء|ما لا يقل عن|ما يقارب|ما يزيد على)"
    ),
}


EXTENSION_PREFIXES = ("tE_", "tF_", "tG_", "tH_", "tI_")  # the relation-dense extension's shares


def only_extension(annotation: Annotation) -> Annotation:
    """The part of ``annotation`` on the extension's documents."""
    keep = lambda doc: doc.startswith(EXTENSION_PREFIXES)  # noqa: E731
    return Annotation(
        frozenset(e for e in annotation.entities if keep(e[0])),
        frozenset(r for r in annotation.relations if keep(r[0][0])),
        {doc: s for doc, s in annotation.sentences.items() if keep(doc)},
    )


def documents(team: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (team / "documents.jsonl").read_text().splitlines()]
    return {row["doc_id"]: row for row in rows}


def max_seed_similarity(team: list[Sentence], seeds: list[Sentence]) -> list[float]:
    seed_shingles = [shingles(s.text) for s in seeds]
    return [max(jaccard(shingles(s.text), other) for other in seed_shingles) for s in team]


def plot_histogram(values: list[float], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(values, bins=[k / 40 for k in range(41)], color="#4477aa")
    ax.axvline(CLUSTER_THRESHOLD, color="#cc3311", linestyle="--", label="near-twin threshold")
    ax.set_xlabel("similarity to the most similar seed sentence (5-gram Jaccard)")
    ax.set_ylabel("team sentences")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(team: Path, seeds: Path) -> tuple[str, list[float]]:
    """The card's Markdown and the per-sentence seed similarities (for the histogram)."""
    docs = documents(team)
    sentences = read_corpus(team)
    by_doc: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_doc.setdefault(s.doc_id, []).append(s)
    missing = sorted(set(by_doc) ^ set(docs))
    if missing:
        raise SystemExit(f"{team / 'documents.jsonl'} and annotations/ disagree on {missing}")
    conflicts = Counter(docs[s.doc_id]["conflict"] for s in sentences)
    registers = Counter(docs[s.doc_id]["register"] for s in sentences)
    regions = sorted({d["region"] for d in docs.values()})
    labels = Counter(e.label for s in sentences for e in s.entities)
    relations = Counter(r.label for s in sentences for r in s.relations)
    empty = sum(1 for s in sentences if not s.entities)
    quantities = [
        s.text[e.start : e.end] for s in sentences for e in s.entities if e.label == "QUANTITY"
    ]
    forms = {name: sum(1 for q in quantities if rx.search(q)) for name, rx in NUMBER_FORMS.items()}
    seed_sentences = read_corpus(seeds)
    similarity = max_seed_similarity(sentences, seed_sentences)
    twins = sum(1 for v in similarity if v >= CLUSTER_THRESHOLD)
    second = read_annotation(team / "agreement" / "annotations")
    first = read_annotation(team / "annotations")
    scores = agreement(first, second)
    extension = agreement(only_extension(first), only_extension(second))
    shared = set(scores["documents"])
    shared_sentences = sum(len(v) for k, v in by_doc.items() if k in shared)

    conflict_rows = sorted(
        ([c, sum(1 for d in docs.values() if d["conflict"] == c), n] for c, n in conflicts.items()),
        key=lambda r: r[0],
    )
    both = (scores, extension)
    agreement_rows = [
        [f"entity {t}", *(f"{s['entities'][t]['f1']:.3f}" for s in both)] for t in ENTITY_TYPES
    ] + [["entity micro", *(f"{s['entities']['micro']['f1']:.3f}" for s in both)]]
    agreement_rows += [
        [f"relation {t}", *(f"{s['relations'][t]['f1']:.3f}" for s in both)]
        for t in RELATION_TYPES
        if t in scores["relations"]
    ] + [["relation micro", *(f"{s['relations']['micro']['f1']:.3f}" for s in both)]]
    extension_docs = len(extension["documents"])
    ordered = sorted(similarity)
    median = ordered[len(ordered) // 2]
    card = f"""# Marsad multi-conflict corpus (written for this project)

<!-- generated by `python scripts/team_card.py`; edit the script, not this file -->

{len(sentences)} sentences in {len(docs)} short news articles about {len(conflicts)} armed
conflicts ({", ".join(regions)}), **written for Marsad by the team**: original Modern Standard
Arabic news prose, not copied, translated or paraphrased from any source or from the seed articles.
Annotated under `../shared/schema.md` and [`../GUIDELINES.md`](../GUIDELINES.md) (decisions 29-37
were settled for it before annotation, 38-46 before its extension), in the same format as the
seed corpus ([`../README.md`](../README.md)) and checked by the same validator
(`python scripts/validate_data.py --data data/team`) and audit
(`python scripts/audit_data.py --data data/team`).

## How it was written

Four writers (language-model agents), each given a brief, the schema and the guidelines, wrote and
annotated the articles of four to six conflicts each, in the registers of wire copy, local press,
official statements and monitoring groups. **The events are invented composites**, plausible for
each conflict but not reports of fact: real states, armed groups, organisations and places are
named, every named person is invented, and so are the local papers and monitors quoted; datelines
that name a real agency do not mean the agency wrote or carried the text. Do not read the corpus
as a record of what happened. The writers' notes on cases the guidelines did not settle are in
[`NOTES.md`](NOTES.md).

The first 47 documents (shares A-D, prefixes `tA`-`tD`) cover 19 conflicts. A relation-dense
extension (shares E-I, prefixes `tE`-`tI`) adds two documents for each of further conflicts, written
by five more writers after decisions 38-46 were settled, aimed at what Marsad found hardest in real
news about other conflicts: clashes between named sides, coordinated actors and targets, passives
with an agent, attacks through a nationality adjective, claimed, denied and reported attacks,
several events in one sentence, datelines and casualty lists. The dev conflicts were kept
(`make_team_splits.py` keeps those of the existing `splits.json`), so every new conflict is
training data and dev scores before and after the extension are comparable.

## What it is for, and what it is not

It is **training data**: it widens what the model sees beyond one battle (names, places, number
forms, registers). A score on it is a diagnostic (leave-one-conflict-out, say), never a headline:
its text was written by the same kind of writer that annotated it, it is cleaner and more regular
than real news, and it cannot stand for real reporting on any conflict.

## Counts

{_table(["conflict", "documents", "sentences"], conflict_rows)}

Registers (sentences): {", ".join(f"{k} {v}" for k, v in sorted(registers.items()))}.
Sentences with nothing to tag: {empty} ({empty / len(sentences):.0%}).

{_table(["label", "count"], [[t, labels[t]] for t in ENTITY_TYPES])}

{_table(["relation", "count"], [[t, relations[t]] for t in RELATION_TYPES])}

QUANTITY spans ({len(quantities)}) by form (a span can show several):
{", ".join(f"{k} {v}" for k, v in forms.items())}; the rest are number words ("ثلاثة", "عشرات").

## Agreement

An independent second annotation of {len(shared)} documents ({shared_sentences} sentences,
{shared_sentences / len(sentences):.0%} of the corpus) from the raw text, the schema and the
guidelines only (`agreement/`, its annotator's notes in `agreement/NOTES.md`), scored against the
corpus with `python scripts/agreement.py data/team/annotations data/team/agreement/annotations`
(strict F1; `--list` prints every disagreement), on all of them and on the {extension_docs} of the
relation-dense extension (shares E-I, by two more independent annotators):

{_table(["score", "F1, all", "F1, extension"], agreement_rows)}

Both annotators were language-model agents working from the same guidelines, so this says how
reproducibly the guidelines are applied, not how trained human annotators would agree. The largest
group of disagreements was whether the word "مخيم" (camp) is inside a camp's name; decision 37 of
the guidelines settles it (inside), as the corpus has it.

## Leakage check

For each sentence, its similarity to the most similar of the {len(seed_sentences)} seed
sentences (character 5-gram Jaccard after light normalisation, as `make_splits.py` measures
near-twins; the threshold for a near-twin is {CLUSTER_THRESHOLD}): median {median:.3f}, maximum
{ordered[-1]:.3f}; {twins} sentence(s) at or above the threshold.

![similarity to the nearest seed sentence]({HISTOGRAM})

## License

Written for this project; released with the code under Apache-2.0 (annotations and text).
"""
    return card, similarity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team", type=Path, default=Path("data/team"))
    parser.add_argument("--seeds", type=Path, default=Path("data"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    card, similarity = render(args.team, args.seeds)
    path = args.team / "README.md"
    if args.check:
        current = path.exists() and path.read_text(encoding="utf-8") == card
        print("up to date" if current else f"{path} is stale: run python scripts/team_card.py")
        return 0 if current else 1
    path.write_text(card, encoding="utf-8")
    plot_histogram(similarity, args.team / HISTOGRAM)
    print(f"wrote {path} and {args.team / HISTOGRAM}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
