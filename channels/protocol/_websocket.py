"""Server-side WebSocket frame encoding (RFC 6455 §5.2), for encode-once fan-out.

A server sends unmasked frames. Encoding a frame here once and writing the same bytes
to every subscriber is Phoenix's fastlane ("encode once, write many"); it bypasses a
per-connection wsproto ``send()``. Only uncompressed, unfragmented frames are produced,
so these bytes must not be sent on a connection that negotiated permessage-deflate.
"""

from __future__ import annotations

import struct
from typing import Final

from ._message import Frame, Opcode

__all__ = [
    "encode_ws_close",
    "encode_ws_frame",
    "frame_to_ws_bytes",
]

_FIN: Final = 0x80
_PACK_16: Final = struct.Struct("!BBH").pack
_PACK_64: Final = struct.Struct("!BBQ").pack
_MAX_CONTROL_PAYLOAD: Final = 125
_MAX_CLOSE_REASON: Final = _MAX_CONTROL_PAYLOAD - 2
#: Close codes that must never be sent in a close frame (RFC 6455 §7.4.1).
_RESERVED_CLOSE_CODES: Final = frozenset({1004, 1005, 1006, 1015})


def encode_ws_frame(opcode: Opcode | int, payload: bytes | bytearray | memoryview) -> bytes:
    """Build one complete, unmasked WebSocket frame with FIN set.

    Args:
        opcode: The frame opcode (:class:`Opcode`).
        payload: The frame payload (already UTF-8 for text frames).

    Returns:
        Header plus payload, with a 7-bit, 16-bit or 64-bit length as RFC 6455 requires.

    Raises:
        ValueError: The opcode is not a valid 4-bit opcode, or a control frame's payload
            exceeds 125 bytes.
    """
    if not 0 <= opcode <= 0xF:
        raise ValueError(f"invalid WebSocket opcode {opcode!r}")
    length = len(payload)
    first = _FIN | opcode
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


def encode_ws_close(code: int, reason: str = "") -> bytes:
    """Build a close frame carrying ``code`` and ``reason``.

    Args:
        code: The close code: 1000-1003, 1007-1014 or 3000-4999 (1004-1006, 1015 and
            1016-2999 may not be sent).
        reason: A human-readable reason; it is cut at a character boundary so that the
            control frame stays within 125 bytes.

    Raises:
        ValueError: ``code`` may not be sent in a close frame.
    """
    if not (1000 <= code <= 1014 or 3000 <= code <= 4999) or code in _RESERVED_CLOSE_CODES:
        raise ValueError(f"close code {code} may not be sent in a close frame")
    raw = reason.encode()
    if len(raw) > _MAX_CLOSE_REASON:
        raw = raw[:_MAX_CLOSE_REASON].decode(errors="ignore").encode()
    return encode_ws_frame(Opcode.CLOSE, code.to_bytes(2, "big") + raw)


def frame_to_ws_bytes(frame: Frame) -> bytes:
    """Encode a serializer :class:`Frame` as WebSocket bytes, once, for many connections."""
    return encode_ws_frame(frame.opcode, frame.data)
