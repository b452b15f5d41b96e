"""The Python floor peer: a raw `websockets` asyncio server broadcasting with `broadcast()`.

Run from ``.bench-venv`` as ``python websockets_server.py PORT``. No channel protocol: every
connection is a subscriber as soon as its handshake completes. A text message
``{"go":M,"size":S}`` broadcasts M messages of about S bytes (each ``{"i":k,"t":<monotonic ns>,
"p":"..."}``) with ``websockets.broadcast()`` and ``await asyncio.sleep(0)`` between messages,
as in the library's own broadcast experiments; any other message is echoed back as is.

Configuration (the fastest documented one): uvloop event loop, ``compression=None``, keepalive
pings off (``ping_interval=None``), ``max_queue=None``, listen backlog 4096.
"""

# mypy: ignore-errors
# (runs in .bench-venv; its third-party imports are not installed in the project venv)

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

import uvloop
from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

CLIENTS: set = set()


def make_payload(k: int, size: int) -> str:
    """A broadcast payload of about ``size`` bytes carrying its index and send time."""
    head = f'{{"i":{k},"t":{time.monotonic_ns()},"p":"'
    return head + "x" * max(0, size - len(head) - 2) + '"}'


async def handler(ws) -> None:
    CLIENTS.add(ws)
    try:
        async for msg in ws:
            if msg.startswith('{"go"'):
                req = json.loads(msg)
                for k in range(req["go"]):
                    broadcast(CLIENTS, make_payload(k, req.get("size", 100)))
                    await asyncio.sleep(0)
            else:
                await ws.send(msg)
    except ConnectionClosed:
        pass
    finally:
        CLIENTS.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None,
                     max_queue=None, backlog=4096) as server:
        await server.serve_forever()


if __name__ == "__main__":
    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
    uvloop.run(main(int(sys.argv[1])))
