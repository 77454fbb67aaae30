"""An HTTP API over one checkpoint (FastAPI; ``marsad serve``, the ``serve`` extra).

``GET /health``, ``GET /model`` (the checkpoint's metadata), ``POST /predict`` with ``{"texts":
[...]}`` -> ``{"predictions": [Prediction.to_dict(), ...]}`` (``?events=true`` adds the event rows
too, from the same model run) and ``POST /events`` -> ``{"events": [[row, ...] per text]}`` (the
events table's rows, docs/events.md). ``GET /`` is the viewer (``viewer.html``: one static page, no
build step). OpenAPI docs at ``/docs``.

The model runs in a worker thread, off the event loop, one batch at a time. A text longer than
``chunk_chars`` is cut into pieces at sentence starts (:func:`piece_starts`: the sentences
``Predictor`` reads, so the merged prediction is the whole text's, offsets into the text sent); a
request's pieces are taken in chunks (at most ``batch_texts`` pieces and ``chunk_chars``
characters, or one longer piece: a single sentence over ``chunk_chars``), round-robin across the
waiting requests, so a one-sentence request is answered between two chunks of a large one, even of
one long text, rather than after all of it, and texts of concurrent requests share a batch (a
request waits up to ``batch_window_ms`` for others to join). A request is bounded: texts,
characters per text, characters in all (``max_request_chars``) and body bytes over a limit are a
413 naming it; a request not answered within ``timeout_s`` is a 504, and one whose client has gone
is dropped; its pieces not yet run are never computed, also those of a text partly run. More than
``max_queue`` requests waiting is a 503, and ``/health`` then says "overloaded" (503) with the
queue's depth and oldest wait. A malformed body is a 422 naming the field. A text the model fails
on fails its own request (500 with the error), never the server. Every error is JSON
``{"detail": ...}``.
"""

# no ``from __future__ import annotations``: FastAPI reads the request model from the endpoints'
# annotations, which must be the class itself (it is defined inside create_app, beside its limits)
import asyncio
import json
from dataclasses import dataclass, field, replace
from importlib.resources import files
from typing import Any, NamedTuple

from marsad.predictor import Prediction, Predictor
from marsad.tables import table_rows
from marsad.text import clean_text, split_sentences


@dataclass(frozen=True)
class ServeSettings:
    """The server's limits. ``max_request_chars``: 100,000 characters is about 11 s of model time
    on 2 CPU cores for punctuated news (9,040 chars/s) and 22 s for text without sentence
    punctuation (4,593 chars/s; docs/speed.md), inside the 60 s ``timeout_s``."""

    max_texts: int = 256  # texts per request
    max_chars: int = 100_000  # characters per text
    max_bytes: int = 8_000_000  # request body
    batch_texts: int = 32  # texts predicted at once, across requests
    batch_window_ms: float = 5.0  # how long a request waits for others to join its batch
    max_request_chars: int = 100_000  # characters in all of a request's texts
    timeout_s: float = 60.0  # from arrival to answer; over it is a 504
    chunk_chars: int = 4_000  # characters per model run and per piece of a long text, so other
    # requests get a turn between runs
    max_queue: int = 64  # requests waiting or running; one more is a 503

    def __post_init__(self) -> None:
        for name in (
            "max_texts",
            "max_chars",
            "max_bytes",
            "batch_texts",
            "max_request_chars",
            "chunk_chars",
            "max_queue",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")


class Overloaded(Exception):
    """The queue is full: the request is refused before any work (503)."""


def piece_starts(text: str, steps: list[str], max_chars: int) -> list[int]:
    """Offsets in ``text`` where its pieces start (the first is 0), each piece at most
    ``max_chars`` characters unless it is one longer sentence, so a long text can yield the model
    between pieces.

    Cuts fall only where a sentence starts as :class:`Predictor` splits the text (cleaned with the
    checkpoint's ``steps``, :func:`split_sentences` keeping every line): relations never cross a
    sentence, and cleaning never reads past the whitespace that ends one, so each piece yields the
    whole text's sentences in it and, shifted by its start, the same prediction
    (:func:`merge_pieces`)."""
    if len(text) <= max_chars:
        return [0]
    clean = clean_text(text, steps)
    starts, last = [0], 0  # last: the latest sentence start seen
    for sentence in split_sentences(clean.text, drop_furniture=False)[1:]:
        cut = clean.origin[sentence.start]
        if cut - starts[-1] > max_chars and last > starts[-1]:
            starts.append(last)
        last = cut
    if len(text) - starts[-1] > max_chars and last > starts[-1]:
        starts.append(last)
    return starts


def merge_pieces(parts: list[tuple[int, Prediction]]) -> Prediction:
    """One text's prediction from its pieces' (start offset, prediction), in order: entity and
    sentence offsets shifted by the piece's start, entity sentence indices and relation ends by
    the sentences and entities of the pieces before it (events follow from these)."""
    if len(parts) == 1 and parts[0][0] == 0:
        return parts[0][1]
    merged = Prediction()
    for start, part in parts:
        first, base = len(merged.entities), len(merged.sentences)
        merged.entities += [
            replace(e, start=e.start + start, end=e.end + start, sentence=e.sentence + base)
            for e in part.entities
        ]
        merged.relations += [
            replace(r, head=r.head + first, tail=r.tail + first) for r in part.relations
        ]
        merged.sentences += [(a + start, b + start) for a, b in part.sentences]
    return merged


class Piece(NamedTuple):
    text: int  # index of its text in the request
    start: int  # offset of the piece in that text
    chars: str


@dataclass(eq=False)
class Job:
    """One request's texts, as pieces (one per text unless ``starts`` cuts it); ``done`` is
    cancelled when its client stops waiting, and then its pieces not yet taken are never
    computed."""

    texts: list[str]
    done: asyncio.Future
    arrived: float
    starts: list[list[int]] | None = None  # per text, its pieces' start offsets (None: 1 piece)
    pieces: list[Piece] = field(default_factory=list)
    last_piece: list[int] = field(default_factory=list)  # per text, the index of its last piece
    results: list[Prediction | None] = field(default_factory=list)
    taken: int = 0  # pieces handed to the model so far, in order
    computed: int = 0

    def __post_init__(self) -> None:
        for i, text in enumerate(self.texts):
            cuts = self.starts[i] if self.starts is not None else [0]
            for a, b in zip(cuts, [*cuts[1:], len(text)]):
                self.pieces.append(Piece(i, a, text[a:b]))
            self.last_piece.append(len(self.pieces) - 1)
        self.results = [None] * len(self.pieces)

    def texts_within(self, pieces: int) -> int:
        """Texts whose every piece is among the first ``pieces``."""
        return sum(1 for last in self.last_piece if last < pieces)

    def predictions(self) -> list[Prediction]:
        """One prediction per text, its pieces merged."""
        parts: list[list[tuple[int, Prediction]]] = [[] for _ in self.texts]
        for piece, result in zip(self.pieces, self.results):
            parts[piece.text].append((piece.start, result))
        return [merge_pieces(p) for p in parts]


class Batcher:
    """Runs the model on chunks of the waiting requests' texts, one batch at a time, taking each
    batch round-robin across requests (the one after the last served goes first)."""

    def __init__(self, predictor: Predictor, settings: ServeSettings):
        self.predictor, self.settings = predictor, settings
        self.jobs: list[Job] = []  # requests waiting or running, in arrival order
        self.turn = 0  # index in jobs of the request served first in the next batch
        self.wake: asyncio.Event | None = None
        self.worker: asyncio.Task | None = None
        self.busy = False
        self.stats = {
            "texts_computed": 0,
            "texts_skipped": 0,
            "pieces_computed": 0,
            "pieces_skipped": 0,
            "timed_out": 0,
            "abandoned": 0,
        }

    def check_room(self) -> None:
        """:class:`Overloaded` when ``max_queue`` requests already wait."""
        waiting = len(self.live())
        if waiting >= self.settings.max_queue:
            raise Overloaded(
                f"{waiting} requests are queued (max_queue={self.settings.max_queue}); retry later"
            )

    def submit(self, texts: list[str], starts: list[list[int]] | None = None) -> Job:
        """Queue ``texts``, each cut at its ``starts`` (:func:`piece_starts`; None: whole);
        :class:`Overloaded` when ``max_queue`` requests already wait."""
        self.check_room()
        loop = asyncio.get_running_loop()
        job = Job(texts, loop.create_future(), loop.time(), starts)
        if not texts:
            job.done.set_result([])
            return job
        if self.worker is None:
            self.wake = asyncio.Event()
            self.worker = asyncio.create_task(self._run())
        self.jobs.append(job)
        self.wake.set()
        return job

    def live(self) -> list[Job]:
        """Requests waiting or running (those given up are dropped only when the worker next
        takes a batch)."""
        return [j for j in self.jobs if not j.done.done()]

    def queue_state(self) -> dict[str, Any]:
        """Depth, texts and pieces waiting, whether the model runs now, and the oldest request's
        wait."""
        live = self.live()
        now = asyncio.get_running_loop().time()
        return {
            "requests": len(live),
            "texts_waiting": sum(len(j.texts) - j.texts_within(j.taken) for j in live),
            "pieces_waiting": sum(len(j.pieces) - j.taken for j in live),
            "busy": self.busy,
            "oldest_wait_s": round(max((now - j.arrived for j in live), default=0.0), 3),
            **self.stats,
        }

    async def _run(self) -> None:
        while True:
            await self._gather()
            batch = self._take()
            if batch:
                await self._compute(batch)

    async def _gather(self) -> None:
        """Wait for work, then up to ``batch_window_ms`` while the batch is not yet full."""
        while not self._drop_finished():
            self.wake.clear()
            await self.wake.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.batch_window_ms / 1000
        while self._waiting_pieces() < self.settings.batch_texts:
            left = deadline - loop.time()
            if left <= 0:
                return
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), left)
            except asyncio.TimeoutError:
                return

    def _waiting_pieces(self) -> int:
        return sum(len(j.pieces) - j.taken for j in self.jobs)

    def _drop_finished(self) -> int:
        """Forget requests answered or given up (counting the texts and pieces a given-up one left
        undone), keeping the turn on the same request."""
        kept = []
        for i, job in enumerate(self.jobs):
            if not job.done.done():
                kept.append(job)
                continue
            if job.done.cancelled():
                self.stats["texts_skipped"] += len(job.texts) - job.texts_within(job.taken)
                self.stats["pieces_skipped"] += len(job.pieces) - job.taken
            if i < self.turn:
                self.turn -= 1
        self.jobs = kept
        return len(kept)

    def _take(self) -> list[tuple[Job, int, int]]:
        """The next batch: from each request in turn, starting with the one after the last served
        (a newly arrived one included), its next pieces that fit ``batch_texts`` and
        ``chunk_chars`` (one longer piece alone)."""
        if not self._drop_finished():
            return []
        batch: list[tuple[Job, int, int]] = []
        pieces = chars = 0
        first = self.turn % len(self.jobs)
        for i in [*range(first, len(self.jobs)), *range(first)]:
            job = self.jobs[i]
            start = end = job.taken
            while end < len(job.pieces) and pieces < self.settings.batch_texts:
                size = len(job.pieces[end].chars)
                if pieces and chars + size > self.settings.chunk_chars:
                    break
                pieces, chars, end = pieces + 1, chars + size, end + 1
            if end > start:
                batch.append((job, start, end))
                job.taken, self.turn = end, i + 1
        return batch

    async def _compute(self, batch: list[tuple[Job, int, int]]) -> None:
        self.busy = True
        try:
            parts = await self._parts(batch)
        finally:
            self.busy = False
        for (job, a, b), part in zip(batch, parts):
            if isinstance(part, list):  # a text counts once its last piece is computed
                self.stats["texts_computed"] += job.texts_within(b) - job.texts_within(a)
            if part is None or job.done.done():
                continue
            if isinstance(part, Exception):
                job.done.set_exception(part)
                continue
            job.results[a:b] = part
            job.computed += b - a
            if job.computed == len(job.pieces):
                job.done.set_result(job.predictions())

    async def _parts(
        self, batch: list[tuple[Job, int, int]]
    ) -> list[list[Prediction] | Exception | None]:
        """Each request's pieces' predictions in ``batch``, from one model run; when that fails,
        each request's pieces alone, so a failing text fails its own request only (an exception in
        its place), and a request given up meanwhile is not run again (None)."""
        texts = [p.chars for job, a, b in batch for p in job.pieces[a:b]]
        try:
            results = await asyncio.to_thread(self._predict, texts)
        except Exception:  # noqa: BLE001 - one request's bad text must not fail the others
            results = None
        parts: list[list[Prediction] | Exception | None] = []
        offset = 0
        for job, a, b in batch:
            if results is not None:
                parts.append(results[offset : offset + b - a])
            elif job.done.done():
                parts.append(None)
            else:
                try:
                    chars = [p.chars for p in job.pieces[a:b]]
                    parts.append(await asyncio.to_thread(self._predict, chars))
                except Exception as exc:  # noqa: BLE001 - reported to that request
                    parts.append(exc)
            offset += b - a
        return parts

    def _predict(self, texts: list[str]) -> list[Prediction]:
        results = self.predictor(texts, self.settings.batch_texts)
        self.stats["pieces_computed"] += len(texts)
        return results


async def _client_gone(request) -> None:
    """Returns when the client closes its connection (the body has been read by then)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _json_bytes(content: Any) -> bytes:
    """UTF-8 JSON; content holding a lone surrogate (valid in JSON input, where a caller's text
    may carry one, but not in UTF-8) is written with ASCII escapes, as it was read."""
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


class BodyLimit:
    """Refuses a POST body over ``max_bytes`` (411 without a Content-Length) before reading it."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        from starlette.responses import JSONResponse

        if scope["type"] == "http":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length", b"").decode("latin-1")
            detail, status = None, 0
            if scope["method"] == "POST" and not length.isdigit():
                detail, status = "a Content-Length header is required", 411
            elif length.isdigit() and int(length) > self.max_bytes:
                detail = f"request body of {length} bytes is over max_bytes={self.max_bytes}"
                status = 413
            if detail:
                await JSONResponse({"detail": detail}, status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(predictor: Predictor, settings: ServeSettings | None = None):
    """The FastAPI application serving ``predictor``."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from pydantic import BaseModel, StrictStr

    class SafeJSON(JSONResponse):
        def render(self, content: Any) -> bytes:
            return _json_bytes(content)

    settings = settings or ServeSettings()
    batcher = Batcher(predictor, settings)
    meta = predictor.loaded.meta
    steps = predictor.loaded.preprocessing
    app = FastAPI(
        title="Marsad",
        description="Actors, locations, quantities and their relations in Arabic news.",
        default_response_class=SafeJSON,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_bytes)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Any other failure as JSON naming it, not the plain-text 500."""
        return SafeJSON({"detail": f"{type(exc).__name__}: {exc}"}, 500)

    class Texts(BaseModel):
        texts: list[StrictStr]

    def check(body: Texts) -> list[str]:
        if len(body.texts) > settings.max_texts:
            raise HTTPException(
                413, f"{len(body.texts)} texts is over max_texts={settings.max_texts}"
            )
        for i, text in enumerate(body.texts):
            if len(text) > settings.max_chars:
                raise HTTPException(
                    413,
                    f"texts[{i}] has {len(text)} characters, over max_chars={settings.max_chars}",
                )
        total = sum(len(t) for t in body.texts)
        if total > settings.max_request_chars:
            raise HTTPException(
                413,
                f"the texts have {total} characters in all, over "
                f"max_request_chars={settings.max_request_chars}; send them in several requests",
            )
        return body.texts

    def cut(texts: list[str]) -> list[list[int]]:
        return [piece_starts(t, steps, settings.chunk_chars) for t in texts]

    async def run(texts: list[str], request: Request) -> list[Prediction]:
        """The request's predictions; 503 when the queue is full, 504 past ``timeout_s``; the
        request's remaining work is dropped when it times out or its client leaves. Long texts are
        cut into pieces off the event loop (cleaning 100,000 characters takes a good part of a
        second)."""
        deadline = asyncio.get_running_loop().time() + settings.timeout_s
        try:
            starts = None
            if any(len(t) > settings.chunk_chars for t in texts):
                batcher.check_room()  # refused before the cutting's work
                starts = await asyncio.to_thread(cut, texts)
            job = batcher.submit(texts, starts)
        except Overloaded as exc:
            raise HTTPException(503, f"server overloaded: {exc}", {"Retry-After": "5"}) from exc
        gone = asyncio.create_task(_client_gone(request))
        reason = "timed_out"
        try:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            finished, _ = await asyncio.wait(
                {job.done, gone}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            if gone in finished:
                reason = "abandoned"
        except asyncio.CancelledError:
            reason = "abandoned"
            raise
        finally:  # the request's chunks not yet run are skipped
            gone.cancel()
            if not job.done.done():
                job.done.cancel()
                batcher.stats[reason] += 1
        if job.done.cancelled():
            raise HTTPException(
                504,
                f"not answered within timeout_s={settings.timeout_s} "
                f"({job.texts_within(job.computed)} of {len(texts)} texts, {job.computed} of "
                f"{len(job.pieces)} pieces computed); send fewer or shorter texts",
            )
        try:
            return job.done.result()
        except Exception as exc:  # noqa: BLE001 - the server stays up; the client learns why
            raise HTTPException(500, f"{type(exc).__name__}: {exc}") from exc

    viewer = files("marsad").joinpath("viewer.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        """The viewer: paste Arabic text, see its mentions, relations and events."""
        return HTMLResponse(viewer)

    def event_rows(predictions: list[Prediction], texts: list[str]) -> list[list[dict]]:
        return [
            table_rows("events", p.entities, p.relations, p.events(str(i)), str(i), text)
            for i, (p, text) in enumerate(zip(predictions, texts))
        ]

    @app.get("/health")
    async def health() -> JSONResponse:
        queue = batcher.queue_state()
        overloaded = queue["requests"] >= settings.max_queue
        body = {
            "status": "overloaded" if overloaded else "ok",
            "model": meta.get("encoder", {}).get("used"),
            "queue": queue,
        }
        return SafeJSON(body, 503 if overloaded else 200)

    @app.get("/model")
    def model() -> dict[str, Any]:
        data = meta.get("data", {})
        return {
            "encoder": meta.get("encoder"),
            "entity_types": meta.get("entity_types"),
            "relation_labels": meta.get("relation_labels"),
            "data_fingerprint": data.get("fingerprint"),
            "data_run": data.get("run"),
            "epoch": meta.get("epoch"),
            "decoding": meta.get("decoding"),
            "dev_metrics": meta.get("dev_metrics"),
        }

    @app.post("/predict")
    async def predict(body: Texts, request: Request, events: bool = False) -> SafeJSON:
        """``events=true`` adds each text's event rows (as ``POST /events`` gives them), from
        the same model run: the viewer shows both."""
        texts = check(body)
        predictions = await run(texts, request)
        out: dict[str, Any] = {"predictions": [p.to_dict() for p in predictions]}
        if events:
            out["events"] = event_rows(predictions, texts)
        return SafeJSON(out)

    @app.post("/events")
    async def events(body: Texts, request: Request) -> SafeJSON:
        texts = check(body)
        return SafeJSON({"events": event_rows(await run(texts, request), texts)})

    return app
