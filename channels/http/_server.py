"""The HTTP/1.1 connection driver: serve requests on one ``trio.abc.Stream`` with h11.

:func:`serve_http` runs the request/response cycles of one connection (keep-alive
and pipelining through h11's state machine) and calls a handler per request. The
handler answers with a :class:`Response`, or takes over the raw stream for a
protocol upgrade (WebSocket) with :meth:`BodyReader.take_over` and returns
:class:`Upgrade`.

Examples:
    A handler that echoes the body, and hands WebSocket requests to trio-websocket::

        async def handler(request: Request, body: BodyReader) -> Response | Upgrade:
            if request.path == "/socket/websocket":
                async with body.take_over() as stream, trio.open_nursery() as nursery:
                    ws_request = await trio_websocket.wrap_server_stream(nursery, stream)
                    ws = await ws_request.accept()
                    ...
                return Upgrade()
            return Response(200, [("content-type", "text/plain")], await body.read())

        await serve_http(socket_stream, handler)

Error handling: a malformed request is answered (400, 408, 413, 431, 501, ... as
h11 suggests) and the connection closed; it is logged once at INFO on the
``channels.http`` logger with the peer and cause, and never raises out of
:func:`serve_http`. An exception from the handler itself is a bug: the driver
answers 500 if it still can, closes the connection and re-raises.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, NoReturn, TypeAlias

import h11
import trio

from ._request import Address, BadRequest, HTTPRequestError, Request
from ._response import Response, StreamingResponse, Upgrade

__all__ = [
    "BodyReader",
    "ClientDisconnected",
    "HTTPLimits",
    "Handler",
    "PrefixedStream",
    "RequestBodyTooLarge",
    "RequestHeadersTooLarge",
    "RequestTimeout",
    "Response",
    "ResponseAborted",
    "ResponseWriter",
    "StreamingResponse",
    "Upgrade",
    "UpgradeError",
    "serve_http",
    "stream_addresses",
]

logger = logging.getLogger("channels.http")

_NO_BODY_STATUSES: Final = frozenset({204, 304})
_DRAIN_LIMIT: Final = 64 * 1024
_FRAMING_HEADERS: Final = frozenset({"content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPLimits:
    """Limits applied to every request on a connection.

    Attributes:
        max_header_bytes: Largest request head (request line + headers); larger → 431.
        max_header_count: Most header fields in one request; more → 431.
        max_body_bytes: Default limit of :meth:`BodyReader.read`; larger → 413.
        receive_chunk_size: ``max_bytes`` for each ``receive_some`` call.
        keep_alive_timeout: Seconds a connection may wait for (the rest of) the next
            request head, and for each chunk of a body, before it is closed.
        body_timeout: Seconds allowed for a whole request body, however it trickles in
            (one byte every few seconds would otherwise hold the connection for ever);
            past it the request gets 408 and the connection is closed.
        linger_timeout: Seconds to keep reading (and discarding) after we half-close,
            so that the client reads our last response before the connection resets.
    """

    max_header_bytes: int = 16 * 1024
    max_header_count: int = 100
    max_body_bytes: int = 8 * 1024 * 1024
    receive_chunk_size: int = 64 * 1024
    keep_alive_timeout: float = 60.0
    body_timeout: float = 60.0
    linger_timeout: float = 2.0


class RequestHeadersTooLarge(HTTPRequestError):
    """The request head has too many header fields or too many bytes."""

    status = 431


class RequestBodyTooLarge(HTTPRequestError):
    """The request body is larger than the limit given to :meth:`BodyReader.read`."""

    status = 413

    def __init__(self, limit: int, size: int | None = None) -> None:
        what = f"declared {size} bytes" if size is not None else "more bytes"
        super().__init__(f"request body too large: {what}, limit is {limit} bytes")
        self.limit = limit
        self.size = size


class RequestTimeout(HTTPRequestError):
    """The client was idle too long in the middle of a request."""

    status = 408


class ClientDisconnected(Exception):
    """The client closed or reset the connection before the request was complete."""


class UpgradeError(RuntimeError):
    """:meth:`BodyReader.take_over` or :class:`Upgrade` was misused by a handler."""


class PrefixedStream(trio.abc.Stream):
    """A stream that first replays *prefix*, then reads from *transport_stream*.

    Sending and closing go straight to the transport stream. This is what a
    handler gets from :meth:`BodyReader.take_over`: the replayed bytes are the
    request head (and anything the client sent after it), so that a library such
    as ``trio_websocket.wrap_server_stream`` can parse the upgrade request itself.
    """

    def __init__(self, transport_stream: trio.abc.Stream, prefix: bytes) -> None:
        self.transport_stream = transport_stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Return replayed bytes first, then bytes from the transport stream."""
        if self._prefix:
            await trio.lowlevel.checkpoint()
            if max_bytes is None or max_bytes >= len(self._prefix):
                data, self._prefix = self._prefix, b""
            else:
                data, self._prefix = self._prefix[:max_bytes], self._prefix[max_bytes:]
            return data
        return await self.transport_stream.receive_some(max_bytes)

    @property
    def replay(self) -> bytes:
        """The bytes not yet replayed (all of them, before the first read)."""
        return self._prefix

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send *data* on the transport stream."""
        await self.transport_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """Delegate to the transport stream."""
        await self.transport_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        """Half-close the transport stream if it supports it.

        Raises:
            NotImplementedError: The transport stream is not half-closeable.
        """
        if not isinstance(self.transport_stream, trio.abc.HalfCloseableStream):
            raise NotImplementedError("the transport stream cannot send EOF")
        await self.transport_stream.send_eof()

    async def aclose(self) -> None:
        """Close the transport stream."""
        self._prefix = b""
        await self.transport_stream.aclose()


def stream_addresses(stream: trio.abc.Stream) -> tuple[Address | None, Address | None]:
    """Return ``(peer, local)`` addresses of a socket stream (through TLS), or Nones."""
    inner: object = stream
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    if not isinstance(inner, trio.SocketStream):
        return None, None
    try:
        peer = inner.socket.getpeername()
        local = inner.socket.getsockname()
    except OSError:
        return None, None
    return _address(peer), _address(local)


def _address(value: object) -> Address | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return None


class _Closing(Exception):
    """Internal: stop serving this connection (already answered or nothing to answer)."""


class BodyReader:
    """The body of one request, and the handle to take over its connection.

    Handlers get one per request. Reading the body is optional: an unread small
    body is drained by the driver; an unread large one makes it close the
    connection after the response.
    """

    def __init__(self, driver: _ConnectionDriver, request: Request) -> None:
        self._driver = driver
        self._request = request
        self._finished = False
        self._taken_over = False
        self._streamed = 0

    @property
    def taken_over(self) -> bool:
        """Whether :meth:`take_over` was called."""
        return self._taken_over

    async def read(self, max_bytes: int | None = None) -> bytes:
        """Read the whole remaining body.

        Args:
            max_bytes: The largest body accepted; defaults to
                :attr:`HTTPLimits.max_body_bytes`.

        Returns:
            The body (``b""`` if there is none, or on a second call).

        Raises:
            RequestBodyTooLarge: The declared or actual body is over *max_bytes*.
            BadRequest: The body framing is invalid (e.g. bad chunked encoding).
            RequestTimeout: The client stalled for ``keep_alive_timeout``.
            ClientDisconnected: The client went away before the end of the body.
        """
        if self._taken_over:
            raise UpgradeError("the connection was taken over; the body cannot be read")
        limit = self._driver.limits.max_body_bytes if max_bytes is None else max_bytes
        if self._finished:
            return b""
        declared = self._declared_length()
        if declared is not None and declared > limit:
            raise RequestBodyTooLarge(limit, declared)
        chunks: list[bytes] = []
        total = 0
        conn = self._driver.conn
        if conn.they_are_waiting_for_100_continue:
            await self._driver.send_bytes(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        while True:
            event = await self._driver.next_body_event()
            if isinstance(event, h11.Data):
                total += len(event.data)
                if total > limit:
                    raise RequestBodyTooLarge(limit)
                chunks.append(bytes(event.data))
            else:
                self._finished = True
                return b"".join(chunks)

    def take_over(self, *, replay_head: bool = True) -> PrefixedStream:
        """Take over the connection's stream for a protocol upgrade.

        The returned stream replays the request head (re-serialized from the parsed
        request, original header casing kept) followed by every byte the client sent
        after it, so ``trio_websocket.wrap_server_stream(nursery, stream)`` parses
        the upgrade request itself. With ``replay_head=False`` it replays only the bytes
        sent after the head (the server's own WebSocket handshake answers from the parsed
        request: ``channels.protocol.ServerConnection.accept``). From now on the driver never touches the stream
        again, not even to close it: the caller owns it (``async with`` it), and the
        handler must return :class:`Upgrade`.

        Raises:
            UpgradeError: Called twice, or the request has a body (an upgrade
                request must not have one).
        """
        if self._taken_over:
            raise UpgradeError("take_over() was already called for this request")
        request = self._request
        declared = self._declared_length()
        if not self._finished and (request.header("transfer-encoding") is not None or (declared or 0) > 0):
            raise UpgradeError("an upgrade request must not have a body")
        conn = self._driver.conn
        # Consume EndOfMessage so that h11 pauses; what it still buffers is the
        # data the client sent after the request.
        while conn.their_state is h11.SEND_BODY:
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:  # pragma: no cover
                raise UpgradeError("the request body is incomplete")
        trailing, _closed = conn.trailing_data
        head = _serialize_request_head(request) if replay_head else b""
        self._taken_over = True
        self._driver.taken_over = True
        return PrefixedStream(self._driver.stream, head + trailing)

    @property
    def finished(self) -> bool:
        """Whether the whole body has been read."""
        return self._finished or self._driver.conn.their_state is not h11.SEND_BODY

    def _declared_length(self) -> int | None:
        value = self._request.header("content-length")
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:  # pragma: no cover - h11 already validated it
            return None


    async def read_chunk(self, max_bytes: int | None = None) -> bytes:
        """Read the next part of the body as it arrives; ``b""`` at its end (streaming).

        Args:
            max_bytes: The largest total body accepted; defaults to
                :attr:`HTTPLimits.max_body_bytes`.

        Raises:
            The same as :meth:`read`.
        """
        if self._taken_over:
            raise UpgradeError("the connection was taken over; the body cannot be read")
        if self._finished or self._driver.conn.their_state is not h11.SEND_BODY:
            self._finished = True
            return b""
        limit = self._driver.limits.max_body_bytes if max_bytes is None else max_bytes
        declared = self._declared_length()
        if declared is not None and declared > limit:
            raise RequestBodyTooLarge(limit, declared)
        conn = self._driver.conn
        if conn.they_are_waiting_for_100_continue:
            await self._driver.send_bytes(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        while True:
            event = await self._driver.next_body_event()
            if isinstance(event, h11.Data):
                if not event.data:
                    continue
                self._streamed += len(event.data)
                if self._streamed > limit:
                    raise RequestBodyTooLarge(limit)
                return bytes(event.data)
            self._finished = True
            return b""


class ResponseAborted(Exception):
    """Raised by a :class:`StreamingResponse`'s ``write`` to drop the connection quietly.

    After ``start`` the client sees the connection close (an incomplete response);
    before it, a 500. The caller has logged why.
    """


class ResponseWriter:
    """Writes one :class:`StreamingResponse` (given to its ``write`` callable)."""

    def __init__(self, driver: _ConnectionDriver, *, close: bool, head: bool) -> None:
        self._driver = driver
        self._close = close
        self._head = head
        self._body_allowed = True
        self.started = False
        self.ended = False

    async def start(self, status: int, headers: Sequence[tuple[str, str]] = ()) -> None:
        """Send the status line and headers.

        Raises:
            RuntimeError: Called twice.
            ClientDisconnected: The client went away.
        """
        if self.started:
            raise RuntimeError("the response was already started")
        self.started = True
        driver = self._driver
        out: list[tuple[bytes, bytes]] = []
        has_date = False
        for name, value in headers:
            lname = name.lower()
            if lname == "transfer-encoding" or (lname == "connection" and value.lower() == "close"):
                continue
            has_date = has_date or lname == "date"
            out.append((name.encode("latin-1"), value.encode("latin-1")))
        if not has_date:
            out.append((b"date", _http_date().encode()))
        if self._close:
            out.append((b"connection", b"close"))
        self._body_allowed = not self._head and status not in _NO_BODY_STATUSES
        await driver.send_bytes(driver.conn.send(h11.Response(status_code=status, headers=out)))

    async def write(self, data: bytes) -> None:
        """Send a part of the body (nothing for HEAD, 204 and 304).

        Raises:
            RuntimeError: Called before :meth:`start`.
            ClientDisconnected: The client went away.
        """
        if not self.started:
            raise RuntimeError("write() before start()")
        if self.ended:
            raise RuntimeError("write() after end()")
        if data and self._body_allowed:
            driver = self._driver
            await driver.send_bytes(driver.conn.send(h11.Data(data=data)))

    async def end(self) -> None:
        """End the response (the driver does it when ``write`` returns; idempotent)."""
        if not self.started:
            raise RuntimeError("end() before start()")
        if not self.ended:
            self.ended = True
            driver = self._driver
            await driver.send_bytes(driver.conn.send(h11.EndOfMessage()))


#: A request handler: called once per request with the head and its body reader.
Handler: TypeAlias = Callable[[Request, BodyReader], Awaitable[Response | StreamingResponse | Upgrade]]


def _serialize_request_head(request: Request) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/{request.http_version}".encode("latin-1")]
    lines.extend(name + b": " + value for name, value in request.raw_headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def serve_http(
    stream: trio.abc.Stream,
    handler: Handler,
    *,
    limits: HTTPLimits | None = None,
    peer: Address | None = None,
    local: Address | None = None,
    scheme: str | None = None,
) -> None:
    """Serve HTTP/1.1 requests on *stream* until the connection ends.

    Each request is passed to ``await handler(request, body_reader)``. The loop
    ends when the client closes, when either side asks for ``connection: close``,
    after a malformed request (answered and logged), after ``keep_alive_timeout``
    without a next request, or when the handler takes the stream over. The stream
    is closed on return unless it was taken over.

    Args:
        stream: The connection (usually a ``trio.SocketStream``).
        handler: The request handler.
        limits: Size and time limits; defaults to :class:`HTTPLimits()`.
        peer: The client address; defaults to the socket's peer name.
        local: The local address; defaults to the socket's name.
        scheme: ``"http"`` or ``"https"``; defaults to ``"https"`` for a
            ``trio.SSLStream``.

    Raises:
        Exception: Whatever the handler raised (after answering 500 if possible).
    """
    if peer is None or local is None:
        found_peer, found_local = stream_addresses(stream)
        peer = peer if peer is not None else found_peer
        local = local if local is not None else found_local
    if scheme is None:
        scheme = "https" if isinstance(stream, trio.SSLStream) else "http"
    driver = _ConnectionDriver(stream, handler, limits or HTTPLimits(), peer, local, scheme)
    await driver.run()


@dataclass(eq=False)
class _ConnectionDriver:
    stream: trio.abc.Stream
    handler: Handler
    limits: HTTPLimits
    peer: Address | None
    local: Address | None
    scheme: str
    conn: h11.Connection = field(init=False)
    taken_over: bool = False
    _peer_closed: bool = False
    #: When the body of the current request must be complete (trio time; None: not started).
    _body_deadline: float | None = None

    def __post_init__(self) -> None:
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)

    # -- the loop ---------------------------------------------------------------

    async def run(self) -> None:
        graceful = False
        try:
            await self._serve()
            graceful = True
        except _Closing:
            graceful = True
        finally:
            if not self.taken_over:
                if graceful:
                    await self._close_gracefully()
                else:
                    await trio.aclose_forcefully(self.stream)

    async def _serve(self) -> None:
        while True:
            event = await self._next_request()
            if event is None:
                return
            request = self._make_request(event)
            if isinstance(request, HTTPRequestError):
                await self._reject(request.status, str(request))
            body = BodyReader(self, request)
            response = await self._call_handler(request, body)
            if response is None:
                return  # taken over
            await self._finish_cycle(request, body, response)

    async def _next_request(self) -> h11.Request | None:
        """Wait for the next request head; None means the connection is done."""
        with trio.move_on_after(self.limits.keep_alive_timeout):
            while True:
                try:
                    event = self.conn.next_event()
                except h11.RemoteProtocolError as exc:
                    if self._peer_closed:
                        logger.debug("client %s closed mid-request: %s", _fmt(self.peer), exc)
                        raise _Closing() from None
                    await self._reject(exc.error_status_hint, str(exc))
                if event is h11.NEED_DATA:
                    await self._receive()
                    continue
                if isinstance(event, h11.Request):
                    return event
                if isinstance(event, h11.ConnectionClosed):
                    return None
                raise AssertionError(f"unexpected h11 event {event!r}")  # pragma: no cover
        # Timed out.
        if self.conn.trailing_data[0]:
            await self._reject(408, "timed out reading the request head")
        logger.debug("closing idle connection from %s", _fmt(self.peer))
        return None

    def _make_request(self, event: h11.Request) -> Request | HTTPRequestError:
        count = len(event.headers)
        if count > self.limits.max_header_count:
            return RequestHeadersTooLarge(f"too many header fields: {count} > {self.limits.max_header_count}")
        # h11 enforces max_incomplete_event_size only while a head is incomplete;
        # a head that arrives whole in one read is measured here.
        size = len(event.method) + len(event.target) + 12
        size += sum(len(name) + len(value) + 4 for name, value in event.headers.raw_items())
        if size > self.limits.max_header_bytes:
            return RequestHeadersTooLarge(
                f"request head too large: {size} > {self.limits.max_header_bytes} bytes"
            )
        try:
            return Request.build(
                method=event.method.decode("ascii"),
                target=event.target.decode("latin-1"),
                headers=list(event.headers.raw_items()),
                http_version=event.http_version.decode("ascii"),
                keep_alive=_keep_alive_requested(event),
                peer=self.peer,
                local=self.local,
                scheme=self.scheme,
            )
        except BadRequest as exc:
            return exc

    async def _call_handler(self, request: Request, body: BodyReader) -> Response | StreamingResponse | None:
        try:
            return _check_result(await self.handler(request, body), body)
        except HTTPRequestError as exc:
            if body.taken_over:
                raise
            await self._reject(exc.status, str(exc) or type(exc).__name__)
        except ClientDisconnected:
            if body.taken_over:
                raise
            logger.debug("client %s disconnected during the request", _fmt(self.peer))
            raise _Closing() from None
        except Exception:
            if not body.taken_over and self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                with trio.move_on_after(self.limits.linger_timeout):
                    try:
                        await self._send_response(Response(500), close=True, quiet=True)
                    except _Closing:
                        pass
            raise

    async def _finish_cycle(self, request: Request, body: BodyReader,
                            response: Response | StreamingResponse) -> None:
        close = not request.keep_alive
        if isinstance(response, StreamingResponse):
            await self._stream_response(request, body, response, close=close)
        else:
            if not body.finished:
                close = close or not await self._drain_body()
            await self._send_response(response, close=close, head=request.method == "HEAD")
        if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is not h11.DONE:
            raise _Closing()
        self.conn.start_next_cycle()

    async def _stream_response(self, request: Request, body: BodyReader, response: StreamingResponse, *,
                               close: bool) -> None:
        writer = ResponseWriter(self, close=close, head=request.method == "HEAD")
        try:
            await response.write(writer)
        except ClientDisconnected:
            logger.debug("client %s went away during a streamed response", _fmt(self.peer))
            raise _Closing() from None
        except ResponseAborted:
            if not writer.started:
                with trio.move_on_after(self.limits.linger_timeout):
                    try:
                        await self._send_response(Response(500), close=True, quiet=True)
                    except _Closing:
                        pass
            raise _Closing() from None
        except Exception:
            if not writer.started:
                with trio.move_on_after(self.limits.linger_timeout):
                    try:
                        await self._send_response(Response(500), close=True, quiet=True)
                    except _Closing:
                        pass
            raise
        if not writer.started:
            await self._send_response(Response(500), close=True, quiet=True)
            raise _Closing()
        if not body.finished and not await self._drain_body():
            # The response is out but the request body is not read: this connection
            # cannot carry another request.
            try:
                await writer.end()
            except ClientDisconnected:
                pass
            raise _Closing()
        try:
            await writer.end()
        except ClientDisconnected:
            raise _Closing() from None

    async def _drain_body(self) -> bool:
        """Discard a small unread body so that the connection can be reused."""
        if self.conn.they_are_waiting_for_100_continue:
            return False
        drained = 0
        try:
            while True:
                event = await self.next_body_event()
                if not isinstance(event, h11.Data):
                    return True
                drained += len(event.data)
                if drained > _DRAIN_LIMIT:
                    return False
        except (HTTPRequestError, ClientDisconnected):
            return False

    # -- I/O helpers ------------------------------------------------------------

    async def _receive(self) -> None:
        try:
            data = bytes(await self.stream.receive_some(self.limits.receive_chunk_size))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self._peer_closed = True
        self.conn.receive_data(data)

    async def next_body_event(self) -> h11.Data | h11.EndOfMessage:
        """Return the next body event, reading as needed (used by BodyReader).

        The whole body has ``body_timeout`` from its first read, each chunk
        ``keep_alive_timeout``; either one past gives ``RequestTimeout`` (408).
        """
        if self._body_deadline is None:
            self._body_deadline = trio.current_time() + self.limits.body_timeout
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self._peer_closed:
                    raise ClientDisconnected(str(exc)) from exc
                raise BadRequest(f"invalid request body: {exc}") from exc
            if event is h11.NEED_DATA:
                deadline = min(self._body_deadline, trio.current_time() + self.limits.keep_alive_timeout)
                with trio.move_on_at(deadline) as scope:
                    await self._receive()
                if scope.cancelled_caught:
                    raise RequestTimeout("timed out reading the request body")
                continue
            if isinstance(event, h11.EndOfMessage):
                self._body_deadline = None  # the next request's body has its own
                return event
            if isinstance(event, h11.Data):
                return event
            raise AssertionError(f"unexpected h11 event {event!r}")  # pragma: no cover

    async def send_bytes(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.conn.send_failed()
            raise ClientDisconnected("client went away while we were sending") from exc
        except BaseException:
            self.conn.send_failed()
            raise

    async def _send_response(
        self, response: Response, *, close: bool, head: bool = False, quiet: bool = False
    ) -> None:
        head_only = head or response.status in _NO_BODY_STATUSES
        headers: list[tuple[bytes, bytes]] = []
        has_date = False
        for name, value in response.headers:
            lname = name.lower()
            if lname in _FRAMING_HEADERS:
                continue
            has_date = has_date or lname == "date"
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        if response.status not in _NO_BODY_STATUSES:
            headers.append((b"content-length", str(len(response.body)).encode()))
        if not has_date:
            headers.append((b"date", _http_date().encode()))
        if close:
            headers.append((b"connection", b"close"))
        data = self.conn.send(h11.Response(status_code=response.status, headers=headers))
        if response.body and not head_only:
            data += self.conn.send(h11.Data(data=response.body))
        data += self.conn.send(h11.EndOfMessage())
        try:
            await self.send_bytes(data)
        except ClientDisconnected:
            if not quiet:
                logger.debug("client %s went away before the response", _fmt(self.peer))
            raise _Closing() from None

    async def _reject(self, status: int, cause: str) -> NoReturn:
        """Answer a bad request with *status* and stop serving the connection."""
        logger.info("bad request from %s: %d %s", _fmt(self.peer), status, cause)
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            await self._send_response(Response(status), close=True, quiet=True)
        raise _Closing()

    async def _close_gracefully(self) -> None:
        """Half-close, drain what the client still sends (briefly), then close.

        Closing a socket with unread input makes the kernel send RST, which can
        destroy our last response before the client reads it.
        """
        stream = self.stream
        try:
            if not self._peer_closed and isinstance(stream, trio.abc.HalfCloseableStream):
                with trio.move_on_after(self.limits.linger_timeout):
                    await stream.send_eof()
                    while await stream.receive_some(self.limits.receive_chunk_size):
                        pass
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
            pass
        finally:
            await trio.aclose_forcefully(stream)


def _check_result(result: object, body: BodyReader) -> Response | StreamingResponse | None:
    """Validate a handler's result; None means the stream was taken over."""
    if body.taken_over:
        if not isinstance(result, Upgrade):
            raise UpgradeError(f"handler took over the stream but returned {result!r} instead of Upgrade()")
        return None
    if isinstance(result, Upgrade):
        raise UpgradeError("handler returned Upgrade() without calling BodyReader.take_over()")
    if not isinstance(result, Response | StreamingResponse):
        raise TypeError(f"expected the handler to return Response, StreamingResponse or Upgrade, got {result!r}")
    return result


def _keep_alive_requested(event: h11.Request) -> bool:
    for name, value in event.headers:
        if name == b"connection" and b"close" in {token.strip().lower() for token in value.split(b",")}:
            return False
    return event.http_version != b"1.0"


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def _fmt(address: Address | None) -> str:
    if address is None:
        return "unknown peer"
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
