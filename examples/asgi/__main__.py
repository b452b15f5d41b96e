"""``python -m examples.asgi --port PORT``: FastAPI and channels on one port."""

from __future__ import annotations

import argparse
import logging

import channels

from . import make_endpoint


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.asgi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000, help="0 picks a free port (printed on start)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(channels.serve(make_endpoint(host=args.host, port=args.port), control=False))


if __name__ == "__main__":
    main()
