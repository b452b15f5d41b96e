"""``python -m examples.hello_sockets --port PORT``."""

from __future__ import annotations

import argparse
import logging

import channels

from . import make_endpoint


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.hello_sockets",
        description="Serve the seed app: the ping and wild:* channels at /socket "
                    "(WebSocket at ws://HOST:PORT/socket/websocket?vsn=2.0.0).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=4000,
                        help="port to listen on (default: %(default)s; 0 picks a free port, printed on start)")
    parser.add_argument("--redis-url", default=None, help="cluster through Redis (e.g. redis://127.0.0.1:6379)")
    parser.add_argument("--no-control", action="store_true",
                        help="do not open the control socket that otp-channels tree, ps and kill use "
                             "(also OTP_CHANNELS_CONTROL=0)")
    parser.add_argument("--any-origin", action="store_true",
                        help="accept WebSocket and long-poll requests from pages of any origin (local "
                             "development only: by default only pages served by this host may connect)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(channels.serve(make_endpoint(host=args.host, port=args.port, redis_url=args.redis_url,
                                                   any_origin=args.any_origin),
                                    control=not args.no_control))


if __name__ == "__main__":
    main()
