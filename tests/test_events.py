"""Events from mentions and relations: the rules on hand-built sentences, gold events on the seed
corpus, event scores, and the flat tables (pandas) with offsets that slice the document."""

from __future__ import annotations

import json
import math

import pytest

from marsad.data.corpus import Entity as GoldEntity
from marsad.data.corpus import Relation as GoldRelation
from marsad.data.corpus import Sentence, read_corpus
from marsad.evaluation.event_scores import event_key, event_scores
from marsad.events import EVENT_TYPES, Mention, gold_events, sentence_events
from marsad.tables import COLUMNS, event_row, fatalities_candidate, frame, table_rows


def mentions_of(text: str, spans: list[tuple[str, str]]) -> list[Mention]:
    """Mentions by their text (first occurrence after the previous one)."""
    out, pos = [], 0
    for label, piece in spans:
        start = text.index(piece, pos)
        out.append(Mention(label, piece, start, start + len(piece)))
        pos = start + len(piece)
    return out


def rel(h: int, t: int, label: str) -> tuple[int, int, str, None]:
    return (h, t, label, None)


def test_coordinated_actors_attacking_one_place_are_two_events():
    text = "هاجمت قوات النظام والميليشيات الموالية لها بلدة الصالحية"
    m = mentions_of(
        text, [("ACTOR", "قوات النظام"), ("ACTOR", "والميليشيات"), ("LOCATION", "الصالحية")]
    )
    events = sentence_events(m, [rel(0, 2, "ATTACKS"), rel(1, 2, "ATTACKS")])
    assert [(e.actor.text, e.target.text) for e in events] == [
        ("قوات النظام", "الصالحية"),
        ("والميليشيات", "الصالحية"),
    ]
    assert all(e.location == m[2] and e.location_source == "target" for e in events)


def test_a_sentence_with_no_event_relation_gives_no_event():
    text = "يضم الفوج نحو 300 مقاتل في ريف حلب"
    m = mentions_of(text, [("ACTOR", "الفوج"), ("QUANTITY", "نحو 300 مقاتل"), ("LOCATION", "حلب")])
    assert sentence_events(m, [rel(1, 0, "QUANTITY_OF"), rel(0, 2, "LOCATED_IN")]) == []
    assert sentence_events(m, []) == []


def test_location_of_an_attack_on_an_actor_comes_from_located_in_target_first():
    text = "قصفت الطائرات الروسية مواقع الفصائل المسلحة المتمركزة في إدلب قرب معرة النعمان"
    m = mentions_of(
        text,
        [
            ("ACTOR", "الروسية"),
            ("ACTOR", "الفصائل المسلحة"),
            ("LOCATION", "إدلب"),
            ("LOCATION", "معرة النعمان"),
        ],
    )
    (event,) = sentence_events(m, [rel(0, 1, "ATTACKS"), rel(1, 2, "LOCATED_IN")])
    assert event.location == m[2] and event.location_source == "target LOCATED_IN"
    # only the actor placed: its place is the event's
    (event,) = sentence_events(m, [rel(0, 1, "ATTACKS"), rel(0, 3, "LOCATED_IN")])
    assert event.location == m[3] and event.location_source == "actor LOCATED_IN"
    # no stated place: none guessed from the places in the sentence
    (event,) = sentence_events(m, [rel(0, 1, "ATTACKS")])
    assert event.location is None and event.location_source == ""


def test_quantities_and_associates_attach_to_their_side():
    text = "قتل 12 عنصرا من حركة الشباب وقائد في الحركة بهجوم للجيش الصومالي يدعمه 200 جندي أوغندي"
    m = mentions_of(
        text,
        [
            ("QUANTITY", "12 عنصرا"),
            ("ACTOR", "حركة الشباب"),
            ("ACTOR", "وقائد"),
            ("ACTOR", "للجيش الصومالي"),
            ("QUANTITY", "200 جندي"),
            ("ACTOR", "أوغندي"),
        ],
    )
    relations = [
        rel(3, 1, "ATTACKS"),
        rel(0, 1, "QUANTITY_OF"),
        rel(2, 1, "AFFILIATED_WITH"),
        rel(4, 5, "QUANTITY_OF"),
        rel(5, 3, "SUPPORTS"),
    ]
    attack, support = sentence_events(m, relations)
    assert attack.event_type == "ATTACKS" and attack.actor == m[3] and attack.target == m[1]
    assert attack.target_quantities == [m[0]] and attack.actor_quantities == []
    assert attack.target_associates == [m[2]] and attack.actor_associates == []
    assert support.event_type == "SUPPORTS" and support.actor_quantities == [m[4]]
    # the death toll: a casualty noun, or a word for killing before the number
    assert fatalities_candidate(attack, text) == "12 عنصرا"
    assert fatalities_candidate(attack, None) == ""  # "عنصرا" alone counts fighters, not dead
    assert fatalities_candidate(support, text) == ""


def test_gold_events_of_the_seed_corpus_slice_their_documents():
    sentences = read_corpus("data")
    docs: dict[str, list[Sentence]] = {}
    for s in sentences:
        docs.setdefault(s.doc_id, []).append(s)
    n_relations = sum(r.label in EVENT_TYPES for s in sentences for r in s.relations)
    events = [e for doc in docs.values() for e in gold_events(doc)]
    assert len(events) == n_relations > 50
    for doc in docs.values():
        text = {s.offset + i: ch for s in doc for i, ch in enumerate(s.text)}
        for e in gold_events(doc):
            for m in (e.actor, e.target, e.location, *e.actor_quantities, *e.target_quantities):
                if m is not None:
                    assert "".join(text[i] for i in range(m.start, m.end)) == m.text
            assert e.doc_id == doc[0].doc_id and e.score is None


def test_gold_events_of_a_hand_built_sentence():
    s = Sentence(
        "d",
        "d-s00",
        100,
        "سيطر الجيش على تدمر",
        [GoldEntity("T1", "ACTOR", 5, 10, "الجيش"), GoldEntity("T2", "LOCATION", 15, 19, "تدمر")],
        [GoldRelation("T1", "T2", "CONTROLS")],
    )
    (e,) = gold_events([s])
    assert (e.actor.start, e.actor.end, e.target.start) == (105, 110, 115)
    assert (e.sentence, e.sentence_start, e.sentence_end) == (0, 100, 119)


def test_event_scores_match_type_actor_and_target_and_compare_attributes():
    text = "سيطر الجيش على تدمر بعد معارك مع داعش في ريف حمص"
    m = mentions_of(
        text, [("ACTOR", "الجيش"), ("LOCATION", "تدمر"), ("ACTOR", "داعش"), ("LOCATION", "حمص")]
    )
    gold = sentence_events(
        m, [rel(0, 1, "CONTROLS"), rel(0, 2, "ATTACKS"), rel(2, 3, "LOCATED_IN")]
    )
    pred = sentence_events(m, [rel(0, 1, "CONTROLS"), rel(0, 2, "ATTACKS"), rel(2, 1, "ATTACKS")])
    scores = event_scores([gold], [pred])
    assert scores["micro"]["precision"] == pytest.approx(2 / 3)
    assert scores["micro"]["recall"] == 1.0
    assert scores["per_type"]["CONTROLS"]["f1"] == 1.0
    assert scores["matched"] == 2
    assert scores["location_agreement"] == 0.5  # the attack's place (via LOCATED_IN) missed
    # a wrong target span is a wrong event
    shifted = Mention("LOCATION", "تدمر بعد", m[1].start, m[1].end + 4)
    wrong = sentence_events([m[0], shifted], [rel(0, 1, "CONTROLS")])
    assert event_key(wrong[0]) != event_key(gold[0])
    assert event_scores([gold], [[]])["micro"]["recall"] == 0.0
    with pytest.raises(ValueError, match="1 gold sentences but 2"):
        event_scores([gold], [pred, pred])


def test_tables_have_the_documented_columns_and_types_even_when_empty():
    for table in COLUMNS:
        df = frame([], table)
        assert list(df.columns) == [c for c, _ in COLUMNS[table]] and len(df) == 0
    text = "هاجم داعش الجيش"
    m = mentions_of(text, [("ACTOR", "داعش"), ("ACTOR", "الجيش")])
    (event,) = sentence_events(m, [rel(0, 1, "ATTACKS")], 0, 0, len(text), "doc")
    df = frame([event_row(event, text)], "events")
    row = df.iloc[0]
    assert row["actor_text"] == "داعش" and row["target_text"] == "الجيش"
    assert df["location_start"].isna().all() and row["location_source"] == ""
    assert math.isnan(row["score"]) and row["sentence_text"] == text
    assert str(df.dtypes["actor_start"]) == "int64" and str(df.dtypes["location_end"]) == "Int64"
    with pytest.raises(ValueError, match="unknown table 'event'"):
        table_rows("event", [], [], [])


def test_predicted_events_and_frames_slice_the_input(tiny_run):
    from marsad.predictor import Predictor

    predictor = Predictor.from_pretrained(tiny_run / "best", device="cpu")
    sentences = read_corpus("data")[:12]
    text = "\n".join(s.text for s in sentences)
    pred = predictor(text)
    assert len(pred.sentences) >= 12
    for a, b in pred.sentences:
        assert text[a:b].strip() == text[a:b] and text[a:b]
    for e in pred.entities:
        a, b = pred.sentences[e.sentence]
        assert a <= e.start < e.end <= b and text[e.start : e.end] == e.text
    events = pred.events("doc")
    assert len(events) == sum(r.label in EVENT_TYPES for r in pred.relations)
    df = pred.to_frame("events", "doc", text)
    for _, row in df.iterrows():
        assert text[row["actor_start"] : row["actor_end"]] == row["actor_text"]
        assert text[row["sentence_start"] : row["sentence_end"]] == row["sentence_text"]
    mentions = pred.to_frame()
    assert len(mentions) == len(pred.entities)
    assert len(pred.to_frame("relations")) == len(pred.relations)


def _corpus_jsonl(path, n=20):
    rows = [{"id": s.sent_id, "text": s.text} for s in read_corpus("data")[:n]]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return {r["id"]: r["text"] for r in rows}


def test_predict_cli_writes_tables_that_read_back_and_slice_the_input(tiny_run, tmp_path):
    import pandas as pd

    from marsad.commands import predict as predict_cli
    from marsad.predictor import Predictor

    src = tmp_path / "in.jsonl"
    texts = _corpus_jsonl(src)
    base = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--jsonl"]
    expected = Predictor.from_pretrained(tiny_run / "best", device="cpu")(list(texts.values()))
    n_events = sum(r.label in EVENT_TYPES for p in expected for r in p.relations)
    n_mentions = sum(len(p.entities) for p in expected)
    assert n_events > 0 and n_mentions > 0  # the tiny model finds some on its training text
    for fmt, reader in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        for table, n in (("mentions", n_mentions), ("events", n_events)):
            out = tmp_path / f"{table}.{fmt}"
            args = [*base, "--format", fmt, "--table", table, "--output", str(out)]
            assert predict_cli.main(args) == 0
            df = reader(out, dtype=str) if fmt == "csv" else reader(out)
            assert list(df.columns) == [c for c, _ in COLUMNS[table]] and len(df) == n
            assert not list(tmp_path.glob(".*.tmp"))  # moved into place
            first = "start" if table == "mentions" else "actor_start"
            for _, row in df.iterrows():
                text, a = texts[row["doc_id"]], int(row[first])
                b = int(row[first.replace("start", "end")])
                assert text[a:b] == row["text" if table == "mentions" else "actor_text"]
    parquet = pd.read_parquet(tmp_path / "events.parquet")
    assert str(parquet.dtypes["actor_start"]) == "int64"
    # --events as JSONL: one event per line
    out = tmp_path / "events.jsonl"
    assert predict_cli.main([*base, "--events", "--output", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert len(lines) == n_events and set(lines[0]) == {c for c, _ in COLUMNS["events"]}


def test_predict_cli_tables_report_bad_documents_and_refuse_bad_flags(tiny_run, tmp_path, capsys):
    from marsad.commands import predict as predict_cli

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "سيطرت قوات النظام على الميادين"}\n{"txt": 1}\n', "utf-8")
    out = tmp_path / "m.csv"
    base = ["--checkpoint", str(tiny_run / "best"), "--input", str(src), "--jsonl"]
    assert predict_cli.main([*base, "--format", "csv", "--output", str(out)]) == 3
    assert "input line 2: expected an object with a string field 'text'" in capsys.readouterr().err
    assert out.exists()
    # a failing run leaves no table behind, under either name
    out.unlink()
    with pytest.raises(SystemExit, match="input line 2"):
        predict_cli.main([*base, "--format", "csv", "--output", str(out), "--on-error", "fail"])
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    for flags, message in (
        (["--format", "csv", "--table", "documents"], "writes a table"),
        (["--format", "parquet"], "needs --output"),
        (["--events", "--table", "mentions"], "disagree"),
        (["--events", "--resume", "--output", str(out)], "--resume continues"),
    ):
        with pytest.raises(SystemExit):
            predict_cli.main([*base, *flags])
        assert message in capsys.readouterr().err


def test_docs_list_every_table_column_with_its_type():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "events.md").read_text(encoding="utf-8")
    block = page.split("<!-- columns:start -->")[1].split("<!-- columns:end -->")[0]
    rows = [line.strip("| ").split(" | ") for line in block.strip().splitlines()[2:]]
    assert rows == [[t, c, ty] for t, cols in COLUMNS.items() for c, ty in cols]


def test_table_files_take_a_lone_surrogate_as_one_replacement_character(tmp_path):
    import pandas as pd

    from marsad.tables import TableWriter

    text = "هاجم داعش\ud800 الجيش"
    m = mentions_of(text, [("ACTOR", "داعش"), ("ACTOR", "الجيش")])
    (event,) = sentence_events(m, [rel(0, 1, "ATTACKS")], 0, 0, len(text), "doc")
    for fmt, read in (("csv", pd.read_csv), ("parquet", pd.read_parquet), ("jsonl", None)):
        writer = TableWriter(tmp_path / f"e.{fmt}", fmt, "events")
        writer.write([event_row(event, text)])
        writer.close()
        if read is None:
            cell = json.loads((tmp_path / "e.jsonl").read_text("utf-8"))["sentence_text"]
        else:
            cell = read(tmp_path / f"e.{fmt}")["sentence_text"][0]
        assert cell == text.replace("\ud800", "\ufffd") and len(cell) == len(text)


def test_summaries_of_results_written_before_event_scores_leave_the_row_out():
    """A cross-validation run scored before events existed still summarises (``--reuse``, old
    ``results.json``): the event row is left out, not failed on or filled."""
    from marsad.evaluation.summary import summarise, summary_table

    def fold(f1: float, events: bool) -> dict:
        micro = {"micro": {"f1": f1}, "macro": {"f1": f1}}
        per_type = {"per_type": {t: {"f1": f1} for t in ("ACTOR", "LOCATION", "QUANTITY")}}
        out = {"entities": {**micro, **per_type}, "relations_end_to_end": micro}
        out["relations_gold_entities"] = micro
        return {**out, "events": {"micro": {"f1": f1 / 2}}} if events else out

    new = summarise([fold(0.8, True), fold(0.6, True)])
    old = summarise([fold(0.8, True), fold(0.6, False)])
    assert new["event micro-F1 (end-to-end)"]["mean"] == pytest.approx(0.35)
    assert "event micro-F1 (end-to-end)" not in old and "entity micro-F1" in old
    table = summary_table({"new": new, "old": old})
    assert not any(line.startswith("| event") for line in table)
    assert any(line.startswith("| event") for line in summary_table({"new": new}))
