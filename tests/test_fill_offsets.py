import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fill_offsets", ROOT / "scripts" / "fill_offsets.py")
fill_offsets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fill_offsets)

TEXT = "قوات النظام السوري و قوات النظام في الميادين"


def write(tmp_path, entities):
    path = tmp_path / "doc.jsonl"
    path.write_text(
        json.dumps(
            {
                "doc_id": "doc",
                "sent_id": "doc-s00",
                "offset": 0,
                "text": TEXT,
                "entities": entities,
                "relations": [],
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    return path


def test_occurrence_picks_the_kth_word_aligned_match(tmp_path):
    path = write(
        tmp_path,
        [
            {"id": "T1", "label": "ACTOR", "text": "قوات النظام", "occurrence": 1},
            {"id": "T2", "label": "LOCATION", "text": "الميادين"},
        ],
    )
    assert fill_offsets.fill_file(path) == []
    ents = json.loads(path.read_text())["entities"]
    assert [(e["id"], TEXT[e["start"] : e["end"]], e["start"]) for e in ents] == [
        ("T1", "قوات النظام", TEXT.index("و قوات") + 2),
        ("T2", "الميادين", TEXT.index("الميادين")),
    ]


def test_ambiguous_and_unmatched_are_refused(tmp_path):
    path = write(
        tmp_path,
        [
            {"id": "T1", "label": "ACTOR", "text": "قوات النظام"},
            {"id": "T2", "label": "ACTOR", "text": "النظام الس"},
        ],
    )
    errors = fill_offsets.fill_file(path)
    assert "entity T1: text 'قوات النظام' occurs 2 times; add occurrence" in errors[0]
    assert "entity T2: text 'النظام الس' not found on word boundaries" in errors[1]
