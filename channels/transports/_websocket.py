"""The WebSocket transport: a connection process after the upgrade (Phoenix.Transports.WebSocket).

The connection process that served the HTTP upgrade becomes the transport process, as a
Cowboy connection process becomes the WebSocket process. trio-websocket runs the opening
handshake; a lean wsproto reader (``channels.transports._wsconn``, which says why) then parses
frames. Every byte goes through the connection's one ``SocketWriter`` (``channels.transports._writer``):
replies, pushes and fastlane broadcasts, encoded once, and the pongs and close frames.

The reader task turns each client message into a mailbox message, so that the process
handles client frames and channel messages one at a time, in arrival order, like
Cowboy's ``websocket_handle``/``websocket_info``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

import otp

from ..protocol import (
    Frame,
    InvalidMessageError,
    Opcode,
    Serializer,
    encode_ws_close,
    encode_ws_frame,
    frame_to_ws_bytes,
)
from ..protocol._wsparser import CloseFrame, Event, FrameParser, Message, PingFrame, ProtocolViolation
from ._messages import IDLE_CHECK, IdleCheck, Overflow, PushFrame, SessionHandler, TransportIO
from ._writer import SocketWriter
from ._wsconn import RECEIVE_SIZE, HandshakeFailed, WSConnection, accept_websocket

__all__ = ["WebSocketOptions", "run_websocket"]

logger = logging.getLogger("channels.transport")


@dataclass(frozen=True, slots=True)
class WebSocketOptions:
    """Per-socket WebSocket settings (Phoenix's ``websocket: [...]`` options)."""

    #: Seconds without data from the client before the server closes (1000).
    timeout: float = 60.0
    #: Largest message accepted; bigger closes with 1009 (Phoenix's effective 10 MB).
    max_frame_size: int = 10_000_000
    #: Bytes a slow client may have queued before it is closed (the slow-consumer policy).
    max_outbox_bytes: int = 4 * 1024 * 1024
    #: Close code used for a client whose outbox overflowed.
    overflow_close_code: int = 1013
    #: Extra subprotocols to accept (besides "phoenix" for the auth token).
    subprotocols: tuple[str, ...] | None = None
    #: Seconds to wait for the client's close frame after sending ours.
    close_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class _Encoded:
    """A fastlane frame, already WebSocket-framed, that had to wait in the mailbox."""

    data: bytes


class _WebSocketIO:
    """``TransportIO`` and fastlane ``Sink`` of one WebSocket connection."""

    __slots__ = ("close_code", "exit_reason", "peer", "proc", "session", "writer")

    encoding = "ws"

    def __init__(self, writer: SocketWriter, proc: otp.Process, peer: str | None) -> None:
        self.writer = writer
        self.proc = proc
        self.peer = peer
        self.session: SessionHandler | None = None
        self.close_code: int | None = None
        self.exit_reason: otp.ExitReason = otp.NORMAL

    @property
    def sink(self) -> _WebSocketIO:
        return self

    def on_writer_close(self, why: str) -> None:
        self.proc.deliver(Overflow(why))

    def summary(self) -> dict[str, Any]:
        """The connection process's introspection summary."""
        writer = self.writer
        return {
            "transport": "websocket",
            "peer": self.peer,
            **(self.session.summary() if self.session is not None else {}),
            "outbox_bytes": writer.outbox_bytes,
            "outbox_high_water": writer.high_water,
            "bytes_written": writer.bytes_written,
        }

    def write_frame(self, frame: Frame) -> None:
        self.writer.write_nowait(frame_to_ws_bytes(frame))

    def push(self, frame: Frame) -> None:
        # A channel's push or reply, written from the channel's process: like the fastlane,
        # straight to the socket while nothing waits in our mailbox (it saves the channel →
        # transport hop on every reply), else behind what waits there.
        if self.proc.mailbox:
            self.proc.deliver(PushFrame(frame))
        else:
            self.writer.write_nowait(frame_to_ws_bytes(frame))

    def write_fastlane(self, frame: Frame, data: bytes) -> None:
        # Straight to the socket only while our mailbox is empty: if messages wait there
        # (a push from the same channel, say), the broadcast queues behind them, so that
        # what one process sends us keeps its order, as through Phoenix's transport.
        if self.proc.mailbox:
            self.proc.deliver(_Encoded(data))
        else:
            self.writer.write_coalesced(data)

    def close(self, code: int, reason: otp.ExitReason) -> None:
        if self.close_code is None:
            self.close_code = code
            self.exit_reason = reason


async def _handle_events(events: list[Event], conn: WSConnection, session: SessionHandler,
                         serializer: Serializer, io: _WebSocketIO, me: otp.Process,
                         options: WebSocketOptions) -> tuple[bool, otp.ExitReason]:
    """Handle the client's frames; return (the client closed, the exit reason then)."""
    for event in events:
        if isinstance(event, Message):
            payload = event.data
            try:
                message = serializer.decode(payload, binary=not isinstance(payload, str))
            except InvalidMessageError as exc:
                logger.warning("closing WebSocket %s: invalid message from the client: %s", me.pid, exc)
                io.close(1011, otp.Shutdown("invalid_message"))
                return False, otp.NORMAL
            if not session.handle_in_nowait(message):
                await session.handle_in(message)  # a join: it waits for the channel
            if io.close_code is not None:
                return False, otp.NORMAL
        elif isinstance(event, PingFrame):
            conn.writer.write_nowait(encode_ws_frame(Opcode.PONG, event.data))
        elif isinstance(event, CloseFrame):
            conn.answer_close(event.code)
            reason = otp.NORMAL if event.code in (1000, 1001, None) else otp.Shutdown("closed")
            return True, reason
        elif isinstance(event, ProtocolViolation):
            if event.code == 1009:
                logger.warning("closing WebSocket %s: a message exceeded max_frame_size (%d bytes)",
                               me.pid, options.max_frame_size)
            else:
                logger.info("WebSocket %s: protocol error from the client: %s", me.pid, event.reason)
            conn.start_close(event.code, event.reason)
            return True, otp.Shutdown("closed")
    return False, otp.NORMAL


async def _await_client_close(parser: FrameParser, stream: trio.SocketStream) -> None:
    """After our close frame: read until the client's close frame or EOF (bounded by the caller)."""
    while True:
        try:
            data = await stream.receive_some(RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        if not data:
            return
        if any(isinstance(e, CloseFrame | ProtocolViolation) for e in parser.feed(data)):
            return


async def run_websocket(
    stream: trio.SocketStream,
    replay: bytes,
    serializer: Serializer,
    open_session: Callable[[TransportIO], SessionHandler],
    *,
    subprotocol: str | None,
    options: WebSocketOptions,
    peer: str | None = None,
) -> None:
    """Run one WebSocket connection to its end, in the current (connection) process.

    ``open_session`` makes the channel session of the connected user socket once the
    handshake is done (the endpoint passes it in: this layer does not import the channel
    layer); ``replay`` is the upgrade request (and any bytes after it). Returns normally
    when the client closed; raises ``otp.ProcessExit`` for other ends (disconnect, drain,
    protocol error) so that the channels see the reason.
    """
    me = otp.current_process()
    assert me is not None
    exit_reason: otp.ExitReason = otp.NORMAL
    writer = SocketWriter(stream.socket.fileno(), None, max_outbox=options.max_outbox_bytes)
    io = _WebSocketIO(writer, me, peer)
    writer.on_close = io.on_writer_close
    try:
        conn = await accept_websocket(stream, replay, writer, subprotocol=subprotocol)
    except HandshakeFailed as exc:  # the writer is closed
        logger.info("WebSocket handshake with %s failed: %s", me.pid, exc)
        return
    del replay  # the upgrade request: not kept for the life of the connection
    try:  # the writer is closed before the socket on every way out (see _writer._flush)
        session = io.session = open_session(io)
        me.summary = io.summary
        # When the endpoint stops, the connection supervisor's shutdown becomes a message,
        # so that the client gets a close frame (1012, "service restart": the JS client
        # reconnects) rather than a dropped TCP connection.
        me.trap_exit = True
        parser = FrameParser(max_message_size=options.max_frame_size)
        fd = stream.socket.fileno()
        timeout = options.timeout
        last_in = trio.current_time()
        # The idle timeout is one timer in the node's heap, re-armed lazily, rather than a
        # cancel scope around every wait: cheaper per message and per idle connection.
        otp.send_after(timeout, me.pid, IDLE_CHECK)
        # The client's bytes are read here, in the transport process itself, not by a
        # reader task: one task hand-off less per client message (and one task less per
        # connection). While the mailbox is empty the process waits for the socket to be
        # readable in ``me.wait_readable``, which a message delivered meanwhile wakes.
        data: bytes = conn.take_rest()
        client_closed = False
    except BaseException:
        writer.close()
        raise
    try:
        while io.close_code is None:
            if data:
                events = parser.feed(data)
                data = b""
                last_in = trio.current_time()
                if len(events) == 1 and type(events[0]) is Message:
                    # The common case, inline: one client message that needs no waiting
                    # (anything else, a bad one included, takes the general way).
                    text = events[0].data
                    try:
                        message = serializer.decode(text, binary=type(text) is not str)
                    except InvalidMessageError:
                        pass
                    else:
                        if session.handle_in_nowait(message):
                            continue
                client_closed, exit_reason = await _handle_events(events, conn, session, serializer,
                                                                  io, me, options)
                if client_closed:
                    break
                continue
            if not me.mailbox and await me.wait_readable(fd):
                try:
                    data = os.read(fd, RECEIVE_SIZE)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    client_closed = True  # the TCP connection ended without a close frame
                    break
                continue
            msg = me.receive_nowait()
            t = type(msg)
            if t is _Encoded:
                writer.write_nowait(msg.data)
            elif t is IdleCheck:
                # Any frame from the client counts, pings included (as Cowboy's idle_timeout).
                idle = trio.current_time() - last_in
                if idle >= timeout:
                    logger.debug("closing idle WebSocket %s after %s s", me.pid, timeout)
                    io.close(1000, otp.Shutdown("idle_timeout"))
                else:
                    otp.send_after(timeout - idle, me.pid, IDLE_CHECK)
            elif t is Overflow:
                if writer.closed:
                    # Not a slow client: the socket is gone (a write failed). End as a
                    # client close.
                    logger.debug("WebSocket %s ended: %s", me.pid, msg.reason)
                    client_closed = True
                    break
                logger.warning("closing WebSocket %s: the client cannot keep up (%s)", me.pid, msg.reason)
                exit_reason = otp.Shutdown("overflow")
                await writer.finish(encode_ws_close(options.overflow_close_code, "client too slow"),
                                    options.close_timeout)
                break
            elif t is otp.Exit:
                if msg.pid is me.parent:
                    io.close(1012, otp.SHUTDOWN)
                elif not otp.is_normal_exit(msg.reason):
                    # A process linked to this connection (say, spawn_link-ed by the user's
                    # connect) crashed: as in Erlang, the connection goes too.
                    raise otp.ProcessExit(msg.reason)
            elif not session.handle_info(msg):
                logger.debug("WebSocket %s ignored message %r", me.pid, msg)
        if io.close_code is not None and not client_closed:
            exit_reason = io.exit_reason
            if writer.accepting and conn.open:
                conn.start_close(io.close_code)
                with trio.move_on_after(options.close_timeout):
                    await _await_client_close(parser, stream)
        if client_closed and writer.accepting:
            # Let our close echo (and what was queued before it) reach the client.
            with trio.move_on_after(options.close_timeout):
                await writer.wait_drained()
    finally:
        writer.close()
    if exit_reason is not otp.NORMAL:
        raise otp.ProcessExit(exit_reason)
