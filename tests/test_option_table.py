"""docs/training.md's option table is the one the code's help texts generate."""

from pathlib import Path

from conftest import load_script

DOC = Path(__file__).resolve().parents[1] / "docs" / "training.md"


def test_option_table_is_current():
    table = load_script("scripts/option_table.py")
    assert table.main(["--check", "--doc", str(DOC)]) == 0, (
        "docs/training.md is stale: run python scripts/option_table.py"
    )


def test_every_option_has_a_help_text():
    import dataclasses

    from marsad.config import TrainConfig

    missing = [f.name for f in dataclasses.fields(TrainConfig) if not f.metadata.get("help")]
    assert not missing
