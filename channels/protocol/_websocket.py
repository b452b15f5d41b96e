"""Server-side WebSocket frame encoding (RFC 6455 §5.2), for encode-once fan-out.

A server sends unmasked frames. Encoding a frame here once and writing the same bytes
to every subscriber is Phoenix's fastlane ("encode once, write many"); it bypasses a
per-connection ``send()``. Only unfragmented frames are produced; for connections that
negotiated permessage-deflate, ``encode_ws_data`` compresses each message on its own, so
its bytes too are the same for every such connection (``_deflate``).
"""

from __future__ import annotations

import enum
import struct
from typing import Final

from ._deflate import compress_message
from ._message import Frame, Opcode

__all__ = [
    "CloseCode",
    "encode_ws_close",
    "encode_ws_data",
    "encode_ws_frame",
    "frame_to_ws_bytes",
    "is_valid_close_code",
]

class CloseCode(enum.IntEnum):
    """WebSocket close codes (RFC 6455 §7.4.1, and the IANA registry for 1012-1014).

    Any ``int`` in 3000-4999 is a valid application code too; functions that take a close
    code accept ``CloseCode | int``.
    """

    #: The purpose of the connection was fulfilled.
    NORMAL = 1000
    #: The endpoint is going away (server shutting down, browser leaving the page).
    GOING_AWAY = 1001
    #: The peer broke the protocol.
    PROTOCOL_ERROR = 1002
    #: A data type the endpoint cannot accept.
    UNSUPPORTED_DATA = 1003
    #: No status code was present (never sent on the wire).
    NO_STATUS = 1005
    #: The connection dropped without a close frame (never sent on the wire).
    ABNORMAL = 1006
    #: A text message that is not UTF-8.
    INVALID_DATA = 1007
    #: A message that violates the endpoint's policy.
    POLICY_VIOLATION = 1008
    #: A message too big to process.
    MESSAGE_TOO_BIG = 1009
    #: The client expected an extension the server did not negotiate.
    MANDATORY_EXTENSION = 1010
    #: An unexpected condition on the server.
    INTERNAL_ERROR = 1011
    #: The service is restarting (clients reconnect).
    SERVICE_RESTART = 1012
    #: Try again later (the server is overloaded, or the client too slow).
    TRY_AGAIN_LATER = 1013
    #: A gateway received an invalid response.
    BAD_GATEWAY = 1014


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame on the wire (RFC 6455 §7.4)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


_FIN: Final = 0x80
_PACK_16: Final = struct.Struct("!BBH").pack
_PACK_64: Final = struct.Struct("!BBQ").pack
_MAX_CONTROL_PAYLOAD: Final = 125
_MAX_CLOSE_REASON: Final = _MAX_CONTROL_PAYLOAD - 2


def encode_ws_frame(opcode: Opcode | int, payload: bytes | bytearray | memoryview, *, rsv1: bool = False) -> bytes:
    """Build one complete, unmasked WebSocket frame with FIN set.

    Args:
        opcode: The frame opcode (:class:`Opcode`).
        payload: The frame payload (already UTF-8 for text frames).
        rsv1: Set RSV1 (the payload is a message compressed with permessage-deflate).

    Returns:
        Header plus payload, with a 7-bit, 16-bit or 64-bit length as RFC 6455 requires.

    Raises:
        ValueError: The opcode is not a valid 4-bit opcode, or a control frame's payload
            exceeds 125 bytes.
    """
    if not 0 <= opcode <= 0xF:
        raise ValueError(f"invalid WebSocket opcode {opcode!r}")
    length = len(payload)
    first = _FIN | opcode | (0x40 if rsv1 else 0)
    if length < 126:
        header = bytes((first, length))
    elif opcode >= Opcode.CLOSE:
        raise ValueError(
            f"control frame payload is {length} bytes, at most {_MAX_CONTROL_PAYLOAD} allowed"
        )
    elif length < 0x10000:
        header = _PACK_16(first, 126, length)
    else:
        header = _PACK_64(first, 127, length)
    return header + payload


def encode_ws_close(code: CloseCode | int, reason: str = "") -> bytes:
    """Build a close frame carrying ``code`` and ``reason``.

    Args:
        code: The close code: 1000-1003, 1007-1014 or 3000-4999 (1004-1006, 1015 and
            1016-2999 may not be sent).
        reason: A human-readable reason; it is cut at a character boundary so that the
            control frame stays within 125 bytes.

    Raises:
        ValueError: ``code`` may not be sent in a close frame.
    """
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent in a close frame")
    raw = reason.encode()
    if len(raw) > _MAX_CLOSE_REASON:
        raw = raw[:_MAX_CLOSE_REASON].decode(errors="ignore").encode()
    return encode_ws_frame(Opcode.CLOSE, code.to_bytes(2, "big") + raw)


def encode_ws_data(opcode: Opcode | int, payload: bytes, encoding: str = "ws") -> bytes:
    """One complete data frame for connections whose frame encoding is ``encoding``.

    ``"ws"``: uncompressed; ``"ws+deflate/<bits>"``: compressed on its own with that window
    (permessage-deflate with ``server_no_context_takeover``), RSV1 set. The same bytes serve
    every connection with that encoding (encode-once fan-out).
    """
    if encoding != "ws" and payload:
        bits = int(encoding.rpartition("/")[2])
        return encode_ws_frame(opcode, compress_message(payload, bits), rsv1=True)
    return encode_ws_frame(opcode, payload)


def frame_to_ws_bytes(frame: Frame, encoding: str = "ws") -> bytes:
    """Encode a serializer :class:`Frame` as WebSocket bytes, once, for many connections."""
    return encode_ws_data(frame.opcode, frame.data, encoding)
