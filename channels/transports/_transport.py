"""Raw transport sockets: endpoints without the channel protocol (Phoenix.Socket.Transport).

Example: an echo socket mounted at ``/echo/websocket`` (and ``/echo/longpoll``)::

    class EchoSocket(channels.Transport):
        async def handle_in(self, data, state):
            return channels.Reply(data, state)      # str → text frame, bytes → binary

    endpoint = channels.Endpoint(sockets=[channels.SocketMount("/echo", EchoSocket, longpoll=True)])

The same class serves WebSocket and long-poll (``self.transport`` says which). The
connection process (a long-poll session, for long-poll) runs the callbacks one at a time:
``connect`` (before the upgrade; ``Refuse()`` answers 403, ``Refuse(reason)`` goes to the
transport's ``error_handler``), ``init`` (after it), ``handle_in`` for each client message
(over long-poll: each POST body, or ndjson line), ``handle_control`` for each ping and pong
(WebSocket only, and only if the class defines it), ``handle_info`` for every other message
sent to the process (``otp.self()`` inside a callback), ``terminate`` at the end.
Results are the otp shapes: ``NoReply(state)``, ``Reply(data, state)`` (data is pushed to
the client: ``str`` a text frame, ``bytes`` a binary one, ``Ping(payload)`` a ping),
``Stop(reason, state)``. Over long-poll, text goes to the client's next poll; binary frames
and pings are not carried: they are logged and dropped (Phoenix would put their payload in
the poll; README, "Differences from Phoenix").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import otp

from ..protocol import CloseCode
from ._messages import Accept, Refuse
from ._websocket import WebSocketIO

__all__ = ["Ping", "Transport", "TransportHandler", "TransportResult", "defines_handle_control",
           "interpret_result"]


@dataclass(frozen=True, slots=True)
class Ping:
    """A WebSocket ping for the client, as a ``Reply`` value: ``Reply(Ping(b"data"), state)``.

    Phoenix's ``{:reply, :ok, {:ping, data}, state}`` / ``{:push, {:ping, data}, state}``.
    The client answers with a pong, which ``handle_control`` receives. RFC 6455 limits
    control payloads to 125 bytes.
    """

    payload: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.payload, bytes) or len(self.payload) > 125:
            raise ValueError(f"a ping payload is at most 125 bytes, got {self.payload!r:.60}")


#: What a callback returns: ``Reply(data, state)`` (data: str, bytes or Ping),
#: ``NoReply(state)`` or ``Stop(reason, state)``.
TransportResult = otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]


class Transport:
    """Base class of raw transports (WebSocket and long-poll)."""

    #: ``"websocket"`` or ``"longpoll"``: set on each connection's instance before ``connect``.
    transport: str = "websocket"

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

    async def handle_control(self, opcode: str, payload: bytes, state: Any) -> TransportResult:
        """A ping or pong from the client (``opcode`` is ``"ping"`` or ``"pong"``), WebSocket only.

        Phoenix's optional ``handle_control/2``. Pings are answered with a pong by the
        server whether or not this is defined; when a subclass does not define it, control
        frames are not delivered at all.
        """
        return otp.NoReply(state)

    async def terminate(self, reason: otp.ExitReason, state: Any) -> None:
        """The connection is ending."""


def interpret_result(name: str, callback: str, res: Any) -> tuple[Any, str | bytes | Ping | None,
                                                                 otp.ExitReason | None]:
    """A callback's result as ``(state, data to send or None, stop reason or None)``.

    Raises:
        otp.BadReturnError: ``res`` is not a result shape, or replies with something other
            than ``str``, ``bytes`` or ``Ping``.
    """
    if isinstance(res, otp.Reply):
        data = res.reply
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, str | bytes | Ping):
            raise otp.BadReturnError(f"{name}.{callback} replied with {data!r}; expected str, bytes or Ping")
        return res.state, data, None
    if isinstance(res, otp.NoReply):
        return res.state, None, None
    if isinstance(res, otp.Stop):
        return res.state, None, res.reason
    raise otp.BadReturnError(
        f"expected {name}.{callback} to return Reply(data, state) | NoReply(state) | "
        f"Stop(reason, state), got: {res!r}"
    )


def defines_handle_control(transport: Transport) -> bool:
    """Whether the transport's class defines ``handle_control`` (else control frames are not delivered)."""
    return type(transport).handle_control is not Transport.handle_control



class TransportHandler:
    """The WebSocket loop's handler for a raw :class:`Transport` (``_websocket.run_websocket``)."""

    __slots__ = ("io", "name", "state", "transport", "wants_control")

    def __init__(self, transport: Transport, state: Any) -> None:
        self.transport = transport
        self.state = state
        self.name = type(transport).__qualname__
        self.io: WebSocketIO | None = None
        #: Whether the loop delivers pings and pongs (the class defines ``handle_control``).
        self.wants_control = False

    def summary(self) -> dict[str, Any]:
        return {"socket": self.name}

    async def init(self, io: WebSocketIO) -> None:
        self.io = io
        self.state = await self.transport.init(self.state)
        self.wants_control = defines_handle_control(self.transport)

    def handle_in_nowait(self, data: str | bytes) -> bool:
        return False  # every callback is a coroutine

    async def handle_in(self, data: str | bytes) -> None:
        self._result(await self.transport.handle_in(data, self.state), "handle_in")

    async def handle_info(self, msg: Any) -> None:
        self._result(await self.transport.handle_info(msg, self.state), "handle_info")

    async def handle_control(self, opcode: str, payload: bytes) -> None:
        """A ping or pong from the client (the loop calls it only when ``wants_control``)."""
        self._result(await self.transport.handle_control(opcode, payload, self.state), "handle_control")

    def _result(self, res: Any, callback: str) -> None:
        io = self.io
        assert io is not None
        self.state, data, stop = interpret_result(self.name, callback, res)
        if isinstance(data, Ping):
            io.send_ping(data.payload)
        elif data is not None:
            io.send(data)
        if stop is not None:
            code = (CloseCode.SERVICE_RESTART if stop is otp.SHUTDOWN
                    else CloseCode.NORMAL if otp.is_normal_exit(stop) else CloseCode.INTERNAL_ERROR)
            io.close(code, stop)

    async def terminate(self, reason: otp.ExitReason) -> None:
        await self.transport.terminate(reason, self.state)
