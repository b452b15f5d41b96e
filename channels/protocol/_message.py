"""Value objects of the Phoenix channel wire protocol: messages, replies, broadcasts, frames.

They mirror ``Phoenix.Socket.Message``, ``Phoenix.Socket.Reply`` and
``Phoenix.Socket.Broadcast``. A :class:`Frame` is one encoded WebSocket/long-poll frame:
an opcode and the bytes to send.
"""

from __future__ import annotations

import enum
from typing import Any, TypeAlias

import attrs

__all__ = [
    "Broadcast",
    "Frame",
    "JSONValue",
    "Message",
    "Opcode",
    "Payload",
    "Ref",
    "ReplyMessage",
]

#: Any value orjson can encode and ``orjson.loads`` returns: ``dict`` (string keys),
#: ``list``, ``str``, ``int``, ``float``, ``bool`` or ``None``.
JSONValue: TypeAlias = Any

#: A message payload: a JSON value, or ``bytes`` for a binary payload (Phoenix's
#: ``{:binary, data}``; V2 only).
Payload: TypeAlias = Any

#: A ``ref`` or ``join_ref`` as it travels on the wire. Refs are opaque: the JS client
#: sends strings, other clients may send integers, and ``None`` is JSON ``null``. The
#: server echoes them back unchanged (Phoenix compares them with ``===``).
Ref: TypeAlias = str | int | None


class Opcode(enum.IntEnum):
    """WebSocket opcodes (RFC 6455 §5.2). Frames produced by serializers are TEXT or BINARY."""

    #: Continuation of a fragmented message.
    CONTINUATION = 0x0
    #: A UTF-8 text frame.
    TEXT = 0x1
    #: A binary frame.
    BINARY = 0x2
    #: Connection close (control frame).
    CLOSE = 0x8
    #: Ping (control frame).
    PING = 0x9
    #: Pong (control frame).
    PONG = 0xA


@attrs.frozen
class Message:
    """A channel message: client→server input, or a server→client push.

    Attributes:
        topic: The topic, for example ``"room:lobby"``.
        event: The event name, for example ``"phx_join"`` or ``"new_msg"``.
        payload: A JSON value, or ``bytes`` for a binary payload.
        ref: The client's message ref (``None`` for server pushes).
        join_ref: The ref of the join this message belongs to, if any.
    """

    topic: str
    event: str
    payload: Payload
    ref: Ref = None
    join_ref: Ref = None


@attrs.frozen
class ReplyMessage:
    """A server→client reply to the client message whose ref is ``ref``.

    Encoded as event ``"phx_reply"`` with payload ``{"status": status, "response": payload}``
    (or as a binary kind-1 frame when ``payload`` is ``bytes``).

    Attributes:
        topic: The topic replied on.
        status: The reply status, usually ``"ok"`` or ``"error"``.
        payload: The response: any JSON value, or ``bytes``.
        ref: The ref of the message being replied to.
        join_ref: The join_ref of the channel (``None`` for heartbeats and unmatched topics).
    """

    topic: str
    status: str
    payload: Payload
    ref: Ref = None
    join_ref: Ref = None


@attrs.frozen
class Broadcast:
    """A pubsub broadcast; sent to clients with ``join_ref`` and ``ref`` both null.

    Attributes:
        topic: The topic broadcast on.
        event: The event name.
        payload: A JSON object (``dict``) or ``bytes``.
    """

    topic: str
    event: str
    payload: Payload


@attrs.frozen
class Frame:
    """One encoded frame, ready to be written once and sent to many connections.

    Attributes:
        opcode: :attr:`Opcode.TEXT` (UTF-8 JSON) or :attr:`Opcode.BINARY`.
        data: The frame body.
    """

    opcode: Opcode
    data: bytes

    @property
    def is_binary(self) -> bool:
        """Whether this is a binary frame."""
        return self.opcode is Opcode.BINARY
