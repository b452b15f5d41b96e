"""The long-poll transport: HTTP sessions that carry channels (Phoenix.Transports.LongPoll).

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
  session and acknowledged within ``window_ms`` (``{"status":200}``, else ``408``).
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
* tokens from another node or endpoint instance start a new session: there is no
  cross-node session lookup (§4.7), so ``pubsub_timeout_ms`` is accepted but unused.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

import otp

from .. import token as _token
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
from ._messages import PushFrame, SessionHandler, TransportIO

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

    #: How long a poll waits for messages, and a POST line for its acknowledgement (ms).
    #: A session not polled for 1.5 * this long stops.
    window_ms: int = 10_000
    #: Accepted for compatibility with Phoenix's option: sessions are always local here
    #: (a token from another node or endpoint instance means "new session"), so there is
    #: no cross-node lookup to time out.
    pubsub_timeout_ms: int = 2_000
    #: Seconds a session token stays valid (Phoenix's ``crypto: [max_age: ...]``, 2 weeks).
    max_age: float = 1_209_600
    #: Bytes of messages a session may hold for its client between polls; beyond that the
    #: client is not keeping up and the session stops with ``Shutdown("overflow")`` (the
    #: long-poll form of the WebSocket slow-consumer close).
    max_buffer_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.window_ms <= 0:
            raise ValueError(f"window_ms must be positive, got {self.window_ms!r}")
        if self.max_age <= 0:
            raise ValueError(f"max_age must be positive, got {self.max_age!r}")
        if self.max_buffer_bytes <= 0:
            raise ValueError(f"max_buffer_bytes must be positive, got {self.max_buffer_bytes!r}")

    @property
    def window(self) -> float:
        """``window_ms`` in seconds."""
        return self.window_ms / 1000

    @property
    def inactive_after(self) -> float:
        """Seconds without a poll after which a session stops (1.5 * ``window_ms``)."""
        return 1.5 * self.window_ms / 1000


#: Run the socket's ``connect`` in the session process ``transport_pid`` with ``(params,
#: connect_info, vsn, transport_pid)``: the serializer and the session opener, or None (refused).
#: The endpoint makes it; long-poll does not import the channel layer.
LongPollConnect = Callable[
    [Mapping[str, Any], Mapping[str, Any], "str | None", otp.Pid],
    Awaitable["tuple[Serializer, Callable[[TransportIO], SessionHandler]] | None"],
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


class _LongPollIO:
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

    # TransportIO / Sink

    def write_frame(self, frame: Frame) -> None:
        self._append(frame, frame.data)

    def push(self, frame: Frame) -> None:
        # A channel's push or reply: in order with what the session has queued (see
        # _websocket._WebSocketIO.push).
        self.write_fastlane(frame, frame.data)

    def write_fastlane(self, frame: Frame, data: bytes) -> None:
        # Keep per-sender order (see _websocket._WebSocketIO.write_fastlane): while the
        # session has messages waiting (a push from the same channel, say), the broadcast
        # goes behind them.
        proc = self.node.process(self.pid)
        if proc is not None and proc.mailbox:
            proc.deliver(PushFrame(frame))
        else:
            self._append(frame, data)

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


#: Per node, by endpoint name: its live long-poll sessions.
_REGISTRIES: otp.Table[_Registry] = otp.Table("longpoll")


def _supervisor_name(endpoint_name: str) -> str:
    return f"{endpoint_name}.LongPoll"


def longpoll_children(endpoint_name: str) -> list[otp.ChildSpec]:
    """The endpoint's long-poll children: the DynamicSupervisor ``<name>.LongPoll`` of sessions.

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

    return [otp.ChildSpec(id="longpoll", start=start, type=otp.ChildType.SUPERVISOR,
                          behaviour="DynamicSupervisor")]


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
    """poll → session (call): run the socket's ``connect``; the answer is True when accepted."""


@dataclass(eq=False)
class _State:
    args: _SessionArgs
    io: _LongPollIO | None = None
    session: SessionHandler | None = None
    serializer: Serializer | None = None


class _LongPollSession(otp.GenServer[_State]):
    """One long-poll client: the socket, its channels' output buffer, its inactivity timer.

    ``init`` does nothing, so that the supervisor is never held up by a slow ``connect``:
    the request that creates the session then calls ``_Connect``, which runs the socket's
    ``connect`` in the session (its pid is the socket's transport pid).
    """

    behaviour_name = "LongPollSession"

    async def init(self, arg: _SessionArgs) -> otp.Ok[_State]:
        return otp.Ok(_State(arg))

    async def _connect(self, state: _State) -> bool:
        me = otp.current_process()
        assert me is not None
        arg = state.args
        mount = arg.mount
        connected = await mount.connect(arg.params, arg.connect_info, arg.vsn, me.pid)
        if connected is None:
            return False
        state.serializer, open_session = connected
        io = _LongPollIO(me.node, me.pid, arg.session_id, mount.identity, mount.options.max_buffer_bytes)
        state.io = io
        state.session = open_session(io)  # also subscribes this process to the socket id
        sessions = arg.registry.sessions
        sessions[arg.session_id] = io

        def forget(_p: otp.Process, _r: Any) -> None:
            io.alive = False
            if sessions.get(io.session_id) is io:
                del sessions[io.session_id]

        me.add_exit_hook(forget)
        otp.send_after(mount.options.inactive_after, me.pid, _CheckInactive())
        return True

    def format_status(self, state: _State) -> Any:
        io = state.io
        if io is None or state.session is None:
            return {"transport": "longpoll", "state": "connecting"}
        return {
            "transport": "longpoll",
            **state.session.summary(),
            "buffered": len(io.buffer),
            "buffered_bytes": io.buffered_bytes,
            "polling": io.waiter is not None,
            "skipped_binary_frames": io.skipped_binary,
        }

    async def handle_call(self, request: Any, from_: otp.From, state: _State
                          ) -> otp.Reply[_State] | otp.Stop[_State]:
        io, session, serializer = state.io, state.session, state.serializer
        if type(request) is _Connect and io is None:
            if await self._connect(state):
                return otp.Reply(True, state)
            return otp.Stop(otp.Shutdown("refused"), state, reply=False)
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

    async def handle_info(self, msg: Any, state: _State) -> otp.NoReply[_State] | otp.Stop[_State]:
        io, session = state.io, state.session
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
        if not session.handle_info(msg):
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

    The endpoint routes here only for a ``channels.Socket`` mount, and checks the origin.
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
    io = _resume(mount, registry, token)
    if method == "GET":
        if io is None:
            return await _new_session(mount, registry, request, path_params)
        return await _listen(io, token, options)
    if io is None:
        return _status(410)
    return await _publish(io, request, body, options)


def _resume(mount: LongPollMount, registry: _Registry, token: str | None) -> _LongPollIO | None:
    """The live session ``token`` names, or None (no token, forged, expired, other node, gone)."""
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
    if endpoint_id != registry.endpoint_id or node_name != otp.current_node().name:
        return None
    io = registry.sessions.get(session_id) if isinstance(session_id, str) else None
    if io is None or not io.alive or str(io.pid) != pid_text or io.mount is not mount.identity:
        return None
    return io


def _sign(mount: LongPollMount, registry: _Registry, io_pid: otp.Pid, session_id: str) -> str:
    data = (_TOKEN_VERSION, registry.endpoint_id, otp.current_node().name, str(io_pid), session_id)
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
    if not accepted:
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


async def _publish(io: _LongPollIO, request: Request, body: BodyReader, options: LongPollOptions) -> Response:
    """A POST: dispatch each frame to the session in order and wait for its acknowledgement."""
    raw = await body.read()
    status = 200
    try:
        for data, binary in iter_longpoll_post(raw, request.header("content-type")):
            try:
                ack = await otp.call(io.pid, _Dispatch(data, binary), timeout=options.window)
            except otp.CallTimeout:
                logger.info("long-poll session %s did not acknowledge a message within %d ms",
                            io.pid, options.window_ms)
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
        return Response(400, [("content-type", "text/plain; charset=utf-8"), *LONGPOLL_HEADERS],
                        str(exc).encode())
    return _status(status)
