"""A FastAPI app and Phoenix channels on one endpoint, one port, one process.

Run it with ``python -m examples.asgi --port 4000``, then::

    curl -X POST http://127.0.0.1:4000/api/rooms/lobby/messages \\
         -H 'content-type: application/json' -d '{"user": "api", "body": "hello from FastAPI"}'

Every client joined to ``room:lobby`` on ``ws://127.0.0.1:4000/socket`` (phoenix.js, or
``channels.client``) receives ``new_msg``: the FastAPI handler calls ``endpoint.broadcast``
in-process. FastAPI runs on Trio through anyio, inside the endpoint's supervision tree:
its lifespan (``startup`` / ``shutdown`` below) starts before the endpoint listens and
ends after the endpoint has drained its sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

import channels

__all__ = ["ENDPOINT_NAME", "Message", "RoomChannel", "UserSocket", "api", "make_endpoint"]

ENDPOINT_NAME = "Asgi.Endpoint"


class RoomChannel(channels.Channel):
    """``room:<name>``: anyone may join and listen."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        return channels.Accept(socket)


class UserSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> channels.Accept[Any]:
        return channels.Accept(self)


class Message(BaseModel):
    user: str
    body: str


def api(endpoint: channels.Endpoint) -> FastAPI:
    """The FastAPI app of ``endpoint``: its handlers broadcast through it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"messages": [0]}  # lifespan state, shared with the requests

    app = FastAPI(lifespan=lifespan)

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "endpoint": endpoint.name}

    @app.post("/api/rooms/{room}/messages", status_code=202)
    async def post_message(room: str, message: Message) -> dict[str, Any]:
        endpoint.broadcast(f"room:{room}", "new_msg", {"user": message.user, "body": message.body})
        return {"sent": True, "topic": f"room:{room}"}

    return app


def make_endpoint(*, host: str = "127.0.0.1", port: int = 4000) -> channels.Endpoint:
    """Channels at ``/socket``, everything else to the FastAPI app."""
    endpoint = channels.Endpoint(
        name=ENDPOINT_NAME,
        host=host,
        port=port,
        sockets=[channels.SocketMount("/socket", UserSocket)],
        check_origin=False,
    )
    endpoint.asgi_app = api(endpoint)
    return endpoint
