"""The one WebSocket transport loop: a connection process after the upgrade.

The connection process that served the HTTP upgrade becomes the transport process, as a
Cowboy connection process becomes the WebSocket process. Channel sockets and raw
transports are two *handlers* of this one loop (:class:`ConnectionHandler`:
:class:`SessionHandler` here carries a channel session, ``_transport`` a user's
:class:`~channels.transports.Transport`). The loop is written once:

- **reading**: the process owns its socket (``otp.OwnedFd``) and waits for "readable or a
  message" in one call; bytes go to the connection's :class:`~channels.protocol.ServerConnection`
  (sans-IO: frames, pings, the close handshake, permessage-deflate). One whole short text
  frame is the fast path: parsed inline and handed to the handler without waiting
  (``handle_in_nowait``), with no task hand-off;
- **the idle timeout**: one node timer (``IDLE_CHECK``), re-armed lazily;
- **limits on incomplete messages**: a message must be complete within
  ``WebSocketOptions.message_timeout`` (else close 1008), and all connections together
  hold at most ``max_incomplete_bytes`` of incomplete messages (else the connection that
  grows past it is closed with 1009);
- **the slow-client policy**: a client is judged by its backlog over time, never by one
  message's size: a backlog that stayed over ``max_outbox_bytes`` for ``slow_client_timeout``
  (``_SlowCheck``), or a frame queued while the backlog already exceeds
  ``max_outbox_bytes + max_frame_size``, gets the client 1013 after what was queued;
- **exit signals**: the endpoint's shutdown (an exit from the parent) closes with 1012; a
  linked process's abnormal exit ends the connection with that reason;
- **the close path**: our close frame (if the client did not close first), the client's
  answer awaited up to ``close_timeout``, the queued bytes drained, the handler's
  ``terminate``.

Every byte goes through the connection's one ``SocketWriter``: the 101 response, replies,
pushes, fastlane broadcasts (encoded once per encoding), pongs and close frames. Frames for
the client are written by :class:`WebSocketIO` (an ``OrderedSink``: straight to the socket
while the process's mailbox is empty, else in order through it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

import otp

from ..protocol import (
    Accepted,
    CloseCode,
    ConnectionState,
    Frame,
    InvalidMessageError,
    Opcode,
    PingFrame,
    PongFrame,
    Serializer,
    ServerConnection,
    WSMessage,
    encode_ws_close,
    encode_ws_data,
    encode_ws_frame,
)
from ..pubsub._fastlane import OrderedSink
from ._messages import IDLE_CHECK, ErrorHandler, IdleCheck, Overflow, PushFrame, SessionHandler, TransportIO
from ._writer import SocketWriter

__all__ = ["ChannelSocketHandler", "ConnectionHandler", "WebSocketIO", "WebSocketOptions", "run_websocket"]

logger = logging.getLogger("channels.transport")

#: Read this much at a time from the socket.
RECEIVE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class WebSocketOptions:
    """Per-socket WebSocket settings (Phoenix's ``websocket: [...]`` options)."""

    #: Seconds without data from the client before the server closes (1000).
    timeout: float = 60.0
    #: Largest message accepted (after inflating); bigger closes with 1009 (Phoenix's 10 MB).
    max_frame_size: int = 10_000_000
    #: The slow-client policy: bytes queued for a client (its backlog) that it may keep for
    #: up to ``slow_client_timeout`` seconds; a backlog over it for longer closes with
    #: ``overflow_close_code``. One message never decides it: a client is closed at once
    #: only when a frame comes while its backlog already exceeds ``max_outbox_bytes +
    #: max_frame_size`` (so any message the server accepts can be echoed or broadcast).
    max_outbox_bytes: int = 4 * 1024 * 1024
    #: Seconds a client's backlog may stay over ``max_outbox_bytes``.
    slow_client_timeout: float = 10.0
    #: Close code used for a client whose outbox overflowed.
    overflow_close_code: int = CloseCode.TRY_AGAIN_LATER
    #: Extra subprotocols to accept (besides "phoenix" for the auth token).
    subprotocols: tuple[str, ...] | None = None
    #: Seconds to wait for the client's close frame after sending ours.
    close_timeout: float = 5.0
    #: Negotiate permessage-deflate (RFC 7692) with clients that offer it. Off by default.
    compress: bool = False
    #: Seconds a client may take to complete a message once it began sending it (a
    #: fragmented or a large one); past it the connection is closed with 1008.
    message_timeout: float = 30.0
    #: Bytes of incomplete client messages all connections together may hold (per node
    #: run); the connection whose message grows past it is closed with 1009.
    max_incomplete_bytes: int = 128 * 1024 * 1024
    #: Where WebSocket is served, below the mount's path (may hold ``:vars``, which join the
    #: params): ``SocketMount("/custom/:a", S, websocket=WebSocketOptions(path=":b/ws"))``
    #: answers ``/custom/1/2/ws`` with ``a="1"``, ``b="2"`` (Phoenix's ``:path``).
    path: str = "/websocket"
    #: What a ``connect`` that returned ``Refuse(reason)`` (a reason given) answers:
    #: ``error_handler(request, reason) -> Response``. None: 403 (Phoenix's ``:error_handler``).
    error_handler: ErrorHandler | None = None


@dataclass(frozen=True, slots=True)
class _IncompleteCheck:
    """timer -> transport: is the message in progress still incomplete?"""


_INCOMPLETE_CHECK = _IncompleteCheck()


@dataclass(frozen=True, slots=True)
class _SlowCheck:
    """timer -> transport: is the client's backlog still over ``max_outbox_bytes``?"""


_SLOW_CHECK = _SlowCheck()


class _IncompleteBudget:
    """Bytes of incomplete messages held by the connections of one Trio run."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = 0


_BUDGET: trio.lowlevel.RunVar[_IncompleteBudget] = trio.lowlevel.RunVar("channels_incomplete_budget")


def _budget() -> _IncompleteBudget:
    try:
        return _BUDGET.get()
    except LookupError:
        budget = _IncompleteBudget()
        _BUDGET.set(budget)
        return budget


class WebSocketIO(OrderedSink):
    """One connection's ``TransportIO`` and fastlane sink: how handlers reach the client."""

    __slots__ = ("close_code", "conn", "encoding", "exit_reason", "handler", "peer", "proc", "slow_check",
                 "slow_timeout", "writer")

    def __init__(self, writer: SocketWriter, conn: ServerConnection, proc: otp.Process,
                 peer: str | None) -> None:
        self.writer = writer
        self.conn = conn
        self.proc = proc
        self.peer = peer
        self.encoding = conn.encoding
        #: Set by ``close``: the loop then closes with this code and exits ``exit_reason``.
        self.close_code: int | None = None
        self.exit_reason: otp.ExitReason = otp.NORMAL
        #: The slow-client timer is armed (one at a time; ``_SlowCheck`` re-arms it).
        self.slow_check = False
        self.slow_timeout = 0.0
        #: Set once the handler is running: its summary is part of the process's.
        self.handler: ConnectionHandler | None = None

    def summary(self) -> dict[str, Any]:
        """The connection process's summary for the observer (a bound method, not a closure:
        one object less per connection)."""
        writer = self.writer
        handler = {} if self.handler is None else self.handler.summary()
        return {"transport": "websocket", "peer": self.peer, **handler, "compression": self.conn.encoding,
                "outbox_bytes": writer.outbox_bytes, "outbox_high_water": writer.high_water,
                "bytes_written": writer.bytes_written}

    @property
    def sink(self) -> WebSocketIO:
        return self

    def on_writer_close(self, why: str) -> None:
        self.proc.deliver(Overflow(why))

    def on_writer_over(self) -> None:
        """The backlog went over ``max_outbox_bytes`` (in whichever task wrote): start the clock."""
        if not self.slow_check:
            self.slow_check = True
            self.proc.node.send_after(self.slow_timeout, self.proc.pid, _SLOW_CHECK)

    # TransportIO

    def write_frame(self, frame: Frame) -> None:
        """Write a serializer's frame now (from the transport process itself)."""
        self.writer.write_nowait(encode_ws_data(frame.opcode, frame.data, self.encoding))

    def send(self, data: str | bytes) -> None:
        """Write one message (text for ``str``, binary for ``bytes``) now."""
        self.writer.write_nowait(self.conn.encode(data))

    def send_ping(self, payload: bytes) -> None:
        """Write a ping (raw transports' ``Reply(Ping(payload), state)``) now."""
        self.writer.write_nowait(encode_ws_frame(Opcode.PING, payload))

    def close(self, code: int, reason: otp.ExitReason) -> None:
        """Close the connection with ``code``; the process then exits ``reason``."""
        if self.close_code is None:
            self.close_code = code
            self.exit_reason = reason

    @property
    def closing(self) -> bool:
        """``close`` was called."""
        return self.close_code is not None

    # OrderedSink (the fastlane, and pushes from channel processes)

    def transport_process(self) -> otp.Process:
        return self.proc

    def write_now(self, frame: Frame, data: bytes | None, broadcast: bool) -> None:
        if data is None:
            data = encode_ws_data(frame.opcode, frame.data, self.encoding)
        if broadcast:
            self.writer.write_coalesced(data)
        else:
            self.writer.write_nowait(data)


#: Control frames delivered to handlers that want them (``ConnectionHandler.wants_control``).
_CONTROL_FRAMES: dict[type, str] = {PingFrame: "ping", PongFrame: "pong"}


class ConnectionHandler(Protocol):
    """What the loop runs for one connection: a channel session or a raw transport."""

    #: Whether the loop calls ``handle_control`` for the client's pings and pongs.
    wants_control: bool

    def summary(self) -> dict[str, Any]:
        """Fields for the connection process's ``summary()``."""

    async def init(self, io: WebSocketIO) -> None:
        """The WebSocket is open (the 101 is written): set up, using ``io`` from now on."""

    def handle_in_nowait(self, data: str | bytes) -> bool:
        """Handle a client message without waiting if possible; False: call ``handle_in``."""

    async def handle_in(self, data: str | bytes) -> None:
        """Handle a client message."""

    async def handle_info(self, msg: Any) -> None:
        """Handle a message sent to the connection process."""

    async def handle_control(self, opcode: str, payload: bytes) -> None:
        """A ping (already answered) or pong from the client: ``"ping"``/``"pong"``."""

    async def terminate(self, reason: otp.ExitReason) -> None:
        """The connection ends (with ``reason``); called once."""


async def run_websocket(stream: trio.SocketStream, conn: ServerConnection, accepted: Accepted,
                        rest: bytes, handler: ConnectionHandler, *, options: WebSocketOptions,
                        peer: str | None = None) -> None:
    """Run one accepted WebSocket connection to its end, in the current (connection) process.

    ``accepted`` is what ``conn.accept`` returned (its 101 response is written first);
    ``rest`` is what the client sent after its upgrade request. Returns normally when the
    connection ends normally; raises ``otp.ProcessExit`` for other ends (shutdown, drain,
    protocol error, overflow) so that linked processes (channels) see the reason.
    """
    me = otp.current_process()
    assert me is not None
    owned = otp.OwnedFd(stream.socket.fileno(), me)
    writer = SocketWriter(owned, max_outbox=options.max_outbox_bytes,
                          max_backlog=options.max_outbox_bytes + options.max_frame_size)
    io = WebSocketIO(writer, conn, me, peer)
    io.slow_timeout = options.slow_client_timeout
    writer.on_close = io.on_writer_close
    writer.on_over = io.on_writer_over
    budget = _budget()
    held = 0  # this connection's share of the budget
    reason: otp.ExitReason = otp.NORMAL
    try:
        writer.write_nowait(accepted.data)
        del accepted  # not kept for the life of the connection
        await handler.init(io)
        io.handler = handler
        me.summary = io.summary
        # When the endpoint stops, the connection supervisor's shutdown becomes a message,
        # so that the client gets a close frame (1012, "service restart": the JS client
        # reconnects) rather than a dropped TCP connection.
        me.trap_exit = True
        fd = owned.fd
        timeout = options.timeout
        last_in = trio.current_time()
        # The idle timeout is one timer in the node's heap, re-armed lazily, rather than a
        # cancel scope around every wait: cheaper per message and per idle connection.
        otp.send_after(timeout, me.pid, IDLE_CHECK)
        incomplete_since: float | None = None  # when the message in progress began
        data: bytes | bytearray = rest
        while io.close_code is None:
            if data:
                events = conn.receive_data(data)
                data = b""
                last_in = trio.current_time()
                # The common case, inline: one whole client message that needs no waiting
                # (anything else takes the general way).
                if not (len(events) == 1 and type(events[0]) is WSMessage
                        and handler.handle_in_nowait(events[0].data)):
                    stopped = False
                    for event in events:
                        if type(event) is WSMessage:
                            if not handler.handle_in_nowait(event.data):
                                await handler.handle_in(event.data)
                            if io.closing:
                                stopped = True
                                break
                        else:
                            # What the connection owes for it (a pong; the close echo; our
                            # close on a violation), in order with the replies to messages.
                            output = conn.take_output(event)
                            if output:
                                writer.write_nowait(output)
                            # Raw transports' handle_control: pings (after their pong) and pongs.
                            if handler.wants_control and isinstance(event, PingFrame | PongFrame):
                                await handler.handle_control(_CONTROL_FRAMES[type(event)], bytes(event.data))
                    if stopped:
                        # The handler closes the connection before the frames that followed
                        # (parsed with it): nothing is owed for those, and if a close frame
                        # of the client's was among them, ours goes first all the same.
                        conn.drop_output()
                        if conn.state is not ConnectionState.OPEN:
                            writer.write_nowait(encode_ws_close(io.close_code or CloseCode.NORMAL))
                            reason = io.exit_reason
                            break
                    else:
                        output = conn.take_output()
                        if output:
                            writer.write_nowait(output)
                        if conn.state is ConnectionState.CLOSED:
                            reason = _client_close_reason(conn, me.pid, options)
                            break
                if held or conn.buffered_bytes:
                    # A message in progress: its bytes count in the budget of all
                    # connections, and its time is bounded (``_IncompleteCheck``).
                    completed = any(type(e) is WSMessage for e in events)
                    was_held = held
                    held = _account(conn, budget, held, options, me.pid)
                    if held < 0:  # over the budget: the connection failed (1009)
                        held = 0
                        writer.write_nowait(conn.take_output())
                        reason = otp.Shutdown("message_too_big")
                        break
                    if not held:
                        incomplete_since = None
                    elif not was_held or completed or incomplete_since is None:
                        if incomplete_since is None:
                            otp.send_after(options.message_timeout, me.pid, _INCOMPLETE_CHECK)
                        incomplete_since = last_in
                continue
            if not me.mailbox:
                try:
                    readable = await owned.wait_readable()
                except trio.ClosedResourceError:
                    conn.connection_lost()
                    break
                if readable:
                    try:
                        data = os.read(fd, RECEIVE_SIZE)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        conn.connection_lost()  # the TCP connection ended without a close frame
                        break
                    continue
            msg = me.receive_nowait()
            t = type(msg)
            if t is PushFrame:
                io.write_frame(msg.frame)
            elif t is IdleCheck:
                # Any frame from the client counts, pings included (as Cowboy's idle_timeout).
                idle = trio.current_time() - last_in
                if idle >= timeout:
                    logger.debug("closing idle WebSocket %s after %s s", me.pid, timeout)
                    io.close(CloseCode.NORMAL, otp.Shutdown("idle_timeout"))
                else:
                    otp.send_after(timeout - idle, me.pid, IDLE_CHECK)
            elif t is _IncompleteCheck:
                if incomplete_since is not None:
                    late = trio.current_time() - incomplete_since
                    if late >= options.message_timeout:
                        logger.warning("closing WebSocket %s: a message was not completed within %s s",
                                       me.pid, options.message_timeout)
                        conn.fail(CloseCode.POLICY_VIOLATION, "message not completed in time")
                        writer.write_nowait(conn.take_output())
                        reason = otp.Shutdown("message_timeout")
                        break
                    otp.send_after(options.message_timeout - late, me.pid, _INCOMPLETE_CHECK)
            elif t is _SlowCheck:
                io.slow_check = False
                since = writer.over_since
                if since is not None and writer.accepting:
                    late = trio.current_time() - since
                    if late >= options.slow_client_timeout:
                        writer.give_up(f"{writer.outbox_bytes} bytes queued for over {options.slow_client_timeout} s "
                                       f"(limit {options.max_outbox_bytes})")  # an Overflow follows
                    else:
                        io.slow_check = True
                        otp.send_after(options.slow_client_timeout - late, me.pid, _SLOW_CHECK)
            elif t is Overflow:
                if writer.closed:
                    # Not a slow client: the socket is gone (a write failed). End as a
                    # dropped connection.
                    logger.debug("WebSocket %s ended: %s", me.pid, msg.reason)
                    conn.connection_lost()
                    break
                logger.warning("closing WebSocket %s: the client cannot keep up (%s)", me.pid, msg.reason)
                reason = otp.Shutdown("overflow")
                await writer.finish(conn.close(options.overflow_close_code, "client too slow"),
                                    options.close_timeout)
                conn.connection_lost()
                break
            elif t is otp.Exit:
                if msg.pid is me.parent:
                    io.close(CloseCode.SERVICE_RESTART, otp.SHUTDOWN)
                elif not otp.is_normal_exit(msg.reason):
                    # A process linked to this connection (say, spawn_link-ed by the user's
                    # connect) crashed: as in Erlang, the connection goes too.
                    reason = msg.reason
                    io.close(CloseCode.INTERNAL_ERROR, msg.reason)
            else:
                await handler.handle_info(msg)
        if io.close_code is not None and conn.state is ConnectionState.OPEN:
            # We close: our close frame, then the client's answer (bounded).
            reason = io.exit_reason
            if writer.accepting:
                writer.write_nowait(conn.close(io.close_code))
                with trio.move_on_after(options.close_timeout):
                    await _await_client_close(conn, owned)
        if writer.accepting:
            # Let the close frames (and what was queued before them) reach the client.
            with trio.move_on_after(options.close_timeout):
                await writer.wait_drained()
    except Exception as exc:
        await handler.terminate(exc)
        raise
    finally:
        if held:
            budget.held -= held
        writer.close()
        owned.close()  # before the endpoint closes the socket
    try:
        await handler.terminate(reason)
    finally:
        # Break the cycles among the connection's objects (handler <-> io <-> writer), so that
        # reference counting frees them when the process ends: garbage cycles wait for a full
        # collection, rare with many live connections, and under churn the RSS grew by them.
        io.handler = None
        writer.on_close = writer.on_over = None
    if reason is not otp.NORMAL:
        raise otp.ProcessExit(reason)  # a shutdown reason too: the channels see it


def _account(conn: ServerConnection, budget: _IncompleteBudget, held: int, options: WebSocketOptions,
             pid: otp.Pid) -> int:
    """Count this connection's incomplete bytes in the shared budget; what it holds now,
    or -1 if that took the budget over its limit (the connection is failed with 1009)."""
    now = conn.buffered_bytes
    budget.held += now - held
    if now > held and budget.held > options.max_incomplete_bytes:
        logger.warning("closing WebSocket %s: incomplete messages of all connections exceed %d bytes",
                       pid, options.max_incomplete_bytes)
        conn.fail(CloseCode.MESSAGE_TOO_BIG, "server buffer for incomplete messages is full")
        budget.held -= now
        return -1
    return now


def _client_close_reason(conn: ServerConnection, pid: otp.Pid, options: WebSocketOptions) -> otp.ExitReason:
    """The exit reason once the client closed (or broke the protocol)."""
    if conn.close_sent is not None and conn.close_received is None:
        # A protocol violation: we failed the connection with close_sent.
        if conn.close_sent == CloseCode.MESSAGE_TOO_BIG:
            logger.warning("closing WebSocket %s: a message exceeded max_frame_size (%d bytes)",
                           pid, options.max_frame_size)
        else:
            logger.info("WebSocket %s: protocol error from the client (close %s)", pid, conn.close_sent)
        return otp.Shutdown("closed")
    code = conn.close_received
    normal = code in (CloseCode.NORMAL, CloseCode.GOING_AWAY, CloseCode.NO_STATUS)
    return otp.NORMAL if normal else otp.Shutdown("closed")


async def _await_client_close(conn: ServerConnection, owned: otp.OwnedFd) -> None:
    """After our close frame: read until the client's close frame or EOF (bounded by the caller)."""
    while conn.state is ConnectionState.LOCAL_CLOSING:
        try:
            await trio.lowlevel.wait_readable(owned.fd)
            data = os.read(owned.fd, RECEIVE_SIZE)
        except BlockingIOError:
            continue
        except (OSError, trio.ClosedResourceError):
            data = b""
        if not data:
            conn.connection_lost()
            return
        conn.receive_data(data)


class ChannelSocketHandler:
    """The loop's handler for a channel socket: decodes client messages (the socket's
    serializer) and hands them to the channel session the endpoint opens for it."""

    __slots__ = ("io", "open_session", "serializer", "session")

    #: Channel sockets take no control frames (pings are answered by the connection).
    wants_control = False

    def __init__(self, serializer: Serializer, open_session: Callable[[TransportIO], SessionHandler]) -> None:
        self.serializer = serializer
        self.open_session = open_session
        self.session: SessionHandler | None = None
        self.io: WebSocketIO | None = None

    def summary(self) -> dict[str, Any]:
        return self.session.summary() if self.session is not None else {}

    async def init(self, io: WebSocketIO) -> None:
        self.io = io
        self.session = self.open_session(io)

    def handle_in_nowait(self, data: str | bytes) -> bool:
        try:
            message = self.serializer.decode(data, binary=type(data) is not str)
        except InvalidMessageError:
            return False  # handle_in says why
        return self.session.handle_in_nowait(message)  # type: ignore[union-attr]

    async def handle_in(self, data: str | bytes) -> None:
        assert self.session is not None
        assert self.io is not None
        try:
            message = self.serializer.decode(data, binary=type(data) is not str)
        except InvalidMessageError as exc:
            logger.warning("closing WebSocket %s: invalid message from the client: %s", self.io.proc.pid, exc)
            self.io.close(CloseCode.INTERNAL_ERROR, otp.Shutdown("invalid_message"))
            return
        if not self.session.handle_in_nowait(message):
            await self.session.handle_in(message)  # a join: it waits for the channel

    async def handle_info(self, msg: Any) -> None:
        if self.session is not None and not self.session.handle_info(msg):
            logger.debug("WebSocket %s ignored message %r", otp.self(), msg)

    async def handle_control(self, opcode: str, payload: bytes) -> None:
        """Not called (``wants_control`` is False)."""

    async def terminate(self, reason: otp.ExitReason) -> None:
        pass  # the channels are linked to this process: its exit reaches them
