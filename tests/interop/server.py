"""A test-only endpoint for the interop suite: a channel that crashes or disconnects its socket on request.

Run it with ``python -m tests.interop.server --port PORT`` (``--port 0`` picks a free port;
the ``listening on`` line tells which). It exists so that the product examples need no
test hooks:

* socket ``/socket`` (WebSocket and long-poll): the ``user`` connect param is required (refused without it) and
  names the socket, id ``user_socket:<user>``;
* topic ``test:*`` (``TestChannel``): the join reply is ``{"joins": n}``, n counting this
  user's joins of this topic since the server started, so a client can tell a rejoin;
  events:

  ``ping``        reply ``ok {"pong": <payload>}``
  ``echo``        reply ``ok`` with the payload itself (binary payloads → binary reply)
  ``push_back``   push ``pushed`` with the payload, then reply ``ok``
  ``shout``       broadcast ``shout`` with the payload to the topic, then reply ``ok``
  ``crash``       the channel raises (the client gets ``phx_error`` and rejoins)
  ``disconnect``  broadcast ``"disconnect"`` to the socket id (the server closes the
                  socket with 1001, the client reconnects); reply ``ok`` (may not arrive)
  ``stop``        a graceful stop with reply ``ok`` (the client gets ``phx_close``, no rejoin)

  When a ``test:*`` channel terminates it broadcasts ``terminated`` with ``{"user", "topic",
  "reason"}`` (``reason`` is the repr of the exit reason, e.g. ``{:shutdown, 'closed'}``) on
  ``test:observer``, so that a client joined there sees why other channels ended.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

import channels
import otp

__all__ = ["OBSERVER_TOPIC", "CrashRequested", "TestChannel", "TestSocket", "make_endpoint"]

#: Where terminations are reported.
OBSERVER_TOPIC = "test:observer"

#: Joins per (user, topic) since the server started.
_joins: Counter[tuple[str, str]] = Counter()


class CrashRequested(RuntimeError):
    """Raised by ``TestChannel`` on the ``crash`` event."""


class TestChannel(channels.Channel):
    """``test:*``: join counting, ping, echo, push_back, shout, crash, disconnect, stop."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        key = (str(socket.assigns["user"]), topic)
        _joins[key] += 1
        return channels.Accept(socket, {"joins": _joins[key]})

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        if event == "ping":
            return channels.Reply(("ok", {"pong": payload}), socket)
        if event == "echo":
            return channels.Reply(("ok", payload), socket)
        if event == "push_back":
            socket.push("pushed", payload)
            return channels.Reply("ok", socket)
        if event == "shout":
            socket.broadcast("shout", payload)
            return channels.Reply("ok", socket)
        if event == "crash":
            raise CrashRequested(f"crash requested by the client on {socket.topic}")
        if event == "disconnect":
            assert socket.socket_id is not None
            socket.endpoint.broadcast(socket.socket_id, "disconnect", {})
            return channels.Reply("ok", socket)
        if event == "stop":
            return channels.Stop(otp.NORMAL, socket, reply="ok")
        return channels.Reply(("error", {"reason": f"unknown event {event!r}"}), socket)

    async def terminate(self, reason: otp.ExitReason, socket: channels.Socket) -> None:
        if socket.topic != OBSERVER_TOPIC:
            socket.endpoint.broadcast(OBSERVER_TOPIC, "terminated", {
                "user": socket.assigns["user"], "topic": socket.topic, "reason": repr(reason)})


class TestSocket(channels.Socket):
    """Requires a ``user`` param; its id is ``user_socket:<user>``."""

    routes = [("test:*", TestChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> channels.Accept[Any] | channels.Refuse:
        user = params.get("user")
        if not isinstance(user, str) or not user:
            return channels.Refuse()
        return channels.Accept(self.assign(user=user))

    def id(self) -> str | None:
        return f"user_socket:{self.assigns['user']}"


def make_endpoint(*, host: str = "127.0.0.1", port: int = 0) -> channels.Endpoint:
    """The interop test endpoint: ``TestSocket`` at ``/socket`` (WebSocket and long-poll)."""
    return channels.Endpoint(
        name="Interop.Endpoint",
        host=host,
        port=port,
        sockets=[channels.SocketMount("/socket", TestSocket, longpoll=True)],
        check_origin=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.interop.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(channels.serve(make_endpoint(host=args.host, port=args.port), control=False))


if __name__ == "__main__":
    main()
