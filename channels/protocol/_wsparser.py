"""A sans-IO parser of the frames a WebSocket client sends (RFC 6455 §5), for the server.

Why not wsproto's ``Connection``? Measured here (``reference/performance.md`` B4) it costs
~26 µs to decode one masked 100-byte message, where this parser takes a few µs, and its
per-connection state is several times larger; on the push→reply path and in the memory of
each joined connection both matter. It covers exactly the server's reading side; the
handshake and the close handshake are ``ServerConnection``'s (``_wsconnection``), writing is
``_websocket.encode_ws_frame``. It is held to the Autobahn cases (``tests/autobahn``).

Usage::

    parser = FrameParser(max_message_size=10_000_000)
    for event in parser.feed(data):
        match event:
            case Message(data):     ...  # str (text) or bytes (binary), complete
            case PingFrame(data):   ...  # answer with a pong carrying ``data``
            case PongFrame(_):      ...
            case CloseFrame(code, reason): ...   # code None: no status given
            case ProtocolViolation(code, reason): ...  # close with ``code``, stop reading

Rules enforced (a violation is reported once, then the parser stops): client frames must be
masked; RSV bits must be 0, except RSV1 on the first frame of a data message when
permessage-deflate was negotiated (``deflate``); known opcodes only; control frames are
unfragmented with at most 125 bytes; continuation frames only inside a fragmented message
and no new message inside one; text is valid UTF-8 (checked incrementally across
fragments: 1007); close payloads are empty or a valid code (plus a UTF-8 reason); messages
over ``max_message_size`` (after inflating) are refused (1009).
"""

from __future__ import annotations

import codecs
import zlib
from dataclasses import dataclass
from typing import Final

from ._deflate import Decompressor, Deflate, MessageTooBig
from ._message import Opcode
from ._websocket import CloseCode, is_valid_close_code

__all__ = ["CloseFrame", "Event", "FrameParser", "Message", "PingFrame", "PongFrame", "ProtocolViolation",
           "unmask"]


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class PingFrame:
    data: bytes


@dataclass(frozen=True, slots=True)
class PongFrame:
    data: bytes


@dataclass(frozen=True, slots=True)
class CloseFrame:
    """The client's close frame; ``code`` is None when it carried no status code."""

    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The client broke the protocol: close with ``code`` (1002, 1007 or 1009)."""

    code: CloseCode
    reason: str


Event = Message | PingFrame | PongFrame | CloseFrame | ProtocolViolation

# Plain ints for the per-frame comparisons (an enum member lookup costs more); defined
# from the one ``Opcode`` enum.
_CONT: Final = int(Opcode.CONTINUATION)
_TEXT: Final = int(Opcode.TEXT)
_BINARY: Final = int(Opcode.BINARY)
_CLOSE: Final = int(Opcode.CLOSE)
_PING: Final = int(Opcode.PING)
_PONG: Final = int(Opcode.PONG)
_RSV1: Final = 0x40


def unmask(data: bytes | bytearray, mask: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask`` (one big-integer operation, in C)."""
    n = len(data)
    if n == 0:
        return b""
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class FrameParser:
    """Turns bytes from a client into events. Feed it whatever the socket returns."""

    __slots__ = ("_buf", "_decoder", "_failed", "_inflater", "_opcode", "_parts", "_size", "deflate",
                 "max_message_size")

    def __init__(self, *, max_message_size: int, deflate: Deflate | None = None) -> None:
        self.max_message_size = max_message_size
        #: The negotiated permessage-deflate, if any (RSV1 marks a compressed message).
        self.deflate = deflate
        self._buf = bytearray()
        self._opcode: int | None = None  # opcode of the fragmented message in progress
        self._parts: list[bytes] | list[str] = []
        self._size = 0
        self._decoder: codecs.IncrementalDecoder | None = None
        self._inflater: Decompressor | None = None  # the message in progress is compressed
        self._failed = False

    @property
    def in_message(self) -> bool:
        """A fragmented message is in progress (its first frame came, its last not yet)."""
        return self._opcode is not None

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for frames and messages not yet complete."""
        return len(self._buf) + self._size

    def feed(self, data: bytes | bytearray) -> list[Event]:
        """Parse as many complete frames as ``data`` (with what was buffered) holds."""
        if self._failed:
            return []
        if not self._buf and self._opcode is None and len(data) >= 6 and data[0] == 0x81:
            # The common case on a request path: exactly one whole, masked, short text
            # frame (FIN, no RSV bits), nothing buffered. Anything else, or text that is
            # not UTF-8, goes the general way below.
            length = data[1] - 0x80  # negative if the mask bit is not set
            if 0 <= length < 126 and len(data) == length + 6 and length <= self.max_message_size:
                try:
                    return [Message(unmask(data[6:], bytes(data[2:6])).decode("utf-8"))]
                except UnicodeDecodeError:
                    pass
        buf = self._buf
        buf += data
        events: list[Event] = []
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 4], "big")
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                header = 10
                if length >> 63:
                    return self._fail(events, CloseCode.PROTOCOL_ERROR,
                                      "frame length has its most significant bit set")
            fin = b0 & 0x80
            opcode = b0 & 0x0F
            compressed = False
            if b0 & 0x70:
                if (b0 & 0x70) != _RSV1 or self.deflate is None:
                    return self._fail(events, CloseCode.PROTOCOL_ERROR,
                                      "reserved bits set (no extension defines them)")
                if opcode != _TEXT and opcode != _BINARY:
                    return self._fail(events, CloseCode.PROTOCOL_ERROR,
                                      "RSV1 set on a frame that is not a message's first")
                compressed = True
            if not b1 & 0x80:
                return self._fail(events, CloseCode.PROTOCOL_ERROR, "client frames must be masked")
            if opcode >= _CLOSE:
                if opcode > _PONG:
                    return self._fail(events, CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
                if not fin:
                    return self._fail(events, CloseCode.PROTOCOL_ERROR, "control frames must not be fragmented")
                if length > 125:
                    return self._fail(events, CloseCode.PROTOCOL_ERROR, "control frame payload over 125 bytes")
            elif opcode > _BINARY:
                return self._fail(events, CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
            elif compressed or (opcode == _CONT and self._inflater is not None):
                # A compressed message is bounded once inflated (by its decompressor);
                # bound its raw frames too, with the slack deflate may add.
                if length > self.max_message_size + 1024:
                    return self._fail(events, CloseCode.MESSAGE_TOO_BIG,
                                      f"message exceeds {self.max_message_size} bytes")
            elif self._size + length > self.max_message_size:
                return self._fail(events, CloseCode.MESSAGE_TOO_BIG, f"message exceeds {self.max_message_size} bytes")
            frame_end = pos + header + 4 + length
            if frame_end > end:
                break
            mask = buf[pos + header:pos + header + 4]
            payload = unmask(buf[pos + header + 4:frame_end], bytes(mask))
            pos = frame_end
            if opcode >= _CLOSE:
                if opcode == _PING:
                    events.append(PingFrame(payload))
                elif opcode == _PONG:
                    events.append(PongFrame(payload))
                else:
                    del buf[:pos]
                    return self._close(events, payload)
                continue
            if opcode == _CONT:
                if self._opcode is None:
                    return self._fail(events, CloseCode.PROTOCOL_ERROR,
                                      "continuation frame without a message to continue")
            elif self._opcode is not None:
                return self._fail(events, CloseCode.PROTOCOL_ERROR, "new message inside a fragmented message")
            elif fin and not compressed:
                # The common case: a whole message in one frame.
                if opcode == _TEXT:
                    try:
                        events.append(Message(payload.decode("utf-8")))
                    except UnicodeDecodeError:
                        return self._fail(events, CloseCode.INVALID_DATA, "text message is not valid UTF-8")
                else:
                    events.append(Message(payload))
                continue
            else:
                self._opcode = opcode
                self._decoder = codecs.getincrementaldecoder("utf-8")() if opcode == _TEXT else None
                if compressed:
                    assert self.deflate is not None
                    self._inflater = self.deflate.decompressor(max_size=self.max_message_size)
            if self._inflater is not None:
                try:
                    payload = self._inflater.feed(payload, final=bool(fin))
                except MessageTooBig:
                    return self._fail(events, CloseCode.MESSAGE_TOO_BIG,
                                      f"message exceeds {self.max_message_size} bytes")
                except zlib.error as exc:
                    return self._fail(events, CloseCode.INVALID_DATA, f"compressed message is corrupt: {exc}")
            self._size += len(payload)
            if self._decoder is not None:
                try:
                    self._parts.append(self._decoder.decode(payload, final=bool(fin)))  # type: ignore[arg-type]
                except UnicodeDecodeError:
                    return self._fail(events, CloseCode.INVALID_DATA, "text message is not valid UTF-8")
            else:
                self._parts.append(payload)  # type: ignore[arg-type]
            if fin:
                parts = self._parts
                msg: str | bytes = "".join(parts) if self._opcode == _TEXT else b"".join(parts)  # type: ignore[arg-type]
                self._parts = []
                self._opcode = None
                self._decoder = None
                self._inflater = None
                self._size = 0
                events.append(Message(msg))
        del buf[:pos]
        return events

    def _close(self, events: list[Event], payload: bytes) -> list[Event]:
        self._failed = True  # nothing is read after a close frame
        self._release()
        if not payload:
            events.append(CloseFrame(None, ""))
            return events
        if len(payload) == 1:
            events.append(ProtocolViolation(CloseCode.PROTOCOL_ERROR, "close frame with a 1-byte payload"))
            return events
        code = int.from_bytes(payload[:2], "big")
        if not is_valid_close_code(code):
            events.append(ProtocolViolation(CloseCode.PROTOCOL_ERROR, f"invalid close code {code}"))
            return events
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            events.append(ProtocolViolation(CloseCode.INVALID_DATA, "close reason is not valid UTF-8"))
            return events
        events.append(CloseFrame(code, reason))
        return events

    def _fail(self, events: list[Event], code: CloseCode, reason: str) -> list[Event]:
        self._failed = True
        self._release()
        events.append(ProtocolViolation(code, reason))
        return events

    def fail(self, code: CloseCode, reason: str) -> ProtocolViolation:
        """Stop parsing for a reason found outside the parser (a limit the server enforces)."""
        self._failed = True
        self._release()
        return ProtocolViolation(code, reason)

    def _release(self) -> None:
        # Nothing more is parsed: free what an incomplete message held.
        self._buf = bytearray()
        self._parts = []
        self._size = 0
        self._opcode = None
        self._decoder = None
        self._inflater = None
