"""Generalisation table: training runs with and without the team corpus and the ANERcorp stage.

    python -m experiments.generalisation --run "seeds only=runs/g-seeds" \
        --run "+ team corpus=runs/g-team" ... [--anercorp FILE] [--out docs/generalisation.json]

For each run (a ``marsad train`` output directory; its dev-selected ``best/`` is scored): the
seed test split (entity micro-F1, end-to-end relation F1), ANERcorp's repaired test split
(ACTOR/LOCATION of the Marsad head) and, when the run trained an auxiliary stage, that stage's own
4-type head on the same file; the dev figures that chose it (whatever dev the run had), and one
common dev for all runs (seed dev + team dev conflicts + ANERcorp train's held-out end), on which
the configuration is chosen, whole and by part. ``RUN`` may also be a refit (``RUN/refit``): it
trained on the seed and team dev sentences, so only its ANERcorp part of the common dev is unseen
(``common_dev_parts_trained_on`` names the others; a refit never trains on ANERcorp's held-out
end). Beside each run, the CRF baseline trained on the same data: the seed train split, each extra
corpus's train split and, for a run with a stage, ANERcorp's training part mapped to
ACTOR/LOCATION (a CRF has no auxiliary head; the mapped tags are its nearest equivalent). Never
train or tune on the ANERcorp test file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experiments.dev_parts import part_of
from marsad.commands.anercorp import DEFAULT_FILE, score_aux_stage, score_checkpoint
from marsad.data.anercorp import read_conll, schema_examples, split_held_out, to_schema_tags
from marsad.data.examples import load_examples
from marsad.evaluation.baselines import MajorityRelationBaseline
from marsad.evaluation.metrics import entity_scores
from marsad.evaluation.scoring import baseline_predictions, predict_checkpoint, score_predictions
from marsad.features import CrfTagger
from marsad.fileio import cache_root
from marsad.model.checkpoint import load_checkpoint


def f1(scores: dict, key: str) -> float:
    return scores[key]["micro"]["f1"]


def common_dev(data_dir: str, extra: list[str], aux_corpus: Path | None, held_out: int) -> list:
    """One dev for every run, so runs selected on different devs can be compared: the seed dev
    split, each extra corpus's dev (its dev conflicts) and ANERcorp train's held-out end."""
    dev = load_examples(data_dir)["dev"] + [ex for d in extra for ex in load_examples(d)["dev"]]
    if aux_corpus is not None:
        _, held = split_held_out(read_conll(aux_corpus), held_out)
        dev += schema_examples(held, aux_corpus.stem)
    return dev


def config_dev(cfg: dict) -> list:
    """:func:`common_dev` of a run's ``training_config`` (as its ``marsad.json`` keeps it)."""
    aux = Path(cfg["aux_corpus"]) if cfg.get("aux_corpus") else None
    return common_dev(cfg["data_dir"], cfg["extra_data"], aux, cfg["aux_dev_sentences"])


def scores_on(loaded, examples) -> dict:
    return score_predictions(predict_checkpoint(loaded, examples))


def scores_by_part(loaded, examples) -> tuple[dict, dict[str, dict]]:
    """Scores on all of ``examples`` and on each corpus among them (:func:`part_of`)."""
    preds = predict_checkpoint(loaded, examples)
    parts: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        parts.setdefault(part_of(ex.sent_id), []).append(i)
    by_part = {}
    for part, indices in sorted(parts.items()):
        scores = score_predictions(preds.subset(indices))
        by_part[part] = {"sentences": len(indices), "entity_f1": f1(scores, "entities")}
        if all(preds.examples[i].relations_annotated for i in indices):
            by_part[part]["relation_f1"] = f1(scores, "relations_end_to_end")
    return score_predictions(preds), by_part


def model_row(run: Path, aner_words, aner_gold, dev: list) -> dict:
    best = run / "best"
    loaded = load_checkpoint(best)
    meta = loaded.meta
    cfg = meta["training_config"]
    seed = scores_on(loaded, load_examples(cfg["data_dir"])["test"])
    common, parts = scores_by_part(loaded, dev)
    aner = score_checkpoint(best, aner_words, aner_gold, 32)
    row = {
        "common_dev_entity_f1": f1(common, "entities"),
        "common_dev_relation_f1": f1(common, "relations_end_to_end"),
        "common_dev_parts": parts,
        "common_dev_parts_trained_on": (
            ["seed", "team"] if meta.get("refit", {}).get("train_includes_dev") else []
        ),
        "epoch": meta["epoch"],
        "decoding": meta.get("decoding"),
        "dev_entity_f1": f1(meta["dev_metrics"], "entities") if meta.get("dev_metrics") else None,
        "dev_relation_f1": (
            f1(meta["dev_metrics"], "relations_end_to_end") if meta.get("dev_metrics") else None
        ),
        "dev_sentences": meta["dev_metrics"]["n_sentences"] if meta.get("dev_metrics") else 0,
        "seed_test_entity_f1": f1(seed, "entities"),
        "seed_test_relation_f1": f1(seed, "relations_end_to_end"),
        "anercorp_actor_location_f1": aner["micro_actor_location"]["f1"],
        "anercorp_actor_f1": aner["ACTOR"]["f1"],
        "anercorp_location_f1": aner["LOCATION"]["f1"],
    }
    stage = meta["data"].get("aux", {}).get("stage")
    if stage:
        aux = score_aux_stage(cache_root() / stage["cache"], aner_words, aner_gold, 32)
        row["aux_head_4_type_f1"] = aux["micro_4_types"]["f1"]
    return row


def crf_row(run: Path, aner_words, aner_gold) -> dict:
    cfg = json.loads((run / "best" / "marsad.json").read_text(encoding="utf-8"))["training_config"]
    splits = load_examples(cfg["data_dir"])
    train = splits["train"] + [ex for d in cfg["extra_data"] for ex in load_examples(d)["train"]]
    if cfg.get("aux_corpus") and cfg.get("aux_epochs"):
        part, _ = split_held_out(read_conll(cfg["aux_corpus"]), cfg["aux_dev_sentences"])
        train = train + schema_examples(part, "aux")
    rel = MajorityRelationBaseline().fit(train)
    seed = score_predictions(baseline_predictions(CrfTagger(), rel, train, splits["test"]))
    crf = CrfTagger()
    crf.fit([ex.words for ex in train], [ex.tags for ex in train])
    predicted = [
        [t if not t.endswith("QUANTITY") else "O" for t in tags] for tags in crf.predict(aner_words)
    ]
    aner = entity_scores([to_schema_tags(g) for g in aner_gold], predicted)
    return {
        "train_sentences": len(train),
        "seed_test_entity_f1": f1(seed, "entities"),
        "seed_test_relation_f1": f1(seed, "relations_end_to_end"),
        "anercorp_actor_location_f1": aner["micro"]["f1"],
    }


def markdown(rows: dict[str, dict]) -> str:
    head = (
        "| configuration | kept epoch | own dev entity / relation (sentences) | common dev "
        "entity / relation | seed test entity / relation | ANERcorp test ACTOR+LOCATION | "
        "common dev ANERcorp part entity | ANERcorp 4-type (aux head) | "
        "CRF: seed test entity / relation | CRF: ANERcorp |\n"
        "|---|---:|---|---|---|---:|---:|---:|---|---:|"
    )
    lines = [head]
    for name, r in rows.items():
        m, c = r["model"], r["crf"]
        aux = f"{m['aux_head_4_type_f1']:.3f}" if "aux_head_4_type_f1" in m else "—"
        own = (
            f"{m['dev_entity_f1']:.3f} / {m['dev_relation_f1']:.3f} ({m['dev_sentences']})"
            if m["dev_entity_f1"] is not None
            else "— (a refit)"
        )
        aner_part = m["common_dev_parts"].get("anercorp", {}).get("entity_f1")
        aner_part = "—" if aner_part is None else f"{aner_part:.3f}"
        seen = m["common_dev_parts_trained_on"]
        common = f"{m['common_dev_entity_f1']:.3f} / {m['common_dev_relation_f1']:.3f}" + (
            f" (trained on its {' and '.join(seen)} parts)" if seen else ""
        )
        lines.append(
            f"| {name} | {m['epoch']} | {own} | {common} | {m['seed_test_entity_f1']:.3f} / "
            f"{m['seed_test_relation_f1']:.3f} | {m['anercorp_actor_location_f1']:.3f} | "
            f"{aner_part} | {aux} | "
            f"{c['seed_test_entity_f1']:.3f} / {c['seed_test_relation_f1']:.3f} | "
            f"{c['anercorp_actor_location_f1']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR")
    parser.add_argument("--anercorp", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    parser.add_argument(
        "--dev-extra",
        nargs="*",
        default=["data/team"],
        help="corpora whose dev joins the common dev",
    )
    parser.add_argument(
        "--dev-aux",
        type=Path,
        default=Path("../shared/external/ANERcorp-CamelLabSplits/ANERCorp_CamelLab_train.txt"),
        help="ANERcorp train file whose held-out end joins the common dev",
    )
    parser.add_argument("--dev-aux-sentences", type=int, default=150)
    args = parser.parse_args(argv)
    sentences = read_conll(args.anercorp)
    words, gold = [list(s.words) for s in sentences], [list(s.tags) for s in sentences]
    dev = common_dev("data", args.dev_extra, args.dev_aux, args.dev_aux_sentences)
    rows = {}
    for spec in args.run:
        name, _, directory = spec.partition("=")
        run = Path(directory)
        rows[name] = {
            "run": str(run),
            "model": model_row(run, words, gold, dev),
            "crf": crf_row(run, words, gold),
        }
    print(markdown(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
