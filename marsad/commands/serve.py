"""Serve a checkpoint over HTTP: ``marsad serve --checkpoint DIR [--host 127.0.0.1] [--port 8000]``.

Needs the ``serve`` extra (``pip install 'marsad[serve]'``: FastAPI and uvicorn). Endpoints, limits,
time limit, overload and batching: :mod:`marsad.serve` and docs/serving.md; OpenAPI docs at
``http://HOST:PORT/docs``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marsad.serve import ServeSettings


def main(argv: list[str] | None = None) -> int:
    defaults = ServeSettings()
    parser = argparse.ArgumentParser(prog="marsad serve", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default=None)
    limits = parser.add_argument_group(
        "limits",
        "over a size limit is a 413 naming it, past --timeout-s a 504, with --max-queue requests "
        "waiting a 503 (and /health says overloaded); all errors are JSON",
    )
    limits.add_argument(
        "--max-texts", type=int, default=defaults.max_texts, help="texts per request"
    )
    limits.add_argument(
        "--max-chars", type=int, default=defaults.max_chars, help="characters per text"
    )
    limits.add_argument(
        "--max-request-chars",
        type=int,
        default=defaults.max_request_chars,
        help="characters in all of a request's texts (default %(default)s: about 11 s of model "
        "time for punctuated news on 2 CPU cores, 22 s without sentence punctuation)",
    )
    limits.add_argument(
        "--max-bytes", type=int, default=defaults.max_bytes, help="request body bytes"
    )
    limits.add_argument(
        "--timeout-s",
        type=float,
        default=defaults.timeout_s,
        help="seconds from a request's arrival to its answer; its remaining texts and pieces are "
        "then not computed (default %(default)s)",
    )
    limits.add_argument(
        "--max-queue",
        type=int,
        default=defaults.max_queue,
        help="requests waiting or running before new ones get a 503 (default %(default)s)",
    )
    batching = parser.add_argument_group(
        "batching",
        "a text over --chunk-chars is cut into pieces at sentence starts (its prediction is the "
        "whole text's); pieces run in chunks taken round-robin across waiting requests, so a "
        "short request is answered between two chunks of a long one, or of one long text",
    )
    batching.add_argument(
        "--batch-texts",
        type=int,
        default=defaults.batch_texts,
        help="texts or pieces per model run, across requests (default %(default)s)",
    )
    batching.add_argument(
        "--chunk-chars",
        type=int,
        default=defaults.chunk_chars,
        help="characters per model run and per piece of a long text; a longer sentence runs "
        "alone (default %(default)s)",
    )
    batching.add_argument(
        "--batch-window-ms",
        type=float,
        default=defaults.batch_window_ms,
        help="how long a request waits for others to join its batch (default %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        settings = ServeSettings(
            max_texts=args.max_texts,
            max_chars=args.max_chars,
            max_bytes=args.max_bytes,
            batch_texts=args.batch_texts,
            batch_window_ms=args.batch_window_ms,
            max_request_chars=args.max_request_chars,
            timeout_s=args.timeout_s,
            chunk_chars=args.chunk_chars,
            max_queue=args.max_queue,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        import uvicorn
    except ImportError:
        raise SystemExit(
            "marsad serve needs the serve extra: pip install 'marsad[serve]'"
        ) from None
    from marsad.predictor import Predictor
    from marsad.serve import create_app

    predictor = Predictor.from_pretrained(args.checkpoint, device=args.device)
    uvicorn.run(create_app(predictor, settings), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
