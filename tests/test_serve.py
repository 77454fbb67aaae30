"""``marsad serve`` as a real uvicorn process on 127.0.0.1, called over HTTP: health and model,
predictions equal to ``Predictor``'s, the viewer page and ``?events=true``, each limit, malformed
bodies, concurrent clients; a short request answered while a long one runs (many texts, or one long
text in pieces), the time limit, a client that leaves, overload, a lone surrogate. The batcher's
round-robin order, a long text's pieces and their merge, in-process with stand-in models; the cut
points against the sentence splitter (property-based)."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

import pytest
from conftest import load_script
from hypothesis import given, settings
from hypothesis import strategies as st

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")


LIMITS = {
    "--max-texts": "256",
    "--max-chars": "20000",
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
SENTENCES = [
    *TEXTS,
    "وقتل 5 مدنيين في دير الزور وأصيب 12 آخرون.",
    "أعلنت وزارة الدفاع الروسية أن طائراتها استهدفت مقرات في إدلب؟",
    "انسحبت فصائل المعارضة من حلب\nوسيطر الجيش على حماة!",
]


def news(sentences: int) -> str:
    """One text of ``sentences`` sentences (some lines, a tatweel now and then)."""
    return " ".join(
        SENTENCES[i % len(SENTENCES)] + (" ــ" if i % 7 == 0 else "") for i in range(sentences)
    )


# one text of about 18,000 characters: some 60 pieces of at most 300 (--chunk-chars)
LONG_TEXT = news(370)


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


def test_viewer_page_and_predictions_with_their_events(server):
    """``GET /`` is the viewer (tested in a browser in test_viewer.py); ``?events=true`` adds to
    ``/predict`` the rows ``/events`` gives, from the same run."""
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in page.text and "predict?events=true" in page.text
    both = httpx.post(f"{server}/predict?events=true", json={"texts": TEXTS}, timeout=60).json()
    plain = httpx.post(f"{server}/predict", json={"texts": TEXTS}, timeout=60).json()
    events = httpx.post(f"{server}/events", json={"texts": TEXTS}, timeout=60).json()["events"]
    assert both["predictions"] == plain["predictions"] and both["events"] == events
    assert "events" not in plain
    assert "/" not in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_limits_and_malformed_bodies_are_named_and_the_server_stays_up(server):
    cases = [
        ({"texts": ["x"] * 257}, 413, "max_texts=256"),
        ({"texts": ["ا" * 20001]}, 413, "max_chars=20000"),
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


def test_one_long_text_runs_in_pieces_merged_to_the_predictors_prediction(server, tiny_run):
    from marsad.predictor import Predictor
    from marsad.serve import piece_starts
    from marsad.tables import table_rows

    predictor = Predictor.from_pretrained(tiny_run / "best", device="cpu")
    text = news(40)
    pieces = len(piece_starts(text, predictor.loaded.preprocessing, 300))
    assert pieces > 4 and len(text) > 300 * 4
    wait_for(lambda: idle(server), "an idle server")
    before = queue(server)
    got = httpx.post(f"{server}/predict", json={"texts": [text, TEXTS[0]]}, timeout=120)
    assert got.status_code == 200, got.text
    after = queue(server)
    assert after["pieces_computed"] - before["pieces_computed"] == pieces + 1
    assert after["texts_computed"] - before["texts_computed"] == 2
    expected = predictor([text, TEXTS[0]])
    assert expected[0].relations and expected[0].events()  # the merge has indices to shift
    assert got.json()["predictions"] == [json.loads(p.to_json()) for p in expected]
    events = httpx.post(f"{server}/events", json={"texts": [text]}, timeout=120).json()["events"]
    p = expected[0]
    rows = table_rows("events", p.entities, p.relations, p.events("0"), "0", text)
    assert events == [json.loads(json.dumps(rows))]


def test_a_one_sentence_request_is_answered_while_one_long_text_runs_and_leaving_stops_it(server):
    wait_for(lambda: idle(server), "an idle server")
    before = queue(server)

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            body = {"texts": [LONG_TEXT]}
            long = asyncio.create_task(client.post(f"{server}/predict", json=body))
            await until(client, server, lambda q: q["busy"] and q["requests"] == 1)
            short = await client.post(f"{server}/predict", json={"texts": TEXTS[:1]})
            assert short.status_code == 200 and len(short.json()["predictions"]) == 1
            assert not long.done(), "the short request waited for the whole long text"
            await leave([long])

    asyncio.run(scenario())
    wait_for(lambda: idle(server), "the abandoned text's pieces to stop")
    after = queue(server)
    assert after["abandoned"] == before["abandoned"] + 1
    assert after["texts_skipped"] == before["texts_skipped"] + 1
    assert after["pieces_skipped"] > before["pieces_skipped"]
    assert after["texts_computed"] == before["texts_computed"] + 1  # the short one


def test_past_the_time_limit_is_a_504_and_the_rest_is_not_computed(hasty_server):
    before = queue(hasty_server)
    late = httpx.post(f"{hasty_server}/predict", json={"texts": LONG}, timeout=120)
    assert late.status_code == 504 and "timeout_s=0.2" in late.json()["detail"], late.text
    wait_for(lambda: idle(hasty_server), "the timed-out request's work to stop")
    after = queue(hasty_server)
    assert after["timed_out"] == before["timed_out"] + 1
    assert after["texts_computed"] - before["texts_computed"] < len(LONG)
    assert after["texts_skipped"] > before["texts_skipped"]


def test_past_the_time_limit_one_long_text_stops_between_its_pieces(hasty_server):
    before = queue(hasty_server)
    late = httpx.post(f"{hasty_server}/predict", json={"texts": [LONG_TEXT]}, timeout=120)
    assert late.status_code == 504 and "pieces computed" in late.json()["detail"], late.text
    wait_for(lambda: idle(hasty_server), "the timed-out text's pieces to stop")
    after = queue(hasty_server)
    assert after["timed_out"] == before["timed_out"] + 1
    assert after["texts_computed"] == before["texts_computed"]
    assert after["texts_skipped"] == before["texts_skipped"] + 1
    assert after["pieces_skipped"] > before["pieces_skipped"]


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


class Sentences:
    """A stand-in model that reads sentences as ``Predictor`` does: per sentence, its first and
    last words as entities and a relation between them; records each batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str], batch_size: int) -> list:
        self.batches.append(list(texts))
        return [self.one(t) for t in texts]

    @staticmethod
    def one(text: str):
        from marsad.predictor import Entity, Prediction, Relation
        from marsad.text import clean_text, split_sentences, word_spans

        clean, out = clean_text(text, []), Prediction()
        for s, sent in enumerate(split_sentences(clean.text, drop_furniture=False)):
            out.sentences.append(clean.span(sent.start, sent.end))
            words = word_spans(sent.text)
            for a, b in (words[0], words[-1]):
                start, end = clean.span(sent.start + a, sent.start + b)
                out.entities.append(Entity("ACTOR", text[start:end], start, end, 0.5, s))
            first = len(out.entities) - 2
            out.relations.append(Relation(first, first + 1, "ATTACKS", 0.5))
        return out


def test_merged_pieces_carry_every_offset_and_index_field():
    """Guards :func:`merge_pieces`: a new field here holding an offset or an index must be shifted
    there too."""
    from marsad.predictor import Entity, Prediction, Relation
    from marsad.serve import merge_pieces

    assert [f.name for f in fields(Prediction)] == ["entities", "relations", "sentences"]
    assert [f.name for f in fields(Entity)] == [
        "label", "text", "start", "end", "score", "sentence"
    ]  # fmt: skip
    assert [f.name for f in fields(Relation)] == ["head", "tail", "label", "score"]
    text = "أ ب. ج د.\nه و."
    parts = [(0, Sentences.one(text[:5])), (5, Sentences.one(text[5:]))]
    assert merge_pieces(parts).to_dict() == Sentences.one(text).to_dict()


def test_a_long_text_runs_in_pieces_between_other_requests_and_merges_back():
    from marsad.serve import Batcher, ServeSettings, piece_starts

    text = "قصف التحالف الرقة. سيطر الجيش على حماة.\nقتل 5 مدنيين. انسحبت الفصائل من حلب؟"
    starts = piece_starts(text, [], 25)
    pieces = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)])]
    assert len(pieces) == 4

    async def scenario() -> tuple[list[list[str]], list, dict]:
        model = Sentences()
        batcher = Batcher(model, ServeSettings(batch_texts=2, chunk_chars=25, batch_window_ms=0))
        long = batcher.submit([text], [starts])
        await asyncio.sleep(0)  # the worker takes the first piece
        short = batcher.submit(["S."])
        assert [p.to_dict() for p in await short.done] == [Sentences.one("S.").to_dict()]
        assert not long.done.done()
        return model.batches, await long.done, batcher.stats

    batches, merged, stats = asyncio.run(scenario())
    assert batches == [pieces[:1], ["S.", pieces[1]], pieces[2:3], pieces[3:]]
    whole = Sentences.one(text)
    assert len(merged) == 1 and merged[0] == whole and merged[0].events() == whole.events()
    assert stats["pieces_computed"] == 5 and stats["texts_computed"] == 2


def test_a_given_up_long_text_stops_between_its_pieces():
    from marsad.serve import Batcher, ServeSettings, piece_starts

    text = "قصف التحالف الرقة. سيطر الجيش على حماة. قتل 5 مدنيين. انسحبت الفصائل من حلب؟"
    starts = piece_starts(text, [], 20)

    async def scenario() -> tuple[list[list[str]], dict]:
        model = Sentences()
        batcher = Batcher(model, ServeSettings(batch_texts=4, chunk_chars=20, batch_window_ms=0))
        given_up = batcher.submit([text, "b."], [starts, [0]])
        await asyncio.sleep(0)  # the worker takes the first piece
        given_up.done.cancel()
        done = batcher.submit(["e."])
        await done.done
        return model.batches, batcher.stats

    batches, stats = asyncio.run(scenario())
    assert len(starts) == 4 and batches == [[text[: starts[1]]], ["e."]]
    assert stats["pieces_computed"] == 2 and stats["pieces_skipped"] == 4
    assert stats["texts_computed"] == 1 and stats["texts_skipped"] == 2


def test_a_single_sentence_over_chunk_chars_is_one_piece_and_pieces_fit_where_sentences_allow():
    from marsad.serve import piece_starts

    one = "قصف التحالف " * 10 + "الرقة."
    assert piece_starts(one, [], 20) == [0]
    text = f"أ. {one} ب. ج. د."
    starts = piece_starts(text, [], 20)
    sizes = [b - a for a, b in zip(starts, [*starts[1:], len(text)])]
    assert starts == [0, 3, 3 + len(one) + 1] and sizes[1] > 20 and sizes[2] <= 20


# letters (Persian yeh and keheh, which fold by their neighbours), tatweel, a haraka and its
# presentation form, a ligature with spaces, joiners and marks dropped inside words, separators,
# sentence ends, quotes, line breaks of every kind, digits and a lone surrogate
PIECE_ALPHABET = st.sampled_from(
    list('اب یک\u0640\u064e\ufe76\ufdfa\u200c\u200f\u00ad\u200b .!?؟»"\n\r\u2028\t5٫,(')
    + ["\ud800", "  ", ". ", ".\n"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECE_ALPHABET, max_size=120).map("".join), st.integers(1, 30))
def test_pieces_hold_exactly_the_whole_texts_sentences(text, max_chars):
    """Each piece, cleaned and split as ``Predictor`` does, has the whole text's sentences in it,
    same offsets once shifted and same clean text; a piece over ``max_chars`` is one sentence."""
    from marsad.serve import piece_starts
    from marsad.text import clean_text, split_sentences

    steps = ["strip_tatweel", "strip_diacritics"]

    def sentences(t: str, shift: int = 0) -> list[tuple[tuple[int, int], str]]:
        clean = clean_text(t, steps)
        return [
            ((a + shift, b + shift), s.text)
            for s in split_sentences(clean.text, drop_furniture=False)
            for a, b in [clean.span(s.start, s.end)]
        ]

    starts = piece_starts(text, steps, max_chars)
    assert starts[0] == 0 and starts == sorted(set(starts))
    merged = []
    for a, b in zip(starts, [*starts[1:], len(text)]):
        own = sentences(text[a:b], a)
        assert b - a <= max_chars or len(own) <= 1, (a, b)
        merged += own
    assert merged == sentences(text)
