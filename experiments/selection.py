"""Which epoch a selection rule keeps, replayed from a run's per-epoch dev log, and cross-fitted.

A fold's dev set is ~20 sentences; its end-to-end relation F1 swings by ~0.1 between neighbouring
epochs, and half of the shipped rule (entity + relation F1) is that number. Whether a rule picks
epochs that are good or merely lucky on those sentences shows when it selects on half of them and
the kept epoch is scored on the other half: a comparison of rules on dev alone, no test sentence
read. Training writes every epoch's per-sentence counts (``dev_sentences.jsonl``) for this.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marsad.evaluation.scoring import SCORES
from marsad.training.selection import DEV_SENTENCES_FILE, LOG_FILE, selection_score

ENTITY, RELATION = "entity micro-F1", "relation micro-F1 (end-to-end)"


class DevLogError(ValueError):
    """A run's per-epoch dev log is missing, malformed, or disagrees with its metrics.jsonl."""


def replay_selection(
    entity_f1: Sequence[float],
    relation_f1: Sequence[float],
    selectable: Sequence[bool],
    metric: str,
    patience: int,
) -> int:
    """Index of the epoch training would keep: the first strict best among selectable epochs,
    stopping once ``patience`` selectable epochs in a row bring no gain (0: never). -1 if none is
    selectable."""
    best, best_score, stale = -1, (-1.0,), 0
    for i, (ent, rel, ok) in enumerate(zip(entity_f1, relation_f1, selectable, strict=True)):
        score = selection_score(metric, ent, rel)
        if ok and score > best_score:
            best, best_score, stale = i, score, 0
        elif ok:
            stale += 1
        if patience and stale >= patience:
            break
    return best


@dataclass(frozen=True)
class DevLog:
    """One training run's dev sentences scored at every epoch."""

    run: Path
    epochs: list[int]
    selectable: list[bool]
    sentence_ids: list[str]
    counts: np.ndarray  # (epochs, sentences, 2, 3): (tp, fp, fn) for ENTITY and RELATION

    def f1(self, sentences: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Micro F1 per epoch over some sentences (indices), shape (epochs, 2): entity, relation."""
        tp, fp, fn = np.moveaxis(self.counts[:, sentences].sum(axis=1), -1, 0).astype(np.float64)
        p = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
        r = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=tp + fn > 0)
        return np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=p + r > 0)


def _jsonl(path: Path) -> list[tuple[int, dict]]:
    if not path.exists():
        raise DevLogError(
            f"{path} does not exist (training writes it from this version on: rerun the run)"
        )
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append((line_no, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DevLogError(f"{path}:{line_no}: not JSON ({exc.msg})") from None
    if not rows:
        raise DevLogError(f"{path} holds no epochs")
    return rows


def read_dev_log(run: Path) -> DevLog:
    """Read ``run``'s two logs, checking they cover the same epochs and the same dev sentences, and
    that the per-sentence counts give back the logged dev F1 (so they were scored the way selection
    was)."""
    run = Path(run)
    records = {r["epoch"]: (n, r) for n, r in _jsonl(run / LOG_FILE)}
    sentences_path = run / DEV_SENTENCES_FILE
    epochs, selectable, ids, counts = [], [], None, []
    for line_no, row in _jsonl(sentences_path):
        where = f"{sentences_path}:{line_no}"
        epoch = row.get("epoch")
        if epoch not in records:
            raise DevLogError(f"{where}: epoch {epoch!r} has no record in {run / LOG_FILE}")
        if "selectable" not in records[epoch][1]:
            raise DevLogError(
                f"{run / LOG_FILE}:{records[epoch][0]}: no 'selectable' (written from "
                "this version on)"
            )
        sentences = row.get("sentences", {})
        if ids is None:
            ids = sorted(sentences)
        if sorted(sentences) != ids:
            raise DevLogError(
                f"{where}: epoch {epoch} scores other dev sentences than epoch {epochs[0]}"
            )
        try:
            counts.append([[sentences[s][name] for name in (ENTITY, RELATION)] for s in ids])
        except KeyError as exc:
            raise DevLogError(
                f"{where}: a sentence lacks {exc} (scores: {', '.join(SCORES)})"
            ) from None
        epochs.append(epoch)
        selectable.append(bool(records[epoch][1]["selectable"]))
    if epochs != sorted(records):
        raise DevLogError(
            f"{sentences_path} has epochs {epochs}, {run / LOG_FILE} has {sorted(records)}"
        )
    log = DevLog(run, epochs, selectable, ids, np.asarray(counts, dtype=np.int64))
    for i, (ent, rel) in enumerate(log.f1()):
        n, record = records[epochs[i]]
        if abs(ent - record["dev_entity_f1"]) > 1e-9 or abs(rel - record["dev_relation_f1"]) > 1e-9:
            raise DevLogError(
                f"{run / LOG_FILE}:{n}: dev F1 {record['dev_entity_f1']:.6f} / "
                f"{record['dev_relation_f1']:.6f}, but {sentences_path} sums to "
                f"{ent:.6f} / {rel:.6f}"
            )
    return log


@dataclass(frozen=True)
class CrossFit:
    """Mean over half-splits (both directions) of the kept epoch's scores on the unseen half."""

    entity_f1: float
    relation_f1: float
    mean_epoch: (
        float  # mean kept epoch (1-based), to see whether a rule keeps earlier or later epochs
    )

    @property
    def objective(self) -> float:
        return self.entity_f1 + self.relation_f1


def cross_fit(
    log: DevLog, metrics: Sequence[str], patience: int, n_splits: int, seed: int = 0
) -> dict[str, CrossFit]:
    """For each of ``n_splits`` random halvings of the dev sentences, and each direction, every rule
    in ``metrics`` keeps an epoch on one half (:func:`replay_selection`); it is scored on the other
    half. The same halvings serve every rule, so the rules' differences are paired."""
    n = len(log.sentence_ids)
    if n < 2:
        raise DevLogError(f"{log.run}: {n} dev sentence(s); a half-split needs at least 2")
    rng = np.random.default_rng(seed)
    kept: dict[str, list[tuple[float, float, int]]] = {m: [] for m in metrics}
    for _ in range(n_splits):
        order = rng.permutation(n)
        halves = (order[: n // 2], order[n // 2 :])
        for chosen_on, scored_on in (halves, halves[::-1]):
            f1_chosen, f1_scored = log.f1(chosen_on), log.f1(scored_on)
            for metric in metrics:
                i = replay_selection(
                    f1_chosen[:, 0], f1_chosen[:, 1], log.selectable, metric, patience
                )
                if i < 0:
                    raise DevLogError(f"{log.run}: no selectable epoch")
                kept[metric].append((f1_scored[i, 0], f1_scored[i, 1], log.epochs[i]))
    return {m: CrossFit(*(float(np.mean(col)) for col in zip(*rows))) for m, rows in kept.items()}
