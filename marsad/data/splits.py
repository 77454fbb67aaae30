"""Leak-free held-out splits: near-duplicate clusters never straddle folds.

Sentences are linked when their similarity (:mod:`marsad.data.similarity`) reaches
``CLUSTER_THRESHOLD``; clusters are the connected components (single link, so a chain of
paraphrases stays together). Clusters are dealt to 5 folds, largest first, each to the fold with
the fewest sentences so far (ties broken by a seeded shuffle), which is deterministic.
Fold k is the test set of run k, fold k+1 (mod 5) its dev set, the rest its training set; the
default split is run 0.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from marsad.data.corpus import Sentence
from marsad.data.similarity import similarity_matrix
from marsad.fileio import atomic_write_text

# Chosen from the histogram (data/similarity_hist.png): the bulk of unrelated pairs ends below 0.15;
# the pairs at or above it, read one by one, are the same wire copy or paraphrases of it.
CLUSTER_THRESHOLD = 0.15
# A test sentence whose best match in training is below this counts as "novel".
NOVELTY_THRESHOLD = 0.10
N_FOLDS = 5
SEED = 13


def clusters(sim: list[list[float]], threshold: float = CLUSTER_THRESHOLD) -> list[list[int]]:
    """Connected components of the graph linking pairs with similarity >= threshold."""
    parent = list(range(len(sim)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(len(sim)):
        for j in range(i + 1, len(sim)):
            if sim[i][j] >= threshold:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(sim)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def assign_folds(
    groups: list[list[int]], n_folds: int = N_FOLDS, seed: int = SEED
) -> list[list[int]]:
    order = list(groups)
    random.Random(seed).shuffle(order)
    order.sort(key=len, reverse=True)  # stable: shuffled order breaks ties
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for group in order:
        target = min(range(n_folds), key=lambda k: (len(folds[k]), k))
        folds[target].extend(group)
    return [sorted(f) for f in folds]


def run_roles(fold: int, n_folds: int = N_FOLDS) -> dict[str, list[int]]:
    """Which folds are train/dev/test in cross-validation run ``fold``."""
    dev = (fold + 1) % n_folds
    return {
        "train": [k for k in range(n_folds) if k not in (fold, dev)],
        "dev": [dev],
        "test": [fold],
    }


def check_unique_ids(sentences: list[Sentence]) -> None:
    """Refuse sentences that share a sent_id: a split names sentences by id, so the two would land
    in different folds under one name and loading would keep one of them, in both."""
    first_doc: dict[str, str] = {}
    clashes = []
    for s in sentences:
        if s.sent_id in first_doc:
            clashes.append(f"{s.sent_id!r} (documents {first_doc[s.sent_id]} and {s.doc_id})")
        first_doc.setdefault(s.sent_id, s.doc_id)
    if clashes:
        raise ValueError(
            f"{len(clashes)} duplicate sent_id(s): {'; '.join(clashes[:5])}; "
            "scripts/validate_data.py names their files and lines"
        )


def build_splits(sentences: list[Sentence]) -> dict:
    """Everything ``data/splits.json`` holds, computed from the corpus alone."""
    check_unique_ids(sentences)
    sim = similarity_matrix([s.text for s in sentences])
    groups = clusters(sim)
    folds = assign_folds(groups)
    ids = [s.sent_id for s in sentences]
    runs = {}
    for k in range(N_FOLDS):
        roles = run_roles(k)
        members = {role: sorted(i for f in fs for i in folds[f]) for role, fs in roles.items()}
        seen = members["train"] + members["dev"]
        max_sim = {ids[i]: round(max(sim[i][j] for j in seen), 4) for i in members["test"]}
        runs[f"fold{k}"] = {
            **{role: [ids[i] for i in m] for role, m in members.items()},
            "test_max_similarity": max_sim,
            "novel_test": [sid for sid, v in max_sim.items() if v < NOVELTY_THRESHOLD],
        }
    return {
        "method": {
            "similarity": "Jaccard of character 5-gram sets of normalised text "
            "(marsad.data.similarity)",
            "cluster_threshold": CLUSTER_THRESHOLD,
            "novelty_threshold": NOVELTY_THRESHOLD,
            "test_max_similarity": "highest similarity of a test sentence to any train "
            "or dev sentence of its run",
            "n_folds": N_FOLDS,
            "seed": SEED,
            "default": "fold0",
        },
        "clusters": [[ids[i] for i in g] for g in groups if len(g) > 1],
        "folds": [[ids[i] for i in f] for f in folds],
        "runs": runs,
    }


def write_splits(splits: dict, path: Path) -> None:
    atomic_write_text(path, json.dumps(splits, ensure_ascii=False, indent=1) + "\n")


def read_splits(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


DEV_CONFLICTS = 4  # conflicts held out as dev in a by-conflict corpus's default run


def conflict_splits(
    sentences: list[Sentence],
    conflict_of: dict[str, str],
    n_dev: int = DEV_CONFLICTS,
    seed: int = SEED,
    dev_conflicts: list[str] | None = None,
) -> dict:
    """Splits of a corpus of many conflicts (``data/team``), in the seed corpus's ``splits.json``
    format, grouped by conflict so no conflict straddles train and held-out text.

    ``conflict_of`` maps doc_id to conflict. The default run holds ``n_dev`` conflicts (a seeded
    draw, or ``dev_conflicts`` when given: a corpus that grows keeps its dev) out as dev and trains
    on the rest; it has no test, since the corpus is training data.
    Run ``fold{k}`` is leave-one-conflict-out, a diagnostic: test = the k-th conflict in sorted
    order, dev = the next one, train = the others.
    """
    check_unique_ids(sentences)
    missing = sorted({s.doc_id for s in sentences} - set(conflict_of))
    if missing:
        raise ValueError(f"no conflict given for documents {missing[:5]}")
    conflicts = sorted({conflict_of[s.doc_id] for s in sentences})
    if len(conflicts) <= n_dev:
        raise ValueError(f"{len(conflicts)} conflicts cannot hold {n_dev} out as dev")
    by_conflict = {
        c: [s.sent_id for s in sentences if conflict_of[s.doc_id] == c] for c in conflicts
    }

    def run(train: list[str], dev: list[str], test: list[str]) -> dict:
        return {
            "train": train,
            "dev": dev,
            "test": test,
            "test_max_similarity": {},
            "novel_test": [],
        }

    if dev_conflicts is None:
        dev_conflicts = random.Random(seed).sample(conflicts, n_dev)
    unknown = sorted(set(dev_conflicts) - set(conflicts))
    if unknown:
        raise ValueError(f"dev conflicts {unknown} have no document in the corpus")
    dev_conflicts = sorted(dev_conflicts)
    runs = {
        "conflicts": run(
            [i for c in conflicts if c not in dev_conflicts for i in by_conflict[c]],
            [i for c in dev_conflicts for i in by_conflict[c]],
            [],
        )
    }
    for k, test_conflict in enumerate(conflicts):
        dev_conflict = conflicts[(k + 1) % len(conflicts)]
        train = [
            i for c in conflicts if c not in (test_conflict, dev_conflict) for i in by_conflict[c]
        ]
        runs[f"fold{k}"] = run(train, by_conflict[dev_conflict], by_conflict[test_conflict])
    return {
        "method": {
            "grouping": "by conflict (documents.jsonl)",
            "seed": seed,
            "default": "conflicts",
            "dev_conflicts": dev_conflicts,
            "fold_conflicts": conflicts,
        },
        "folds": [by_conflict[c] for c in conflicts],
        "runs": runs,
    }
