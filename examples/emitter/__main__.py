"""``python -m examples.emitter --port PORT --redis-url URL``: serve the news endpoint (one node)."""

from __future__ import annotations

import argparse
import logging

import channels

from . import make_endpoint


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.emitter", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000, help="0 picks a free port (printed on start)")
    parser.add_argument("--redis-url", default=None, help="the Redis that publishers use (e.g. redis://127.0.0.1:6379)")
    parser.add_argument("--publish-token", default=None,
                        help="mount POST /_channels/broadcast with this bearer token (default: "
                             "$OTP_CHANNELS_PUBLISH_TOKEN, else no route)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(channels.serve(make_endpoint(host=args.host, port=args.port, redis_url=args.redis_url,
                                                  publish_token=args.publish_token),
                                    control=False))


if __name__ == "__main__":
    main()
