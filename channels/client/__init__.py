"""A Python client for the Phoenix channel protocol, on Trio and trio-websocket.

It talks to otp-channels and to any Phoenix server, as the JS client does: connect
with params, join with a payload, push and await the reply, receive pushes and
broadcasts, heartbeat, reconnect with backoff and rejoin; V2 JSON and binary frames
(and V1 JSON).

Example::

    import trio
    from channels.client import open_socket

    async def main():
        async with open_socket("ws://127.0.0.1:4000/socket", params={"user": "ann"}) as socket:
            room = socket.channel("room:lobby", {"nick": "ann"})
            await room.join()
            reply = await room.push("new_msg", {"body": "hi"}, timeout=5)
            print(reply.status, reply.payload)
            async for message in room:          # pushes and broadcasts on room:lobby
                print(message.event, message.payload)

    trio.run(main)

Two levels: :func:`open_socket` gives a :class:`Socket` that stays connected and
:class:`Channel` objects that rejoin (phoenix.js's ``Socket`` and ``Channel``);
:func:`connect` gives one :class:`Connection` (one WebSocket, no reconnect, raw frames)
for tools and tests (``channels.testing`` is built on it).
"""

from __future__ import annotations

from ._connection import (
    AUTH_TOKEN_PREFIX as AUTH_TOKEN_PREFIX,
    CloseInfo as CloseInfo,
    Connection as Connection,
    ConnectRejected as ConnectRejected,
    Disconnected as Disconnected,
    connect as connect,
    websocket_url as websocket_url,
)
from ._socket import (
    DEFAULT_TIMEOUT as DEFAULT_TIMEOUT,
    Channel as Channel,
    ChannelState as ChannelState,
    JoinError as JoinError,
    PushTimeout as PushTimeout,
    Socket as Socket,
    default_reconnect_after as default_reconnect_after,
    default_rejoin_after as default_rejoin_after,
    open_socket as open_socket,
)

__all__ = [
    "AUTH_TOKEN_PREFIX",
    "DEFAULT_TIMEOUT",
    "Channel",
    "ChannelState",
    "CloseInfo",
    "ConnectRejected",
    "Connection",
    "Disconnected",
    "JoinError",
    "PushTimeout",
    "Socket",
    "connect",
    "default_reconnect_after",
    "default_rejoin_after",
    "open_socket",
    "websocket_url",
]
