"""The seed app: PingChannel on ``ping`` and WildChannel on ``wild:*`` (Real-Time Phoenix)."""

from __future__ import annotations

from typing import Any

import channels
import otp


class PingChannel(channels.Channel):
    """``ping`` replies ``{"ping": "pong"}`` (or the ``ack_phrase``); ``ping:<phrase>`` echoes it."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        return channels.Accept(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "ping":
            phrase = payload.get("ack_phrase", "pong") if isinstance(payload, dict) else "pong"
            return channels.Reply(("ok", {"ping": phrase}), socket)
        if event.startswith("ping:"):
            return channels.Reply(("ok", {"ping": event.removeprefix("ping:")}), socket)
        return channels.NoReply(socket)


class WildChannel(channels.Channel):
    """Joins only ``wild:A:B`` where A and B are integers and B == 2A."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket
                   ) -> channels.Accept[Any] | channels.Refuse:
        parts = topic.split(":")
        if len(parts) == 3 and all(_is_int(p) for p in parts[1:]) and int(parts[2]) == 2 * int(parts[1]):
            return channels.Accept(socket)
        return channels.Refuse({})

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "ping":
            return channels.Reply(("ok", {"ping": "pong"}), socket)
        return channels.NoReply(socket)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


class UserSocket(channels.Socket):
    routes = [("ping", PingChannel), ("wild:*", WildChannel)]


def make_endpoint(*, host: str = "127.0.0.1", port: int = 4000, redis_url: str | None = None,
                  any_origin: bool = False) -> channels.Endpoint:
    """The HelloSockets endpoint: the socket at ``/socket``."""
    return channels.Endpoint(
        name="HelloSockets.Endpoint",
        host=host,
        port=port,
        sockets=[channels.SocketMount("/socket", UserSocket, longpoll=True)],
        # Only pages served by this host may open the socket (cross-site WebSocket hijacking);
        # ``any_origin`` (``--any-origin``) is for local development with a page served elsewhere.
        check_origin=not any_origin,
        redis_url=redis_url,
    )


#: For ``otp-channels serve examples.hello_sockets:Endpoint``.
Endpoint = make_endpoint()
