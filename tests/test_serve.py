"""``marsad serve`` as a real uvicorn process on 127.0.0.1, called over HTTP: health and model,
predictions equal to ``Predictor``'s, each limit, malformed bodies, concurrent clients; a short
request answered while a long one runs, the time limit, a client that leaves, overload, a lone
surrogate. The batcher's round-robin order, in-process with a stand-in model."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import load_script

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")


LIMITS = {
    "--max-texts": "256",
    "--max-chars": "400",
    "--max-request-chars": "90000",
    "--max-bytes": "400000",
    "--batch-texts": "4",
    "--chunk-chars": "300",
    "--max-queue": "12",
    "--device": "cpu",
}


def start_server(tiny_run, **extra: str):
    """A live ``marsad serve`` with small limits, started as the serving benchmark starts it."""
    bench = load_script("scripts/bench_serve.py")
    flags = {**LIMITS, **{f"--{k.replace('_', '-')}": v for k, v in extra.items()}}
    return bench.start(str(tiny_run / "best"), [a for kv in flags.items() for a in kv])


@pytest.fixture(scope="module")
def server(tiny_run):
    proc, url = start_server(tiny_run)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def hasty_server(tiny_run):
    """The same server with a 0.2 s time limit."""
    proc, url = start_server(tiny_run, timeout_s="0.2")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


TEXTS = ["سيطرت قوات النظام على مدينة الميادين.", "قصف التحالف الدولي مواقع لتنظيم داعش في الرقة."]
# 250 texts of 343 characters, each a model run of its own (--chunk-chars 300): seconds of work
LONG = [" ".join(TEXTS * 4)] * 250


def test_health_model_and_predictions_equal_the_predictor(server, tiny_run):
    from marsad.predictor import Predictor

    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["model"] == "tiny-random"
    assert health["queue"]["requests"] == 0 and health["queue"]["busy"] is False
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
        ({"texts": ["x"] * 257}, 413, "max_texts=256"),
        ({"texts": ["ا" * 401]}, 413, "max_chars=400"),
        ({"texts": ["ا" * 400] * 226}, 413, "max_request_chars=90000"),
        ({"texts": ["ok", 7]}, 422, "texts"),
        ({"text": ["ok"]}, 422, "texts"),
    ]
    for body, status, needle in cases:
        r = httpx.post(f"{server}/predict", json=body, timeout=60)
        assert r.status_code == status and needle in r.text, (body, r.status_code, r.text)
    big = httpx.post(
        f"{server}/predict",
        content=b'{"texts": ["' + b"a" * 500000 + b'"]}',
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and "max_bytes=400000" in big.text
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


def queue(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=60).json()["queue"]


def wait_for(predicate, what: str) -> None:
    """Polls until ``predicate()`` holds; the bound only keeps a broken server from hanging."""
    deadline = time.monotonic() + 120
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def idle(url: str) -> bool:
    q = queue(url)
    return q["requests"] == 0 and not q["busy"]


async def until(client: httpx.AsyncClient, url: str, predicate) -> None:
    """Polls ``/health`` until ``predicate(queue)`` holds (bounded, as :func:`wait_for`)."""
    deadline = time.monotonic() + 120
    while not predicate((await client.get(f"{url}/health")).json()["queue"]):
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def leave(tasks: list[asyncio.Task]) -> None:
    """The clients stop waiting: their connections close mid-request."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_a_short_request_is_answered_while_a_long_one_runs_and_leaving_stops_the_long(server):
    wait_for(lambda: idle(server), "an idle server")
    before = queue(server)

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            long = asyncio.create_task(client.post(f"{server}/predict", json={"texts": LONG}))
            await until(client, server, lambda q: q["texts_computed"] > before["texts_computed"])
            short = await client.post(f"{server}/predict", json={"texts": TEXTS[:1]})
            assert short.status_code == 200 and len(short.json()["predictions"]) == 1
            assert not long.done(), "the short request waited for the whole long one"
            await leave([long])

    asyncio.run(scenario())
    wait_for(lambda: idle(server), "the abandoned request's work to stop")
    after = queue(server)
    assert after["abandoned"] == before["abandoned"] + 1
    assert after["timed_out"] == before["timed_out"]
    assert after["texts_computed"] - before["texts_computed"] < len(LONG)
    assert after["texts_skipped"] > before["texts_skipped"]


def test_past_the_time_limit_is_a_504_and_the_rest_is_not_computed(hasty_server):
    before = queue(hasty_server)
    late = httpx.post(f"{hasty_server}/predict", json={"texts": LONG}, timeout=120)
    assert late.status_code == 504 and "timeout_s=0.2" in late.json()["detail"], late.text
    wait_for(lambda: idle(hasty_server), "the timed-out request's work to stop")
    after = queue(hasty_server)
    assert after["timed_out"] == before["timed_out"] + 1
    assert after["texts_computed"] - before["texts_computed"] < len(LONG)
    assert after["texts_skipped"] > before["texts_skipped"]


def test_a_full_queue_is_a_503_and_health_says_overloaded(server):
    wait_for(lambda: idle(server), "an idle server")

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(timeout=120) as client:
            waiting = [
                asyncio.create_task(client.post(f"{server}/predict", json={"texts": LONG}))
                for _ in range(12)
            ]
            await until(client, server, lambda q: q["requests"] == 12)
            health = await client.get(f"{server}/health")
            refused = await client.post(f"{server}/predict", json={"texts": TEXTS})
            await leave(waiting)
        return health, refused

    health, refused = asyncio.run(scenario())
    assert health.status_code == 503 and health.json()["status"] == "overloaded"
    assert health.json()["queue"]["oldest_wait_s"] > 0
    assert refused.status_code == 503 and "max_queue=12" in refused.json()["detail"]
    wait_for(lambda: idle(server), "the abandoned requests' work to stop")
    assert httpx.get(f"{server}/health", timeout=60).json()["status"] == "ok"


def test_a_lone_surrogate_is_read_as_a_separator_and_answered_as_json(server, tiny_run):
    from marsad.predictor import Predictor

    text = "قصف التحالف\ud800 الدولي مواقع لتنظيم داعش في الرقة وقتل 5 مدنيين في دير الزور."
    body = json.dumps({"texts": [text]}).encode()  # "\\ud800": valid JSON, not valid UTF-8
    headers = {"content-type": "application/json"}
    got = httpx.post(f"{server}/predict", content=body, headers=headers, timeout=60)
    assert got.status_code == 200, got.text
    expected = Predictor.from_pretrained(tiny_run / "best", device="cpu")([text])[0]
    assert got.json()["predictions"] == [json.loads(json.dumps(expected.to_dict()))]
    events = httpx.post(f"{server}/events", content=body, headers=headers, timeout=60)
    assert events.status_code == 200, events.text
    assert all(row["sentence_text"] == text for row in events.json()["events"][0])


class Recorder:
    """A stand-in model: records each batch, returns each text as its "prediction"."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str], batch_size: int) -> list[str]:
        self.batches.append(list(texts))
        if "boom" in texts:
            raise ValueError("boom")
        return list(texts)


def test_batches_are_taken_round_robin_across_requests():
    from marsad.serve import Batcher, ServeSettings

    async def scenario() -> list[list[str]]:
        model = Recorder()
        batcher = Batcher(model, ServeSettings(batch_texts=2, chunk_chars=100, batch_window_ms=0))
        long = batcher.submit([f"L{i}" for i in range(6)])
        await asyncio.sleep(0)  # the worker takes the first batch
        short = batcher.submit(["S"])
        assert await short.done == ["S"]
        assert not long.done.done()
        assert await long.done == [f"L{i}" for i in range(6)]
        return model.batches

    assert asyncio.run(scenario()) == [["L0", "L1"], ["S", "L2"], ["L3", "L4"], ["L5"]]


def test_a_text_over_chunk_chars_runs_alone_and_a_given_up_request_is_not_computed():
    from marsad.serve import Batcher, ServeSettings

    async def scenario() -> tuple[list[list[str]], dict]:
        model = Recorder()
        batcher = Batcher(model, ServeSettings(batch_texts=4, chunk_chars=5, batch_window_ms=0))
        given_up = batcher.submit(["aaaaaaaa", "b", "c", "d"])
        await asyncio.sleep(0)  # the worker takes the first batch: the long text, alone
        given_up.done.cancel()
        done = batcher.submit(["e"])
        assert await done.done == ["e"]
        return model.batches, batcher.stats

    batches, stats = asyncio.run(scenario())
    assert batches == [["aaaaaaaa"], ["e"]]
    assert stats["texts_skipped"] == 3 and stats["texts_computed"] == 2


def test_a_text_the_model_fails_on_fails_its_own_request_only():
    from marsad.serve import Batcher, ServeSettings

    async def scenario() -> tuple[list[str], Exception]:
        batcher = Batcher(Recorder(), ServeSettings(batch_window_ms=50))
        good, bad = batcher.submit(["a", "b"]), batcher.submit(["boom"])
        failed = await asyncio.gather(bad.done, return_exceptions=True)
        return await good.done, failed[0]

    good, failed = asyncio.run(scenario())
    assert good == ["a", "b"] and isinstance(failed, ValueError)


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
