"""One WebSocket connection on the server: trio-websocket's handshake, then a lean reader.

Why not keep trio-websocket for the whole connection? Measured here (``bench/``, and
``reference/performance.md`` B2/B3): every trio-websocket connection keeps two tasks, a
memory channel, locks and events alive, and every client message crosses two task
hand-offs (reader task → channel → ``get_message`` → our process). With the channel
protocol on top, a joined connection cost ~50 KiB of RSS against the 20 KiB target, and
push→reply latency paid the extra scheduler passes.

So the upgrade is handed to trio-websocket (``wrap_server_stream`` + ``accept``: it
validates the request, negotiates the subprotocol and writes the 101 response through our
writer), and as soon as it has accepted, its reader is parked and cancelled. From then on
one small reader task of ours feeds a ``wsproto`` connection object (the same protocol
machine trio-websocket uses: masking, fragmentation, UTF-8 validation, control frames and
the closing handshake stay wsproto's) and hands each complete message to the connection
process's mailbox. Pongs and close frames go through the connection's single writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio
import trio_websocket
import wsproto
from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import RemoteProtocolError

from ._writer import SocketWriter

__all__ = ["HandshakeFailed", "WSConnection", "accept_websocket"]

logger = logging.getLogger("channels.transport")

#: Read this much at a time from the socket.
RECEIVE_SIZE = 65536


class HandshakeFailed(Exception):
    """The client went away or sent a bad upgrade request."""


class _HandshakeStream(trio.abc.Stream):
    """Feeds trio-websocket the upgrade request only; then parks its reader."""

    def __init__(self, head: bytes, writer: SocketWriter) -> None:
        self._head = head
        self._writer = writer

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._head:
            if max_bytes is None or max_bytes >= len(self._head):
                data, self._head = self._head, b""
            else:
                data, self._head = self._head[:max_bytes], self._head[max_bytes:]
            await trio.lowlevel.checkpoint()
            return data
        await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if not self._writer.write_nowait(bytes(data)):
            raise trio.BrokenResourceError(self._writer.close_reason or "writer closed")
        await self._writer.wait_drained()

    async def wait_send_all_might_not_block(self) -> None:
        await self._writer.wait_drained()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def accept_websocket(stream: trio.abc.Stream, replay: bytes, writer: SocketWriter, *,
                           subprotocol: str | None) -> WSConnection:
    """Run the opening handshake with trio-websocket; return the established connection.

    ``replay`` is the upgrade request head as the HTTP layer read it, plus whatever the
    client sent after it (kept for our reader).
    """
    end = replay.find(b"\r\n\r\n")
    head, rest = (replay, b"") if end < 0 else (replay[: end + 4], replay[end + 4:])
    async with trio.open_nursery() as nursery:
        try:
            request = await trio_websocket.wrap_server_stream(nursery, _HandshakeStream(head, writer))
            await request.accept(subprotocol=subprotocol)
        except (trio_websocket.HandshakeError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise HandshakeFailed(str(exc)) from None
        finally:
            nursery.cancel_scope.cancel()
    return WSConnection(stream, writer, rest)


class WSConnection:
    """The established connection: ``run_reader`` delivers messages, ``close`` ends it."""

    __slots__ = ("_proto", "_rest", "_stream", "close_code", "last_in", "writer")

    def __init__(self, stream: trio.abc.Stream, writer: SocketWriter, rest: bytes) -> None:
        self._stream = stream
        self.writer = writer
        self._rest = rest
        self._proto: Connection | None = Connection(wsproto.ConnectionType.SERVER)
        self.close_code: int | None = None
        #: When the client last sent anything (data, ping, pong): the idle timer's clock.
        self.last_in = trio.current_time()

    async def run_reader(self, on_message: Callable[[str | bytes], None],
                         on_close: Callable[[int | None], None], *, max_message_size: int) -> None:
        """Read until the connection ends; call ``on_message`` for each complete message.

        ``on_close(code)`` is called exactly once at the end: the client's close code, 1009
        for an oversized message, 1002 for a protocol violation, or None if the TCP
        connection dropped.
        """
        proto = self._proto
        assert proto is not None
        parts: list[Any] = []
        size = 0
        code: int | None = None
        data: bytes | bytearray = self._rest
        self._rest = b""
        try:
            while True:
                if data:
                    try:
                        proto.receive_data(data)  # type: ignore[arg-type]  # bytearray is fine
                        for event in proto.events():
                            if isinstance(event, TextMessage | BytesMessage):
                                size += len(event.data)
                                if size > max_message_size:
                                    code = 1009
                                    self._send_close(1009, f"message exceeds {max_message_size} bytes")
                                    return
                                if event.message_finished and not parts:
                                    on_message(event.data)  # type: ignore[arg-type]  # str or bytes(-like)
                                    size = 0
                                else:
                                    parts.append(event.data)
                                    if event.message_finished:
                                        msg: str | bytes = (
                                            "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                                        )
                                        parts.clear()
                                        size = 0
                                        on_message(msg)
                            elif isinstance(event, Ping):
                                self.writer.write_nowait(proto.send(event.response()))
                            elif isinstance(event, CloseConnection):
                                code = event.code
                                if proto.state is ConnectionState.REMOTE_CLOSING:
                                    self.writer.write_nowait(proto.send(event.response()))
                                elif proto.state is ConnectionState.OPEN:
                                    # wsproto found a protocol violation (an unmasked frame,
                                    # invalid UTF-8...): answer with that close code.
                                    self._send_close(event.code, event.reason or "")
                                return
                    except RemoteProtocolError as exc:
                        code = int(getattr(exc.event_hint, "code", 1002)) if exc.event_hint else 1002
                        logger.info("WebSocket protocol error from the client: %s", exc)
                        self._send_close(code, str(exc)[:100])
                        return
                try:
                    data = await self._stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                self.last_in = trio.current_time()
                if not data:
                    return
        finally:
            on_close(code)

    def _send_close(self, code: int, reason: str) -> None:
        proto = self._proto
        if proto is None or proto.state is not ConnectionState.OPEN:
            return
        self.close_code = code
        self.writer.write_nowait(proto.send(CloseConnection(code=code, reason=reason)))

    def start_close(self, code: int, reason: str = "") -> None:
        """Send our close frame (the reader then waits for the client's)."""
        self._send_close(code, reason)

    @property
    def open(self) -> bool:
        return self._proto is not None and self._proto.state is ConnectionState.OPEN
