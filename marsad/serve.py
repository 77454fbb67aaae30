"""An HTTP API over one checkpoint (FastAPI; ``marsad serve``, the ``serve`` extra).

``GET /health``, ``GET /model`` (the checkpoint's metadata), ``POST /predict`` with ``{"texts":
[...]}`` -> ``{"predictions": [Prediction.to_dict(), ...]}`` and ``POST /events`` -> ``{"events":
[[row, ...] per text]}`` (the events table's rows, docs/events.md). OpenAPI docs at ``/docs``.

Requests arriving together are predicted together: each waits in a queue for at most
``batch_window_ms`` while texts from other requests join, up to ``batch_texts``, and the model runs
in a worker thread, off the event loop, so 32 clients sending one sentence each get batched
throughput. Over a limit (texts per request, characters per text, request bytes) is a 413 naming
the limit; a malformed body a 422 naming the field. A text the model fails on fails its own
request (500 with the error), never the server.
"""

# no ``from __future__ import annotations``: FastAPI reads the request model from the endpoints'
# annotations, which must be the class itself (it is defined inside create_app, beside its limits)
import asyncio
from dataclasses import dataclass
from typing import Any

from marsad.predictor import Prediction, Predictor
from marsad.tables import table_rows


@dataclass(frozen=True)
class ServeSettings:
    max_texts: int = 256  # texts per request
    max_chars: int = 100_000  # characters per text
    max_bytes: int = 8_000_000  # request body
    batch_texts: int = 32  # texts predicted at once, across requests
    batch_window_ms: float = 5.0  # how long a request waits for others to join its batch

    def __post_init__(self) -> None:
        for name in ("max_texts", "max_chars", "max_bytes", "batch_texts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")


class Batcher:
    """Collects texts of concurrent requests into batches for one model run at a time."""

    def __init__(self, predictor: Predictor, settings: ServeSettings):
        self.predictor, self.settings = predictor, settings
        self.queue: asyncio.Queue | None = None
        self.worker: asyncio.Task | None = None

    async def predict(self, texts: list[str]) -> list[Prediction]:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.create_task(self._run())
        done = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, done))
        return await done

    async def _run(self) -> None:
        window = self.settings.batch_window_ms / 1000
        while True:
            jobs = [await self.queue.get()]
            size = len(jobs[0][0])
            deadline = asyncio.get_running_loop().time() + window
            while size < self.settings.batch_texts:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), left)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                size += len(job[0])
            await self._predict(jobs)

    async def _predict(self, jobs: list) -> None:
        texts = [t for job, _ in jobs for t in job]
        try:
            results = await asyncio.to_thread(self.predictor, texts, self.settings.batch_texts)
        except Exception:  # noqa: BLE001 - one request's bad text must not fail the others
            results = None
        start = 0
        for job, done in jobs:
            if results is not None:
                done.set_result(results[start : start + len(job)])
            else:
                try:  # alone, so a failing text fails its own request only
                    done.set_result(await asyncio.to_thread(self.predictor, job, 32))
                except Exception as exc:  # noqa: BLE001 - reported to that request
                    done.set_exception(exc)
            start += len(job)


def create_app(predictor: Predictor, settings: ServeSettings | None = None):
    """The FastAPI application serving ``predictor``."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, StrictStr

    settings = settings or ServeSettings()
    batcher = Batcher(predictor, settings)
    meta = predictor.loaded.meta
    app = FastAPI(
        title="Marsad",
        description="Actors, locations, quantities and their relations in Arabic news.",
    )

    class Texts(BaseModel):
        texts: list[StrictStr]

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        """Refuses a body over ``max_bytes`` before reading it (a POST must say its length)."""
        length = request.headers.get("content-length")
        if request.method == "POST" and (length is None or not length.isdigit()):
            return JSONResponse({"detail": "a Content-Length header is required"}, 411)
        if length is not None and length.isdigit() and int(length) > settings.max_bytes:
            detail = f"request body of {length} bytes is over max_bytes={settings.max_bytes}"
            return JSONResponse({"detail": detail}, 413)
        return await call_next(request)

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
        return body.texts

    async def run(texts: list[str]) -> list[Prediction]:
        try:
            return await batcher.predict(texts)
        except Exception as exc:  # noqa: BLE001 - the server stays up; the client learns why
            raise HTTPException(500, f"{type(exc).__name__}: {exc}") from exc

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": meta.get("encoder", {}).get("used")}

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
    async def predict(body: Texts) -> dict[str, Any]:
        predictions = await run(check(body))
        return {"predictions": [p.to_dict() for p in predictions]}

    @app.post("/events")
    async def events(body: Texts) -> dict[str, Any]:
        texts = check(body)
        predictions = await run(texts)
        rows = [
            table_rows("events", p.entities, p.relations, p.events(str(i)), str(i), text)
            for i, (p, text) in enumerate(zip(predictions, texts))
        ]
        return {"events": rows}

    return app
