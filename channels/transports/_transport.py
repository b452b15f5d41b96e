"""Raw transport sockets: WebSocket endpoints without the channel protocol (Phoenix.Socket.Transport).

Example: an echo socket mounted at ``/echo/websocket``::

    class EchoSocket(channels.Transport):
        async def handle_in(self, data, state):
            return channels.Reply(data, state)      # str → text frame, bytes → binary

    endpoint = channels.Endpoint(sockets=[channels.SocketMount("/echo", EchoSocket)])

The connection process runs the callbacks one at a time: ``connect`` (before the
upgrade; ``Refuse`` answers 403), ``init`` (after it), ``handle_in`` for each client message,
``handle_info`` for every other message sent to the connection process (its pid is
``state``-independent: ``otp.self()`` inside a callback), ``terminate`` at the end.
Results are the otp shapes: ``NoReply(state)``, ``Reply(data, state)`` (data is pushed to
the client), ``Stop(reason, state)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import otp

from ..protocol import CloseCode
from ._messages import Accept, Refuse
from ._websocket import WebSocketIO

__all__ = ["Transport", "TransportHandler"]


class Transport:
    """Base class of raw WebSocket transports."""

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> Accept[Any] | Refuse:
        """Accept (``Accept(state)``; note: any state, not only a socket) or refuse (``Refuse()``)."""
        return Accept(None)

    async def init(self, state: Any) -> Any:
        """Called in the connection process once the WebSocket is open; returns the state."""
        return state

    async def handle_in(self, data: str | bytes, state: Any) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        """A message from the client (``str`` for text frames, ``bytes`` for binary)."""
        return otp.NoReply(state)

    async def handle_info(self, msg: Any, state: Any) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        """Any other message sent to the connection process."""
        return otp.NoReply(state)

    async def terminate(self, reason: otp.ExitReason, state: Any) -> None:
        """The connection is ending."""


class TransportHandler:
    """The WebSocket loop's handler for a raw :class:`Transport` (``_websocket.run_websocket``)."""

    __slots__ = ("io", "name", "state", "transport")

    def __init__(self, transport: Transport, state: Any) -> None:
        self.transport = transport
        self.state = state
        self.name = type(transport).__qualname__
        self.io: WebSocketIO | None = None

    def summary(self) -> dict[str, Any]:
        return {"socket": self.name}

    async def init(self, io: WebSocketIO) -> None:
        self.io = io
        self.state = await self.transport.init(self.state)

    def handle_in_nowait(self, data: str | bytes) -> bool:
        return False  # every callback is a coroutine

    async def handle_in(self, data: str | bytes) -> None:
        self._result(await self.transport.handle_in(data, self.state), "handle_in")

    async def handle_info(self, msg: Any) -> None:
        self._result(await self.transport.handle_info(msg, self.state), "handle_info")

    def _result(self, res: Any, callback: str) -> None:
        io = self.io
        assert io is not None
        if isinstance(res, otp.Reply):
            data = res.reply
            if isinstance(data, str | bytes | bytearray | memoryview):
                io.send(data if isinstance(data, str | bytes) else bytes(data))
            else:
                raise otp.BadReturnError(f"{self.name}.{callback} replied with {data!r}; expected str or bytes")
            self.state = res.state
        elif isinstance(res, otp.NoReply):
            self.state = res.state
        elif isinstance(res, otp.Stop):
            self.state = res.state
            code = (CloseCode.SERVICE_RESTART if res.reason is otp.SHUTDOWN
                    else CloseCode.NORMAL if otp.is_normal_exit(res.reason) else CloseCode.INTERNAL_ERROR)
            io.close(code, res.reason)
        else:
            raise otp.BadReturnError(
                f"expected {self.name}.{callback} to return Reply(data, state) | NoReply(state) | "
                f"Stop(reason, state), got: {res!r}"
            )

    async def terminate(self, reason: otp.ExitReason) -> None:
        await self.transport.terminate(reason, self.state)
