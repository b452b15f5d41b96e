"""Messages exchanged by transports and channel servers (private)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import otp

from ..http import Request, Response
from ..protocol import Frame, Message
from ..pubsub._fastlane import PushFrame as PushFrame, Sink

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Accept(Generic[S]):
    """A successful ``connect`` or ``join``: ``{:ok, socket}`` or ``{:ok, reply, socket}``."""

    socket: S
    reply: Any = None


@dataclass(frozen=True, slots=True)
class Refuse:
    """A refused ``connect`` (``:error`` / ``{:error, reason}``) or join (``{:error, reply}``)."""

    reply: Any = None


#: A transport's ``error_handler`` option: the HTTP answer to a ``connect`` that returned
#: ``Refuse(reason)``, from the request and the reason (Phoenix's ``:error_handler``).
ErrorHandler = Callable[[Request, Any], Response]


@dataclass(frozen=True, slots=True)
class SocketClose:
    """channel -> transport: I am stopping gracefully (``{:socket_close, pid, reason}``)."""

    pid: otp.Pid
    reason: Any


@dataclass(frozen=True, slots=True)
class SocketDrain:
    """channel -> transport: the endpoint is draining; close with 1012."""


@dataclass(frozen=True, slots=True)
class JoinResult:
    """channel -> transport: the outcome of ``join``."""

    ref: otp.Ref
    status: str
    reply: Any


@dataclass(slots=True)
class ClientMessage:
    """transport -> channel: a message from the client for this channel.

    Not frozen (like the others) only because a frozen dataclass is twice as slow to
    make, and one is made per client message; nothing changes it.
    """

    message: Message


@dataclass(frozen=True, slots=True)
class Drain:
    """drainer -> channel: the endpoint is shutting down (``phx_drain``)."""


@dataclass(frozen=True, slots=True)
class IdleCheck:
    """timer -> transport: time to check whether the client has been idle too long."""


#: The one ``IdleCheck`` (transports re-arm a single timer with it).
IDLE_CHECK = IdleCheck()


@dataclass(frozen=True, slots=True)
class Overflow:
    """writer -> transport: the socket's outbox overflowed or a write failed (``reason``)."""

    reason: str


class TransportIO(Protocol):
    """What a session needs from its transport."""

    @property
    def sink(self) -> Sink:
        """Where the fastlane writes this connection's broadcasts."""

    def write_frame(self, frame: Frame) -> None:
        """Write one encoded frame to the client, in order with everything else."""

    def close(self, code: int, reason: otp.ExitReason) -> None:
        """Close the connection with WebSocket ``code``; the transport exits ``reason``."""


class SessionHandler(Protocol):
    """What a transport needs from the session it carries (``channels.channel.SocketSession``).

    Transports sit below the channel layer: they are handed a session (or a factory of one)
    by the endpoint, and talk to it only through this protocol.
    """

    def summary(self) -> dict[str, Any]:
        """Fields for the transport process's ``summary()`` (observer, CLI)."""

    async def handle_in(self, msg: Message) -> None:
        """Handle a client message that may wait (a join)."""

    def handle_in_nowait(self, msg: Message) -> bool:
        """Handle a client message without waiting if it can; False means call ``handle_in``."""

    def handle_info(self, msg: Any) -> bool:
        """Handle a message from another process; False means it was not the session's."""
