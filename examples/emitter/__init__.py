"""Broadcasting from outside: a news endpoint that other processes publish to through Redis.

Run two nodes and publish to both from a plain Python script (no Trio, no endpoint)::

    redis-server --port 6379 &
    python -m examples.emitter --port 4001 --redis-url redis://127.0.0.1:6379 &
    python -m examples.emitter --port 4002 --redis-url redis://127.0.0.1:6379 &
    python -m examples.emitter.publish --redis-url redis://127.0.0.1:6379 \\
        broadcast news:lobby headline '{"title": "hello from a script"}'
    python -m examples.emitter.publish --redis-url redis://127.0.0.1:6379 disconnect user_socket:alice

Clients (the official phoenix.js, or ``channels.client``) connect to ``/socket`` with a
``user`` param (socket id ``user_socket:<user>``) and join ``news:<anything>``; every
``broadcast`` reaches the topic's members on every node, and ``disconnect`` closes the
sockets of that id on every node (the clients reconnect).

Started with ``--publish-token TOKEN``, a node also takes broadcasts over HTTP::

    curl -X POST http://127.0.0.1:4001/_channels/broadcast -H "authorization: Bearer TOKEN" \
         -d '{"topic": "news:lobby", "event": "headline", "payload": {"title": "from curl"}}'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import channels

__all__ = ["ENDPOINT_NAME", "NewsChannel", "NewsSocket", "make_endpoint"]

#: The endpoint's name: the publisher names it to reach this endpoint's Redis channel.
ENDPOINT_NAME = "News.Endpoint"


class NewsChannel(channels.Channel):
    """``news:<name>``: anyone may join and listen; clients cannot publish."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        return channels.Accept(socket, {"user": socket.assigns["user"]})


class NewsSocket(channels.Socket):
    """The ``user`` connect param (required) names the socket ``user_socket:<user>``."""

    routes = [("news:*", NewsChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> channels.Accept[Any] | channels.Refuse:
        user = params.get("user")
        if not isinstance(user, str) or not user.strip():
            return channels.Refuse()
        return channels.Accept(self.assign(user=user.strip()))

    def id(self) -> str | None:
        return f"user_socket:{self.assigns['user']}"


def make_endpoint(*, host: str = "127.0.0.1", port: int = 4000, redis_url: str | None = None,
                  publish_token: str | None = None) -> channels.Endpoint:
    """The news endpoint: the socket at ``/socket``, clustered through ``redis_url``.

    With ``publish_token`` (or ``OTP_CHANNELS_PUBLISH_TOKEN``), backends in any language
    broadcast with ``POST /_channels/broadcast`` and ``Authorization: Bearer <token>``.
    """
    return channels.Endpoint(
        name=ENDPOINT_NAME,
        host=host,
        port=port,
        sockets=[channels.SocketMount("/socket", NewsSocket)],
        check_origin=False,
        redis_url=redis_url,
        publish_token=publish_token,
    )
