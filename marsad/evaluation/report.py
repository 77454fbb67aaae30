"""Evaluation report pieces: per-sentence counts, bootstrap intervals, error listing, confusion
matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marsad.evaluation.event_scores import sentence_event_counts
from marsad.evaluation.metrics import bootstrap_ci, entity_counts, sentence_relation_counts
from marsad.evaluation.scoring import (
    EvalPredictions,
    gold_extraction,
    score_predictions,
    sentence_events_of,
    to_extraction,
)
from marsad.schema import ENTITY_TYPES

Counts = tuple[int, int, int]


def sentence_counts(preds: EvalPredictions) -> dict[str, list[Counts]]:
    """(tp, fp, fn) per sentence for entities, both relation settings and events (strict
    matching)."""
    gold = [gold_extraction(ex) for ex in preds.examples]
    e2e = [to_extraction(ex, o) for ex, o in zip(preds.examples, preds.end_to_end)]
    with_gold = [to_extraction(ex, o) for ex, o in zip(preds.examples, preds.gold_entities)]
    return {
        "entities": [entity_counts(g, p) for g, p in zip(gold, e2e)],
        "relations_end_to_end": sentence_relation_counts(gold, e2e),
        "relations_gold_entities": sentence_relation_counts(gold, with_gold),
        "events": sentence_event_counts(*sentence_events_of(preds)),
    }


def subset(preds: EvalPredictions, keep: list[bool]) -> EvalPredictions:
    pick = [i for i, k in enumerate(keep) if k]
    return EvalPredictions(
        [preds.examples[i] for i in pick],
        [preds.end_to_end[i] for i in pick],
        [preds.gold_entities[i] for i in pick],
    )


def full_scores(preds: EvalPredictions, n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Scores plus 95% bootstrap intervals (over sentences) for every micro F1."""
    scores = score_predictions(preds)
    counts = sentence_counts(preds)
    for key, per_sentence in counts.items():
        lo, hi = (
            bootstrap_ci(per_sentence, n_resamples=n_resamples, seed=seed)
            if per_sentence
            else (0.0, 0.0)
        )
        scores[key]["micro"]["ci95"] = [lo, hi]
    return scores


def _bidi(text: str) -> str:
    return f'<bdi dir="rtl">{text}</bdi>'


def error_listing(preds: EvalPredictions, limit: int = 200) -> list[str]:
    """Markdown lines: per sentence with an error, the sentence (right-to-left) and its FP/FN."""
    lines: list[str] = []
    for ex, e2e in zip(preds.examples, preds.end_to_end):
        gold, pred = gold_extraction(ex), to_extraction(ex, e2e)
        fn = sorted(set(gold.entities) - set(pred.entities))
        fp = sorted(set(pred.entities) - set(gold.entities))
        rfn = sorted(gold.relation_tuples() - pred.relation_tuples())
        rfp = sorted(pred.relation_tuples() - gold.relation_tuples())
        if not (fn or fp or rfn or rfp):
            continue
        lines += [f"### `{ex.sent_id}`", "", f'<p dir="rtl" lang="ar">{ex.text}</p>', ""]
        for name, items in (("missed entity (FN)", fn), ("spurious entity (FP)", fp)):
            lines += [f"- {name}: {_bidi(ex.text[s:e])} `{label}`" for s, e, label in items]
        for name, items in (("missed relation (FN)", rfn), ("spurious relation (FP)", rfp)):
            lines += [
                f"- {name}: {_bidi(ex.text[h[0] : h[1]])} → {_bidi(ex.text[t[0] : t[1]])} `{label}`"
                for h, t, label in items
            ]
        lines.append("")
        if len(lines) > limit * 6:
            lines.append("(listing truncated)")
            break
    return lines


def entity_type_confusion(preds: EvalPredictions) -> tuple[list[str], list[list[int]]]:
    """Word-level confusion of entity types (B/I merged), with O as a type."""
    names = list(ENTITY_TYPES) + ["O"]
    index = {n: i for i, n in enumerate(names)}
    matrix = [[0] * len(names) for _ in names]
    for ex, e2e in zip(preds.examples, preds.end_to_end):
        predicted = ["O"] * len(ex.words)
        for e in e2e.entities:
            for i in range(e.start, e.end):
                predicted[i] = e.label
        for g, p in zip(ex.tags, predicted):
            matrix[index[g[2:] if g != "O" else "O"]][index[p]] += 1
    return names, matrix


def plot_confusion(names: list[str], matrix: list[list[int]], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.imshow([[v**0.5 for v in row] for row in matrix], cmap="Blues")
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(
                j,
                i,
                str(v),
                ha="center",
                va="center",
                color="black" if i != j else "white" if v else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _fmt(m: dict[str, Any]) -> str:
    ci = m.get("ci95")
    ci_s = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f}{ci_s}"


def scores_markdown(scores: dict[str, Any]) -> list[str]:
    lines = ["| | precision | recall | F1 [95% CI] | support |", "|---|---:|---:|---:|---:|"]
    ent = scores["entities"]
    for t, m in ent["per_type"].items():
        lines.append(f"| entity {t} | {_fmt(m)} | {m.get('support', '')} |")
    lines.append(f"| **entity micro** | {_fmt(ent['micro'])} | {ent['micro'].get('support', '')} |")
    lines.append(f"| entity macro | {_fmt(ent['macro'])} | |")
    for key, name in (
        ("relations_end_to_end", "end-to-end"),
        ("relations_gold_entities", "gold entities"),
    ):
        rel = scores[key]
        for t, m in rel["per_type"].items():
            lines.append(f"| relation {t} ({name}) | {_fmt(m)} | {m.get('support', '')} |")
        lines.append(
            f"| **relation micro ({name})** | {_fmt(rel['micro'])} | "
            f"{rel['micro'].get('support', '')} |"
        )
    events = scores.get("events")
    if events is not None:
        for t, m in events["per_type"].items():
            lines.append(f"| event {t} (end-to-end) | {_fmt(m)} | {m.get('support', '')} |")
        lines.append(
            f"| **event micro (end-to-end)** | {_fmt(events['micro'])} | "
            f"{events['micro'].get('support', '')} |"
        )
        for key, name in (("location_agreement", "location"), ("quantity_agreement", "quantities")):
            share = events[key]
            lines.append(
                f"| right events whose {name} agree{'s' if name == 'location' else ''} | | | "
                f"{'—' if share is None else f'{share:.3f}'} | {events['matched']} |"
            )
    return lines
