"""The long-poll transport: HTTP sessions that carry channels or raw transports (Phoenix.Transports.LongPoll).

A long-poll client has no connection of its own; it has a *session*, a supervised process
(one per client, under ``<endpoint>.LongPoll``) that plays the part the WebSocket
connection process plays: it runs the socket's ``connect``, owns a
:class:`~channels.channel._session.SocketSession`, subscribes the socket id, and handles the
channels' messages. What the channels push is appended to the session's buffer instead of
being written to a socket; the client's HTTP requests, served by ordinary connection
processes, come and take it (reference §4):

* ``GET`` without a valid session token starts a session and answers
  ``{"status":410,"token":T,"messages":[]}`` (410 means "new session" here); with one it
  returns what is buffered (200), or waits up to ``window_ms`` for something (then 200, or
  204 when nothing came).
* ``POST`` publishes one text frame, or up to 100 ndjson lines, each dispatched to the
  session and acknowledged within ``pubsub_timeout_ms`` (``{"status":200}``, else ``408``).
* Every answer is HTTP 200 with the logical status in the JSON body, ``cache-control:
  no-store`` and CORS headers; ``OPTIONS`` is a CORS preflight; a refused origin is
  ``{"status":403}``.
* A session that is not polled for ``1.5 * window_ms`` stops with
  ``Shutdown("inactive")``, and its channels with it.

Buffer hand-over: the buffer lives in a small object shared by the session and the HTTP
processes (the fastlane writes to it directly, like it writes to a WebSocket). A poll
takes it in one synchronous step, so a poll that times out can never lose messages that
were handed to it too late; the session only *wakes* a waiting poll (a message). Client
frames do go through the session process (a call per frame), so they are handled in
order with the channels' messages, exactly as on a WebSocket.

Session tokens are ``channels.token`` (Phoenix.Token: PBKDF2 + HMAC-SHA256) signed with the
endpoint's ``secret_key_base``; they expire after ``max_age`` and are bound to the
endpoint instance (a random id per start of the long-poll supervisor), the node, the
session's pid and a random per-session id.

Example::

    channels.SocketMount("/socket", UserSocket, longpoll=True)   # or LongPollOptions(window_ms=5_000)

    # phoenix.js: new Socket("/socket", {transport: LongPoll}) or {longPollFallbackMs: 2500}

Where this differs from Phoenix, on purpose:

* a poll parked on a session that dies answers ``{"status":410}`` at once (Phoenix answers
  204 after the window and 410 on the next poll); the JS client recovers the same way;
* a frame the serializer cannot decode stops the session with
  ``Shutdown("invalid_message")`` and the POST answers ``{"status":400}`` (Phoenix crashes
  the session and answers 200), like the WebSocket transport's 1011 close;
* a session holding more than ``max_buffer_bytes`` for its client stops with
  ``Shutdown("overflow")`` (Phoenix's buffer is unbounded);
* ``pubsub_timeout_ms`` also bounds the wait for the session's acknowledgement of each
  POSTed message (then 408); Phoenix waits ``window_ms`` there.

A request that reaches a node without the session is forwarded to the node that has it,
as Phoenix does (below).

Across nodes (``serve --workers N``, or nodes sharing a Redis PubSub): a session lives on
the node that created it, and its token names that node (its PubSub node name). A poll or
a POST that lands on another node is forwarded through PubSub, as Phoenix's LongPoll
does: the receiving node publishes the request to the session node's forwarder
(``<endpoint>.LongPoll.Forwarder``, ``PubSub.direct_broadcast`` on the topic
``phx:lp:<endpoint>``) and waits on a reply topic of its own. The forwarder acknowledges
at once and runs the request against the local session in a helper process (the same code
as a local request); the answer comes back whole (status and body). No acknowledgement
within ``pubsub_timeout_ms`` (the node is gone, or is not in the cluster) means the
session is gone: ``{"status":410}``, and the client starts a new session. With the local
adapter (a single node) nothing is forwarded.

A raw ``channels.Transport`` (no channel protocol) is served the same way: the session runs
its callbacks instead of a ``SocketSession``; each POSTed body (or ndjson line) is one
``handle_in``, text the transport replies or pushes is the polls' ``messages``.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

import otp

from .. import telemetry, token as _token
from ..http import (
    LONGPOLL_HEADERS,
    BodyReader,
    Request,
    Response,
    build_connect_info,
    longpoll_bad_request,
    longpoll_preflight,
    longpoll_response,
    parse_vsn,
)
from ..protocol import (
    Frame,
    InvalidMessageError,
    LongPollBodyError,
    Opcode,
    Serializer,
    encode_longpoll_response,
    iter_longpoll_post,
)
from ..pubsub._fastlane import OrderedSink
from ..pubsub._pubsub import PubSub
from ._messages import Accept, ErrorHandler, Refuse, SessionHandler, TransportIO
from ._transport import Ping, Transport, interpret_result

__all__ = ["LongPollConnect", "LongPollMount", "LongPollOptions", "handle_longpoll", "longpoll_children",
           "session_salt"]

logger = logging.getLogger("channels.transport")
refusals = otp.RateLimitedLog(logger)

#: The header the JS client (1.9+) sends the session token in; it wins over ``?token=``.
TOKEN_HEADER = "x-phoenix-longpoll-token"
#: The header carrying the JS client's ``authToken`` (``connect_info["auth_token"]``).
AUTH_TOKEN_HEADER = "x-phoenix-authtoken"
_TOKEN_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class LongPollOptions:
    """Per-socket long-poll settings (Phoenix's ``longpoll: [...]`` options, §4.1)."""

    #: How long a poll waits for messages (ms). A session not polled for 1.5 * this long stops.
    window_ms: int = 10_000
    #: How long a POST waits for the session to take each message (ms): a message it has
    #: not acknowledged by then answers ``{"status":408}``; and how long a request forwarded
    #: to the node that holds its session waits for that node's acknowledgement: without one
    #: the session counts as gone (410).
    pubsub_timeout_ms: int = 2_000
    #: Seconds a session token stays valid (Phoenix's ``crypto: [max_age: ...]``, 2 weeks).
    max_age: float = 1_209_600
    #: Bytes of messages a session may hold for its client between polls; beyond that the
    #: client is not keeping up and the session stops with ``Shutdown("overflow")`` (the
    #: long-poll form of the WebSocket slow-consumer close).
    max_buffer_bytes: int = 8 * 1024 * 1024
    #: Where long-poll is served, below the mount's path (may hold ``:vars``, which join the
    #: params), as ``WebSocketOptions.path``.
    path: str = "/longpoll"
    #: What a ``connect`` that returned ``Refuse(reason)`` answers (default: ``{"status":403}``);
    #: see ``WebSocketOptions.error_handler``.
    error_handler: ErrorHandler | None = None

    def __post_init__(self) -> None:
        if self.window_ms <= 0:
            raise ValueError(f"window_ms must be positive, got {self.window_ms!r}")
        if self.pubsub_timeout_ms <= 0:
            raise ValueError(f"pubsub_timeout_ms must be positive, got {self.pubsub_timeout_ms!r}")
        if self.max_age <= 0:
            raise ValueError(f"max_age must be positive, got {self.max_age!r}")
        if self.max_buffer_bytes <= 0:
            raise ValueError(f"max_buffer_bytes must be positive, got {self.max_buffer_bytes!r}")

    @property
    def window(self) -> float:
        """``window_ms`` in seconds."""
        return self.window_ms / 1000

    @property
    def dispatch_timeout(self) -> float:
        """``pubsub_timeout_ms`` in seconds."""
        return self.pubsub_timeout_ms / 1000

    @property
    def inactive_after(self) -> float:
        """Seconds without a poll after which a session stops (1.5 * ``window_ms``)."""
        return 1.5 * self.window_ms / 1000


#: Run the socket's ``connect`` in the session process ``transport_pid`` with ``(params,
#: connect_info, vsn, transport_pid)``: the serializer and the session opener, or the
#: ``Refuse`` (its reason for the ``error_handler``, None for a plain refusal).
#: The endpoint makes it; long-poll does not import the channel layer.
LongPollConnect = Callable[
    [Mapping[str, Any], Mapping[str, Any], "str | None", otp.Pid],
    Awaitable["tuple[Serializer, Callable[[TransportIO], SessionHandler]] | Refuse"],
]


class _HasPubSub(Protocol):
    @property
    def pubsub_server(self) -> str: ...


def session_salt(endpoint: _HasPubSub) -> str:
    """The ``channels.token`` salt of the endpoint's long-poll session tokens."""
    return f"{endpoint.pubsub_server}.longpoll"


@dataclass(frozen=True, slots=True)
class LongPollMount:
    """What long-poll needs of the endpoint and of one socket mount, as data and callables."""

    endpoint_name: str
    pubsub_server: str
    secret_key_base: str
    #: The user socket's name, for logs.
    handler_name: str
    connect_info: Sequence[str]
    auth_token: bool
    options: LongPollOptions
    connect: LongPollConnect
    #: The mount itself: a session token is valid on the mount that made it only.
    identity: object
    #: A raw transport class: the session runs it instead of ``connect``'s channel session.
    transport: type[Transport] | None = None
    #: The endpoint's connection slots (``max_connections``): each session holds one.
    slots: SessionSlots | None = None


class SessionSlots(Protocol):
    """The endpoint's ``max_connections`` counter, as long-poll sessions use it."""

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


_UNAVAILABLE = Response(503, [("content-type", "text/plain; charset=utf-8"), ("retry-after", "5"),
                              *LONGPOLL_HEADERS], b"too many connections")


# -- shared state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _NowAvailable:
    """session → waiting poll: the buffer is no longer empty."""

    ref: otp.Ref


@dataclass(frozen=True, slots=True)
class _Dispatch:
    """poll → session (call): handle this client frame."""

    data: bytes
    binary: bool


@dataclass(frozen=True, slots=True)
class _CheckInactive:
    """session → itself: has the client polled lately?"""


@dataclass(frozen=True, slots=True)
class _Overflow:
    """sink → session: the buffer went over ``max_buffer_bytes``."""

    size: int


class _LongPollIO(OrderedSink):
    """The ``TransportIO`` and fastlane ``Sink`` of one session, shared with the polls."""

    encoding = "raw"

    def __init__(self, node: otp.Node, pid: otp.Pid, session_id: str, mount: object,
                 max_buffer_bytes: int) -> None:
        self.node = node
        self.pid = pid
        self.session_id = session_id
        self.mount = mount
        self.sink = self
        self.buffer: list[bytes] = []
        self.buffered_bytes = 0
        self.max_buffer_bytes = max_buffer_bytes
        self.overflowed = False
        self.waiter: tuple[otp.Pid, otp.Ref] | None = None
        self.last_poll = trio.current_time()
        self.alive = True
        self.close_code: int | None = None
        self.exit_reason: otp.ExitReason = otp.NORMAL
        self.skipped_binary = 0
        #: The mount's options (a forwarded request is served with them).
        self.options: LongPollOptions | None = None

    # TransportIO / Sink

    def write_frame(self, frame: Frame) -> None:
        self._append(frame, frame.data)

    # OrderedSink: pushes and broadcasts are appended in order with what the session has
    # queued (``PushFrame`` in its mailbox).

    def transport_process(self) -> otp.Process | None:
        return self.node.process(self.pid)

    def write_now(self, frame: Frame, data: bytes | None, broadcast: bool) -> None:
        self._append(frame, frame.data if data is None else data)

    def close(self, code: int, reason: otp.ExitReason) -> None:
        if self.close_code is None:
            self.close_code = code
            self.exit_reason = reason

    def _append(self, frame: Frame, data: bytes) -> None:
        if frame.opcode is not Opcode.TEXT:
            # As in Phoenix: long-poll carries text frames only (binary is WebSocket-only).
            self.skipped_binary += 1
            logger.warning("long-poll session %s: dropping a binary frame (%d bytes); binary "
                           "payloads are only supported over WebSocket", self.pid, len(data))
            return
        if self.overflowed:
            return
        self.buffered_bytes += len(data)
        if self.buffered_bytes > self.max_buffer_bytes:
            self.overflowed = True
            self.node.send(self.pid, _Overflow(self.buffered_bytes))
            return
        self.buffer.append(data)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            self.node.send(waiter[0], _NowAvailable(waiter[1]))

    # polls

    def take(self) -> list[bytes]:
        taken, self.buffer = self.buffer, []
        self.buffered_bytes = 0
        return taken


@dataclass(eq=False)
class _Registry:
    """The live sessions of one endpoint, by session id (in ``_REGISTRIES``)."""

    endpoint_id: str
    sessions: dict[str, _LongPollIO] = field(default_factory=dict)
    #: Requests this node forwarded to another, and requests it served for another.
    forwarded_out: int = 0
    forwarded_in: int = 0


#: Per node, by endpoint name: its live long-poll sessions.
_REGISTRIES: otp.Table[_Registry] = otp.Table("longpoll")


def _supervisor_name(endpoint_name: str) -> str:
    return f"{endpoint_name}.LongPoll"


def longpoll_children(endpoint_name: str, pubsub_server: str | None = None) -> list[otp.ChildSpec]:
    """The endpoint's long-poll children: the DynamicSupervisor ``<name>.LongPoll`` of sessions,
    and (given the endpoint's PubSub) the forwarder that serves requests from other nodes.

    Each start draws a new random endpoint id: tokens of an earlier start are refused.
    """
    name = _supervisor_name(endpoint_name)

    async def start() -> otp.Pid:
        node = otp.current_node()
        registry = _Registry(secrets.token_urlsafe(16))
        _REGISTRIES.put(node, endpoint_name, registry)
        pid = await otp.DynamicSupervisor.start_link(name=name)
        proc = node.process(pid)
        assert proc is not None

        def forget(_p: otp.Process, _r: Any) -> None:
            _REGISTRIES.pop(node, endpoint_name, registry)

        proc.add_exit_hook(forget)
        return pid

    children = [otp.ChildSpec(id="longpoll", start=start, type=otp.ChildType.SUPERVISOR,
                              behaviour="DynamicSupervisor")]
    if pubsub_server is not None:

        async def start_forwarder() -> otp.Pid:
            return await _Forwarder.start_link((endpoint_name, pubsub_server), name=f"{name}.Forwarder")

        children.append(otp.ChildSpec(id="longpoll_forwarder", start=start_forwarder, behaviour="Forwarder"))
    return children


# -- the session process ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SessionArgs:
    mount: LongPollMount
    params: Mapping[str, Any]
    connect_info: Mapping[str, Any]
    vsn: str | None
    session_id: str
    registry: _Registry


@dataclass(frozen=True, slots=True)
class _Connect:
    """poll → session (call): run the socket's ``connect``; the answer is True, or the ``Refuse``."""


class _RawSession:
    """A raw ``Transport`` in a long-poll session: its callbacks, and what they push."""

    def __init__(self, transport: Transport, state: Any, io: _LongPollIO) -> None:
        self.transport = transport
        self.state = state
        self.io = io
        self.name = type(transport).__qualname__

    def summary(self) -> dict[str, Any]:
        return {"socket": self.name}

    def _apply(self, callback: str, res: Any) -> otp.ExitReason | None:
        self.state, data, stop = interpret_result(self.name, callback, res)
        if isinstance(data, str):
            self.io.write_frame(Frame(Opcode.TEXT, data.encode()))
        elif isinstance(data, bytes):
            self.io.write_frame(Frame(Opcode.BINARY, data))  # dropped and logged: text only
        elif isinstance(data, Ping):
            logger.debug("long-poll session %s: %s sent a ping; long-poll has no control frames",
                         self.io.pid, self.name)
        return stop

    async def handle_in(self, data: str | bytes) -> otp.ExitReason | None:
        return self._apply("handle_in", await self.transport.handle_in(data, self.state))

    async def handle_info(self, msg: Any) -> otp.ExitReason | None:
        return self._apply("handle_info", await self.transport.handle_info(msg, self.state))

    async def terminate(self, reason: otp.ExitReason) -> None:
        await self.transport.terminate(reason, self.state)


@dataclass(eq=False)
class _State:
    args: _SessionArgs
    io: _LongPollIO | None = None
    session: SessionHandler | None = None
    serializer: Serializer | None = None
    raw: _RawSession | None = None


class _LongPollSession(otp.GenServer[_State]):
    """One long-poll client: the socket, its channels' output buffer, its inactivity timer.

    ``init`` does nothing, so that the supervisor is never held up by a slow ``connect``:
    the request that creates the session then calls ``_Connect``, which runs the socket's
    ``connect`` in the session (its pid is the socket's transport pid).
    """

    behaviour_name = "LongPollSession"

    async def init(self, arg: _SessionArgs) -> otp.Ok[_State]:
        return otp.Ok(_State(arg))

    async def _connect(self, state: _State) -> Refuse | None:
        me = otp.current_process()
        assert me is not None
        arg = state.args
        mount = arg.mount
        io = _LongPollIO(me.node, me.pid, arg.session_id, mount.identity, mount.options.max_buffer_bytes)
        io.options = mount.options
        if mount.transport is not None:
            refused = await self._connect_raw(state, mount.transport, io)
            if refused is not None:
                return refused
        else:
            connected = await mount.connect(arg.params, arg.connect_info, arg.vsn, me.pid)
            if isinstance(connected, Refuse):
                return connected
            state.serializer, open_session = connected
            state.session = open_session(io)  # also subscribes this process to the socket id
        state.io = io
        sessions = arg.registry.sessions
        sessions[arg.session_id] = io

        def forget(_p: otp.Process, reason: Any) -> None:
            io.alive = False
            if sessions.get(io.session_id) is io:
                del sessions[io.session_id]
            if telemetry.ACTIVE:
                meta = {"endpoint": mount.endpoint_name, "transport": "longpoll"}
                telemetry.execute(telemetry.SOCKET_CLOSED, {"count": 1}, meta)
                if reason == otp.Shutdown("overflow"):
                    telemetry.execute(telemetry.SLOW_CLIENT_CLOSED, {"count": 1}, meta)

        me.add_exit_hook(forget)
        otp.send_after(mount.options.inactive_after, me.pid, _CheckInactive())
        return None

    async def _connect_raw(self, state: _State, cls: type[Transport], io: _LongPollIO) -> Refuse | None:
        arg = state.args
        transport = cls()
        transport.transport = "longpoll"
        result: Any = await transport.connect(arg.params, arg.connect_info)
        if isinstance(result, Refuse):
            logger.info("%s refused a connection: %r", arg.mount.handler_name, result.reply)
            return result
        if not isinstance(result, Accept):
            logger.error("%s.connect returned an invalid value (expected Accept(state) | Refuse()), got: %r",
                         arg.mount.handler_name, result)
            return Refuse()
        state.raw = _RawSession(transport, await transport.init(result.socket), io)
        return None

    async def terminate(self, reason: otp.ExitReason, state: _State) -> None:
        if state.raw is not None:
            await state.raw.terminate(reason)

    def format_status(self, state: _State) -> Any:
        io = state.io
        session = state.session or state.raw
        if io is None or session is None:
            return {"transport": "longpoll", "state": "connecting"}
        return {
            "transport": "longpoll",
            **session.summary(),
            "buffered": len(io.buffer),
            "buffered_bytes": io.buffered_bytes,
            "polling": io.waiter is not None,
            "skipped_binary_frames": io.skipped_binary,
        }

    async def handle_call(self, request: Any, from_: otp.From, state: _State
                          ) -> otp.Reply[_State] | otp.Stop[_State]:
        io, session, serializer = state.io, state.session, state.serializer
        if type(request) is _Connect and io is None:
            refused = await self._connect(state)
            if refused is None:
                return otp.Reply(True, state)
            return otp.Stop(otp.Shutdown("refused"), state, reply=refused)
        if type(request) is _Dispatch and state.raw is not None and io is not None:
            return await self._dispatch_raw(request, state.raw, state)
        if type(request) is not _Dispatch or io is None or session is None or serializer is None:
            raise RuntimeError(f"long-poll session got an unexpected call: {request!r}")
        try:
            message = serializer.decode(request.data, binary=request.binary)
        except InvalidMessageError as exc:
            logger.warning("stopping long-poll session %s: invalid message from the client: %s", io.pid, exc)
            return otp.Stop(otp.Shutdown("invalid_message"), state, reply="invalid")
        await session.handle_in(message)
        if io.close_code is not None:
            return otp.Stop(io.exit_reason, state, reply="ok")
        return otp.Reply("ok", state)

    async def _dispatch_raw(self, request: _Dispatch, raw: _RawSession, state: _State
                            ) -> otp.Reply[_State] | otp.Stop[_State]:
        data: str | bytes = request.data
        if not request.binary:
            try:
                data = request.data.decode()
            except UnicodeDecodeError:
                logger.warning("stopping long-poll session %s: a text message is not UTF-8", raw.io.pid)
                return otp.Stop(otp.Shutdown("invalid_message"), state, reply="invalid")
        stop = await raw.handle_in(data)
        if stop is not None:
            return otp.Stop(stop, state, reply="ok")
        return otp.Reply("ok", state)

    async def handle_info(self, msg: Any, state: _State) -> otp.NoReply[_State] | otp.Stop[_State]:
        io, session = state.io, state.session or state.raw
        if io is None or session is None:
            logger.debug("long-poll session %s ignored message %r before connecting", otp.self(), msg)
            return otp.NoReply(state)
        if type(msg) is _CheckInactive:
            limit = state.args.mount.options.inactive_after
            idle = trio.current_time() - io.last_poll
            if idle >= limit:
                logger.debug("long-poll session %s: no poll for %.1f s, stopping", io.pid, idle)
                return otp.Stop(otp.Shutdown("inactive"), state)
            otp.send_after(limit - idle, io.pid, msg)
            return otp.NoReply(state)
        if type(msg) is _Overflow:
            logger.warning("stopping long-poll session %s: its client does not poll fast enough "
                           "(%d bytes waiting, max_buffer_bytes=%d)", io.pid, msg.size, io.max_buffer_bytes)
            return otp.Stop(otp.Shutdown("overflow"), state)
        if state.raw is not None:
            stop = await state.raw.handle_info(msg)
            return otp.NoReply(state) if stop is None else otp.Stop(stop, state)
        assert state.session is not None
        if not state.session.handle_info(msg):
            logger.debug("long-poll session %s ignored message %r", io.pid, msg)
        if io.close_code is not None:
            return otp.Stop(io.exit_reason, state)
        return otp.NoReply(state)


# -- HTTP ---------------------------------------------------------------------------------------


def _status(status: int) -> Response:
    return longpoll_response(encode_longpoll_response(status))


def _messages(status: int, token: str | None, messages: list[bytes]) -> Response:
    return longpoll_response(encode_longpoll_response(status, token, messages))


def _request_token(request: Request) -> str | None:
    """The session token: the header first (even when stale params carry another), then ``?token=``."""
    header = request.header(TOKEN_HEADER)
    if header is not None:
        return header
    return request.query_dict().get("token")


async def handle_longpoll(mount: LongPollMount, request: Request, body: BodyReader,
                          path_params: Mapping[str, Any], *, origin_allowed: bool) -> Response:
    """Serve one long-poll request (GET, POST or OPTIONS) in the calling connection process.

    The endpoint routes here for a ``channels.Socket`` or ``channels.Transport`` mount, and checks
    the origin.
    """
    if not origin_allowed:
        return _status(403)
    method = request.method
    if method == "OPTIONS":
        return longpoll_preflight(request)
    if method != "GET" and method != "POST":
        return longpoll_bad_request()
    registry = _REGISTRIES.get(otp.current_node(), mount.endpoint_name)
    if registry is None:
        logger.error("%s: long-poll request but the long-poll supervisor is not running", mount.endpoint_name)
        return _status(500)
    options = mount.options
    token = _request_token(request)
    found = _resume(mount, registry, token)
    if isinstance(found, _Remote):
        registry.forwarded_out += 1
        if method == "GET":
            answer = await _forward(mount, found, "poll", token, b"", None)
            if answer is not None:
                return answer
            return await _new_session(mount, registry, request, path_params)
        raw = await body.read()
        try:
            frames = sum(1 for _ in iter_longpoll_post(raw, request.header("content-type")))
        except LongPollBodyError as exc:
            return _bad_body(exc)
        answer = await _forward(mount, found, "post", token, raw, request.header("content-type"), frames)
        return answer if answer is not None else _status(410)
    io = found
    if method == "GET":
        if io is None:
            return await _new_session(mount, registry, request, path_params)
        return await _listen(io, token, options)
    if io is None:
        return _status(410)
    return await _publish(io, request, body, options)


@dataclass(frozen=True, slots=True)
class _Remote:
    """A valid token of a session on another node (by its PubSub node name)."""

    node_name: str
    endpoint_id: str
    pid_text: str
    session_id: str


def _node_name(mount: LongPollMount) -> str:
    """This node's name in the endpoint's PubSub cluster (what tokens name)."""
    return PubSub.node_name(mount.pubsub_server)


def _clustered(mount: LongPollMount) -> bool:
    return PubSub.statistics(mount.pubsub_server).get("adapter") != "local"


def _resume(mount: LongPollMount, registry: _Registry, token: str | None) -> _LongPollIO | _Remote | None:
    """The live session ``token`` names, a session on another node, or None (no token,
    forged, expired, an earlier start of this node, gone)."""
    if token is None:
        return None
    try:
        data = _token.verify(mount.secret_key_base, session_salt(mount), token, max_age=mount.options.max_age)
    except _token.TokenError as exc:
        logger.debug("long-poll token refused: %s", exc)
        return None
    if not (isinstance(data, tuple) and len(data) == 5 and data[0] == _TOKEN_VERSION):
        return None
    _version, endpoint_id, node_name, pid_text, session_id = data
    if node_name != _node_name(mount):
        if isinstance(node_name, str) and isinstance(session_id, str) and _clustered(mount):
            return _Remote(node_name, str(endpoint_id), str(pid_text), session_id)
        return None
    if endpoint_id != registry.endpoint_id:
        return None
    io = registry.sessions.get(session_id) if isinstance(session_id, str) else None
    if io is None or not io.alive or str(io.pid) != pid_text or io.mount is not mount.identity:
        return None
    return io


def _sign(mount: LongPollMount, registry: _Registry, io_pid: otp.Pid, session_id: str) -> str:
    data = (_TOKEN_VERSION, registry.endpoint_id, _node_name(mount), str(io_pid), session_id)
    return _token.sign(mount.secret_key_base, session_salt(mount), data, max_age=mount.options.max_age)


async def _new_session(mount: LongPollMount, registry: _Registry, request: Request,
                       path_params: Mapping[str, Any]) -> Response:
    keys = list(mount.connect_info)
    if mount.auth_token and "auth_token" not in keys:
        keys.append("auth_token")
    connect_info = build_connect_info(request, keys, auth_token=request.header(AUTH_TOKEN_HEADER))
    session_id = secrets.token_urlsafe(16)
    args = _SessionArgs(mount, {**request.query_dict(), **path_params}, connect_info,
                        parse_vsn(request.query_params), session_id, registry)

    async def start() -> otp.Pid:
        return await _LongPollSession.start_link(args)

    spec = otp.ChildSpec(id="session", start=start, restart=otp.Restart.TEMPORARY,
                         behaviour="LongPollSession")
    slots = mount.slots
    if slots is not None and not slots.try_acquire():
        refusals.warning(request.peer[0] if request.peer else None,
                         "refusing a long-poll session: max_connections reached")
        return _UNAVAILABLE
    try:
        pid = await otp.DynamicSupervisor.start_child(_supervisor_name(mount.endpoint_name), spec)
    except BaseException:
        if slots is not None:
            slots.release()
        raise
    assert pid is not None
    if slots is not None:
        proc = otp.current_node().process(pid)
        if proc is None:
            slots.release()
        else:
            proc.add_exit_hook(lambda _p, _r: slots.release())
    try:
        accepted = await otp.call(pid, _Connect(), timeout=None)
    except otp.CallError as exc:
        logger.error("%s.connect crashed (long-poll): %r", mount.handler_name, exc.reason)
        return _status(500)
    if isinstance(accepted, Refuse):
        handler = mount.options.error_handler
        if handler is not None and accepted.reply is not None:
            try:
                return handler(request, accepted.reply)
            except Exception:
                logger.exception("the error_handler of %s crashed", mount.handler_name)
                return _status(500)
        return _status(403)
    return _messages(410, _sign(mount, registry, pid, session_id), [])


async def _listen(io: _LongPollIO, token: str | None, options: LongPollOptions) -> Response:
    """A poll: what is buffered now, or what arrives within the window."""
    io.last_poll = trio.current_time()
    messages = io.take()
    if messages:
        return _messages(200, token, messages)
    me = otp.current_process()
    assert me is not None
    ref = otp.make_ref()
    mref = otp.monitor(io.pid)
    io.waiter = (me.pid, ref)
    woken: Any = None
    try:
        woken = await otp.receive(
            lambda m: (type(m) is _NowAvailable and m.ref is ref) or (type(m) is otp.Down and m.ref is mref),
            timeout=options.window,
        )
    except otp.ReceiveTimeout:
        pass
    finally:
        if io.waiter is not None and io.waiter[1] is ref:
            io.waiter = None
        otp.demonitor(mref, flush=True)
        otp.flush(lambda m: type(m) is _NowAvailable and m.ref is ref)
    if io.alive:
        io.last_poll = trio.current_time()
    messages = io.take()
    if messages:
        return _messages(200, token, messages)
    if type(woken) is otp.Down or not io.alive:
        return _status(410)
    return _messages(204, token, [])


def _bad_body(exc: LongPollBodyError) -> Response:
    return Response(400, [("content-type", "text/plain; charset=utf-8"), *LONGPOLL_HEADERS], str(exc).encode())


async def _publish(io: _LongPollIO, request: Request, body: BodyReader, options: LongPollOptions) -> Response:
    """A POST: dispatch each frame to the session in order and wait for its acknowledgement."""
    return await _publish_raw(io, await body.read(), request.header("content-type"), options)


async def _publish_raw(io: _LongPollIO, raw: bytes, content_type: str | None, options: LongPollOptions
                       ) -> Response:
    status = 200
    try:
        for data, binary in iter_longpoll_post(raw, content_type):
            try:
                ack = await otp.call(io.pid, _Dispatch(data, binary), timeout=options.dispatch_timeout)
            except otp.CallTimeout:
                logger.info("long-poll session %s did not acknowledge a message within %d ms "
                            "(pubsub_timeout_ms)", io.pid, options.pubsub_timeout_ms)
                status = 408
                break
            except otp.CallError:
                status = 410
                break
            if ack != "ok":
                status = 400
                break
    except LongPollBodyError as exc:
        logger.info("bad long-poll POST for session %s: %s", io.pid, exc)
        return _bad_body(exc)
    return _status(status)


# -- across nodes ---------------------------------------------------------------------------------

#: Messages between nodes are JSON (they may cross Redis): dicts tagged with "lp".
_REQUEST, _ACK, _ANSWER = "request", "ack", "answer"


def _forwarder_topic(endpoint_name: str) -> str:
    return f"phx:lp:{endpoint_name}"


async def _forward(mount: LongPollMount, remote: _Remote, kind: str, token: str | None, raw: bytes,
                   content_type: str | None, frames: int = 1) -> Response | None:
    """Send a poll (or a POST) to the node that holds the session; None when it is gone.

    Runs in the HTTP connection process, which waits on a reply topic of its own.
    """
    options = mount.options
    pubsub = mount.pubsub_server
    me = otp.current_process()
    assert me is not None
    request_id = secrets.token_urlsafe(12)
    reply_topic = f"phx:lp:reply:{request_id}"
    PubSub.subscribe(pubsub, reply_topic)
    try:
        PubSub.direct_broadcast(remote.node_name, pubsub, _forwarder_topic(mount.endpoint_name), {
            "lp": _REQUEST, "kind": kind, "id": request_id, "from": _node_name(mount), "reply": reply_topic,
            "endpoint_id": remote.endpoint_id, "pid": remote.pid_text, "session": remote.session_id,
            "token": token, "body": base64.b64encode(raw).decode() if raw else "", "content_type": content_type,
        })

        def ours(tag: str) -> Callable[[Any], bool]:
            return lambda m: type(m) is dict and m.get("lp") == tag and m.get("id") == request_id

        try:
            ack = await otp.receive(lambda m: ours(_ACK)(m) or ours(_ANSWER)(m),
                                    timeout=options.pubsub_timeout_ms / 1000)
        except otp.ReceiveTimeout:
            logger.info("long-poll session %s on node %s did not answer within %d ms: gone",
                        remote.session_id, remote.node_name, options.pubsub_timeout_ms)
            return None
        answer = ack
        if ack.get("lp") == _ACK:
            # The session's node has it: a poll takes up to the window, a POST up to the window
            # per frame; the margin covers the trip back.
            limit = options.window * max(1, frames) + options.pubsub_timeout_ms / 1000
            try:
                answer = await otp.receive(ours(_ANSWER), timeout=limit)
            except otp.ReceiveTimeout:
                logger.warning("long-poll request forwarded to node %s got no answer within %.1f s",
                               remote.node_name, limit)
                return _status(408 if kind == "post" else 410)
        if answer.get("gone"):
            return None
        headers = [(str(k), str(v)) for k, v in answer.get("headers", [])]
        return Response(int(answer["status"]), headers, str(answer.get("body", "")).encode())
    finally:
        PubSub.unsubscribe(pubsub, reply_topic)
        otp.flush(lambda m: type(m) is dict and m.get("id") == request_id)


class _Forwarder(otp.GenServer[tuple[str, str]]):
    """Serves long-poll requests forwarded by other nodes to the sessions of this one."""

    behaviour_name = "Forwarder"

    async def init(self, arg: tuple[str, str]) -> otp.Ok[tuple[str, str]]:
        endpoint_name, pubsub = arg
        PubSub.subscribe(pubsub, _forwarder_topic(endpoint_name))
        return otp.Ok(arg)

    def format_status(self, state: tuple[str, str]) -> Any:
        registry = _REGISTRIES.get(otp.current_node(), state[0])
        if registry is None:
            return {"topic": None}
        return {"forwarded_in": registry.forwarded_in, "forwarded_out": registry.forwarded_out}

    async def handle_info(self, msg: Any, state: tuple[str, str]) -> otp.NoReply[tuple[str, str]]:
        endpoint_name, pubsub = state
        if type(msg) is not dict or msg.get("lp") != _REQUEST:
            return otp.NoReply(state)
        registry = _REGISTRIES.get(otp.current_node(), endpoint_name)
        io = registry.sessions.get(str(msg.get("session"))) if registry is not None else None
        reply_to = (str(msg.get("from")), str(msg.get("reply")), str(msg.get("id")))
        if (registry is None or io is None or not io.alive or str(io.pid) != msg.get("pid")
                or msg.get("endpoint_id") != registry.endpoint_id):
            _answer(pubsub, reply_to, {"lp": _ANSWER, "gone": True})
            return otp.NoReply(state)
        registry.forwarded_in += 1
        _answer(pubsub, reply_to, {"lp": _ACK})
        logger.debug("long-poll: serving a forwarded %s for session %s", msg.get("kind"), io.session_id)
        helper = otp.ChildSpec(id="forwarded", start=lambda: otp.spawn_link(_serve_forwarded, pubsub, reply_to,
                                                                             io, msg),
                               restart=otp.Restart.TEMPORARY, behaviour="LongPollForwarded")
        await otp.DynamicSupervisor.start_child(_supervisor_name(endpoint_name), helper)
        return otp.NoReply(state)


def _answer(pubsub: str, reply_to: tuple[str, str, str], message: dict[str, Any]) -> None:
    node_name, topic, request_id = reply_to
    PubSub.direct_broadcast(node_name, pubsub, topic, {**message, "id": request_id})


async def _serve_forwarded(pubsub: str, reply_to: tuple[str, str, str], io: _LongPollIO,
                           msg: dict[str, Any]) -> None:
    """A helper process: run one forwarded request against the local session, send back the answer."""
    options = _options_of(io)
    token = msg.get("token")
    if msg.get("kind") == "poll":
        response = await _listen(io, token if isinstance(token, str) else None, options)
    else:
        raw = base64.b64decode(str(msg.get("body") or ""))
        ctype = msg.get("content_type")
        response = await _publish_raw(io, raw, ctype if isinstance(ctype, str) else None, options)
    _answer(pubsub, reply_to, {"lp": _ANSWER, "status": response.status,
                               "headers": [list(h) for h in response.headers],
                               "body": response.body.decode("utf-8", "replace")})


def _options_of(io: _LongPollIO) -> LongPollOptions:
    options = getattr(io, "options", None)
    return options if isinstance(options, LongPollOptions) else LongPollOptions()
