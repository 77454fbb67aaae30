from pathlib import Path

import pytest

from marsad.config import ConfigError, TrainConfig, config_from_dict, load_config

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
    with pytest.raises(ConfigError, match="--set epoch=2: unknown config key 'epoch'"):
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
    with pytest.raises(
        ConfigError,
        match=r"--set layer_lr_decay=0.5: retired option\(s\) \{'layer_lr_decay': 0.5\}",
    ):
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
        ("learning_rate=-1e-4", "learning_rate must be in \\(0, 1\\], got -0.0001"),
        ("head_learning_rate=2", "head_learning_rate must be in \\(0, 1\\], got 2.0"),
        ("aux_learning_rate=1e38", "aux_learning_rate must be in \\(0, 1\\], got 1e\\+38"),
        ("epochs=0", "epochs must be >= 1, got 0"),
        ("batch_size=0", "batch_size must be >= 1, got 0"),
        ("max_length=4", "max_length must be >= 16, got 4"),
        ("warmup_ratio=2", "warmup_ratio must be in \\[0, 1\\), got 2.0"),
        ("dropout=1.0", "dropout must be in \\[0, 1\\), got 1.0"),
    ],
)
def test_numeric_ranges_are_checked_at_load_time_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=f"--set {override}: {message}"):
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


def test_a_range_error_names_the_override_that_set_the_value_not_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epochs: 2\nlearning_rate: 1.0e-3\n")
    with pytest.raises(
        ConfigError, match=r"^--set learning_rate=-1: learning_rate must be in \(0, 1\]"
    ):
        load_config(path, ["epochs=3", "learning_rate=-1"])
    path.write_text("learning_rate: -1\n")
    with pytest.raises(ConfigError, match=f"^{path}: learning_rate must be in \\(0, 1\\]"):
        load_config(path, ["epochs=3"])
    with pytest.raises(ConfigError, match=r"^--set fold=9: fold must be 0..4 or null"):
        config_from_dict(TrainConfig().to_dict(), "saved/marsad.json", ["fold=9"])


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e999", "1e39"])
@pytest.mark.parametrize("key", ["learning_rate", "weight_decay", "none_weight"])
def test_non_finite_numbers_are_refused(tmp_path, key, value):
    path = tmp_path / "run.yaml"
    path.write_text(f"{key}: {value}\n")
    with pytest.raises(ConfigError, match=f"{path}: key '{key}' must be a finite number"):
        load_config(path)
    with pytest.raises(ConfigError, match=f"--set {key}={value}: key '{key}' must be a finite"):
        load_config(None, [f"{key}={value}"])


@pytest.mark.parametrize("key", ["output_dir", "data_dir"])
@pytest.mark.parametrize("value", ["''", "' '"])
def test_an_empty_directory_option_is_refused(key, value):
    with pytest.raises(ConfigError, match=f"--set {key}={value}: {key} must not be empty"):
        load_config(ROOT / "configs" / "tiny.yaml", [f"{key}={value}"])


def test_a_key_given_twice_in_a_yaml_file_is_an_error_naming_both_lines(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epochs: 3\nmodel: tiny-random\nepochs: 30\n")
    with pytest.raises(
        ConfigError, match=f"{path}:3: not valid YAML: duplicate key 'epochs' \\(first on line 1\\)"
    ):
        load_config(path)
    with pytest.raises(ConfigError, match="--set extra_data={a: 1, a: 2}: cannot parse the value"):
        load_config(None, ["extra_data={a: 1, a: 2}"])


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("epochs", "--set epochs: expected key=value"),
        ("=3", "--set =3: expected key=value"),
        ("epochs=[", "--set epochs=\\[: cannot parse the value"),
        ("model=a: b: c", "--set model=a: b: c: cannot parse the value"),
    ],
)
def test_malformed_overrides_are_one_line_errors(pair, message):
    with pytest.raises(ConfigError, match=f"^{message}"):
        load_config(None, [pair])


def test_an_empty_or_comment_only_file_means_the_defaults_and_a_scalar_file_is_refused(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("")
    assert load_config(path) == TrainConfig()
    path.write_text("# nothing yet\n")
    assert load_config(path) == TrainConfig()
    path.write_text("0\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(path)


def test_max_length_beyond_the_encoders_positions_is_refused():
    from types import SimpleNamespace

    from marsad.config import check_max_length

    bert = SimpleNamespace(max_position_embeddings=512, model_type="bert", pad_token_id=0)
    xlmr = SimpleNamespace(max_position_embeddings=514, model_type="xlm-roberta", pad_token_id=1)
    check_max_length(load_config(None, ["max_length=512"]), bert, "enc")
    check_max_length(load_config(None, ["max_length=512"]), xlmr, "enc")
    with pytest.raises(
        ConfigError,
        match=r"max_length: 1024 is more than the encoder 'enc' can position \(512 sub-words, "
        "max_position_embeddings 512\\); set max_length <= 512",
    ):
        check_max_length(load_config(None, ["max_length=1024"]), bert, "enc")
    with pytest.raises(ConfigError, match=r"\(512 sub-words, max_position_embeddings 514\)"):
        check_max_length(load_config(None, ["max_length=513"]), xlmr, "enc")
