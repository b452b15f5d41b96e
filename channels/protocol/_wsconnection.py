"""One WebSocket connection on the server, sans-IO: the handshake, frames in, the close handshake.

``ServerConnection`` is the whole protocol state of one connection; the transport loop
(``channels.transports``) only moves bytes. It

- accepts from the request the HTTP layer already parsed (h11): :meth:`ServerConnection.accept`
  returns the 101 response bytes or the refusal (400, or 426 for another version) and
  negotiates the subprotocol and permessage-deflate (RFC 7692, opt-in);
- parses client frames with :class:`~channels.protocol._wsparser.FrameParser` (and its fast
  path for one whole short text frame);
- answers pings and owns the close handshake as a state machine (:class:`ConnectionState`,
  as wsproto's): control frames it owes the client wait in :meth:`take_output`.

States::

    CONNECTING --accept--> OPEN --close()--> LOCAL_CLOSING --client's close--> CLOSED
        |                    |  \\--client's close (echoed) / violation (our close sent)--> CLOSED
        \\--refused--> REJECTED   \\--connection_lost()--> CLOSED

Example:
    >>> conn = ServerConnection(max_message_size=1 << 20)
    >>> headers = [("host", "x"), ("upgrade", "websocket"), ("connection", "Upgrade"),
    ...            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "13")]
    >>> result = conn.accept(HandshakeRequest("GET", "1.1", headers), subprotocol=None)
    >>> result.data.split(b"\\r\\n")[0], conn.state
    (b'HTTP/1.1 101 Switching Protocols', <ConnectionState.OPEN: 1>)
    >>> conn.receive_data(b"\\x89\\x80\\x00\\x00\\x00\\x00")   # a ping
    [PingFrame(data=b'')]
    >>> conn.take_output()                                   # its pong
    b'\\x8a\\x00'
    >>> conn.close(CloseCode.NORMAL), conn.state
    (b'\\x88\\x02\\x03\\xe8', <ConnectionState.LOCAL_CLOSING: 2>)
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from ._deflate import Deflate, negotiate_deflate
from ._message import Frame, Opcode
from ._websocket import CloseCode, encode_ws_close, encode_ws_data, encode_ws_frame
from ._wsparser import CloseFrame, Event, FrameParser, Message, PingFrame, ProtocolViolation

__all__ = [
    "Accepted",
    "ConnectionState",
    "HandshakeRequest",
    "Refused",
    "ServerConnection",
    "accept_key",
    "check_upgrade",
]

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ConnectionState(enum.Enum):
    """Where the connection is in its life (the close handshake is RFC 6455 §7)."""

    #: Before the opening handshake.
    CONNECTING = 0
    #: Messages flow both ways.
    OPEN = 1
    #: We sent our close frame; we wait for the client's (its data is discarded).
    LOCAL_CLOSING = 2
    #: Both close frames were exchanged, or the connection failed or dropped: nothing more
    #: is read or sent (but what :meth:`ServerConnection.take_output` holds).
    CLOSED = 3
    #: The opening handshake was refused.
    REJECTED = 4


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """The parts of an upgrade request the handshake reads (``channels.http.Request`` has them)."""

    method: str
    http_version: str
    #: ``(lowercase name, value)`` pairs, values decoded as Latin-1.
    headers: Sequence[tuple[str, str]]

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


class _RequestLike(Protocol):
    """What :meth:`ServerConnection.accept` needs of a request (structural)."""

    @property
    def method(self) -> str: ...
    @property
    def http_version(self) -> str: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class Accepted:
    """The upgrade is accepted: write ``data`` (the 101 response) to the client."""

    data: bytes
    subprotocol: str | None
    deflate: Deflate | None


@dataclass(frozen=True, slots=True)
class Refused:
    """The upgrade is refused: answer with this HTTP status, headers and body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def body(self) -> bytes:
        return self.reason.encode()


def _tokens(values: Iterable[str]) -> set[str]:
    return {t.strip().lower() for v in values for t in v.split(",") if t.strip()}


def _inspect_list(values: Sequence[str]) -> str:
    """Render a list of strings like Elixir's ``inspect/1`` (websock_adapter's messages)."""
    escaped = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "[" + ", ".join(escaped) + "]"


def _values(request: _RequestLike, name: str) -> list[str]:
    return [v for k, v in request.headers if k == name]


def check_upgrade(request: _RequestLike) -> Refused | None:
    """The refusal an upgrade request gets, or None if it is a valid one (RFC 6455 §4.2.1).

    The first checks and their messages are websock_adapter's (what Phoenix answers); then
    the key must be 16 bytes in base64, another version gets 426 with the one we speak
    (§4.4), a body or a non-ASCII ``Host`` gets 400.
    """
    if request.http_version != "1.1":
        return Refused(400, f"HTTP version HTTP/{request.http_version} unsupported")
    if request.method != "GET":
        return Refused(400, f"HTTP method {request.method} unsupported")
    for name, token in (("connection", "upgrade"), ("upgrade", "websocket")):
        values = _values(request, name)
        if token not in _tokens(values):
            return Refused(400, f"'{name}' header must contain '{token}', got {_inspect_list(values)}")
    keys = _values(request, "sec-websocket-key")
    if not keys or not keys[0]:
        return Refused(400, "'sec-websocket-key' header is absent")
    versions = _values(request, "sec-websocket-version")
    if versions != ["13"]:
        return Refused(426, f"'sec-websocket-version' header must equal '13', got {_inspect_list(versions)}",
                       (("sec-websocket-version", "13"),))
    key = keys[0].strip()
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(keys) != 1 or len(raw) != 16:
        return Refused(400, "'sec-websocket-key' header must be 16 bytes in base64, got "
                            f"{_inspect_list(keys)}")
    for host in _values(request, "host"):
        if not host.isascii():
            return Refused(400, "'host' header must be ASCII (IDNA-encode international names)")
    lengths = _values(request, "content-length")
    if _values(request, "transfer-encoding") or any(v.strip() != "0" for v in lengths):
        return Refused(400, "an upgrade request must not have a body")
    return None


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("ascii") + _GUID).digest()).decode("ascii")


class ServerConnection:
    """The protocol state of one server-side WebSocket connection (no I/O)."""

    __slots__ = ("_output", "_parser", "close_received", "close_sent", "compression", "deflate",
                 "encoding", "state")

    def __init__(self, *, max_message_size: int, compression: bool = False) -> None:
        self._parser = FrameParser(max_message_size=max_message_size)
        #: Whether permessage-deflate may be negotiated.
        self.compression = compression
        self.deflate: Deflate | None = None
        #: The frame encoding of this connection: "ws", or "ws+deflate/<window bits>".
        self.encoding = "ws"
        self.state = ConnectionState.CONNECTING
        #: The code of the close frame we sent, and the client's (1005: it gave none).
        self.close_sent: int | None = None
        self.close_received: int | None = None
        self._output: list[tuple[Event, bytes]] = []

    # -- opening handshake -----------------------------------------------------------------

    def accept(self, request: _RequestLike, *, subprotocol: str | None,
               extra_headers: Iterable[tuple[str, str]] = ()) -> Accepted | Refused:
        """Answer the upgrade ``request``: the 101 response, or the refusal (state REJECTED).

        ``subprotocol`` is the one chosen by the caller (from ``Sec-WebSocket-Protocol``).
        """
        if self.state is not ConnectionState.CONNECTING:
            raise RuntimeError(f"accept() in state {self.state.name}")
        refused = check_upgrade(request)
        if refused is not None:
            self.state = ConnectionState.REJECTED
            return refused
        key = _values(request, "sec-websocket-key")[0]
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "upgrade: websocket",
            "connection: Upgrade",
            f"sec-websocket-accept: {accept_key(key)}",
        ]
        if subprotocol is not None:
            lines.append(f"sec-websocket-protocol: {subprotocol}")
        if self.compression:
            self.deflate = negotiate_deflate(_values(request, "sec-websocket-extensions"))
            if self.deflate is not None:
                self._parser.deflate = self.deflate
                self.encoding = self.deflate.encoding
                lines.append(f"sec-websocket-extensions: {self.deflate.response_header}")
        lines.extend(f"{name}: {value}" for name, value in extra_headers)
        self.state = ConnectionState.OPEN
        return Accepted(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), subprotocol, self.deflate)

    # -- reading ---------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray) -> list[Event]:
        """Parse what the client sent; answer its control frames (see :meth:`take_output`).

        Data messages are returned while OPEN and discarded once we sent our close.
        A :class:`CloseFrame` or :class:`ProtocolViolation` event ends the reading: the
        state is then CLOSED and the close frame owed (echo or ours) is in the output.
        """
        state = self.state
        if state is ConnectionState.OPEN:
            events = self._parser.feed(data)
            if len(events) == 1 and type(events[0]) is Message:
                return events
        elif state is ConnectionState.LOCAL_CLOSING:
            events = [e for e in self._parser.feed(data) if type(e) is not Message]
        else:
            return []
        for event in events:
            if isinstance(event, PingFrame):
                if self.state is ConnectionState.OPEN:
                    self._output.append((event, encode_ws_frame(Opcode.PONG, event.data)))
            elif isinstance(event, CloseFrame):
                code = event.code
                self.close_received = CloseCode.NO_STATUS if code is None else code
                if self.state is ConnectionState.OPEN:
                    # Echo it (RFC 6455 §5.5.1): its code, or an empty close frame.
                    self.close_sent = code
                    self._output.append((event, encode_ws_close(code) if code is not None
                                         else encode_ws_frame(Opcode.CLOSE, b"")))
                self.state = ConnectionState.CLOSED
            elif isinstance(event, ProtocolViolation):
                self._failed(event.code, event.reason, event)
        return events

    @property
    def in_message(self) -> bool:
        """A fragmented message is in progress."""
        return self._parser.in_message

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for incomplete frames and messages."""
        return self._parser.buffered_bytes

    def fail(self, code: CloseCode | int, reason: str) -> ProtocolViolation:
        """Fail the connection for a limit enforced outside the parser: our close frame is
        in the output, nothing more is read."""
        violation = self._parser.fail(CloseCode(code), reason)
        self._failed(code, reason, violation)
        return violation

    def _failed(self, code: CloseCode | int, reason: str, event: Event) -> None:
        if self.state is ConnectionState.OPEN:
            self.close_sent = code
            self._output.append((event, encode_ws_close(code, reason)))
        self.state = ConnectionState.CLOSED

    def connection_lost(self) -> None:
        """The TCP connection ended (or the server gives up waiting): CLOSED."""
        if self.state in (ConnectionState.OPEN, ConnectionState.LOCAL_CLOSING) and self.close_received is None:
            self.close_received = CloseCode.ABNORMAL
        self.state = ConnectionState.CLOSED
        self._parser.fail(CloseCode.ABNORMAL, "connection lost")

    # -- writing ---------------------------------------------------------------------------

    def take_output(self, until: Event | None = None) -> bytes:
        """The control frames owed to the client (pongs, the close echo, our close after a
        violation), to write now: all of them, or those owed up to the event ``until`` (to
        keep them in order with the replies to the messages between)."""
        out = self._output
        if not out:
            return b""
        if until is None:
            self._output = []
            return out[0][1] if len(out) == 1 else b"".join(data for _, data in out)
        taken: list[bytes] = []
        while out:
            event, data = out.pop(0)
            taken.append(data)
            if event is until:
                break
        return b"".join(taken)

    def drop_output(self) -> None:
        """Forget the control frames owed for events the caller will not act on (it closes
        the connection itself before reaching them, e.g. after an invalid message)."""
        self._output = []

    def close(self, code: CloseCode | int, reason: str = "") -> bytes:
        """Start the close handshake: our close frame (``b""`` if it is not OPEN)."""
        if self.state is not ConnectionState.OPEN:
            return b""
        self.state = ConnectionState.LOCAL_CLOSING
        self.close_sent = code
        return encode_ws_close(code, reason)

    def encode(self, data: str | bytes) -> bytes:
        """One message as a frame (text for ``str``, binary for ``bytes``), compressed when
        deflate was negotiated."""
        if isinstance(data, str):
            return encode_ws_data(Opcode.TEXT, data.encode(), self.encoding)
        return encode_ws_data(Opcode.BINARY, bytes(data), self.encoding)

    def encode_frame(self, frame: Frame) -> bytes:
        """A serializer's frame as this connection's bytes."""
        return encode_ws_data(frame.opcode, frame.data, self.encoding)

    @property
    def open(self) -> bool:
        return self.state is ConnectionState.OPEN
