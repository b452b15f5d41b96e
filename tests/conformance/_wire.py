"""Wire-level clients for the Phoenix conformance tests: ports of Phoenix's test clients.

``WebsocketClient`` ports ``test/support/websocket_client.exs`` (phoenixframework/phoenix):
refs count from ``1`` and join_refs from ``11`` ("use different initial join_ref from ref
to make sure the server is not coupling them"), a topic's join_ref is sent with every
later message on it (``to_string(nil)`` = ``""`` in V2 when the topic was never joined),
pings are answered with pongs and also delivered, a close frame ends the client. It
speaks the frames itself (wsproto over a Trio TCP stream) and encodes and decodes the V1
and V2 serializers by hand, so that nothing of ours is used to check ours.

``http_request`` ports ``test/support/http_client.exs``: one request per connection.

Received frames go to a mailbox; ``assert_receive``/``refute_receive`` mirror ExUnit's:
a pattern matches a ``Msg`` field by field, and dict patterns match partially (as Elixir
map patterns do). ``refute_receive`` waits until the run is idle
(``trio.testing.wait_all_tasks_blocked``): on loopback every byte the server has written
is then in the client's mailbox.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import h11
import trio
import trio.testing
import wsproto
import wsproto.events as ev

__all__ = [
    "ANY",
    "Binary",
    "Closed",
    "Control",
    "HTTPResponse",
    "Msg",
    "Rejected",
    "Text",
    "WebsocketClient",
    "M",
    "http_request",
    "matches",
]

#: How long an ``assert_receive`` waits at most (a bound for failures, not a sleep).
RECEIVE_TIMEOUT = 5.0


class _Any:
    def __repr__(self) -> str:
        return "ANY"


#: Matches any value in a pattern (Elixir's ``_``).
ANY: Any = _Any()


@dataclass(frozen=True)
class Binary:
    """A binary payload (Elixir's ``{:binary, data}``)."""

    data: bytes


@dataclass(frozen=True)
class Msg:
    """A decoded channel frame (``Phoenix.Socket.Message``; replies have event ``phx_reply``)."""

    topic: str
    event: str
    payload: Any
    ref: Any = None
    join_ref: Any = None


@dataclass(frozen=True)
class Text:
    """A raw text frame (the ``:noop`` serializer's ``{:text, text}``)."""

    text: str


@dataclass(frozen=True)
class Control:
    """A ping or pong frame (``{:ping, data}`` / ``{:pong, data}``)."""

    opcode: str
    payload: bytes


@dataclass(frozen=True)
class Closed:
    """The server's close frame."""

    code: int | None
    reason: str | None


class Rejected(Exception):
    """The upgrade was answered with an HTTP status (Mint's ``UpgradeFailureError``)."""

    def __init__(self, status_code: int, headers: list[tuple[str, str]], body: bytes) -> None:
        super().__init__(f"upgrade refused with HTTP {status_code}: {body!r}")
        self.status_code = status_code
        self.headers = headers
        self.body = body


def matches(pattern: Any, value: Any) -> bool:
    """Elixir-style match: ``ANY`` matches anything, dicts match partially, the rest by ``==``."""
    if pattern is ANY:
        return True
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if dataclasses.is_dataclass(pattern) and not isinstance(pattern, type):
        return type(value) is type(pattern) and all(
            matches(getattr(pattern, f.name), getattr(value, f.name)) for f in dataclasses.fields(pattern)
        )
    return bool(pattern == value)


def M(**fields: Any) -> Callable[[Any], bool]:
    """A pattern on a ``Msg``: only the given fields are checked."""

    def match(value: Any) -> bool:
        return isinstance(value, Msg) and all(matches(p, getattr(value, k)) for k, p in fields.items())

    match.__doc__ = f"%Message{{{', '.join(f'{k}: {v!r}' for k, v in fields.items())}}}"
    return match


# -- serializers (client side) --------------------------------------------------------------


def _encode(vsn: str, msg: Msg) -> str | bytes:
    if vsn.startswith("1."):
        return json.dumps({"topic": msg.topic, "event": msg.event, "payload": msg.payload, "ref": msg.ref})
    join_ref = "" if msg.join_ref is None else str(msg.join_ref)
    ref = "" if msg.ref is None else str(msg.ref)
    if isinstance(msg.payload, Binary):
        parts = [join_ref.encode(), ref.encode(), msg.topic.encode(), msg.event.encode()]
        return bytes([0, *(len(p) for p in parts)]) + b"".join(parts) + msg.payload.data
    return json.dumps([join_ref, ref, msg.topic, msg.event, msg.payload])


def _decode_text(vsn: str, text: str) -> Msg:
    data = json.loads(text)
    if vsn.startswith("1."):
        return Msg(data["topic"], data["event"], data["payload"], data.get("ref"), data.get("join_ref"))
    join_ref, ref, topic, event, payload = data[:5]
    return Msg(topic, event, payload, ref, join_ref)


def _decode_binary(data: bytes) -> Msg:
    kind = data[0]
    if kind == 0:  # push: join_ref, topic, event
        sizes = data[1:4]
        pos, parts = 4, []
        for n in sizes:
            parts.append(data[pos:pos + n].decode())
            pos += n
        return Msg(parts[1], parts[2], Binary(data[pos:]), None, parts[0])
    if kind == 1:  # reply: join_ref, ref, topic, status
        sizes = data[1:5]
        pos, parts = 5, []
        for n in sizes:
            parts.append(data[pos:pos + n].decode())
            pos += n
        payload = {"status": parts[3], "response": Binary(data[pos:])}
        return Msg(parts[2], "phx_reply", payload, parts[1], parts[0])
    if kind == 2:  # broadcast: topic, event
        sizes = data[1:3]
        pos, parts = 3, []
        for n in sizes:
            parts.append(data[pos:pos + n].decode())
            pos += n
        return Msg(parts[0], parts[1], Binary(data[pos:]), None, None)
    raise ValueError(f"unknown binary frame kind {kind}")


# -- the WebSocket client -----------------------------------------------------------------------


@dataclass(eq=False)
class WebsocketClient:
    """Phoenix's ``Phoenix.Integration.WebsocketClient``, on wsproto.

    ``serializer`` is a vsn (``"1.0.0"``/``"2.0.0"``) or ``None`` for ``:noop`` (raw frames,
    for ``Phoenix.Socket.Transport`` sockets).
    """

    stream: trio.SocketStream
    ws: wsproto.WSConnection
    serializer: str | None
    mailbox: list[Any] = field(default_factory=list)
    closed: trio.Event = field(default_factory=trio.Event)
    topics: dict[str, int] = field(default_factory=dict)
    join_ref: int = 11
    ref: int = 1
    _changed: trio.Event = field(default_factory=trio.Event)
    _send_lock: trio.Lock = field(default_factory=trio.Lock)

    @classmethod
    async def connect(cls, nursery: trio.Nursery, port: int, path: str, serializer: str | None,
                      headers: Sequence[tuple[str, str]] = ()) -> WebsocketClient:
        """Open ``ws://127.0.0.1:<port><path>``; raise ``Rejected`` on an HTTP answer."""
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        extra = [(k, v) for k, v in headers if k.lower() != "sec-websocket-protocol"]
        protocols = [p.strip() for k, v in headers if k.lower() == "sec-websocket-protocol" for p in v.split(",")]
        await stream.send_all(ws.send(ev.Request(host=f"127.0.0.1:{port}", target=path,
                                                 extra_headers=[(k.encode(), v.encode()) for k, v in extra],
                                                 subprotocols=protocols)))
        rejected: tuple[int, list[tuple[str, str]]] | None = None
        body = b""
        with trio.fail_after(RECEIVE_TIMEOUT):
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    await stream.aclose()
                    if rejected is not None:
                        raise Rejected(rejected[0], rejected[1], body)
                    raise EOFError("the server closed the connection during the handshake")
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, ev.AcceptConnection):
                        client = cls(stream, ws, serializer)
                        nursery.start_soon(client._reader)
                        return client
                    if isinstance(event, ev.RejectConnection):
                        rejected = (event.status_code,
                                    [(k.decode().lower(), v.decode()) for k, v in event.headers])
                        if not event.has_body:
                            await stream.aclose()
                            raise Rejected(rejected[0], rejected[1], b"")
                    elif isinstance(event, ev.RejectData):
                        body += event.data
                        if event.body_finished:
                            await stream.aclose()
                            assert rejected is not None
                            raise Rejected(rejected[0], rejected[1], body)

    # -- reading -----------------------------------------------------------------------------

    async def _reader(self) -> None:
        text: list[str] = []
        binary: list[bytes] = []
        try:
            while True:
                try:
                    data = await self.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if not data:
                    self.ws.receive_data(None)
                    return
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, ev.TextMessage):
                        text.append(event.data)
                        if event.message_finished:
                            self._deliver_text("".join(text))
                            text.clear()
                    elif isinstance(event, ev.BytesMessage):
                        binary.append(bytes(event.data))
                        if event.message_finished:
                            self._deliver_binary(b"".join(binary))
                            binary.clear()
                    elif isinstance(event, ev.Ping):
                        # "reply to ping with pong", and deliver the ping too
                        await self._send_bytes(self.ws.send(event.response()))
                        self._put(Control("ping", bytes(event.payload)))
                    elif isinstance(event, ev.Pong):
                        self._put(Control("pong", bytes(event.payload)))
                    elif isinstance(event, ev.CloseConnection):
                        self._put(Closed(event.code, event.reason))
                        if self.ws.state is wsproto.connection.ConnectionState.REMOTE_CLOSING:
                            await self._send_bytes(self.ws.send(event.response()))
                        await self.stream.aclose()
                        return
        finally:
            with trio.CancelScope(shield=True):
                await self.stream.aclose()
            self.closed.set()
            self._notify()

    def _deliver_text(self, text: str) -> None:
        self._put(Text(text) if self.serializer is None else _decode_text(self.serializer, text))

    def _deliver_binary(self, data: bytes) -> None:
        self._put(Binary(data) if self.serializer is None else _decode_binary(data))

    def _put(self, item: Any) -> None:
        self.mailbox.append(item)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def assert_receive(self, pattern: Any, timeout: float = RECEIVE_TIMEOUT) -> Any:
        """Take the first mailbox item matching ``pattern`` (a value, or a predicate), waiting for it."""
        test = pattern if callable(pattern) and not isinstance(pattern, type) else (lambda v: matches(pattern, v))
        with trio.move_on_after(timeout):
            while True:
                for i, item in enumerate(self.mailbox):
                    if test(item):
                        del self.mailbox[i]
                        return item
                await self._changed.wait()
        what = getattr(pattern, "__doc__", None) if callable(pattern) else repr(pattern)
        raise AssertionError(f"expected to receive {what} within {timeout} s; mailbox: {self.mailbox!r}")

    async def refute_receive(self, pattern: Any) -> None:
        """Fail if an item matching ``pattern`` is (or, once the run is idle, was) received."""
        await trio.testing.wait_all_tasks_blocked()
        test = pattern if callable(pattern) else (lambda v: matches(pattern, v))
        found = [item for item in self.mailbox if test(item)]
        assert not found, f"expected not to receive {pattern!r}, got {found!r}"

    async def assert_down(self, timeout: float = RECEIVE_TIMEOUT) -> None:
        """Wait until the connection has ended (``assert_receive {:DOWN, ...}`` on the client)."""
        with trio.fail_after(timeout):
            await self.closed.wait()

    # -- sending -----------------------------------------------------------------------------------

    async def _send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    async def send(self, frame: Any) -> None:
        """Send a raw frame: ``str`` (text), ``bytes`` (binary), ``Control`` (ping/pong), or a ``Msg``."""
        if isinstance(frame, Msg):
            await self.send_event(frame.topic, frame.event, frame.payload)
            return
        if isinstance(frame, Control):
            out = self.ws.send(ev.Ping(frame.payload) if frame.opcode == "ping" else ev.Pong(frame.payload))
        elif isinstance(frame, str):
            out = self.ws.send(ev.TextMessage(frame))
        else:
            out = self.ws.send(ev.BytesMessage(bytes(frame)))
        await self._send_bytes(out)

    async def send_event(self, topic: str, event: str, payload: Any) -> str:
        """Send a channel message, with the next ref and the topic's join_ref; return the ref."""
        assert self.serializer is not None
        if event == "phx_join":
            join_ref: int | None = self.join_ref
            self.topics[topic] = self.join_ref
            self.join_ref += 1
        else:
            join_ref = self.topics.get(topic)
        ref = str(self.ref)
        self.ref += 1
        msg = Msg(topic, event, payload, ref, None if join_ref is None else str(join_ref))
        frame = _encode(self.serializer, msg)
        await self.send(frame)
        return ref

    async def join(self, topic: str, payload: Any) -> str:
        return await self.send_event(topic, "phx_join", payload)

    async def leave(self, topic: str, payload: Any) -> str:
        return await self.send_event(topic, "phx_leave", payload)

    async def send_heartbeat(self) -> str:
        return await self.send_event("phoenix", "heartbeat", {})

    async def close(self) -> None:
        """Send a close frame and close the TCP connection (Phoenix's client does both)."""
        if self.ws.state is wsproto.connection.ConnectionState.OPEN:
            await self._send_bytes(self.ws.send(ev.CloseConnection(1000)))
        await self.stream.aclose()


# -- HTTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HTTPResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        return json.loads(self.body)


async def http_request(port: int, method: str, target: str, headers: Mapping[str, str] | None = None,
                       body: bytes = b"") -> HTTPResponse:
    """One request on a fresh connection (Phoenix's ``HTTPClient.request``)."""
    conn = h11.Connection(h11.CLIENT)
    hs = [("host", f"127.0.0.1:{port}"), *(headers or {}).items()]
    if method in ("POST", "PUT") or body:
        hs.append(("content-length", str(len(body))))
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        out = conn.send(h11.Request(method=method, target=target, headers=hs))
        if body:
            out += conn.send(h11.Data(data=body))
        out += conn.send(h11.EndOfMessage())
        await stream.send_all(out)
        status, resp_headers, chunks = 0, [], []
        with trio.fail_after(RECEIVE_TIMEOUT * 2):
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    resp_headers = [(k.decode().lower(), v.decode()) for k, v in event.headers]
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return HTTPResponse(status, resp_headers, b"".join(chunks))
    finally:
        await stream.aclose()


def query(params: Mapping[str, Any]) -> str:
    """``URI.encode_query``."""
    return urlencode([(str(k), str(v)) for k, v in params.items()])
