"""ANERcorp as supervision and as out-of-battle dev: the reader, the schema view, partial scoring,
and the cached auxiliary stage the joint model starts from."""

import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT, train_tiny

from marsad.commands import anercorp as anercorp_cli
from marsad.config import ConfigError, load_config
from marsad.data.anercorp import read_conll, schema_examples, split_held_out, to_schema_tags
from marsad.data.examples import WordEntity, WordRelation
from marsad.evaluation.scoring import EvalPredictions, score_predictions
from marsad.inference import SentenceOutput

# Hand-written sentences in ANERcorp's format (one "TOKEN TAG" per line, blank line between).
SENTENCES = [
    [("قال", "O"), ("سمير", "B-PERS"), ("حداد", "I-PERS"), ("في", "O"), ("طرابلس", "B-LOC")],
    [("أعلنت", "O"), ("الأمم", "B-ORG"), ("المتحدة", "I-ORG"), ("عن", "O"), ("مؤتمر", "O")],
    [("وصل", "O"), ("الوفد", "O"), ("إلى", "O"), ("نيروبي", "B-LOC"), ("أمس", "O")],
    [("فاز", "O"), ("فريق", "O"), ("الوداد", "B-ORG"), ("بكأس", "B-MISC"), ("أفريقيا", "I-MISC")],
    [("التقت", "O"), ("ليلى", "B-PERS"), ("ناصر", "I-PERS"), ("وفد", "O"), ("اليونسكو", "B-ORG")],
    [("عاد", "O"), ("اللاجئون", "O"), ("إلى", "O"), ("دارفور", "B-LOC"), ("و", "O")],
    [("زار", "O"), ("كريم", "B-PERS"), ("مدينة", "O"), ("الخرطوم", "B-LOC"), (".", "O")],
    [("قالت", "O"), ("وكالة", "B-ORG"), ("الأنباء", "I-ORG"), ("إن", "O"), ("عمان", "B-LOC")],
]


def write_conll(path: Path, sentences=SENTENCES) -> Path:
    path.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n",
        encoding="utf-8",
    )
    return path


def test_reader_keeps_its_own_tags_and_maps_to_the_schema(tmp_path):
    conll = tmp_path / "mini.txt"
    conll.write_text("قال O\nبوش B-PERS\n\nالأمم B-ORG\nالمتحدة I-ORG\nكأس B-MISC\nأمس I-LOC\n")
    sentences = read_conll(conll)
    assert [s.line for s in sentences] == [1, 4]
    assert sentences[1].tags == ("B-ORG", "I-ORG", "B-MISC", "B-LOC")  # orphan I-LOC repaired
    assert to_schema_tags(sentences[1].tags) == ["B-ACTOR", "I-ACTOR", "O", "B-LOCATION"]


@pytest.mark.parametrize(
    "content, message",
    [("قال O\nبوش B-PERSON\n", r"mini.txt:2: unknown tag 'B-PERSON'"), ("قال\n", r"mini.txt:1")],
)
def test_reader_names_file_and_line(tmp_path, content, message):
    conll = tmp_path / "mini.txt"
    conll.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_conll(conll)


def test_held_out_part_is_the_end_and_must_leave_training_text(tmp_path):
    sentences = read_conll(write_conll(tmp_path / "a.txt"))
    train, held = split_held_out(sentences, 3)
    assert train + held == sentences and held == sentences[-3:]
    with pytest.raises(ValueError, match="cannot hold out 8 of 8"):
        split_held_out(sentences, 8)


def test_scoring_ignores_what_a_sentence_does_not_annotate(tmp_path):
    (ex,) = schema_examples(read_conll(write_conll(tmp_path / "a.txt", SENTENCES[:1])), "a")
    assert ex.entity_types == ("ACTOR", "LOCATION") and not ex.relations_annotated
    assert [(e.start, e.end, e.label) for e in ex.entities] == [(1, 3, "ACTOR"), (4, 5, "LOCATION")]
    assert ex.text[ex.word_starts[4] : ex.word_ends[4]] == "طرابلس"
    found = [WordEntity(1, 3, "ACTOR"), WordEntity(4, 5, "LOCATION")]
    extra = [
        WordEntity(0, 1, "QUANTITY")
    ]  # QUANTITY is not annotated in ANERcorp: neither FP nor TP
    out = SentenceOutput(found + extra, [WordRelation(0, 1, "LOCATED_IN")])
    scores = score_predictions(EvalPredictions([ex], [out], [out]))
    assert scores["entities"]["micro"]["f1"] == 1.0
    assert scores["relations_end_to_end"]["micro"]["support"] == 0
    rel = scores["relations_end_to_end"]["micro"]
    assert rel["precision"] == 0 and rel["recall"] == 0  # the relation is not counted as an FP
    assert scores["relations_end_to_end"]["per_type"]["LOCATED_IN"]["support"] == 0


def test_aux_epochs_range_and_missing_corpus(tmp_path):
    with pytest.raises(ConfigError, match="aux_epochs must be >= 0"):
        load_config(ROOT / "configs" / "tiny.yaml", ["aux_epochs=-1"])
    with pytest.raises(ConfigError, match="aux_corpus: .*nowhere.txt is not a file"):
        train_tiny(tmp_path / "run", ROOT / "data", f"aux_corpus={tmp_path / 'nowhere.txt'}")


def test_stage_is_trained_once_and_the_joint_model_starts_from_it(tmp_path, data_dir, monkeypatch):
    from marsad.training import aux_stage
    from marsad.training.trainer import Trainer, build_model

    corpus = write_conll(tmp_path / "aner.txt", SENTENCES * 3)
    opts = [f"aux_corpus={corpus}", "aux_dev_sentences=4", "aux_epochs=1", "epochs=1"]
    train_tiny(tmp_path / "run", data_dir, *opts)
    meta = json.loads((tmp_path / "run" / "best" / "marsad.json").read_text())
    aux = meta["data"]["aux"]
    assert aux["dev_sentences"] == 4 and aux["stage"]["train_sentences"] == 20
    assert meta["dev_metrics"]["n_sentences"] == meta["data"]["dev_sentences"] + 4
    card = (tmp_path / "run" / "best" / "README.md").read_text()
    assert f"first fine-tuned on `{corpus}` (20 sentences" in card
    # the cached stage is reused: a second run trains no stage
    monkeypatch.setattr(aux_stage, "train_stage", lambda *a: pytest.fail("stage retrained"))
    cfg = load_config(
        ROOT / "configs" / "tiny.yaml",
        [f"output_dir={tmp_path / 'run2'}", f"data_dir={data_dir}", *opts],
    )
    trainer = Trainer(cfg)
    trainer._prepare()
    stage = trainer.aux_stage
    assert stage is not None and stage.path.name == aux["stage"]["cache"]
    # the joint model's encoder is the stage's (its 4-type head replaced), not the raw encoder
    stage_state = build_model(str(stage.path), cfg, new_head=True).tagger.state_dict()
    raw_state = build_model(trainer.encoder.path, cfg).tagger.state_dict()
    key = next(k for k in stage_state if "encoder.layer.0.attention" in k and "weight" in k)
    assert torch.equal(trainer.model.tagger.state_dict()[key], stage_state[key])
    assert not torch.equal(stage_state[key], raw_state[key])
    # the stage's own head is scored on four types
    out = tmp_path / "aux.json"
    assert (
        anercorp_cli.main(
            ["--aux-stage", str(stage.path), "--file", str(corpus), "--out", str(out)]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert set(result) >= {"PERS", "ORG", "LOC", "MISC", "micro_4_types"}
    assert result["micro_4_types"]["support"] == 3 * 13
    # the mixed dev's parts are told apart per epoch
    from experiments.dev_parts import parts_by_epoch

    (parts,) = parts_by_epoch(tmp_path / "run")
    assert {"anercorp entity", "seed entity", "seed relation"} <= set(parts)
    assert "anercorp relation" not in parts
    # the study table scores the run, its stage and a CRF trained on the same data
    from experiments import generalisation

    table = tmp_path / "table.json"
    args = ["--run", f"stage={tmp_path / 'run'}", "--anercorp", str(corpus), "--out", str(table)]
    args += ["--dev-aux", str(corpus), "--dev-aux-sentences", "4"]
    assert generalisation.main(args) == 0
    row = json.loads(table.read_text())["stage"]
    assert "aux_head_4_type_f1" in row["model"]
    parts = row["model"]["common_dev_parts"]
    assert parts["anercorp"]["sentences"] == 4 and "relation_f1" not in parts["anercorp"]
    assert "relation_f1" in parts["seed"] and row["model"]["common_dev_parts_trained_on"] == []
    assert row["crf"]["train_sentences"] == meta["data"]["train_sentences"] + 20


def test_aux_epochs_zero_adds_dev_only(tmp_path, data_dir):
    corpus = write_conll(tmp_path / "aner.txt")
    opts = [f"aux_corpus={corpus}", "aux_epochs=0", "aux_dev_sentences=3", "epochs=1"]
    train_tiny(tmp_path / "run", data_dir, *opts)
    meta = json.loads((tmp_path / "run" / "best" / "marsad.json").read_text())
    assert meta["data"]["aux"] == {"file": str(corpus), "dev_sentences": 3}  # no stage
