"""Corpus statistics for the dataset card: counts per label and per split, near-duplicate
figures."""

from __future__ import annotations

from collections import Counter

from marsad.data.corpus import Sentence
from marsad.schema import ENTITY_TYPES, RELATION_TYPES


def counts(sentences: list[Sentence]) -> dict[str, int]:
    out: Counter[str] = Counter()
    out["sentences"] = len(sentences)
    out["words"] = sum(len(s.words) for s in sentences)
    for s in sentences:
        out.update(e.label for e in s.entities)
        out.update(r.label for r in s.relations)
    out["entities"] = sum(out[t] for t in ENTITY_TYPES)
    out["relations"] = sum(out[r] for r in RELATION_TYPES)
    return dict(out)


COLUMNS = ["sentences", "words", *ENTITY_TYPES, "entities", *RELATION_TYPES, "relations"]


def counts_table(groups: dict[str, list[Sentence]]) -> str:
    """Markdown table, one row per group; columns are transposed for readability."""
    stats = {name: counts(sents) for name, sents in groups.items()}
    lines = ["| | " + " | ".join(groups) + " |", "|---|" + "---:|" * len(groups)]
    for col in COLUMNS:
        lines.append(f"| {col} | " + " | ".join(str(stats[g].get(col, 0)) for g in groups) + " |")
    return "\n".join(lines)


def near_duplicate_summary(splits: dict) -> dict[str, object]:
    sizes = sorted((len(c) for c in splits["clusters"]), reverse=True)
    default = splits["runs"][splits["method"]["default"]]
    return {
        "clusters": len(sizes),
        "sentences_in_clusters": sum(sizes),
        "largest_cluster": sizes[0] if sizes else 0,
        "cluster_sizes": sizes,
        "fold_sizes": [len(f) for f in splits["folds"]],
        "default_test_novel": len(default["novel_test"]),
        "default_test": len(default["test"]),
    }
