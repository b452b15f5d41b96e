"""``python -m examples.chat --port PORT``: serve the chat page and its socket."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import channels

from . import PHOENIX_JS, make_endpoint


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.chat",
        description="Serve the chat example: a web page at / using the official Phoenix JS client, "
                    "rooms on the room:* channel at /socket, and who is online (Presence).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=4000,
                        help="port to listen on (default: %(default)s; 0 picks a free port, printed on start)")
    parser.add_argument("--redis-url", default=None, help="cluster through Redis (e.g. redis://127.0.0.1:6379)")
    parser.add_argument("--phoenix-js", type=Path, default=PHOENIX_JS,
                        help="the Phoenix JS client served at /js/phoenix.js (default: %(default)s)")
    parser.add_argument("--no-control", action="store_true",
                        help="do not open the control socket that otp-channels tree, ps and kill use "
                             "(also OTP_CHANNELS_CONTROL=0)")
    parser.add_argument("--any-origin", action="store_true",
                        help="accept WebSocket and long-poll requests from pages of any origin (local "
                             "development only: by default only pages served by this host may connect)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.phoenix_js.is_file():
        logging.getLogger("examples.chat").warning(
            "the Phoenix JS client is not installed (%s is missing): the page will not work until you run "
            "`cd tests/interop && npm ci` (or `.ci/setup --with-services`)", args.phoenix_js)
    endpoint = make_endpoint(host=args.host, port=args.port, redis_url=args.redis_url, phoenix_js=args.phoenix_js,
                             any_origin=args.any_origin)
    raise SystemExit(channels.serve(endpoint, control=not args.no_control))


if __name__ == "__main__":
    main()
