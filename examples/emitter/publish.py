"""``python -m examples.emitter.publish``: broadcast or disconnect from a plain, synchronous process.

Usage::

    python -m examples.emitter.publish --redis-url URL broadcast TOPIC EVENT 'JSON payload'
    python -m examples.emitter.publish --redis-url URL disconnect SOCKET_ID

This is what a Django view, a Flask handler or a Celery task does: no Trio, no endpoint,
only ``channels.emitter.Emitter`` (redis-py) and the endpoint's name. Prints how many
endpoint nodes received the message.
"""

from __future__ import annotations

import argparse
import json
import sys

from channels.emitter import Emitter

from . import ENDPOINT_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.emitter.publish", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--endpoint", default=ENDPOINT_NAME, help="the target endpoint's name (%(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("broadcast", help="broadcast EVENT with a JSON payload to TOPIC")
    b.add_argument("topic")
    b.add_argument("event")
    b.add_argument("payload", type=json.loads)
    d = commands.add_parser("disconnect", help="close every socket whose id is SOCKET_ID")
    d.add_argument("socket_id")
    args = parser.parse_args(argv)
    with Emitter(args.redis_url, endpoint=args.endpoint) as emitter:
        if args.command == "broadcast":
            nodes = emitter.broadcast(args.topic, args.event, args.payload)
        else:
            nodes = emitter.disconnect(args.socket_id)
    print(json.dumps({"command": args.command, "nodes": nodes}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
