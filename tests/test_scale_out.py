"""``marsad predict --engine ray`` on a local Ray instance (``ray.init(num_cpus=2)``, 2 actors)
over three shards (two JSONL, one Parquet; 300 documents): every document comes back once, equal
to single-process ``Predictor`` output and to the line ``marsad predict --jsonl`` writes for it,
with its events; malformed lines are reported by file, line and id and kept as rows with their
error, and the run goes on. In CI (``CI=true``, where ``make setup`` installs the ``ray`` extra)
a missing Ray fails these tests instead of skipping them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

if os.environ.get("CI") == "true":
    import ray  # noqa: F401 - CI installs the ray extra: a missing Ray is a failure there
ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SENTENCES = [
    "سيطرت قوات النظام على مدينة الميادين بعد معارك مع تنظيم داعش.",
    "قصف التحالف الدولي مواقع لتنظيم داعش في الرقة وقتل 12 عنصرا.",
    "أعلنت الحكومة أن الجيش استعاد ثلاث قرى شرق المدينة.",
    "لم يعلق أي طرف على الهجوم.",
]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


def _write_shards(root: Path) -> dict[tuple[str, int], dict | None]:
    """Two JSONL shards and a Parquet one; (file, line) -> the input object (None: malformed)."""
    root.mkdir()
    expected: dict[tuple[str, int], dict | None] = {}
    for shard in range(2):
        path = root / f"part-{shard}.jsonl"
        lines = []
        for i in range(120):
            row = {"id": f"s{shard}-{i}", "text": f"{SENTENCES[i % 4]} {i}", "source": "test"}
            lines.append(json.dumps(row, ensure_ascii=False))
            expected[(str(path), i + 1)] = row
        if shard == 0:  # bad lines in the middle of the first shard
            lines[40] = '{"id": "broken", "text": "no end'
            expected[(str(path), 41)] = None
            lines[41] = json.dumps({"id": "s0-number", "text": 7})
            expected[(str(path), 42)] = None
            lines[42] = '{"id": "s0-nan", "text": "x", "weight": NaN}'  # not strict JSON
            expected[(str(path), 43)] = None
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = root / "part-2.parquet"
    rows = [{"id": f"p-{i}", "text": f"{SENTENCES[(i + 1) % 4]} ({i})"} for i in range(60)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    expected.update({(str(path), i + 1): row for i, row in enumerate(rows)})
    return expected


def test_ray_output_equals_the_predictor_document_for_document(
    local_ray, tiny_run, tmp_path, capsys
):
    from marsad.commands.predict import EXIT_SKIPPED, main
    from marsad.predictor import Predictor

    expected = _write_shards(tmp_path / "shards")
    out = tmp_path / "out"
    argv = ["--checkpoint", str(tiny_run / "best"), "--engine", "ray", "--device", "cpu"]
    argv += ["--input", str(tmp_path / "shards" / "part-*"), "--output", str(out)]
    argv += ["--num-actors", "2", "--batch-size", "16"]
    assert main(argv) == EXIT_SKIPPED  # the bad lines did not stop the run
    err = capsys.readouterr().err
    first = tmp_path / "shards" / "part-0.jsonl"
    assert f"{first}, line 41: invalid JSON" in err
    assert f"{first}, line 42 (id s0-number): expected an object with a string field" in err
    assert f"{first}, line 43: invalid JSON (NaN is not valid JSON)" in err
    assert "3 bad document(s)" in err
    assert not (tmp_path / "out.partial").exists()

    docs = pq.read_table(out / "documents").to_pylist()
    keys = [(d["file"], d["line"]) for d in docs]
    assert len(keys) == len(set(keys)) == len(expected) == 300  # none lost, none twice
    assert set(keys) == set(expected)
    predictor = Predictor.from_pretrained(tiny_run / "best", device="cpu")
    good = {k: row for k, row in expected.items() if row is not None}
    predictions = dict(zip(good, predictor([row["text"] for row in good.values()])))
    assert sum(len(p.entities) for p in predictions.values()) > 100  # the test sees mentions
    for doc in docs:
        key = (doc["file"], doc["line"])
        if expected[key] is None:
            assert doc["error"] and doc["entities"] == [] and doc["text"] is None
            record = {"line": key[1], "id": doc["id"], "error": doc["error"]}
            assert json.loads(doc["record"]) == record  # the one-process error record
            continue
        prediction = predictions[key].to_dict()
        assert doc["error"] is None and doc["id"] == good[key]["id"], key
        assert json.loads(doc["record"]) == {**good[key], **prediction}, key
        assert doc["text"] == good[key]["text"]
        assert doc["entities"] == prediction["entities"], key
        assert doc["relations"] == prediction["relations"], key
        assert doc["sentences"] == prediction["sentences"], key

    events = pq.read_table(out / "events").to_pandas()
    assert len(events) == sum(len(p.events()) for p in predictions.values()) > 0
    assert {"file", "line", "doc_id", "event_type", "actor_text", "location_start"} <= set(
        events.columns
    )
    for (path, line), rows in events.groupby(["file", "line"]):
        assert len(rows) == len(predictions[(path, line)].events())
        assert set(rows["doc_id"]) == {good[(path, line)]["id"]}
    with pytest.raises(SystemExit, match="exists"):
        main(argv)  # never writes over a finished run


def test_ray_record_column_is_the_one_process_cli_output(local_ray, tiny_run, tmp_path):
    """The ``record`` column of each document, in file and line order, is what ``marsad predict
    --jsonl`` writes for the same shard, error records included."""
    from marsad.commands.predict import main

    shard = tmp_path / "in" / "a.jsonl"
    shard.parent.mkdir()
    rows = [json.dumps({"id": i, "text": SENTENCES[i % 4]}, ensure_ascii=False) for i in range(20)]
    rows[5] = "{not json"
    rows[9] = '{"id": 9, "text": "قال \\ud800 مصدر"}'  # a lone surrogate: kept, escaped
    shard.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ckpt = str(tiny_run / "best")
    one = tmp_path / "one.jsonl"
    base = ["--checkpoint", ckpt, "--device", "cpu"]
    assert main([*base, "--jsonl", "--input", str(shard), "--output", str(one)]) == 3
    out = tmp_path / "out"
    ray_args = ["--engine", "ray", "--input", str(shard), "--output", str(out)]
    assert main([*base, *ray_args, "--batch-size", "4"]) == 3
    docs = sorted(pq.read_table(out / "documents").to_pylist(), key=lambda d: d["line"])
    assert [d["record"] for d in docs] == one.read_text(encoding="utf-8").splitlines()
    assert docs[9]["text"] == "قال \ufffd مصدر"  # Parquet holds UTF-8: one character for one


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_an_actor_that_cannot_start_is_one_line(local_ray, tiny_run, tmp_path, capsys):
    """The driver does not check --device (on a cluster the GPUs are the workers'): an actor
    that cannot load the model ends the run with the cause in one line, no output written."""
    from marsad.commands.predict import main

    shard = tmp_path / "a.jsonl"
    shard.write_text('{"text": "سيطرت قوات النظام على الميادين."}\n', encoding="utf-8")
    argv = ["--checkpoint", str(tiny_run / "best"), "--engine", "ray", "--device", "cuda"]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--input", str(shard), "--output", str(tmp_path / "o")])
    assert str(stop.value).startswith("marsad predict: --engine ray failed (")
    assert "\n" not in str(stop.value) and not (tmp_path / "o").exists()


def test_ray_engine_refuses_what_it_cannot_do(tmp_path, tiny_run, capsys):
    from marsad.commands.predict import main

    ckpt = str(tiny_run / "best")
    base = ["--checkpoint", ckpt, "--engine", "ray"]
    shard = tmp_path / "a.jsonl"
    shard.write_text('{"text": "x"}\n', encoding="utf-8")
    ok = ["--input", str(shard), "--output", str(tmp_path / "o")]
    for extra, message in (
        (["--input", str(shard)], "needs --input"),
        ([*ok, "--resume"], "no --resume"),
        ([*ok, "--format", "csv"], "no --format"),
        ([*ok, "--docs-per-step", "8"], "no --docs-per-step"),
        ([*ok, "--num-actors", "0"], "--num-actors must be >= 1"),
        ([*ok, "--quantize", "--num-gpus-per-actor", "1"], "--quantize is int8 on CPU"),
    ):
        with pytest.raises(SystemExit):
            main([*base, *extra])
        assert message in capsys.readouterr().err, extra
    with pytest.raises(SystemExit, match="matches no file"):
        main([*base, "--input", str(tmp_path / "none-*.jsonl"), "--output", str(tmp_path / "o")])
    (tmp_path / "b.txt").write_text("x\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"b\.txt is neither \.jsonl nor \.parquet"):
        main([*base, "--input", str(tmp_path / "*"), "--output", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["--checkpoint", str(tmp_path / "nothing"), "--engine", "ray", *ok])
    damaged = tmp_path / "damaged"  # same size, one byte changed: refused before Ray starts
    shutil.copytree(tiny_run / "best", damaged)
    weights = bytearray((damaged / "model.safetensors").read_bytes())
    weights[-10] ^= 0xFF
    (damaged / "model.safetensors").write_bytes(bytes(weights))
    with pytest.raises(SystemExit, match="SHA-256 differs"):
        main(["--checkpoint", str(damaged), "--engine", "ray", *ok])
    with pytest.raises(SystemExit):
        main(["--checkpoint", ckpt, "--num-actors", "2", "--input", str(shard)])
    assert "--num-actors is for --engine ray" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bench_ray_times_the_plain_cli_and_the_actor_pool(tiny_run, tmp_path, capsys):
    """``scripts/bench_ray.py`` end to end on a few documents: a row for the plain CLI and one per
    actor count, each having predicted every document."""
    from conftest import load_script

    bench = load_script("scripts/bench_ray.py")
    out = tmp_path / "bench.json"
    argv = ["--checkpoint", str(tiny_run / "best"), "--docs", "6", "--shards", "2"]
    assert bench.main([*argv, "--actors", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["docs"] == 6
    assert list(result["rows"]) == ["plain CLI (1 process)", "ray, 1 actor(s)"]
    assert all(row["docs_per_second"] > 0 for row in result["rows"].values())
    with pytest.raises(SystemExit):
        bench.main([*argv, "--actors", "0"])
