"""``marsad serve`` as a real uvicorn process on 127.0.0.1, called over HTTP: health and model,
predictions equal to ``Predictor``'s, each limit, malformed bodies, concurrent clients."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import load_script

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")


@pytest.fixture(scope="module")
def server(tiny_run):
    """A live ``marsad serve`` with small limits, started as the serving benchmark starts it."""
    bench = load_script("scripts/bench_serve.py")
    limits = ["--max-texts", "8", "--max-chars", "400", "--max-bytes", "20000", "--device", "cpu"]
    proc, url = bench.start(str(tiny_run / "best"), limits)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


TEXTS = ["سيطرت قوات النظام على مدينة الميادين.", "قصف التحالف الدولي مواقع لتنظيم داعش في الرقة."]


def test_health_model_and_predictions_equal_the_predictor(server, tiny_run):
    from marsad.predictor import Predictor

    health = httpx.get(f"{server}/health").json()
    assert health == {"status": "ok", "model": "tiny-random"}
    model = httpx.get(f"{server}/model").json()
    assert model["entity_types"] == ["ACTOR", "LOCATION", "QUANTITY"] and model["data_fingerprint"]
    got = httpx.post(f"{server}/predict", json={"texts": TEXTS}, timeout=60).json()
    expected = Predictor.from_pretrained(tiny_run / "best", device="cpu")(TEXTS)
    assert got["predictions"] == [json.loads(p.to_json()) for p in expected]
    events = httpx.post(f"{server}/events", json={"texts": TEXTS}, timeout=60).json()["events"]
    assert len(events) == 2
    assert [len(rows) for rows in events] == [len(p.events()) for p in expected]
    assert httpx.get(f"{server}/docs").status_code == 200


def test_limits_and_malformed_bodies_are_named_and_the_server_stays_up(server):
    cases = [
        ({"texts": ["x"] * 9}, 413, "max_texts=8"),
        ({"texts": ["ا" * 401]}, 413, "max_chars=400"),
        ({"texts": ["ok", 7]}, 422, "texts"),
        ({"text": ["ok"]}, 422, "texts"),
    ]
    for body, status, needle in cases:
        r = httpx.post(f"{server}/predict", json=body, timeout=60)
        assert r.status_code == status and needle in r.text, (body, r.status_code, r.text)
    big = httpx.post(
        f"{server}/predict",
        content=b'{"texts": ["' + b"a" * 30000 + b'"]}',
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and "max_bytes=20000" in big.text
    bad = httpx.post(
        f"{server}/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422
    assert httpx.get(f"{server}/health").status_code == 200


def test_concurrent_clients_each_get_their_own_prediction(server, tiny_run):
    from marsad.predictor import Predictor

    texts = [f"{TEXTS[i % 2]} {i}" for i in range(24)]
    expected = Predictor.from_pretrained(tiny_run / "best", device="cpu")(texts)

    def one(i: int) -> dict:
        r = httpx.post(f"{server}/predict", json={"texts": [texts[i]]}, timeout=120)
        return r.json()["predictions"][0]

    with ThreadPoolExecutor(12) as pool:
        got = list(pool.map(one, range(len(texts))))
    assert got == [json.loads(p.to_json()) for p in expected]


def test_serving_benchmark_reports_both_settings_and_the_ratio(tiny_run, tmp_path, capsys):
    bench = load_script("scripts/bench_serve.py")
    out = tmp_path / "serve.json"
    args = ["--checkpoint", str(tiny_run / "best"), "--requests", "12", "--clients", "4"]
    assert bench.main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["rows"]) == {
        "one at a time, 1 client(s)",
        "one at a time, 4 client(s)",
        "batched, 1 client(s)",
        "batched, 4 client(s)",
    }
    assert all(
        r["requests"] == 12 and r["p95_ms"] >= r["p50_ms"] > 0 for r in result["rows"].values()
    )
    assert result["ratio"] > 0 and "batched / one at a time" in capsys.readouterr().out
