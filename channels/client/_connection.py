"""One WebSocket connection speaking the Phoenix channel protocol (no reconnect).

``connect`` opens a TCP (or TLS) stream, does the WebSocket handshake with
trio-websocket and returns a :class:`Connection`: send messages encoded with the
negotiated serializer, take frames off the socket, close. The reconnecting
:class:`~channels.client.Socket` and ``channels.testing`` are both built on it.
"""

from __future__ import annotations

import base64
import socket as stdsocket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import trio
import trio_websocket

from channels.protocol import V2_JSON_SERIALIZER, Message, ReplyMessage, Serializer, negotiate_serializer

__all__ = [
    "AUTH_TOKEN_PREFIX",
    "CloseInfo",
    "ConnectRejected",
    "Connection",
    "Disconnected",
    "connect",
    "websocket_url",
]

#: What the JS client puts before the base64url token in ``sec-websocket-protocol``.
AUTH_TOKEN_PREFIX: Final = "base64url.bearer.phx."


class ConnectRejected(Exception):
    """The server answered the WebSocket upgrade with an HTTP status instead of 101."""

    def __init__(self, status_code: int, headers: Sequence[tuple[bytes, bytes]], body: bytes | None) -> None:
        super().__init__(f"WebSocket upgrade rejected with HTTP {status_code}: {body!r}")
        self.status_code = status_code
        self.headers = list(headers)
        self.body = body


@dataclass(frozen=True, slots=True)
class CloseInfo:
    """How a connection ended: the close code and reason the client saw.

    ``code`` is ``None`` when the client stopped the connection itself without a
    handshake; 1006 means the TCP connection ended without a close frame.
    """

    code: int | None
    reason: str | None


class Disconnected(Exception):
    """The connection is closed; ``info`` says how."""

    def __init__(self, info: CloseInfo) -> None:
        super().__init__(f"connection closed (code {info.code}, reason {info.reason!r})")
        self.info = info


def websocket_url(endpoint: str, params: Mapping[str, Any] | None = None, vsn: str | None = "2.0.0") -> str:
    """The URL the JS client connects to: ``<endpoint>/websocket?<params>&vsn=<vsn>``.

    ``endpoint`` is the socket mount URL, for example ``ws://127.0.0.1:4000/socket``
    (``http``/``https`` are accepted as ``ws``/``wss``). A URL that already ends in
    ``/websocket`` is kept as it is.
    """
    parts = urlsplit(endpoint)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"expected a ws:// or wss:// URL, got {endpoint!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/websocket"):
        path += "/websocket"
    items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (params or {}).items()]
    if vsn is not None:
        items.append(("vsn", vsn))
    query = "&".join(q for q in (parts.query, urlencode(items)) if q)
    return f"{scheme}://{parts.netloc}{path}" + (f"?{query}" if query else "")


class Connection:
    """An open WebSocket connection with its Phoenix serializer.

    Made by :func:`connect`. Sending is safe from several tasks at once (trio-websocket
    serialises writes); take frames from one task.
    """

    def __init__(self, ws: trio_websocket.WebSocketConnection, stream: trio.abc.Stream,
                 serializer: Serializer, url: str) -> None:
        self.ws = ws
        self.stream = stream
        self.serializer = serializer
        self.url = url
        #: Set when the connection has ended (see :class:`CloseInfo`).
        self.closed: CloseInfo | None = None
        self._done = trio.Event()

    def __repr__(self) -> str:
        return f"<Connection {self.url} {self.serializer.vsn} closed={self.closed}>"

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected (None if none)."""
        subprotocol: str | None = self.ws.subprotocol
        return subprotocol

    @property
    def handshake_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers of the server's 101 response."""
        return list(self.ws.handshake_headers)

    # -- sending ------------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Encode ``message`` as the JS client does (``bytes`` payloads as V2 binary) and send it.

        Raises:
            Disconnected: The connection is closed.
            channels.protocol.EncodeError: The payload cannot be encoded.
        """
        frame = self.serializer.encode_client(message)
        if frame.is_binary:
            await self.send_bytes(frame.data)
        else:
            await self.send_text(frame.data.decode())

    async def send_text(self, text: str) -> None:
        """Send one raw text frame."""
        try:
            await self.ws.send_message(text)
        except trio_websocket.ConnectionClosed as exc:
            raise Disconnected(self._closed_from(exc)) from None

    async def send_bytes(self, data: bytes) -> None:
        """Send one raw binary frame."""
        try:
            await self.ws.send_message(data)
        except trio_websocket.ConnectionClosed as exc:
            raise Disconnected(self._closed_from(exc)) from None

    # -- receiving -------------------------------------------------------------------------

    async def receive_frame(self) -> str | bytes:
        """Wait for the next frame: ``str`` for text, ``bytes`` for binary.

        Raises:
            Disconnected: The connection ended (frames received before stay readable
                until then).
        """
        try:
            data: str | bytes = await self.ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise Disconnected(self._closed_from(exc)) from None
        return data

    def decode(self, data: str | bytes) -> Message | ReplyMessage:
        """Decode a server frame (``ReplyMessage`` for ``phx_reply``, else ``Message``).

        Raises:
            channels.protocol.InvalidMessageError: The frame is malformed.
        """
        return self.serializer.decode_server(data, binary=not isinstance(data, str))

    async def receive(self) -> Message | ReplyMessage:
        """``receive_frame`` then ``decode``."""
        return self.decode(await self.receive_frame())

    # -- closing ------------------------------------------------------------------------------

    async def aclose(self, code: int = 1000, reason: str | None = None, *, timeout: float = 5.0) -> None:
        """Close with the WebSocket handshake (bounded by ``timeout``), then drop the TCP stream."""
        with trio.move_on_after(timeout):
            await self.ws.aclose(code, reason)
        await self.abort()

    async def abort(self) -> None:
        """Drop the TCP connection without a close handshake."""
        if self.closed is None:
            self.closed = CloseInfo(None, "client stopped")
        with trio.CancelScope(shield=True):
            await self.stream.aclose()

    async def wait_closed(self) -> CloseInfo:
        """Wait until the connection has ended (the server closed it or it was aborted)."""
        await self._done.wait()
        assert self.closed is not None
        return self.closed

    def _closed_from(self, exc: trio_websocket.ConnectionClosed) -> CloseInfo:
        if self.closed is None:
            reason = exc.reason
            self.closed = CloseInfo(getattr(reason, "code", None), getattr(reason, "reason", None))
        return self.closed

    def _finished(self) -> None:
        if self.closed is None:
            reason = self.ws.closed
            self.closed = CloseInfo(getattr(reason, "code", 1006), getattr(reason, "reason", None))
        self._done.set()


def _find_rejection(exc: BaseException) -> trio_websocket.ConnectionRejected | None:
    if isinstance(exc, trio_websocket.ConnectionRejected):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = _find_rejection(sub)
            if found is not None:
                return found
    return None


async def connect(
    nursery: trio.Nursery,
    url: str,
    *,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    subprotocols: Sequence[str] | None = None,
    auth_token: str | None = None,
    max_message_size: int = 256 * 1024 * 1024,
    receive_buffer: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 10.0,
    serializer: Serializer | None = None,
) -> Connection:
    """Open a WebSocket connection to ``url`` (see :func:`websocket_url`).

    The connection's background task (trio-websocket's reader, which answers pings and
    finishes the close handshake) runs in ``nursery`` until the connection ends; the
    TCP stream is closed then. The serializer follows the URL's ``vsn`` query
    parameter (V1 when absent, as Phoenix defaults).

    Args:
        nursery: Where the connection's task runs.
        url: A ``ws://`` or ``wss://`` URL with path and query.
        headers: Extra request headers, for example ``{"origin": "http://example.com"}``.
        subprotocols: Offered in ``sec-websocket-protocol``.
        auth_token: Sent as the JS client's ``authToken``: ``phoenix, base64url.bearer.phx.<b64>``.
        max_message_size: The largest message accepted from the server.
        receive_buffer: ``SO_RCVBUF`` for the client socket (to make a slow reader).
        ssl_context: For ``wss://`` (default: ``ssl.create_default_context()``).
        timeout: Seconds allowed for the TCP connect and the handshake.
        serializer: Use this serializer instead of the one the URL's ``vsn`` names.

    Raises:
        ConnectRejected: The server answered with an HTTP status (403, 400...).
        OSError: The TCP connection failed.
        trio.TooSlowError: No handshake within ``timeout``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or parts.hostname is None:
        raise ValueError(f"expected a ws:// or wss:// URL, got {url!r}")
    secure = parts.scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    vsn = None
    for item in parts.query.split("&"):
        if item.startswith("vsn="):
            vsn = item[4:]
    if serializer is None:
        serializer = negotiate_serializer(vsn) or V2_JSON_SERIALIZER
    offered = list(subprotocols or [])
    if auth_token is not None:
        b64 = base64.b64encode(auth_token.encode()).decode().rstrip("=")  # as the JS client (btoa)
        offered = ["phoenix", f"{AUTH_TOKEN_PREFIX}{b64}", *offered]
    extra = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    host_header = parts.netloc.rsplit("@", 1)[-1]

    with trio.fail_after(timeout):
        tcp = await trio.open_tcp_stream(host, port)
        stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] = tcp
        if receive_buffer is not None:
            tcp.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, receive_buffer)
        if secure:
            ctx = ssl_context or ssl.create_default_context()
            stream = trio.SSLStream(tcp, ctx, server_hostname=host, https_compatible=True)

        async def run(task_status: trio.TaskStatus[Connection] = trio.TASK_STATUS_IGNORED) -> None:
            conn: Connection | None = None
            try:
                # trio-websocket's reader task lives in this inner nursery: a rejected
                # handshake raises here, not in the caller's nursery.
                async with trio.open_nursery() as inner:
                    ws = await trio_websocket.wrap_client_stream(
                        inner, stream, host_header, resource,
                        subprotocols=offered or None,
                        extra_headers=[(k.encode(), v.encode()) for k, v in extra],
                        message_queue_size=1,
                        max_message_size=max_message_size,
                    )
                    assert serializer is not None
                    conn = Connection(ws, stream, serializer, url)
                    task_status.started(conn)
                    # The reader task ends when the connection does.
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                if conn is None:
                    raise
            finally:
                with trio.CancelScope(shield=True):
                    await stream.aclose()
                if conn is not None:
                    conn._finished()

        try:
            connection: Connection = await nursery.start(run)
        except BaseException as exc:
            rejected = _find_rejection(exc)
            if rejected is None:
                raise
            raise ConnectRejected(rejected.status_code, rejected.headers or (), rejected.body) from None
    return connection
