"""The WebSocket transport: a connection process after the upgrade (Phoenix.Transports.WebSocket).

The connection process that served the HTTP upgrade becomes the transport process, as a
Cowboy connection process becomes the WebSocket process. trio-websocket runs the opening
handshake; a lean wsproto reader (``channels._wsconn``, which says why) then parses
frames. Every byte goes through the connection's one ``SocketWriter`` (``channels._writer``):
replies, pushes and fastlane broadcasts, encoded once, and the pongs and close frames.

The reader task turns each client message into a mailbox message, so that the process
handles client frames and channel messages one at a time, in arrival order, like
Cowboy's ``websocket_handle``/``websocket_info``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import trio

import otp

from ._messages import PushFrame
from ._pubsub import PubSub
from ._session import SocketSession
from ._socket import Socket
from ._writer import SocketWriter
from ._wsconn import HandshakeFailed, accept_websocket
from .protocol import Frame, InvalidMessageError, encode_ws_close, frame_to_ws_bytes

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
class _In:
    data: str | bytes


@dataclass(frozen=True, slots=True)
class _Closed:
    code: int | None


@dataclass(frozen=True, slots=True)
class _IdleCheck:
    pass


@dataclass(frozen=True, slots=True)
class _Encoded:
    """A fastlane frame, already WebSocket-framed, that had to wait in the mailbox."""

    data: bytes


_IDLE_CHECK = _IdleCheck()


@dataclass(frozen=True, slots=True)
class _Overflow:
    reason: str


class _WebSocketIO:
    """``TransportIO`` and fastlane ``Sink`` of one WebSocket connection."""

    encoding = "ws"

    def __init__(self, writer: SocketWriter, proc: otp.Process) -> None:
        self.writer = writer
        self.proc = proc
        self.sink = self
        self.close_code: int | None = None
        self.exit_reason: otp.ExitReason = otp.NORMAL

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
            self.writer.write_nowait(data)

    def close(self, code: int, reason: otp.ExitReason) -> None:
        if self.close_code is None:
            self.close_code = code
            self.exit_reason = reason


async def run_websocket(
    stream: trio.SocketStream,
    replay: bytes,
    socket: Socket,
    *,
    subprotocol: str | None,
    options: WebSocketOptions,
    pool: str,
    peer: str | None = None,
) -> None:
    """Run one WebSocket connection to its end, in the current (connection) process.

    ``socket`` is the connected user socket; ``replay`` is the upgrade request (and any
    bytes after it). Returns normally when the client closed; raises ``otp.ProcessExit``
    for other ends (disconnect, drain, protocol error) so that the channels see the reason.
    """
    me = otp.current_process()
    assert me is not None
    serializer = socket.serializer
    assert serializer is not None
    exit_reason: otp.ExitReason = otp.NORMAL
    async with trio.open_nursery() as nursery:
        writer = SocketWriter(stream.socket.fileno(), nursery, max_outbox=options.max_outbox_bytes,
                              on_close=lambda why: me.deliver(_Overflow(why)))
        try:
            conn = await accept_websocket(stream, replay, writer, subprotocol=subprotocol)
        except HandshakeFailed as exc:
            logger.info("WebSocket handshake with %s failed: %s", me.pid, exc)
            nursery.cancel_scope.cancel()
            return
        io = _WebSocketIO(writer, me)
        session = SocketSession(socket=socket, io=io, pool=pool)
        me.summary = lambda: {
            "transport": "websocket",
            "peer": peer,
            **session.summary(),
            "outbox_bytes": writer.outbox_bytes,
            "outbox_high_water": writer.high_water,
            "bytes_written": writer.bytes_written,
        }
        if socket.socket_id is not None and socket.pubsub_server is not None:
            PubSub.subscribe(socket.pubsub_server, socket.socket_id)
        # When the endpoint stops, the connection supervisor's shutdown becomes a message,
        # so that the client gets a close frame (1012, "service restart": the JS client
        # reconnects) rather than a dropped TCP connection.
        me.trap_exit = True
        nursery.start_soon(partial(
            conn.run_reader, lambda data: me.deliver(_In(data)), lambda code: me.deliver(_Closed(code)),
            max_message_size=options.max_frame_size,
        ))
        last_in = trio.current_time()
        timeout = options.timeout
        # The idle timeout is one timer in the node's heap, re-armed lazily, rather than a
        # cancel scope around every receive: cheaper per message and per idle connection.
        otp.send_after(timeout, me.pid, _IDLE_CHECK)
        try:
            while io.close_code is None:
                msg = await me.receive()
                t = type(msg)
                if t is _Encoded:
                    writer.write_nowait(msg.data)
                elif t is _IdleCheck:
                    # Any frame from the client counts, pings included (as Cowboy's idle_timeout).
                    idle = trio.current_time() - max(last_in, conn.last_in)
                    if idle >= timeout:
                        logger.debug("closing idle WebSocket %s after %s s", me.pid, timeout)
                        io.close(1000, otp.Shutdown("idle_timeout"))
                    else:
                        otp.send_after(timeout - idle, me.pid, _IDLE_CHECK)
                elif t is _In:
                    last_in = trio.current_time()
                    data = msg.data
                    try:
                        message = serializer.decode(data, binary=not isinstance(data, str))
                    except InvalidMessageError as exc:
                        logger.warning("closing WebSocket %s: invalid message from the client: %s", me.pid, exc)
                        io.close(1011, otp.Shutdown("invalid_message"))
                        break
                    await session.handle_in(message)
                elif t is _Closed:
                    if msg.code == 1009:
                        logger.warning("closed WebSocket %s: a message exceeded max_frame_size (%d bytes)",
                                       me.pid, options.max_frame_size)
                    exit_reason = otp.NORMAL if msg.code in (1000, 1001, 1005, None) else otp.Shutdown("closed")
                    break
                elif t is _Overflow:
                    if writer.closed:
                        # Not a slow client: the socket is gone (a write failed, or
                        # trio-websocket closed the stream after the closing handshake,
                        # before our reader reported the close). End as a client close.
                        logger.debug("WebSocket %s ended: %s", me.pid, msg.reason)
                        exit_reason = otp.NORMAL
                        break
                    logger.warning("closing WebSocket %s: the client cannot keep up (%s)", me.pid, msg.reason)
                    exit_reason = otp.Shutdown("overflow")
                    await writer.finish(encode_ws_close(options.overflow_close_code, "client too slow"),
                                        options.close_timeout)
                    break
                elif t is otp.Exit:
                    if msg.pid is me.parent:
                        io.close(1012, otp.SHUTDOWN)
                elif not session.handle_info(msg):
                    logger.debug("WebSocket %s ignored message %r", me.pid, msg)
            if io.close_code is not None:
                exit_reason = io.exit_reason
                if writer.accepting and conn.open:
                    conn.start_close(io.close_code)
                    with trio.move_on_after(options.close_timeout):
                        await me.receive(lambda m: type(m) is _Closed)
        finally:
            writer.close()
            nursery.cancel_scope.cancel()
    if exit_reason is not otp.NORMAL:
        raise otp.ProcessExit(exit_reason)
