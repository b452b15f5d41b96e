"""The python-socketio peer: rooms on an ASGI server (uvicorn).

Run from ``.bench-venv`` as ``python socketio_server.py PORT``. Events: ``join`` (ack) enters
the room named by its argument; ``go`` ``{"m":M,"size":S}`` emits M events ``m`` to room
``bench:fanout`` (one encode per emit; python-socketio sends it to each participant), then acks;
``echo`` acks with its argument.

Configuration (the fastest documented one): ``socketio.AsyncServer(async_mode="asgi")`` wrapped in
``socketio.ASGIApp``, served by uvicorn with ``loop="uvloop"``, ``http="httptools"``,
``ws="websockets"`` (the websockets-based implementation; uvicorn's fastest WebSocket protocol),
``ws_per_message_deflate=False``, ``ws_ping_interval=None`` (Engine.IO has its own heartbeat),
access log off, backlog 4096.
"""

# mypy: ignore-errors
# (runs in .bench-venv; its third-party imports are not installed in the project venv)

from __future__ import annotations

import asyncio
import resource
import sys
import time

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False,
                           cors_allowed_origins="*", http_compression=False)
app = socketio.ASGIApp(sio)


def make_payload(k: int, size: int) -> dict:
    """A broadcast payload of about ``size`` bytes carrying its index and send time."""
    head = f'{{"i":{k},"t":{time.monotonic_ns()},"p":"'
    return {"i": k, "t": time.monotonic_ns(), "p": "x" * max(0, size - len(head) - 2)}


@sio.on("join")
async def join(sid, topic):
    await sio.enter_room(sid, topic)
    return "ok"


@sio.on("go")
async def go(sid, req):
    size = req.get("size", 100)
    for k in range(req["m"]):
        await sio.emit("m", make_payload(k, size), room="bench:fanout")
    return "ok"


@sio.on("echo")
async def echo(sid, payload):
    return payload


if __name__ == "__main__":
    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
    asyncio.set_event_loop_policy(None)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                ws="websockets", ws_per_message_deflate=False, ws_ping_interval=None,
                log_level="warning", access_log=False, lifespan="off", backlog=4096)
