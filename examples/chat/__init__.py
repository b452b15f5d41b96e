"""A chat app: rooms ``room:<name>`` where every ``new_msg`` reaches every member, served with its web page.

Run it with ``python -m examples.chat --port 4000`` and open http://127.0.0.1:4000/.
The page uses the official Phoenix JS client, served at ``/js/phoenix.js`` from the
npm package installed in ``tests/interop`` (``cd tests/interop && npm ci``, or
``.ci/setup --with-services``); without it the page says how to install it.

Wire protocol, as in the Phoenix guides' chat example::

    client → server  ["1", "2", "room:lobby", "new_msg", {"body": "hi"}]
    server → clients ["1", null, "room:lobby", "new_msg", {"body": "hi", "user": "alice"}]

The broadcast reaches every member of the room, the sender included; the sender also
gets an ``ok`` reply (or ``error`` with a ``reason`` for an invalid message). Several
servers started with the same ``--redis-url`` form one chat: a message reaches the
room's members on every node.

Who is online: each member is tracked with ``channels.Presence`` under their user name;
a joining client gets ``presence_state`` and everyone gets ``presence_diff`` as members
come and go (on every node of the cluster), which the page shows with the JS client's
``Presence``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import channels
import otp

__all__ = ["MAX_BODY", "MAX_ROOM", "MAX_USER", "PHOENIX_JS", "PRESENCE", "STATIC_DIR", "ChatSocket", "Endpoint",
           "RoomChannel", "make_endpoint"]

#: Who is online in each room (replicated across the nodes of a cluster).
PRESENCE = channels.Presence("Chat.Presence", pubsub_server="Chat.Endpoint.PubSub")

#: The page, its script and stylesheet.
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The official client (IIFE build defining ``window.Phoenix``) from the interop suite's npm install.
PHOENIX_JS = (Path(__file__).resolve().parents[2]
              / "tests" / "interop" / "node_modules" / "phoenix" / "priv" / "static" / "phoenix.js")

#: Longest message body, room name and user name accepted (characters).
MAX_BODY = 2000
MAX_ROOM = 64
MAX_USER = 32


class RoomChannel(channels.Channel):
    """``room:<name>``: anyone may join; ``new_msg`` is broadcast to the whole room."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket
                   ) -> channels.Accept[Any] | channels.Refuse:
        name = topic.removeprefix("room:")
        if not name or len(name) > MAX_ROOM or not name.isprintable():
            return channels.Refuse({"reason": f"a room name is 1 to {MAX_ROOM} printable characters"})
        otp.send(otp.self(), "after_join")
        return channels.Accept(socket)

    async def handle_info(self, msg: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        if msg == "after_join":
            socket.push("presence_state", PRESENCE.list(socket))
            await PRESENCE.track(socket, socket.assigns["user"], {"online_at": int(time.time())})
            return channels.NoReply(socket)
        return await super().handle_info(msg, socket)  # type: ignore[return-value]

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "new_msg":
            body = payload.get("body") if isinstance(payload, dict) else None
            if not isinstance(body, str) or not body.strip():
                return channels.Reply(("error", {"reason": "new_msg needs a non-empty string body"}), socket)
            if len(body) > MAX_BODY:
                return channels.Reply(("error", {"reason": f"a message is at most {MAX_BODY} characters"}),
                                      socket)
            socket.broadcast("new_msg", {"body": body, "user": socket.assigns["user"]})
            return channels.Reply("ok", socket)
        return channels.Reply(("error", {"reason": f"unknown event {event!r}"}), socket)


class ChatSocket(channels.Socket):
    """Accepts everyone; the ``user`` connect param (trimmed, default ``anonymous``) names them."""

    routes = [("room:*", RoomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> channels.Accept[Any] | channels.Refuse:
        user = params.get("user")
        user = user.strip()[:MAX_USER] if isinstance(user, str) else ""
        return channels.Accept(self.assign(user=user or "anonymous"))


def make_endpoint(*, host: str = "127.0.0.1", port: int = 4000, redis_url: str | None = None,
                  phoenix_js: str | Path | None = None,
                  any_origin: bool = False) -> channels.Endpoint:
    """The chat endpoint: the page at ``/``, the socket at ``/socket``.

    Args:
        host: Interface to listen on.
        port: TCP port (0 picks a free one; ``endpoint.port`` tells which after start).
        redis_url: Cluster through this Redis server (every node of the chat uses the same one).
        phoenix_js: The Phoenix client file served at ``/js/phoenix.js`` (default: :data:`PHOENIX_JS`).
    """
    js = Path(phoenix_js) if phoenix_js is not None else PHOENIX_JS
    return channels.Endpoint(
        name="Chat.Endpoint",
        host=host,
        port=port,
        sockets=[channels.SocketMount("/socket", ChatSocket, longpoll=True)],
        static_dir=STATIC_DIR,
        static_files={"/js/phoenix.js": js},
        # Only pages served by this host may open the socket (cross-site WebSocket hijacking);
        # ``any_origin`` (``--any-origin``) is for local development with a page served elsewhere.
        check_origin=not any_origin,
        redis_url=redis_url,
        extra_children=[PRESENCE.child_spec()],
    )


#: For ``otp-channels serve examples.chat:Endpoint``.
Endpoint = make_endpoint()
