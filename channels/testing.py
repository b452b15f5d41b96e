"""Test helpers for channel code: run an Endpoint and talk to it over real WebSockets.

This is the pytest-trio counterpart of ``Phoenix.ChannelTest``, except that nothing is
simulated: ``open_endpoint`` starts the real endpoint tree on 127.0.0.1 (port 0), and
``connect`` opens a real WebSocket client to it. The client buffers every frame it
receives; the ``assert_*`` methods take the first buffered frame that matches (waiting
for it if needed), so assertions may come in any order, as with ExUnit's mailbox.

Example (``node`` is the otp-node fixture of ``tests/conftest.py``; without a node,
``open_endpoint`` opens one)::

    import channels
    from channels import testing

    class RoomChannel(channels.Channel):
        async def join(self, topic, payload, socket):
            return channels.Accept(socket)

        async def handle_in(self, event, payload, socket):
            socket.broadcast("new_msg", payload)
            return channels.Reply(("ok", {"echo": payload["body"]}), socket)

    class UserSocket(channels.Socket):
        routes = [("room:*", RoomChannel)]

    async def test_room_echoes_and_broadcasts(node):
        endpoint = channels.Endpoint(
            name="Test.Endpoint",
            sockets=[channels.SocketMount("/socket", UserSocket)],
            check_origin=False,
        )
        async with testing.open_endpoint(endpoint) as ep:
            client = await testing.connect(ep, "/socket", params={"user": "ann"})
            assert await client.join("room:lobby", {}) == ("ok", {})
            ref = await client.push("room:lobby", "new_msg", {"body": "hi"})
            await client.assert_reply(ref, "ok", {"echo": "hi"})
            await client.assert_broadcast("room:lobby", "new_msg", {"body": "hi"})
            await client.refute_push("room:lobby", "typing")
            assert await client.leave("room:lobby") == ("ok", {})
            await client.assert_push("room:lobby", "phx_close", {})

The client (``SocketClient``) is a frame buffer with assertions on top of one
``channels.client.Connection`` (``client.connection``), the Python client's WebSocket
connection:

* sending: ``join``, ``leave``, ``push`` (returns the ref), ``heartbeat``, ``send``
  (a ``Message``, encoded with the connection's serializer), raw ``send_text`` and
  ``send_bytes``, ``close``;
* asserting: ``assert_reply``, ``assert_push``, ``assert_broadcast``, ``assert_closed``,
  ``refute_push``, ``refute_broadcast``, ``refute_reply``, ``refute_any``;
* reading in arrival order: ``receive`` (decoded) and ``receive_frame`` (raw);
  ``history`` keeps every frame, ``unread`` those not taken yet;
* ``settle()`` waits until the run is idle; ``pause_reading()``/``resume_reading()``
  make a slow consumer.

``RunningEndpoint`` adds introspection: ``channel_processes()``/``channel_topics()``
(the live channel servers, from ``otp.snapshot``), ``subscribers(topic)`` (the PubSub
registry), ``transport_processes()``, ``transport_of(socket_id)``, and ``broadcast``.

Semantics worth knowing:

* ``join`` over a real socket already has ``subscribe_and_join`` semantics: once joined,
  the client receives the topic's broadcasts.
* ``assert_push`` matches any pushed message (a channel push or a broadcast: a client
  cannot tell a fastlane broadcast from a push in V1). ``assert_broadcast`` matches only
  frames encoded as broadcasts (``join_ref`` and ``ref`` both null in V2; kind 2 binary).
* ``refute_*`` wait until every task of the Trio run is blocked
  (``trio.testing.wait_all_tasks_blocked``). On loopback, bytes written by the server are
  readable by the client at once, and Trio polls I/O before declaring the run idle, so
  after that wait every frame the server has written has been buffered by the client.
* Payloads are compared with ``==``; pass ``ANY`` (the default) to accept any payload.
* Everything is stopped when the ``open_endpoint`` block ends (clients closed by the
  endpoint's drain, then the tree stopped), so no process is left behind.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import trio
import trio.testing

import otp

from .client import CloseInfo, Connection, ConnectRejected, Disconnected, connect as connect_websocket
from .endpoint._endpoint import Endpoint
from .protocol import (
    V2_JSON_SERIALIZER,
    InvalidMessageError,
    Message,
    Ref,
    ReplyMessage,
    Serializer,
    negotiate_serializer,
)
from .pubsub._pubsub import PubSub

__all__ = [
    "ANY",
    "DEFAULT_TIMEOUT",
    "CloseInfo",
    "ConnectRejected",
    "Received",
    "RunningEndpoint",
    "SocketClient",
    "connect",
    "open_endpoint",
]


class _Any:
    """Matches any value (``testing.ANY``)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANY"


#: Wildcard for payloads, responses, statuses and refs in assertions.
ANY: Final[Any] = _Any()

#: Seconds an ``assert_*`` waits for a matching frame (real or virtual time).
DEFAULT_TIMEOUT: Final = 5.0

_AUTO: Final[Any] = object()


@dataclass(frozen=True, slots=True)
class Received:
    """One frame the client received: raw data and its decoding (None if it did not decode)."""

    data: str | bytes
    decoded: Message | ReplyMessage | None
    error: str | None = None

    @property
    def is_broadcast(self) -> bool:
        """Whether this frame is encoded as a broadcast (null join_ref and ref; kind 2)."""
        d = self.decoded
        return type(d) is Message and d.ref is None and d.join_ref is None


# -- the endpoint -------------------------------------------------------------------------


class RunningEndpoint:
    """An endpoint started by ``open_endpoint``: its address, clients and introspection."""

    def __init__(self, endpoint: Endpoint, nursery: trio.Nursery) -> None:
        self.endpoint = endpoint
        self.nursery = nursery
        self.clients: list[SocketClient] = []
        self.stopped = False
        assert endpoint.port is not None
        self.port: int = endpoint.port
        self.host: str = endpoint.host

    def __repr__(self) -> str:
        return f"<RunningEndpoint {self.endpoint.name} {self.host}:{self.port}>"

    @property
    def pubsub(self) -> str:
        """The name of the endpoint's PubSub server."""
        return self.endpoint.pubsub_server

    def broadcast(self, topic: str, event: str, payload: Any) -> None:
        """``Endpoint.broadcast``: from the test, i.e. from outside any channel."""
        self.endpoint.broadcast(topic, event, payload)

    def subscribers(self, topic: str) -> list[tuple[otp.Pid, Any]]:
        """The ``(pid, metadata)`` subscriptions to ``topic`` in the endpoint's PubSub."""
        return PubSub.subscribers(self.pubsub, topic)

    def channel_processes(self) -> list[dict[str, Any]]:
        """Every live channel server of this endpoint (``otp.process_snapshot`` dicts).

        Each dict's ``summary`` holds ``topic``, ``channel``, ``joined`` and ``transport``.
        """
        snap = otp.snapshot()
        found: list[dict[str, Any]] = []
        for pool in sorted({self.endpoint.pool_name(m.handler) for m in self.endpoint.sockets}):
            sup = otp.find_process(snap, pool)
            if sup is None:
                continue
            for partition in sup["children"]:
                found.extend(partition["children"])
        return found

    def channel_topics(self) -> list[str]:
        """The sorted topics of the live channel servers (one entry per channel)."""
        return sorted(str((p["summary"] or {}).get("topic")) for p in self.channel_processes())

    def transport_processes(self) -> list[otp.Process]:
        """The live WebSocket connection processes (after their upgrade)."""
        out = []
        for proc in otp.current_node().processes():
            summary = proc.summary() if proc.summary is not None else None
            if isinstance(summary, dict) and summary.get("transport") == "websocket" and "id" in summary:
                out.append(proc)
        return out

    def transport_of(self, socket_id: str) -> otp.Process:
        """The connection process whose socket ``id()`` is ``socket_id``."""
        for proc in self.transport_processes():
            assert proc.summary is not None
            if proc.summary().get("id") == socket_id:
                return proc
        raise LookupError(f"no WebSocket transport with socket id {socket_id!r}")

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop the endpoint (drain first: joined clients are closed with 1012). Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        if otp.whereis(self.endpoint.name) is None:  # already gone (stopped or crashed)
            return
        with trio.fail_after(timeout):
            await self.endpoint.stop()


@asynccontextmanager
async def open_endpoint(endpoint: Endpoint, *, port: int | None = 0) -> AsyncIterator[RunningEndpoint]:
    """Start ``endpoint`` for the block's duration; stop it (and its clients) at the end.

    Runs in the current otp node (the ``node`` test fixture, or ``otp.open_node()``); if
    there is none, a node is opened for the block's duration.

    Args:
        endpoint: The endpoint to start; its name must be unique in the node.
        port: The port to listen on; 0 (the default) picks a free one. ``None`` keeps the
            endpoint's configured port.
    """
    try:
        otp.current_node()
    except RuntimeError:
        async with otp.open_node(), open_endpoint(endpoint, port=port) as running:
            yield running
        return
    if port is not None:
        endpoint.requested_port = port
    await endpoint.start_link()
    async with trio.open_nursery() as nursery:
        running = RunningEndpoint(endpoint, nursery)
        try:
            yield running
        finally:
            with trio.CancelScope(shield=True):
                for client in running.clients:
                    client.resume_reading()
                await running.stop()
                for client in running.clients:
                    await client._abort()
            nursery.cancel_scope.cancel()


# -- the client ---------------------------------------------------------------------------


async def connect(
    ep: RunningEndpoint,
    path: str = "/socket",
    params: Mapping[str, Any] | None = None,
    *,
    vsn: str | None = "2.0.0",
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    subprotocols: Sequence[str] | None = None,
    auth_token: str | None = None,
    query: str | None = None,
    max_message_size: int = 256 * 1024 * 1024,
    receive_buffer: int | None = None,
    timeout: float = 10.0,
) -> SocketClient:
    """Open a WebSocket to ``path + "/websocket"`` of a running endpoint.

    Args:
        ep: From ``open_endpoint``.
        path: The socket mount path.
        params: Query parameters for ``connect``.
        vsn: The serializer version; ``None`` sends no ``vsn`` (V1, as Phoenix defaults).
        headers: Extra request headers, for example ``{"origin": "http://evil.com"}``.
        subprotocols: Offered in ``sec-websocket-protocol``.
        auth_token: Sent as the JS client does: ``phoenix, base64url.bearer.phx.<b64>``.
        query: A raw query string used instead of ``params``/``vsn``.
        max_message_size: The largest frame the client accepts.
        receive_buffer: ``SO_RCVBUF`` for the client socket (to make it a slow reader).
        timeout: Seconds allowed for the TCP connect and the handshake.

    Raises:
        ConnectRejected: The server answered with an HTTP status (403, 400...).
    """
    if query is None:
        items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (params or {}).items()]
        if vsn is not None:
            items.append(("vsn", vsn))
        query = urlencode(items)
    resource = path.rstrip("/") + "/websocket" + (f"?{query}" if query else "")
    serializer: Serializer = negotiate_serializer(vsn) or V2_JSON_SERIALIZER
    conn = await connect_websocket(
        ep.nursery, f"ws://{ep.host}:{ep.port}{resource}",
        headers=headers, subprotocols=subprotocols, auth_token=auth_token,
        max_message_size=max_message_size, receive_buffer=receive_buffer, timeout=timeout,
        serializer=serializer,
    )
    client = SocketClient(conn)
    ep.nursery.start_soon(client._read_loop)
    ep.clients.append(client)
    return client


def _describe(frames: Sequence[Received], limit: int = 20) -> str:
    if not frames:
        return "(none)"
    shown = [repr(f.decoded if f.decoded is not None else f.data) for f in frames[:limit]]
    more = f"\n  ... {len(frames) - limit} more" if len(frames) > limit else ""
    return "\n  " + "\n  ".join(shown) + more


class SocketClient:
    """A WebSocket client speaking the Phoenix channel protocol, with a frame buffer."""

    def __init__(self, connection: Connection) -> None:
        #: The ``channels.client.Connection`` this client reads and writes.
        self.connection = connection
        self.serializer: Serializer = connection.serializer
        #: Frames received and not yet taken by an assertion, oldest first.
        self.unread: collections.deque[Received] = collections.deque()
        #: Every frame received, in order (taken or not).
        self.history: list[Received] = []
        #: The join_ref used for each joined topic (sent with pushes).
        self.join_refs: dict[str, Ref] = {}
        self.closed: CloseInfo | None = None
        self._refs = itertools.count(1)
        self._changed = trio.Event()
        self._reading = trio.Event()
        self._reading.set()
        self._done = trio.Event()

    def __repr__(self) -> str:
        return f"<SocketClient {self.serializer.vsn} unread={len(self.unread)} closed={self.closed}>"

    @property
    def ws(self) -> Any:
        """The trio-websocket ``WebSocketConnection`` underneath (for pings, raw closes)."""
        return self.connection.ws

    @property
    def stream(self) -> Any:
        """The TCP stream underneath (to write raw bytes, or to drop the connection)."""
        return self.connection.stream

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected (None if none)."""
        return self.connection.subprotocol

    @property
    def handshake_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers of the server's 101 response."""
        return self.connection.handshake_headers

    def next_ref(self) -> str:
        """A fresh message ref (``"1"``, ``"2"``...), as the JS client makes them."""
        return str(next(self._refs))

    # -- background reader ---------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                await self._reading.wait()
                data = await self.connection.receive_frame()
                self._add(data)
        except Disconnected as exc:
            self.closed = exc.info
        finally:
            if self.closed is None:
                self.closed = CloseInfo(None, "client stopped")
            self._done.set()
            self._notify()

    def _add(self, data: str | bytes) -> None:
        binary = not isinstance(data, str)
        try:
            received = Received(data, self.serializer.decode_server(data, binary=binary))
        except InvalidMessageError as exc:
            received = Received(data, None, str(exc))
        self.unread.append(received)
        self.history.append(received)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def pause_reading(self) -> None:
        """Stop taking frames off the socket (the kernel buffers fill; the server queues)."""
        self._reading = trio.Event()

    def resume_reading(self) -> None:
        """Take frames off the socket again."""
        self._reading.set()

    async def _abort(self) -> None:
        await self.connection.abort()

    # -- sending ------------------------------------------------------------------------------

    async def send_text(self, text: str) -> None:
        """Send one raw text frame."""
        await self.connection.send_text(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send one raw binary frame."""
        await self.connection.send_bytes(data)

    async def send(self, message: Message) -> None:
        """Encode ``message`` with this client's serializer and send it."""
        await self.connection.send(message)

    async def push(self, topic: str, event: str, payload: Any = None, *, join_ref: Any = _AUTO,
                   ref: Any = _AUTO) -> Ref:
        """Send ``event`` on ``topic``; return its ref (for ``assert_reply``).

        ``join_ref`` defaults to the one this client joined ``topic`` with (null if it did
        not join); pass one explicitly to send a stale or null join_ref. ``bytes``
        payloads go as V2 binary frames.
        """
        msg_ref: Ref = self.next_ref() if ref is _AUTO else ref
        jr: Ref = self.join_refs.get(topic) if join_ref is _AUTO else join_ref
        await self.send(Message(topic, event, {} if payload is None else payload, msg_ref, jr))
        return msg_ref

    async def heartbeat(self) -> Ref:
        """Send a heartbeat (``[null, ref, "phoenix", "heartbeat", {}]``); return its ref."""
        return await self.push("phoenix", "heartbeat", {}, join_ref=None)

    async def join(self, topic: str, payload: Any = None, *, join_ref: Any = _AUTO,
                   timeout: float = DEFAULT_TIMEOUT) -> tuple[str, Any]:
        """Join ``topic`` and wait for the reply; return ``(status, response)``.

        The join_ref is the join's ref (as the JS client does) unless given. On ``"ok"``
        it is remembered for later pushes on the topic.
        """
        ref = self.next_ref()
        jr: Ref = ref if join_ref is _AUTO else join_ref
        await self.send(Message(topic, "phx_join", {} if payload is None else payload, ref, jr))
        reply = await self.assert_reply(ref, ANY, ANY, timeout=timeout)
        if reply.status == "ok":
            self.join_refs[topic] = jr
        return reply.status, reply.payload

    async def leave(self, topic: str, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[str, Any]:
        """Send ``phx_leave`` and wait for its reply; return ``(status, response)``.

        The ``phx_close`` that follows a leave of a joined topic stays buffered.
        """
        ref = await self.push(topic, "phx_leave", {})
        reply = await self.assert_reply(ref, ANY, ANY, timeout=timeout)
        self.join_refs.pop(topic, None)
        return reply.status, reply.payload

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection from the client side and wait for the handshake to end."""
        with trio.move_on_after(DEFAULT_TIMEOUT):
            await self.connection.ws.aclose(code, reason)
            await self._done.wait()

    # -- receiving ----------------------------------------------------------------------------

    async def _take(self, match: Callable[[Received], bool], what: str, timeout: float) -> Received:
        deadline = trio.current_time() + timeout
        while True:
            for i, received in enumerate(self.unread):
                if match(received):
                    del self.unread[i]
                    return received
            if self.closed is not None:
                raise AssertionError(
                    f"expected {what}, but the connection closed ({self.closed}); "
                    f"unread frames:{_describe(list(self.unread))}"
                )
            changed = self._changed
            with trio.move_on_at(deadline):
                await changed.wait()
            if trio.current_time() >= deadline and not changed.is_set():
                raise AssertionError(
                    f"expected {what} within {timeout} s; unread frames:{_describe(list(self.unread))}"
                )

    async def receive_frame(self, timeout: float = DEFAULT_TIMEOUT) -> str | bytes:
        """Take the oldest unread frame, raw (``str`` for text, ``bytes`` for binary)."""
        return (await self._take(lambda r: True, "a frame", timeout)).data

    async def receive(self, timeout: float = DEFAULT_TIMEOUT) -> Message | ReplyMessage:
        """Take the oldest unread frame, decoded (a ``ReplyMessage`` or a pushed ``Message``)."""
        received = await self._take(lambda r: r.decoded is not None, "a decodable frame", timeout)
        assert received.decoded is not None
        return received.decoded

    async def assert_reply(self, ref: Any, status: Any = "ok", response: Any = ANY, *,
                           topic: Any = ANY, join_ref: Any = ANY,
                           timeout: float = DEFAULT_TIMEOUT) -> ReplyMessage:
        """Wait for the reply to the message ``ref``; check its status and response.

        A reply to ``ref`` whose status/response differ fails at once (no waiting).
        """
        def match(r: Received) -> bool:
            d = r.decoded
            return type(d) is ReplyMessage and d.ref == ref and topic == d.topic

        received = await self._take(match, f"a reply to ref {ref!r}", timeout)
        reply = received.decoded
        assert type(reply) is ReplyMessage
        if status != reply.status or response != reply.payload or join_ref != reply.join_ref:
            raise AssertionError(
                f"reply to ref {ref!r}: expected status {status!r}, response {response!r}, "
                f"join_ref {join_ref!r}; got {reply!r}"
            )
        return reply

    def _push_match(self, topic: Any, event: Any, payload: Any, join_ref: Any,
                    broadcast: bool) -> Callable[[Received], bool]:
        def match(r: Received) -> bool:
            d = r.decoded
            return (
                type(d) is Message
                and topic == d.topic
                and event == d.event
                and payload == d.payload
                and join_ref == d.join_ref
                and (not broadcast or r.is_broadcast)
            )

        return match

    async def assert_push(self, topic: Any, event: Any, payload: Any = ANY, *, join_ref: Any = ANY,
                          timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Wait for a pushed message (push or broadcast) matching topic/event/payload."""
        received = await self._take(self._push_match(topic, event, payload, join_ref, False),
                                    f"a push {event!r} on {topic!r} with payload {payload!r}", timeout)
        assert type(received.decoded) is Message
        return received.decoded

    async def assert_broadcast(self, topic: Any, event: Any, payload: Any = ANY, *,
                               timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Wait for a frame encoded as a broadcast (null join_ref and ref) matching."""
        received = await self._take(self._push_match(topic, event, payload, ANY, True),
                                    f"a broadcast {event!r} on {topic!r} with payload {payload!r}",
                                    timeout)
        assert type(received.decoded) is Message
        return received.decoded

    async def _refute(self, match: Callable[[Received], bool], what: str) -> None:
        await trio.testing.wait_all_tasks_blocked()
        found = [r for r in self.unread if match(r)]
        if found:
            raise AssertionError(f"expected no {what}, got:{_describe(found)}")

    async def refute_push(self, topic: Any = ANY, event: Any = ANY, payload: Any = ANY) -> None:
        """Fail if a matching push/broadcast arrived (after the run settles)."""
        await self._refute(self._push_match(topic, event, payload, ANY, False),
                           f"push {event!r} on {topic!r}")

    async def refute_broadcast(self, topic: Any = ANY, event: Any = ANY, payload: Any = ANY) -> None:
        """Fail if a matching broadcast frame arrived (after the run settles)."""
        await self._refute(self._push_match(topic, event, payload, ANY, True),
                           f"broadcast {event!r} on {topic!r}")

    async def refute_reply(self, ref: Any = ANY) -> None:
        """Fail if a reply to ``ref`` arrived (after the run settles)."""
        await self._refute(lambda r: type(r.decoded) is ReplyMessage and ref == r.decoded.ref,
                           f"reply to ref {ref!r}")

    async def refute_any(self) -> None:
        """Fail if any unread frame is buffered (after the run settles)."""
        await self._refute(lambda r: True, "frame")

    async def assert_closed(self, code: int | None = None, *,
                            timeout: float = DEFAULT_TIMEOUT) -> CloseInfo:
        """Wait until the server closed the connection; check the close code.

        Frames still buffered stay readable after the close.
        """
        with trio.move_on_after(timeout):
            await self._done.wait()
        if self.closed is None:
            raise AssertionError(
                f"expected the connection to close{'' if code is None else f' with {code}'} within "
                f"{timeout} s; unread frames:{_describe(list(self.unread))}"
            )
        if code is not None and self.closed.code != code:
            raise AssertionError(f"expected close code {code}, got {self.closed}")
        return self.closed

    async def settle(self) -> None:
        """Wait until every task of the run is blocked (all written frames are buffered)."""
        await trio.testing.wait_all_tasks_blocked()
