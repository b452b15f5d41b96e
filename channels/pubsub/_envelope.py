"""The cross-node broadcast envelope (version 1): what endpoints and emitters publish to Redis.

Sans-IO: builds and reads the bytes; the Redis adapter and ``channels.emitter`` do the I/O.
The format is specified for other languages in ``docs/pubsub-envelope.md``.
"""

from __future__ import annotations

import base64
import os
import socket as stdsocket
import uuid
from typing import Any, Final

import orjson

from ..protocol import Broadcast

__all__ = [
    "ENVELOPE_VERSION",
    "EnvelopeError",
    "broadcast_envelope",
    "decode_message",
    "emitter_node_name",
    "encode_envelope",
    "encode_message",
    "redis_channel",
]

#: The ``"v"`` field of every envelope this version writes and accepts.
ENVELOPE_VERSION: Final = 1


class EnvelopeError(ValueError):
    """A broadcast that cannot be put in an envelope (bad topic/event, payload not JSON)."""


def redis_channel(pubsub: str) -> str:
    """The Redis channel of the PubSub named ``pubsub``: ``phx:<pubsub>``.

    An endpoint's PubSub is named ``<endpoint name>.PubSub``.
    """
    return f"phx:{pubsub}"


def emitter_node_name() -> str:
    """A node name for a publisher that is not a node (no endpoint skips its messages)."""
    return f"emitter-{stdsocket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def encode_message(msg: Any) -> Any:
    """The ``"msg"`` field: a channel broadcast (``"t": "b"``) or any JSON value (``"t": "j"``)."""
    if type(msg) is Broadcast:
        payload = msg.payload
        if isinstance(payload, bytes | bytearray | memoryview):
            return {"t": "b", "topic": msg.topic, "event": msg.event,
                    "bin": base64.b64encode(bytes(payload)).decode()}
        return {"t": "b", "topic": msg.topic, "event": msg.event, "payload": payload}
    return {"t": "j", "v": msg}


def decode_message(data: Any) -> Any:
    """The inverse of :func:`encode_message`."""
    if data.get("t") == "b":
        if "bin" in data:
            return Broadcast(data["topic"], data["event"], base64.b64decode(data["bin"]))
        return Broadcast(data["topic"], data["event"], data.get("payload"))
    return data.get("v")


def encode_envelope(mode: str, node: str, target: str | None, topic: str, dispatcher: str, message: Any) -> bytes:
    """One envelope's bytes (``mode`` ``"except"`` with ``target`` None, or ``"only"`` a target node).

    Raises:
        TypeError: The message is not JSON-serialisable.
    """
    return orjson.dumps({"v": ENVELOPE_VERSION, "mode": mode, "node": node, "target": target,
                         "topic": topic, "dispatcher": dispatcher, "msg": encode_message(message)})


def broadcast_envelope(node: str, topic: str, event: str, payload: Any) -> bytes:
    """The bytes to PUBLISH for ``endpoint.broadcast(topic, event, payload)`` from ``node``.

    Encoded once; every endpoint subscribed to the channel decodes it once and writes
    the frame to its subscribers through the fastlane (``dispatcher: "channels"``).

    Raises:
        EnvelopeError: ``topic``/``event`` are not strings, or the payload is not JSON
            (``bytes`` payloads are carried as base64 and arrive as binary frames).
    """
    if not isinstance(topic, str) or not isinstance(event, str):
        raise EnvelopeError(f"topic and event must be str, got {topic!r}, {event!r}")
    try:
        return encode_envelope("except", node, None, topic, "channels", Broadcast(topic, event, payload))
    except TypeError as exc:
        raise EnvelopeError(f"payload of {event!r} on {topic!r} is not JSON-serialisable: {exc}") from None
