"""Serve a checkpoint over HTTP: ``marsad serve --checkpoint DIR [--host 127.0.0.1] [--port 8000]``.

Needs the ``serve`` extra (``pip install 'marsad[serve]'``: FastAPI and uvicorn). Endpoints, limits
and batching: :mod:`marsad.serve`; OpenAPI docs at ``http://HOST:PORT/docs``.
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
    parser.add_argument("--max-texts", type=int, default=defaults.max_texts)
    parser.add_argument("--max-chars", type=int, default=defaults.max_chars)
    parser.add_argument("--max-bytes", type=int, default=defaults.max_bytes)
    parser.add_argument("--batch-texts", type=int, default=defaults.batch_texts)
    parser.add_argument("--batch-window-ms", type=float, default=defaults.batch_window_ms)
    args = parser.parse_args(argv)
    try:
        settings = ServeSettings(
            args.max_texts, args.max_chars, args.max_bytes, args.batch_texts, args.batch_window_ms
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
