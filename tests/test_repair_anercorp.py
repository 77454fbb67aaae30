"""scripts/repair_anercorp.py: the overwritten first lines come back from the original corpus,
and nothing else changes (fixture); the shared folder's repaired file is what the script makes
(real)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "repair_anercorp", ROOT / "scripts" / "repair_anercorp.py"
)
repair_anercorp = importlib.util.module_from_spec(spec)
sys.modules["repair_anercorp"] = repair_anercorp  # dataclasses look their module up there
spec.loader.exec_module(repair_anercorp)

REAL_SOURCE = Path(__file__).resolve().parents[1].parent / "shared" / "external"
REAL_SOURCE = REAL_SOURCE / "ANERcorp-CamelLabSplits"
SHARED_REPAIRED = REAL_SOURCE / "ANERCorp_CamelLab_test.repaired.txt"  # the project's copy

# Fake original: 16 train tokens, then 19 test tokens in three sentences. The original lines
# that the repair must restore carry quirks CAMeL normalised: a U+200F inside a token, a
# lower-case "o" and a misspelled tag (B-ERS).
TRAIN_PART = [
    "ذهب O", "محمد B-PERS", "إلى O", "القاهرة B-LOC", "صباح O", "اليوم O", ". O",
    "وقال O", "علي B-PERS", "إن O", "الأمم B-ORG", "المتحدة I-ORG", "تعمل O", "هناك O",
    "منذ O", ". O",
]  # fmt: skip
TEST_PART = [
    ["زار O", "الوزير O", "العراقي O", "بغداد B-LOC", "أمس O", ". O"],
    ["\u200fوأكد o", "أن O", "الوضع O", "في O", "المدينة O", "مستقر O", ". O"],
    ["سمير B-ERS", "فرح O", "بالنتيجة O", "في O", "الملعب O", ". O"],
]
EXPECTED_FIRST = {1: "وأكد O", 2: "سمير B-PERS"}


def write(path: Path, sentences: list[list[str]]) -> None:
    path.write_text("\n\n".join("\n".join(s) for s in sentences), encoding="utf-8")


@pytest.fixture
def fake_source(tmp_path: Path) -> Path:
    """A release folder with a test split damaged the way the real one is."""
    (tmp_path / repair_anercorp.ORIGINAL_NAME).write_text(
        "\n".join(TRAIN_PART + [line for s in TEST_PART for line in s]), encoding="utf-8"
    )
    train = [TRAIN_PART[:7], TRAIN_PART[7:]]
    write(tmp_path / repair_anercorp.TRAIN_NAME, train)
    flat_train = [line for s in train for line in s]
    damaged, i = [], 0
    for k, s in enumerate(TEST_PART):
        s = [line.replace("\u200f", "").replace(" o", " O") for line in s]
        if k > 0:
            s[0] = flat_train[i]  # the defect: first line = train line at the same index
        damaged.append([line.replace("B-ERS", "B-PERS") for line in s])
        i += len(s)
    write(tmp_path / repair_anercorp.TEST_NAME, damaged)
    return tmp_path


def test_fixture_restores_first_lines_only(fake_source: Path, tmp_path: Path) -> None:
    released = repair_anercorp.read_sentences(fake_source / repair_anercorp.TEST_NAME)
    assert released[1][0] == ". O" and released[2][0] == "هناك O"  # damaged as intended
    out = tmp_path / "out" / "repaired.txt"
    assert repair_anercorp.main(["--source", str(fake_source), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert not text.endswith("\n")
    repaired = repair_anercorp.read_sentences(out)
    assert [len(s) for s in repaired] == [len(s) for s in released]
    for k, (old, new) in enumerate(zip(released, repaired)):
        assert new[0] == EXPECTED_FIRST.get(k, old[0])
        assert new[1:] == old[1:]
    assert not list(out.parent.glob("*.tmp"))  # the temporary file was renamed away


def test_fixture_ambiguous_alignment_is_refused(fake_source: Path, tmp_path: Path) -> None:
    # Drop the original token of the second sentence's first line: the overwritten line could
    # then pair with the "." before it or with nothing, at the same cost.
    orig = fake_source / repair_anercorp.ORIGINAL_NAME
    lines = orig.read_text(encoding="utf-8").split("\n")
    del lines[len(TRAIN_PART) + 6]
    orig.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(repair_anercorp.AlignmentError, match="ambiguous"):
        repair_anercorp.repair(fake_source)


def test_normalise_tag() -> None:
    assert repair_anercorp.normalise_tag("B-PERS") == ("B-PERS", None)
    assert repair_anercorp.normalise_tag("I-PRG")[0] == "I-ORG"
    assert repair_anercorp.normalise_tag("IPERS")[0] == "I-PERS"
    assert repair_anercorp.normalise_tag("b-misc")[0] == "B-MISC"
    tag, note = repair_anercorp.normalise_tag("ونايفة</title>")
    assert tag == "O" and "unmappable" in note


@pytest.mark.skipif(not REAL_SOURCE.is_dir(), reason="licensed ANERcorp release not present")
def test_real_release(tmp_path: Path) -> None:
    out = tmp_path / "repaired.txt"
    assert repair_anercorp.main(["--source", str(REAL_SOURCE), "--out", str(out)]) == 0
    assert out.read_bytes() == SHARED_REPAIRED.read_bytes()
    repaired = repair_anercorp.read_sentences(out)
    released = repair_anercorp.read_sentences(REAL_SOURCE / repair_anercorp.TEST_NAME)
    assert len(repaired) == 925
    assert sum(len(s) for s in repaired) == 25_008
    assert [len(s) for s in repaired] == [len(s) for s in released]
    changed = 0
    for old, new in zip(released, repaired):
        assert new[1:] == old[1:]
        changed += new[0] != old[0]
    assert changed == 922
    assert repaired[1][0] == "وأكد O"  # the source README's example (original line 125,322)
