"""The multi-conflict corpus written for the project validates; its card is what the data give."""

from pathlib import Path

from conftest import load_script

from marsad.data.validate import validate_corpus

TEAM = Path(__file__).resolve().parents[1] / "data" / "team"


def test_team_corpus_and_its_second_annotation_validate():
    for root in (TEAM, TEAM / "agreement"):
        problems = validate_corpus(root / "annotations", root / "raw")
        assert not problems, "\n".join(map(str, problems[:20]))


def test_team_card_is_current():
    card = load_script("scripts/team_card.py")
    seeds = TEAM.parent
    assert card.main(["--team", str(TEAM), "--seeds", str(seeds), "--check"]) == 0, (
        "data/team/README.md is stale: run python scripts/team_card.py"
    )
