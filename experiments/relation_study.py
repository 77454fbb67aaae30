"""Relation levers on the mixed dev, one training run each, resumable from the committed JSON.

    python -m experiments.relation_study [--variant NAME ...] [--out docs/relation_study.json]

Each variant is ``configs/offline.yaml`` plus a few ``--set`` overrides (``VARIANTS``), trained on
the team corpus as it was before the relation-dense extension (``TEAM_BEFORE``, extracted from git
into the runs folder) unless the variant names ``extended``, which trains on today's
``data/team``; the dev is the same either way (the extension added no dev conflict). A variant
already in ``--out`` is skipped, so a study cut off by the end of a session goes on from what was
committed; a variant whose run has ended (``best/`` and its curves) is scored without training
again, and one cut off mid-run goes on from its ``last/``.
For each run, its dev-selected ``best/`` is scored on:

- the mixed dev it was chosen on (seed dev + the team corpus's dev conflicts + ANERcorp train's
  held-out end), whole and by part: entity micro-F1, relation F1 end to end and over gold
  entities, ATTACKS end to end, event F1. The team part (four conflicts outside the training
  conflicts) is the one that stands for other conflicts;
- the seed test split and ANERcorp's repaired test split (ACTOR/LOCATION), reported only, never
  used to choose;
- the kept epoch, each epoch's dev by part (why a warm-up peak wins), the training time and the
  prediction cost per dev sentence (``Predictor``, batch 32, this machine, its load average beside
  it: another process on the same cores slows it).

Choose on the dev columns only: ``--extend-best NAME ...`` picks the best of those variants on
dev entity + end-to-end relation F1 (a score that counts relations) and trains it on the extended
corpus (``extended-NAME``). The chain run for docs/relation_study.json:

    python -m experiments.relation_study --variant shipped --variant markers \
        --variant pair-attention --extend-best shipped markers pair-attention
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from experiments.dev_parts import part_of, parts_by_epoch
from experiments.generalisation import config_dev
from marsad.commands.anercorp import DEFAULT_FILE, score_checkpoint
from marsad.config import load_config
from marsad.data.anercorp import read_conll
from marsad.data.examples import load_examples
from marsad.evaluation.scoring import EvalPredictions, predict_checkpoint, score_predictions
from marsad.fileio import atomic_write_text
from marsad.model.checkpoint import load_checkpoint, read_meta
from marsad.predictor import Predictor

CONFIG = Path("configs/offline.yaml")
TEAM_BEFORE = "07b25b6"  # the last commit before the team corpus's relation-dense extension
VARIANTS: dict[str, list[str]] = {
    # the shipped configuration (make train, bundled encoder)
    "shipped": [],
    # (b) typed levitated markers seen by the encoder (a second pass, marsad.model.markers)
    "markers": ["relation_markers=true"],
    # (c) the pair reads its whole window through an attention queried by the two spans
    "pair-attention": ["relation_pair_attention=true"],
    # selection by a score that counts relations
    "select-entity+relation": ["selection_metric=entity+relation"],
    # a gentler encoder rate: does the warm-up peak come from the rate?
    "lr-5e-5": ["learning_rate=5.0e-5"],
}
# the same heads trained on the extended team corpus (today's data/team, what make train reads)
VARIANTS |= {f"extended-{n}": VARIANTS[n] for n in ("shipped", "markers", "pair-attention")}


def _f1(scores: dict, key: str, label: str | None = None) -> float:
    block = scores[key]
    return round((block["per_type"][label] if label else block["micro"])["f1"], 4)


def summary(scores: dict) -> dict[str, float]:
    return {
        "sentences": scores["n_sentences"],
        "entity": _f1(scores, "entities"),
        "relation_e2e": _f1(scores, "relations_end_to_end"),
        "relation_gold_entities": _f1(scores, "relations_gold_entities"),
        "attacks_e2e": _f1(scores, "relations_end_to_end", "ATTACKS"),
        "attacks_gold_entities": _f1(scores, "relations_gold_entities", "ATTACKS"),
        "event": _f1(scores, "events"),
    }


def dev_summary(preds: EvalPredictions) -> dict[str, dict]:
    """The whole dev and each corpus in it; ANERcorp has no relations, so only its entity F1."""
    out = {"all": summary(score_predictions(preds))}
    parts: dict[str, list[int]] = {}
    for i, ex in enumerate(preds.examples):
        parts.setdefault(part_of(ex.sent_id), []).append(i)
    for part, indices in sorted(parts.items()):
        row = summary(score_predictions(preds.subset(indices)))
        out[part] = (
            {"sentences": row["sentences"], "entity": row["entity"]} if part == "anercorp" else row
        )
    return out


def prediction_cost(best: Path, texts: list[str]) -> dict[str, float]:
    predictor = Predictor.from_pretrained(best, device="cpu")
    predictor(texts[:8], batch_size=32)  # warm-up
    start = time.perf_counter()
    predictor(texts, batch_size=32)
    seconds = time.perf_counter() - start
    return {
        "ms_per_sentence": round(1000 * seconds / len(texts), 1),
        "sentences": len(texts),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def team_before(runs: Path) -> Path:
    """``data/team`` at ``TEAM_BEFORE``, extracted once under ``runs``."""
    root = runs / f"team-{TEAM_BEFORE}"
    if not (root / "data" / "team" / "splits.json").exists():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", TEAM_BEFORE, "data/team"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root / "data" / "team"


def finished(run: Path) -> bool:
    """The trainer plots its curves when the run ends; ``best/`` alone exists from epoch 1 on."""
    return (run / "best").exists() and (run / "training_curves.png").exists()


def train(name: str, overrides: list[str], run: Path) -> float:
    """Train ``run``, going on from its ``last/`` when a session ended mid-run."""
    from marsad.training.trainer import Trainer

    if "extended" not in name:
        overrides = [f"extra_data=[{team_before(run.parent)}]", *overrides]
    cfg = load_config(CONFIG, [*overrides, f"output_dir={run}", "progress=false"])
    start = time.perf_counter()
    Trainer(cfg, resume=(run / "last").exists()).train()
    return time.perf_counter() - start


def dev_texts(best: Path) -> list[str]:
    """The mixed dev's news sentences (seed and team parts) of the run's configuration."""
    cfg = read_meta(best)["training_config"]
    dev = load_examples(cfg["data_dir"])["dev"]
    dev += [ex for d in cfg["extra_data"] for ex in load_examples(d)["dev"]]
    return [ex.text for ex in dev]


def score_run(run: Path, aner_file: Path) -> dict:
    best = run / "best"
    loaded = load_checkpoint(best)
    cfg = loaded.meta["training_config"]
    dev = config_dev(cfg)
    test = load_examples(cfg["data_dir"])["test"]
    sentences = read_conll(aner_file)
    aner = score_checkpoint(
        best, [list(s.words) for s in sentences], [list(s.tags) for s in sentences], 32
    )
    return {
        "epoch": loaded.meta["epoch"],
        "decoding": loaded.meta.get("decoding"),
        "dev": dev_summary(predict_checkpoint(loaded, dev)),
        "seed_test": summary(score_predictions(predict_checkpoint(loaded, test))),
        "anercorp_test_actor_location": round(aner["micro_actor_location"]["f1"], 4),
        "dev_by_epoch": parts_by_epoch(run),
        "prediction_cost": prediction_cost(best, dev_texts(best)),
    }


def markdown(rows: dict[str, dict]) -> str:
    lines = [
        "| variant | epoch | dev entity | dev relation e2e / gold entities | dev ATTACKS e2e | "
        "dev event | team part entity / relation e2e / gold ents / ATTACKS | seed test entity / "
        "relation | ANERcorp ACT+LOC | ms / sentence |",
        "|---|---:|---:|---|---:|---:|---|---|---:|---:|",
    ]
    for name, r in rows.items():
        d, t, s = r["dev"]["all"], r["dev"].get("team", {}), r["seed_test"]
        lines.append(
            f"| {name} | {r['epoch']} | {d['entity']:.3f} | {d['relation_e2e']:.3f} / "
            f"{d['relation_gold_entities']:.3f} | {d['attacks_e2e']:.3f} | {d['event']:.3f} | "
            f"{t.get('entity', 0):.3f} / {t.get('relation_e2e', 0):.3f} / "
            f"{t.get('relation_gold_entities', 0):.3f} / {t.get('attacks_e2e', 0):.3f} | "
            f"{s['entity']:.3f} / {s['relation_e2e']:.3f} | "
            f"{r['anercorp_test_actor_location']:.3f} | "
            f"{r['prediction_cost']['ms_per_sentence']} |"
        )
    return "\n".join(lines)


def run_variant(name: str, rows: dict[str, dict], args: argparse.Namespace) -> None:
    """Train (unless its run has ``best/``) and score ``name``; write ``--out`` at once."""
    if name in rows:
        print(f"{name}: in {args.out} already")
        return
    run = args.runs / f"rel-{name}"
    overrides = [*VARIANTS[name], *args.set]
    resumed = (run / "last").exists() and not finished(run)
    seconds = None if finished(run) else train(name, overrides, run)
    row = {"overrides": overrides, "run": str(run), **score_run(run, args.anercorp)}
    row["training_seconds"] = None if seconds is None or resumed else round(seconds)
    rows[name] = row
    atomic_write_text(args.out, json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    print(markdown({name: row}))


def dev_score(row: dict) -> float:
    """What chooses: dev entity micro-F1 + end-to-end relation F1 (relations count)."""
    return row["dev"]["all"]["entity"] + row["dev"]["all"]["relation_e2e"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("docs/relation_study.json"))
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where runs are trained")
    parser.add_argument("--anercorp", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--markdown", action="store_true", help="print the table of --out only")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override for every variant trained here",
    )
    parser.add_argument(
        "--cost-again",
        action="store_true",
        help="re-time every recorded run's prediction cost, one after another in this process "
        "(runs timed while others trained are not comparable)",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        help="first fold these study files' rows into --out (runs made side by side)",
    )
    parser.add_argument(
        "--extend-best",
        nargs="+",
        metavar="NAME",
        help="then train extended-<the best of these on dev entity + relation F1>",
    )
    args = parser.parse_args(argv)
    rows = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    for extra in args.merge:
        rows |= json.loads(extra.read_text(encoding="utf-8"))
    if args.merge:
        atomic_write_text(args.out, json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    if args.markdown:
        print(markdown(rows))
        return 0
    if args.cost_again:
        for name, row in rows.items():
            texts = dev_texts(Path(row["run"]) / "best")
            row["prediction_cost"] = prediction_cost(Path(row["run"]) / "best", texts)
            print(name, row["prediction_cost"])
        atomic_write_text(args.out, json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    for name in args.variant or []:
        run_variant(name, rows, args)
    if args.extend_best:
        best = max(args.extend_best, key=lambda n: dev_score(rows[n]))
        print(f"best of {args.extend_best} on dev entity + relation F1: {best}")
        run_variant(f"extended-{best}", rows, args)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
