from pathlib import Path

import pytest

from marsad.config import ConfigError, TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["default", "offline", "tiny"])
def test_shipped_configs_load(name):
    cfg = load_config(ROOT / "configs" / f"{name}.yaml")
    assert cfg.output_dir.startswith("runs/")


def test_default_config_falls_back_to_bundled_encoder():
    cfg = load_config(ROOT / "configs" / "default.yaml")
    assert (
        cfg.model == "aubmindlab/bert-base-arabertv02"
        and cfg.fallback_model == "bundled:multilingual-e5-small"
    )


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: tiny-random\nlearning_rte: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'learning_rte'"):
        load_config(path)


def test_wrong_type_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochs: three\n")
    with pytest.raises(ConfigError, match=r"key 'epochs' must be an integer, got 'three'"):
        load_config(path)


def test_overrides_parse_and_validate():
    cfg = load_config(ROOT / "configs" / "tiny.yaml", ["epochs=2", "learning_rate=1e-4", "fold=3"])
    assert (cfg.epochs, cfg.learning_rate, cfg.fold) == (2, 1e-4, 3)
    with pytest.raises(ConfigError, match="--set: unknown config key 'epoch'"):
        load_config(None, ["epoch=2"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(None, ["epochs"])
    with pytest.raises(ConfigError, match="fold must be 0..4"):
        load_config(None, ["fold=7"])


def test_a_saved_config_with_retired_options_off_still_reads_and_any_other_value_is_an_error():
    from marsad.config import RETIRED_OPTIONS, config_from_dict

    saved = {**TrainConfig().to_dict(), **RETIRED_OPTIONS, "epochs": 7}
    assert config_from_dict(saved, "old/marsad.json").epochs == 7
    with pytest.raises(ConfigError, match=r"old/marsad.json: retired option\(s\) \{'crf': True\}"):
        config_from_dict({**saved, "crf": True}, "old/marsad.json")
    assert (
        load_config(None, ["layer_lr_decay=1.0"]) == TrainConfig()
    )  # an old YAML at the off value
    with pytest.raises(ConfigError, match=r"--set: retired option\(s\) \{'layer_lr_decay': 0.5\}"):
        load_config(None, ["layer_lr_decay=0.5"])


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml")


def test_optional_fields_are_typed_too():
    from marsad.config import config_from_dict

    assert load_config(None, ["fold=null"]).fold is None
    # a saved config holds every optional field at null: it must read back as written
    assert config_from_dict(TrainConfig().to_dict(), "saved") == TrainConfig()
    with pytest.raises(ConfigError, match="key 'aux_corpus' must be a string"):
        load_config(None, ["aux_corpus=3"])
    with pytest.raises(ConfigError, match="key 'fold' must be an integer"):
        load_config(None, ["fold=abc"])
    with pytest.raises(ConfigError, match="key 'epochs' must not be empty"):
        load_config(None, ["epochs="])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("learning_rate=-1e-4", "learning_rate must be > 0, got -0.0001"),
        ("epochs=0", "epochs must be >= 1, got 0"),
        ("batch_size=0", "batch_size must be >= 1, got 0"),
        ("max_length=4", "max_length must be >= 16, got 4"),
        ("warmup_ratio=2", "warmup_ratio must be in \\[0, 1\\), got 2.0"),
        ("dropout=1.0", "dropout must be in \\[0, 1\\), got 1.0"),
    ],
)
def test_numeric_ranges_are_checked_at_load_time_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=f"--set: {message}"):
        load_config(None, [override])


def test_yaml_errors_name_the_file_and_line_and_typos_get_a_suggestion(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 3\nmodel: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{bad}:3: not valid YAML"):
        load_config(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("learning_rat: 0.001\n")
    with pytest.raises(
        ConfigError,
        match=f"{typo}: unknown config key 'learning_rat'; did you mean 'learning_rate'",
    ):
        load_config(typo)


def test_the_defaults_are_the_shipped_configuration():
    """configs/offline.yaml names the encoder, the output directory and the corpora, nothing else:
    every other shipped value is the code default. The two files name the same corpora."""
    import yaml

    offline = yaml.safe_load((ROOT / "configs" / "offline.yaml").read_text())
    default = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    corpora = {"extra_data", "aux_corpus"}
    assert set(offline) == {"model", "output_dir"} | corpora
    assert set(default) == {"model", "fallback_model", "output_dir"} | corpora
    assert {k: offline[k] for k in corpora} == {k: default[k] for k in corpora}
    for key in corpora:  # the corpora a clean clone beside ../shared trains on exist
        paths = offline[key] if isinstance(offline[key], list) else [offline[key]]
        assert all((ROOT / p).exists() for p in paths), key
    shipped = TrainConfig()
    assert (
        shipped.lexical_prior,
        shipped.relation_prior,
        shipped.selection_metric,
        shipped.dropout,
    ) == (True, True, "entity", 0.3)


def test_unknown_preprocessing_step_and_missing_corpus_are_one_line_errors(tmp_path, capsys):
    from marsad.commands import train as train_cli
    from marsad.config import check_paths

    with pytest.raises(ConfigError, match=r"preprocessing has unknown step\(s\) \['foo'\]"):
        load_config(ROOT / "configs" / "tiny.yaml", ["preprocessing=[strip_tatweel, foo]"])
    cfg = load_config(ROOT / "configs" / "tiny.yaml", [f"extra_data=[{tmp_path}]"])
    with pytest.raises(ConfigError, match=f"extra_data: {tmp_path} is not a corpus directory"):
        check_paths(cfg)
    args = ["--config", str(ROOT / "configs" / "tiny.yaml"), "--set", f"data_dir={tmp_path}"]
    with pytest.raises(SystemExit) as stop:
        train_cli.main([*args, "--set", f"output_dir={tmp_path / 'out'}"])
    assert stop.value.code == 2 and "data_dir: " in capsys.readouterr().err
