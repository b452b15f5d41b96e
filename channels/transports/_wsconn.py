"""One WebSocket connection on the server: trio-websocket's handshake, then a lean reader.

Why not keep trio-websocket for the whole connection? Measured here (``bench/``, and
``reference/performance.md`` B2/B3): every trio-websocket connection keeps two tasks, a
memory channel, locks and events alive, and every client message crosses two task
hand-offs (reader task → channel → ``get_message`` → our process). With the channel
protocol on top, a joined connection cost ~50 KiB of RSS against the 20 KiB target, and
push→reply latency paid the extra scheduler passes.

So the upgrade is handed to trio-websocket (``wrap_server_stream`` + ``accept``: it
validates the request, negotiates the subprotocol and writes the 101 response through our
writer), and as soon as it has accepted, its reader is handed an end of stream, on which it
finishes by itself. If trio-websocket refuses the request (it answers the client itself, a
400 say) or the handshake takes longer than ``HANDSHAKE_TIMEOUT``, ``accept_websocket``
raises ``HandshakeFailed``, and the connection ends. From then on
one small reader task of ours feeds ``protocol.FrameParser`` (a sans-IO parser of client
frames: masking, fragmentation, incremental UTF-8 validation, control frames, close codes;
~1.6 µs per 100-byte message against ~26 µs for wsproto's ``Connection``, and held to the
same Autobahn cases) and hands each complete message to the connection process's mailbox.
Pongs and close frames go through the connection's single writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio
import trio_websocket

from ..protocol import Opcode, encode_ws_close, encode_ws_frame
from ..protocol._wsparser import CloseFrame, FrameParser, Message, PingFrame, ProtocolViolation
from ._writer import SocketWriter

__all__ = ["HandshakeFailed", "WSConnection", "accept_websocket"]

logger = logging.getLogger("channels.transport")

#: Read this much at a time from the socket.
RECEIVE_SIZE = 65536


class HandshakeFailed(Exception):
    """The client went away or sent a bad upgrade request."""


class _HandshakeStream(trio.abc.Stream):
    """Feeds trio-websocket the upgrade request only, then an end of stream.

    Private to the handshake, it does not yield when it need not (the head is in hand,
    the response fits the socket buffer): each checkpoint is a pass through the
    scheduler, and connect+join rate is counted in them. Once the handshake is done,
    ``end()`` hands trio-websocket's reader an end of stream, on which it finishes by
    itself: cheaper than cancelling it (the socket itself is ours from then on).
    """

    def __init__(self, head: bytes, writer: SocketWriter, on_abort: Callable[[], None]) -> None:
        self._head = head
        self._writer = writer
        self._ended = False
        self._reader: trio.lowlevel.Task | None = None
        self._on_abort = on_abort
        #: trio-websocket closed the stream before the handshake was done: it gave up.
        self.aborted = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._head:
            if max_bytes is None or max_bytes >= len(self._head):
                data, self._head = self._head, b""
            else:
                data, self._head = self._head[:max_bytes], self._head[max_bytes:]
            return data
        if not self._ended:
            self._reader = trio.lowlevel.current_task()

            def abort(_: object) -> trio.lowlevel.Abort:
                self._reader = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        return b""

    def end(self) -> None:
        """From now on the reader gets an end of stream (and is woken if it waits)."""
        self._ended = True
        reader = self._reader
        if reader is not None:
            self._reader = None
            trio.lowlevel.reschedule(reader)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._ended:
            return  # trio-websocket's farewell after end(): the socket is not its own now
        if not self._writer.write_nowait(bytes(data)):
            raise trio.BrokenResourceError(self._writer.close_reason or "writer closed")
        if self._writer.outbox:
            await self._writer.wait_drained()

    async def wait_send_all_might_not_block(self) -> None:
        if self._writer.outbox:
            await self._writer.wait_drained()

    async def aclose(self) -> None:
        # Before end(), trio-websocket closes its stream only when it gives up on the
        # request (after answering it with an error status): stop waiting for it.
        if not self._ended and not self.aborted:
            self.aborted = True
            self._on_abort()


#: Seconds the opening handshake may take once the request is read (writing the 101 to a
#: client that does not read, say).
HANDSHAKE_TIMEOUT = 10.0


async def accept_websocket(stream: trio.abc.Stream, replay: bytes, writer: SocketWriter, *,
                           subprotocol: str | None, timeout: float = HANDSHAKE_TIMEOUT) -> WSConnection:
    """Run the opening handshake with trio-websocket; return the established connection.

    ``replay`` is the upgrade request head as the HTTP layer read it, plus whatever the
    client sent after it (kept for our reader).

    Raises:
        HandshakeFailed: trio-websocket refused the request (and answered the client), the
            client went away, or the handshake took longer than ``timeout``. On this and any
            other way out but success ``writer`` is closed (before the caller closes the
            socket, as the writer's flusher requires).
    """
    try:
        return await _handshake(stream, replay, writer, subprotocol, timeout)
    except BaseException:
        writer.close()
        raise


async def _handshake(stream: trio.abc.Stream, replay: bytes, writer: SocketWriter,
                     subprotocol: str | None, timeout: float) -> WSConnection:
    end = replay.find(b"\r\n\r\n")
    head, rest = (replay, b"") if end < 0 else (replay[: end + 4], replay[end + 4:])
    failure: str | None = None
    accepted = False
    async with trio.open_nursery() as nursery:
        scope = nursery.cancel_scope
        scope.deadline = trio.current_time() + timeout  # the nursery's own scope: no other
        handshake = _HandshakeStream(head, writer, scope.cancel)
        try:
            request = await trio_websocket.wrap_server_stream(nursery, handshake)
            await request.accept(subprotocol=subprotocol)
        except (trio_websocket.HandshakeError, trio_websocket.ConnectionClosed,
                trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            # Noted here and raised below: raised inside the nursery it would come out
            # wrapped in an ExceptionGroup.
            failure = str(exc) or type(exc).__name__
            scope.cancel()
        else:
            accepted = True
            handshake.end()
    if failure is None and handshake.aborted:
        failure = "trio-websocket refused the upgrade request"
    if failure is None and not accepted and scope.cancelled_caught:
        failure = f"handshake not done within {timeout} s"
    if failure is not None:
        raise HandshakeFailed(failure)
    return WSConnection(stream, writer, rest)


class WSConnection:
    """The established connection: ``run_reader`` delivers messages, ``start_close`` ends it."""

    __slots__ = ("_parser", "_rest", "_stream", "close_code", "closing", "last_in", "writer")

    def __init__(self, stream: trio.abc.Stream, writer: SocketWriter, rest: bytes) -> None:
        self._stream = stream
        self.writer = writer
        self._rest = rest
        self._parser: FrameParser | None = None
        self.close_code: int | None = None
        #: True once we sent our close frame.
        self.closing = False
        #: When the client last sent anything (data, ping, pong): the idle timer's clock.
        self.last_in = trio.current_time()

    async def run_reader(self, on_message: Callable[[str | bytes], None],
                         on_close: Callable[[int | None], None], *, max_message_size: int) -> None:
        """Read until the connection ends; call ``on_message`` for each complete message.

        ``on_close(code)`` is called exactly once at the end: the client's close code
        (1005 if its close frame had none), our code for a protocol violation (1002, 1007,
        1009), or None if the TCP connection dropped.
        """
        parser = self._parser = FrameParser(max_message_size=max_message_size)
        code: int | None = None
        data: bytes | bytearray = self._rest
        self._rest = b""
        try:
            while True:
                if data:
                    for event in parser.feed(data):
                        if isinstance(event, Message):
                            on_message(event.data)
                        elif isinstance(event, PingFrame):
                            self.writer.write_nowait(encode_ws_frame(Opcode.PONG, event.data))
                        elif isinstance(event, CloseFrame):
                            code = event.code if event.code is not None else 1005
                            if not self.closing:
                                # Echo the client's close (RFC 6455 §5.5.1).
                                self.closing = True
                                self.writer.write_nowait(
                                    encode_ws_close(event.code) if event.code is not None
                                    else encode_ws_frame(Opcode.CLOSE, b"")
                                )
                            return
                        elif isinstance(event, ProtocolViolation):
                            code = event.code
                            logger.info("WebSocket protocol error from the client: %s", event.reason)
                            self._send_close(event.code, event.reason)
                            return
                try:
                    data = await self._stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                if not data:
                    return
                self.last_in = trio.current_time()
        finally:
            on_close(code)

    def _send_close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        self.writer.write_nowait(encode_ws_close(code, reason))

    def take_rest(self) -> bytes:
        """The bytes the client sent right after the upgrade request (read them first)."""
        rest, self._rest = self._rest, b""
        return rest

    def answer_close(self, code: int | None) -> None:
        """Echo the client's close frame (RFC 6455 §5.5.1), unless we sent ours already."""
        if not self.closing:
            self.closing = True
            self.writer.write_nowait(encode_ws_close(code) if code is not None else encode_ws_frame(Opcode.CLOSE, b""))

    def start_close(self, code: int, reason: str = "") -> None:
        """Send our close frame (the reader then waits for the client's)."""
        self._send_close(code, reason)

    @property
    def open(self) -> bool:
        return not self.closing
