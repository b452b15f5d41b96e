"""Exceptions raised by the sans-IO protocol layer.

The taxonomy is split by blame, as in h11: :class:`InvalidMessageError` means the
*peer* sent something we cannot accept; :class:`EncodeError` means *local* code asked
us to put something illegal on the wire. Both derive from :class:`ProtocolError`.
"""

from __future__ import annotations

__all__ = [
    "EncodeError",
    "InvalidMessageError",
    "LongPollBodyError",
    "ProtocolError",
]


class ProtocolError(Exception):
    """Base class of every error raised by :mod:`channels.protocol`."""


class InvalidMessageError(ProtocolError, ValueError):
    """A frame received from a client is malformed.

    The message says exactly what is wrong (invalid JSON, wrong shape, wrong arity,
    wrong field type, unknown binary kind, header lengths past the end...). It is the
    analogue of Phoenix's ``Phoenix.Socket.InvalidMessageError`` and of the crashes
    Phoenix's serializers raise on bad input; a transport should close the connection.
    """


class LongPollBodyError(InvalidMessageError):
    """A long-poll POST body cannot be split into frames (bad base64, line too long).

    Phoenix answers these with HTTP 400 (``Plug.BadRequestError``).
    """


class EncodeError(ProtocolError, ValueError):
    """Local code asked a serializer to encode something the wire format cannot carry.

    Examples: a V2 push whose payload is not a map, a binary header field longer than
    255 bytes, a payload orjson cannot serialize, a binary payload for V1. This is the
    analogue of Phoenix's ``ArgumentError`` from ``encode!/1`` and ``fastlane!/1``.
    """
