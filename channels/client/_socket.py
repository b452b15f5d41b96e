"""The reconnecting client socket and its channels, as phoenix.js's ``Socket`` and ``Channel``.

Behaviour ported from phoenix.js (``assets/js/phoenix/socket.js``, ``channel.js``):

* the socket reconnects after a close it did not ask for, except a clean close with
  code 1000 from the server, waiting ``reconnect_after(tries)`` seconds (10 ms, 50 ms,
  ... 5 s, as ``reconnectAfterMs``);
* a heartbeat (``phoenix``/``heartbeat``) goes out every ``heartbeat_interval``; if the
  previous one is still unanswered, the connection is closed ("heartbeat timeout")
  and re-established;
* when the connection drops, joined channels become *errored*; when it comes back they
  rejoin at once with their join payload. A channel the server crashes or stops with
  an error (``phx_error``) rejoins after ``rejoin_after(tries)`` (1 s, 2 s, 5 s, 10 s);
  a join that times out or is refused on a rejoin is retried the same way;
* pushes wait until the channel is joined (phoenix.js's push buffer), then wait for
  the reply; both within the push's timeout.

One difference: a refusal of the *first* ``join()`` raises :class:`JoinError` and
closes the channel (phoenix.js keeps retrying it on the rejoin timer).
"""

from __future__ import annotations

import enum
import itertools
import logging
import math
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from channels.protocol import InvalidMessageError, Message, Payload, ReplyMessage

from ._connection import CloseInfo, Connection, ConnectRejected, Disconnected, connect, websocket_url

__all__ = [
    "DEFAULT_TIMEOUT",
    "Channel",
    "ChannelState",
    "JoinError",
    "PushTimeout",
    "Socket",
    "default_reconnect_after",
    "default_rejoin_after",
    "open_socket",
]

logger = logging.getLogger("channels.client")

#: Seconds a join or push waits for its reply (phoenix.js ``DEFAULT_TIMEOUT``).
DEFAULT_TIMEOUT: Final = 10.0

_RECONNECT_STEPS: Final = (0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0)
_REJOIN_STEPS: Final = (1.0, 2.0, 5.0)


def default_reconnect_after(tries: int) -> float:
    """phoenix.js's ``reconnectAfterMs``: 10, 50, 100, 150, 200, 250, 500, 1000, 2000 ms, then 5 s."""
    return _RECONNECT_STEPS[tries - 1] if 0 < tries <= len(_RECONNECT_STEPS) else 5.0


def default_rejoin_after(tries: int) -> float:
    """phoenix.js's ``rejoinAfterMs``: 1 s, 2 s, 5 s, then 10 s."""
    return _REJOIN_STEPS[tries - 1] if 0 < tries <= len(_REJOIN_STEPS) else 10.0


class JoinError(Exception):
    """The server refused the join; ``response`` is its reply payload."""

    def __init__(self, topic: str, response: Any) -> None:
        super().__init__(f"join of {topic!r} refused: {response!r}")
        self.topic = topic
        self.response = response


class PushTimeout(trio.TooSlowError):
    """No reply within the timeout (the channel was not joined in time, or no reply came)."""


class ChannelState(enum.Enum):
    """phoenix.js's ``CHANNEL_STATES``."""

    #: Not joined (never joined, left, or closed by the server).
    CLOSED = "closed"
    #: The connection dropped or the channel crashed; a rejoin is due.
    ERRORED = "errored"
    #: Joined: pushes go out at once, broadcasts come in.
    JOINED = "joined"
    #: A join is on the wire.
    JOINING = "joining"
    #: A leave is on the wire.
    LEAVING = "leaving"


@dataclass(eq=False)
class _Pending:
    done: trio.Event = field(default_factory=trio.Event)
    reply: ReplyMessage | None = None


class Channel:
    """A channel on a :class:`Socket` (made by :meth:`Socket.channel`).

    Messages the server pushes or broadcasts on the topic are queued; take them with
    :meth:`receive` or ``async for message in channel``.
    """

    def __init__(self, socket: Socket, topic: str, params: Payload | Callable[[], Payload]) -> None:
        self.socket = socket
        self.topic = topic
        self.params = params
        self.state = ChannelState.CLOSED
        #: The ref of the current join (sent with every push as ``join_ref``).
        self.join_ref: str | None = None
        #: Successful joins so far (1 after ``join()``; more after rejoins).
        self.join_count = 0
        #: The response of the last successful join.
        self.join_response: Any = None
        self._joined_once = False
        self._changed = trio.Event()
        self._send, self._receive = trio.open_memory_channel[Message](math.inf)
        self._rejoin_scope: trio.CancelScope | None = None
        self._join_error: Any = None

    def __repr__(self) -> str:
        return f"<Channel {self.topic!r} {self.state.value} joins={self.join_count}>"

    # -- joining -------------------------------------------------------------------------------

    async def join(self, timeout: float | None = None) -> Any:
        """Join the topic and return the server's response (only once per channel).

        After this the channel rejoins by itself after reconnects and server-side errors.

        Raises:
            JoinError: The server refused the join (the channel is closed).
            PushTimeout: No reply within ``timeout`` (the channel keeps trying).
        """
        if self._joined_once:
            raise RuntimeError(f"channel {self.topic!r} was already joined; make a new one with socket.channel()")
        self._joined_once = True
        self.socket._add(self)
        timeout = self.socket.timeout if timeout is None else timeout
        with trio.move_on_after(timeout) as scope:
            self._set_state(ChannelState.ERRORED)  # a join is due (sent now, or on connect)
            self.socket._nursery.start_soon(self._rejoin_now)
            while self.state is not ChannelState.JOINED:
                if self._join_error is not None:
                    error, self._join_error = self._join_error, None
                    self._close()
                    raise JoinError(self.topic, error)
                await self._wait_changed()
        if scope.cancelled_caught:
            raise PushTimeout(f"join of {self.topic!r}: no reply within {timeout} s")
        return self.join_response

    async def wait_joined(self, count: int = 1, timeout: float | None = None) -> None:
        """Wait until the channel has joined ``count`` times in all (rejoins included).

        Raises:
            trio.TooSlowError: Not within ``timeout``.
        """
        with trio.fail_after(self.socket.timeout if timeout is None else timeout):
            while self.join_count < count:
                await self._wait_changed()

    async def wait_state(self, state: ChannelState, timeout: float | None = None) -> None:
        """Wait until the channel is in ``state``.

        Raises:
            trio.TooSlowError: Not within ``timeout``.
        """
        with trio.fail_after(self.socket.timeout if timeout is None else timeout):
            while self.state is not state:
                await self._wait_changed()

    async def _wait_changed(self) -> None:
        changed = self._changed
        await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _in(self, state: ChannelState) -> bool:
        return self.state is state  # a method: mypy must not narrow the state across awaits

    def _set_state(self, state: ChannelState) -> None:
        self.state = state
        self._notify()

    async def _rejoin_now(self) -> None:
        """Send a join (if connected) and handle its reply; schedule a retry on failure."""
        sock = self.socket
        conn = sock._conn
        if conn is None or self.state in (ChannelState.LEAVING, ChannelState.JOINING) or not self._joined_once:
            return
        if self.state is ChannelState.CLOSED and self.join_count:
            return  # left or closed by the server
        self._cancel_rejoin_timer()
        ref = sock.make_ref()
        self.join_ref = ref
        self._set_state(ChannelState.JOINING)
        params = self.params() if callable(self.params) else self.params
        pending = sock._expect(ref)
        try:
            await conn.send(Message(self.topic, "phx_join", {} if params is None else params, ref, ref))
            with trio.move_on_after(sock.timeout):
                await pending.done.wait()
        except Disconnected:
            pass  # the socket's loop marks channels errored and rejoins on reconnect
        finally:
            sock._pending.pop(ref, None)
        if self.join_ref != ref or not self._in(ChannelState.JOINING):
            return  # superseded (a reconnect, a leave)
        reply = pending.reply
        if reply is not None and reply.status == "ok":
            self.join_count += 1
            self.join_response = reply.payload
            self._set_state(ChannelState.JOINED)
            return
        if reply is None:
            # phoenix.js: a join timeout sends a leave, marks the channel errored and retries.
            logger.info("join of %r timed out; retrying", self.topic)
            if sock._conn is conn:
                with trio.move_on_after(sock.timeout):
                    try:
                        await conn.send(Message(self.topic, "phx_leave", {}, sock.make_ref(), ref))
                    except Disconnected:
                        pass
        elif not self.join_count:
            self._join_error = reply.payload
            self._set_state(ChannelState.ERRORED)
            return
        else:
            logger.info("rejoin of %r refused: %r; retrying", self.topic, reply.payload)
        self._set_state(ChannelState.ERRORED)
        self._schedule_rejoin()

    def _schedule_rejoin(self) -> None:
        self._cancel_rejoin_timer()
        scope = self._rejoin_scope = trio.CancelScope()
        self.socket._nursery.start_soon(self._rejoin_timer, scope)

    def _cancel_rejoin_timer(self) -> None:
        if self._rejoin_scope is not None:
            self._rejoin_scope.cancel()
            self._rejoin_scope = None

    async def _rejoin_timer(self, scope: trio.CancelScope) -> None:
        with scope:
            tries = 0
            while self.state is ChannelState.ERRORED:
                tries += 1
                await trio.sleep(self.socket.rejoin_after(tries))
                if self.socket._conn is not None and self.state is ChannelState.ERRORED:
                    self._rejoin_scope = None
                    await self._rejoin_now()
                    return

    # -- events from the socket ----------------------------------------------------------------

    def _on_disconnect(self) -> None:
        if self.state in (ChannelState.JOINED, ChannelState.JOINING):
            self._cancel_rejoin_timer()
            self._set_state(ChannelState.ERRORED)

    def _on_message(self, msg: Message) -> None:
        if msg.join_ref is not None and msg.join_ref != self.join_ref:
            return  # from an earlier join (phoenix.js's isMember)
        if msg.event == "phx_error":
            if self.state in (ChannelState.JOINED, ChannelState.JOINING):
                logger.info("channel %r errored on the server; rejoining", self.topic)
                self._set_state(ChannelState.ERRORED)
                self._schedule_rejoin()
            return
        if msg.event == "phx_close":
            self._close()
            return
        self._send.send_nowait(msg)

    def _close(self) -> None:
        self._cancel_rejoin_timer()
        self._set_state(ChannelState.CLOSED)
        self.socket._remove(self)

    # -- pushing and receiving -----------------------------------------------------------------

    async def push(self, event: str, payload: Payload = None, timeout: float | None = None) -> ReplyMessage:
        """Push ``event`` and wait for the reply (``reply.status``, ``reply.payload``).

        Waits for the channel to be joined first (the push is buffered as in phoenix.js).
        ``bytes`` payloads go as V2 binary frames.

        Raises:
            PushTimeout: Not joined, or no reply, within ``timeout``.
        """
        reply = await self._push(event, payload, timeout, wait_reply=True)
        assert reply is not None
        return reply

    async def send(self, event: str, payload: Payload = None, timeout: float | None = None) -> None:
        """Push ``event`` without waiting for a reply (for events the channel does not answer).

        Waits for the channel to be joined first, as :meth:`push`.

        Raises:
            PushTimeout: Not joined within ``timeout``.
        """
        await self._push(event, payload, timeout, wait_reply=False)

    async def _push(self, event: str, payload: Payload, timeout: float | None, *,
                    wait_reply: bool) -> ReplyMessage | None:
        timeout = self.socket.timeout if timeout is None else timeout
        deadline = trio.current_time() + timeout
        sock = self.socket
        while True:
            with trio.move_on_at(deadline):
                while self.state is not ChannelState.JOINED or sock._conn is None:
                    if self not in sock.channels:
                        raise RuntimeError(f"push on channel {self.topic!r}, which is not joined")
                    await self._wait_changed()
            if trio.current_time() >= deadline:
                raise PushTimeout(f"push {event!r} on {self.topic!r}: channel not joined within {timeout} s")
            conn = sock._conn
            assert conn is not None
            ref = sock.make_ref()
            pending = sock._expect(ref) if wait_reply else None
            try:
                await conn.send(Message(self.topic, event, {} if payload is None else payload, ref, self.join_ref))
            except Disconnected:
                sock._pending.pop(ref, None)
                continue  # wait for the rejoin and send again
            if pending is None:
                return None
            try:
                with trio.move_on_at(deadline):
                    await pending.done.wait()
            finally:
                sock._pending.pop(ref, None)
            if pending.reply is None:
                raise PushTimeout(f"push {event!r} on {self.topic!r}: no reply within {timeout} s")
            return pending.reply

    async def receive(self, timeout: float | None = None) -> Message:
        """The next message pushed or broadcast on this channel (waits for ever if ``timeout`` is None)."""
        if timeout is None:
            return await self._receive.receive()
        with trio.fail_after(timeout):
            return await self._receive.receive()

    def receive_nowait(self) -> Message:
        """The next queued message; raises ``trio.WouldBlock`` if none."""
        return self._receive.receive_nowait()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._receive.__aiter__()

    async def leave(self, timeout: float | None = None) -> ReplyMessage | None:
        """Leave the topic (no rejoins after this); return the server's reply, or None on a timeout."""
        timeout = self.socket.timeout if timeout is None else timeout
        self._cancel_rejoin_timer()
        sock = self.socket
        conn = sock._conn
        reply = None
        if conn is not None and self.state in (ChannelState.JOINED, ChannelState.JOINING):
            self._set_state(ChannelState.LEAVING)
            ref = sock.make_ref()
            pending = sock._expect(ref)
            try:
                await conn.send(Message(self.topic, "phx_leave", {}, ref, self.join_ref))
                with trio.move_on_after(timeout):
                    await pending.done.wait()
            except Disconnected:
                pass
            finally:
                sock._pending.pop(ref, None)
            reply = pending.reply
        self._close()
        return reply


class Socket:
    """A Phoenix client socket that stays connected (made by :func:`open_socket`)."""

    def __init__(self, endpoint: str, *, params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None,
                 vsn: str | None, timeout: float, heartbeat_interval: float | None,
                 reconnect_after: Callable[[int], float], rejoin_after: Callable[[int], float],
                 connect_options: dict[str, Any]) -> None:
        self.endpoint = endpoint
        self.params = params
        self.vsn = vsn
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval
        self.reconnect_after = reconnect_after
        self.rejoin_after = rejoin_after
        self.connect_options = connect_options
        #: Connections established so far (phoenix.js's ``establishedConnections``).
        self.connections = 0
        #: How the last connection ended.
        self.last_close: CloseInfo | None = None
        self.channels: list[Channel] = []
        self._conn: Connection | None = None
        self._refs = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._changed = trio.Event()
        self._closing = False
        self._nursery: trio.Nursery

    def __repr__(self) -> str:
        state = "connected" if self._conn is not None else "disconnected"
        return f"<Socket {self.endpoint} {state} connections={self.connections}>"

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def connection(self) -> Connection | None:
        """The current connection (None while reconnecting)."""
        return self._conn

    def make_ref(self) -> str:
        """A fresh message ref, as phoenix.js makes them."""
        return str(next(self._refs))

    def channel(self, topic: str, params: Payload | Callable[[], Payload] = None) -> Channel:
        """A channel for ``topic``, joined with ``params`` (a callable is called at every join)."""
        return Channel(self, topic, {} if params is None else params)

    def url(self) -> str:
        params = self.params() if callable(self.params) else self.params
        return websocket_url(self.endpoint, params, self.vsn)

    async def wait_connected(self, count: int = 1, timeout: float | None = None) -> None:
        """Wait until ``count`` connections have been established in all and one is up."""
        with trio.fail_after(self.timeout if timeout is None else timeout):
            while self.connections < count or self._conn is None:
                changed = self._changed
                await changed.wait()

    async def disconnect(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection and stop reconnecting."""
        self._closing = True
        conn = self._conn
        if conn is not None:
            await conn.aclose(code, reason)
        self._nursery.cancel_scope.cancel()

    # -- internals -----------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _is_closing(self) -> bool:
        return self._closing  # a method: mypy must not narrow it across awaits

    def _add(self, channel: Channel) -> None:
        self.channels.append(channel)

    def _remove(self, channel: Channel) -> None:
        if channel in self.channels:
            self.channels.remove(channel)

    def _expect(self, ref: str) -> _Pending:
        pending = self._pending[ref] = _Pending()
        return pending

    async def _run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        tries = 0
        first = True
        while not self._closing:
            try:
                conn = await connect(self._nursery, self.url(), timeout=self.timeout, **self.connect_options)
            except (OSError, ConnectRejected, trio.TooSlowError, trio.BrokenResourceError) as exc:
                if first:
                    raise
                tries += 1
                delay = self.reconnect_after(tries)
                logger.info("connecting to %s failed (%s); retrying in %.3g s", self.endpoint, exc, delay)
                await trio.sleep(delay)
                continue
            tries = 0
            self._conn = conn
            self.connections += 1
            self._notify()
            if first:
                first = False
                task_status.started()
            for channel in list(self.channels):
                if channel.state is ChannelState.ERRORED:
                    self._nursery.start_soon(channel._rejoin_now)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read, conn, nursery.cancel_scope)
                    if self.heartbeat_interval is not None:
                        nursery.start_soon(self._heartbeat, conn)
            finally:
                self._conn = None
                with trio.CancelScope(shield=True):
                    await conn.abort()
                self.last_close = conn.closed
                for channel in list(self.channels):
                    channel._on_disconnect()
                self._notify()
            if self._is_closing():
                break
            if conn.closed is not None and conn.closed.code == 1000 and conn.closed.reason != "heartbeat timeout":
                logger.info("%s closed the connection normally (1000); not reconnecting", self.endpoint)
                break
            tries += 1
            await trio.sleep(self.reconnect_after(tries))

    async def _read(self, conn: Connection, scope: trio.CancelScope) -> None:
        try:
            while True:
                data = await conn.receive_frame()
                try:
                    msg = conn.decode(data)
                except InvalidMessageError as exc:
                    logger.warning("dropping a malformed frame from %s: %s", self.endpoint, exc)
                    continue
                if type(msg) is ReplyMessage:
                    pending = self._pending.get(str(msg.ref)) if msg.ref is not None else None
                    if pending is not None:
                        pending.reply = msg
                        pending.done.set()
                    continue
                assert type(msg) is Message
                for channel in list(self.channels):
                    if channel.topic == msg.topic:
                        channel._on_message(msg)
        except Disconnected:
            pass
        finally:
            scope.cancel()

    async def _heartbeat(self, conn: Connection) -> None:
        assert self.heartbeat_interval is not None
        while True:
            await trio.sleep(self.heartbeat_interval)
            ref = self.make_ref()
            pending = self._expect(ref)
            try:
                await conn.send(Message("phoenix", "heartbeat", {}, ref, None))
                with trio.move_on_after(self.heartbeat_interval):
                    await pending.done.wait()
            except Disconnected:
                return
            finally:
                self._pending.pop(ref, None)
            if pending.reply is None:
                logger.info("heartbeat timeout on %s; reconnecting", self.endpoint)
                conn.closed = CloseInfo(1000, "heartbeat timeout")
                await conn.aclose(1000, "heartbeat timeout", timeout=1.0)
                return


@asynccontextmanager
async def open_socket(
    endpoint: str,
    *,
    params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    vsn: str | None = "2.0.0",
    timeout: float = DEFAULT_TIMEOUT,
    heartbeat_interval: float | None = 30.0,
    reconnect_after: Callable[[int], float] = default_reconnect_after,
    rejoin_after: Callable[[int], float] = default_rejoin_after,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    auth_token: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    max_message_size: int = 256 * 1024 * 1024,
) -> AsyncIterator[Socket]:
    """Connect to a Phoenix socket; keep it connected for the block's duration.

    ``endpoint`` is the socket's URL as given to phoenix.js, e.g.
    ``ws://127.0.0.1:4000/socket`` (``/websocket`` and the query are added).

    Args:
        params: Connect params (a callable is called at every connect, e.g. for fresh tokens).
        vsn: Serializer version: ``"2.0.0"`` (JSON arrays and binary frames) or
            ``"1.0.0"``; ``None`` sends none (the server's default, V1).
        timeout: Default seconds for connect, join and push.
        heartbeat_interval: Seconds between heartbeats (``None``: no heartbeat).
        reconnect_after: Seconds to wait before reconnect attempt ``tries`` (1, 2, ...).
        rejoin_after: Seconds to wait before rejoin attempt ``tries`` of an errored channel.
        headers, auth_token, ssl_context, max_message_size: See :func:`connect`.

    The first connection attempt must succeed (its error is raised here: an
    ``OSError``, :class:`ConnectRejected` or ``trio.TooSlowError``); later ones are
    retried with ``reconnect_after``. On exit the connection is closed with 1000.
    """
    sock = Socket(endpoint, params=params, vsn=vsn, timeout=timeout, heartbeat_interval=heartbeat_interval,
                  reconnect_after=reconnect_after, rejoin_after=rejoin_after,
                  connect_options={"headers": headers, "auth_token": auth_token, "ssl_context": ssl_context,
                                   "max_message_size": max_message_size})
    failed: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            sock._nursery = nursery
            try:
                await nursery.start(sock._run)
            except (OSError, ConnectRejected, trio.TooSlowError) as exc:
                failed = exc
                nursery.cancel_scope.cancel()
            if failed is None:
                try:
                    yield sock
                finally:
                    with trio.CancelScope(shield=True):
                        sock._closing = True
                        conn = sock._conn
                        if conn is not None:
                            await conn.aclose(1000, None, timeout=timeout)
                    nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The block's own exception comes out of the nursery wrapped: unwrap a lone one.
        if len(group.exceptions) == 1 and not isinstance(group.exceptions[0], BaseExceptionGroup):
            raise group.exceptions[0] from None
        raise
    if failed is not None:
        raise failed
