"""Messages exchanged by transports and channel servers (private)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import otp

from .protocol import Frame, Message


@dataclass(frozen=True, slots=True)
class PushFrame:
    """channel -> transport: write this encoded frame (``{:socket_push, opcode, data}``)."""

    frame: Frame


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
