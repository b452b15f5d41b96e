"""The Endpoint: the supervision tree that serves sockets, and the broadcast API.

Example::

    endpoint = channels.Endpoint(
        name="HelloSockets.Endpoint",
        port=4000,
        sockets=[channels.SocketMount("/socket", UserSocket)],
    )
    channels.serve(endpoint)            # or: await endpoint.start_link() inside a node

The tree, as in the seed documents (Phoenix's endpoint, ranch's listener)::

    Endpoint (Supervisor, one_for_one)
    ├─ <name>.PubSub              PubSub supervisor: registry partitions + adapter
    ├─ <name>.<Socket>.Pool       PartitionSupervisor: one DynamicSupervisor per CPU,
    │                             channel servers under them (restart temporary)
    ├─ <name>.LongPoll            DynamicSupervisor of long-poll sessions (if any mount has it)
    ├─ <name>.ASGI                the ASGI app's lifespan (if ``asgi_app``): startup before
    │                             the listener, shutdown after the drain
    ├─ <name>.Listener            Supervisor (rest_for_one)
    │  ├─ <name>.ListenSockets    owns the listening sockets (SO_REUSEPORT, one per acceptor)
    │  ├─ <name>.Connections      DynamicSupervisor: one process per accepted connection
    │  └─ <name>.Acceptors        Supervisor of N acceptor processes
    └─ <name>.Drainer             on shutdown: phx_drain to every channel, in batches

Children stop in reverse order, so on shutdown the drainer runs first (sockets close with
1012, the JS client reconnects elsewhere), then the listener stops accepting and closes
what is left, then the pools and the PubSub go.

``max_connections`` applies back-pressure: at the limit, acceptors stop accepting (the
kernel's backlog holds new clients) until a connection ends, instead of failing them.

Deployment options: ``ssl=`` (an ``ssl.SSLContext`` or ``(certfile, keyfile)``) serves
https/wss (``channels.http._tls``); ``trusted_proxies=`` (addresses or networks) takes the
peer address from ``X-Forwarded-For`` when the connection comes from one of them;
``metrics=True`` serves Prometheus metrics at ``/metrics`` (``channels.endpoint._metrics``).
``secret_key_base`` signs long-poll tokens: give a stable one (``otp-channels gen secret``)
for several workers or nodes. ``channels.serve`` also reads all of these (and the port,
host, Redis URL...) from ``OTP_CHANNELS_*`` environment variables (``channels.ops._config``).
"""

from __future__ import annotations

import dataclasses
import gc
import ipaddress
import logging
import os
import socket as stdsocket
import ssl as stdssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio

import otp

from .. import telemetry
from ..channel._channel_server import transport_of
from ..channel._session import session_opener
from ..channel._socket import Accept, Refuse, Socket
from ..http import (
    BodyReader,
    HTTPLimits,
    InvalidAuthToken,
    Request,
    Response,
    Router,
    StaticFiles,
    StreamingResponse,
    Upgrade,
    build_connect_info,
    check_origin,
    extract_auth_token,
    parse_subprotocols,
    parse_vsn,
    select_subprotocol,
    serve_http,
    stream_addresses,
    validate_connect_info,
)
from ..http._tls import open_tls_bridge, server_context
from ..protocol import Accepted, Serializer, ServerConnection, negotiate_serializer
from ..pubsub._fastlane import broadcast as _broadcast
from ..pubsub._pubsub import Adapter, AdapterFactory, PubSub
from ..transports._longpoll import LongPollMount, LongPollOptions, handle_longpoll, longpoll_children
from ..transports._messages import Drain, SessionHandler, TransportIO
from ..transports._transport import Transport, TransportHandler
from ..transports._websocket import (
    ChannelSocketHandler,
    ConnectionHandler,
    WebSocketOptions,
    run_websocket,
)
from ._acceptor import AcceptorStatistics, Limiter, accept_loop
from ._asgi import ASGIApp, _LifespanState, asgi_lifespan_spec, asgi_response
from ._publish import DEFAULT_PUBLISH_PATH, PUBLISH_TOKEN_ENV, publish_route

__all__ = ["DrainerOptions", "Endpoint", "HTTPHandler", "Route", "SocketMount"]

logger = logging.getLogger("channels.endpoint")

DEFAULT_CONNECT_INFO = ("peer_data", "uri", "user_agent", "x_headers",
                        "trace_context_headers", "sec_websocket_headers")


@dataclass(frozen=True)
class SocketMount:
    """A socket handler mounted at ``path`` (Phoenix's ``socket "/socket", UserSocket``).

    WebSocket is served at ``path + "/websocket"``, long-poll (when enabled) at
    ``path + "/longpoll"``; each transport's ``path`` option changes its suffix. ``path``
    and the suffixes may hold ``:vars``; their values join the params.

    Raises:
        ValueError: when declared with a handler that is neither a ``Socket`` nor a
            ``Transport`` subclass, with no transport enabled, with ``partitions`` for a
            raw ``Transport``, or with a ``connect_info`` key that is not supported
            (``session``: there is no Plug session here).
    """

    path: str
    #: A ``Socket`` subclass (channels) or a ``Transport`` subclass (raw frames).
    handler: type[Socket] | type[Transport]
    websocket: WebSocketOptions | bool = True
    longpoll: Any = False
    #: None: the endpoint's setting. True, False, a list of origins, "conn" or a callable.
    check_origin: Any = None
    connect_info: Sequence[Any] = DEFAULT_CONNECT_INFO
    #: Accept the token the JS client's ``authToken`` sends in Sec-WebSocket-Protocol.
    auth_token: bool = False
    #: DynamicSupervisor partitions for this socket's channels (default: CPU count).
    partitions: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.handler, type) and issubclass(self.handler, Socket | Transport)):
            raise ValueError(f"SocketMount({self.path!r}): the handler must be a channels.Socket or "
                             f"channels.Transport subclass, got {self.handler!r}")
        if not self.websocket and not self.longpoll:
            raise ValueError(f"SocketMount({self.path!r}) enables no transport (websocket and longpoll off)")
        if self.partitions is not None and not issubclass(self.handler, Socket):
            raise ValueError(f"SocketMount({self.path!r}): partitions is for channel sockets (a raw "
                             "Transport starts no channels)")
        try:
            validate_connect_info(self.connect_info)
        except ValueError as exc:
            raise ValueError(f"SocketMount({self.path!r}): {exc}") from None

    @property
    def websocket_options(self) -> WebSocketOptions:
        """The WebSocket options (defaults when ``websocket=True``)."""
        return self.websocket if isinstance(self.websocket, WebSocketOptions) else WebSocketOptions()

    @property
    def longpoll_options(self) -> LongPollOptions:
        """The long-poll options (defaults when ``longpoll=True``)."""
        return self.longpoll if isinstance(self.longpoll, LongPollOptions) else LongPollOptions()

    def transport_path(self, kind: str) -> str:
        """Where ``kind`` (``"websocket"``/``"longpoll"``) is served: the mount path joined with
        the transport's ``path`` option (``"/socket"`` + ``"/websocket"``)."""
        suffix = self.websocket_options.path if kind == "websocket" else self.longpoll_options.path
        return self.path.rstrip("/") + "/" + suffix.lstrip("/")


#: A custom route's handler: the request head and its body in, a complete response out. It
#: runs in the connection's process (``otp`` calls, sends and broadcasts work there).
HTTPHandler = Callable[[Request, BodyReader], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    """A custom HTTP route: ``handler`` answers ``path`` and every path below it.

    Routes are tried after the socket mounts and before the static files, in the order
    given. ``methods`` (e.g. ``("POST",)``) limits the methods: others get 405 with an
    ``allow`` header; None accepts any. Example::

        async def health(request: channels.Request, body: channels.BodyReader) -> channels.Response:
            return channels.Response.json({"status": "ok"})

        channels.Endpoint(routes=[channels.Route("/healthz", health, methods=("GET", "HEAD"))])

    Raises:
        ValueError: ``path`` does not start with ``/``.
    """

    path: str
    handler: HTTPHandler
    methods: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"a route path must start with '/', got {self.path!r}")
        if self.methods is not None:
            object.__setattr__(self, "methods", tuple(m.upper() for m in self.methods))

    def matches(self, path: str) -> bool:
        """Whether ``path`` is this route's path or below it."""
        base = self.path.rstrip("/")
        return path == self.path or path == base or path.startswith(base + "/")


@dataclass(frozen=True)
class DrainerOptions:
    """How the endpoint drains sockets on shutdown (Phoenix's ``drainer:`` option)."""

    batch_size: int = 10_000
    batch_interval: float = 2.0
    shutdown: float = 30.0


@dataclass(eq=False)
class _Runtime:
    """What connection processes need, shared by reference (never copied per connection)."""

    endpoint: Endpoint
    router: Router[tuple[SocketMount, str]]
    static: StaticFiles | None
    limiter: Limiter
    routes: list[Route] = field(default_factory=list)
    asgi_lifespan: _LifespanState | None = None
    #: The TLS server context, when the endpoint serves https/wss itself.
    tls: stdssl.SSLContext | None = None
    #: Proxies whose X-Forwarded-For is believed (``Endpoint(trusted_proxies=...)``).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


#: Per node, by endpoint name: the running endpoint's runtime state, and its listening sockets.
_RUNTIMES: otp.Table[_Runtime] = otp.Table("endpoint")
_LISTEN_SOCKETS: otp.Table[list[trio.socket.SocketType]] = otp.Table("listen_sockets")


class Endpoint:
    """A configured endpoint. Start it as a supervised tree; broadcast through it."""

    def __init__(
        self,
        *,
        name: str = "Endpoint",
        host: str = "127.0.0.1",
        port: int = 4000,
        sockets: Sequence[SocketMount] = (),
        static_dir: str | os.PathLike[str] | None = None,
        static_files: Mapping[str, str | os.PathLike[str]] | None = None,
        check_origin: Any = True,
        url_host: str | None = None,
        num_acceptors: int = 4,
        max_connections: int = 16_384,
        pubsub_partitions: int | None = None,
        pubsub_adapter: Adapter | None = None,
        redis_url: str | None = None,
        node_name: str | None = None,
        pubsub_adapter_spec: AdapterFactory | None = None,
        drainer: DrainerOptions | None = DrainerOptions(),
        http_limits: HTTPLimits | None = None,
        secret_key_base: str | None = None,
        extra_children: Sequence[otp.ChildSpec] = (),
        routes: Sequence[Route] = (),
        asgi_app: ASGIApp | None = None,
        asgi_response_timeout: float = 30.0,
        asgi_lifespan_timeout: float = 30.0,
        publish_token: str | None = None,
        publish_path: str = DEFAULT_PUBLISH_PATH,
        ssl: Any = None,
        trusted_proxies: Sequence[str] = (),
        metrics: bool = False,
    ) -> None:
        """Configure an endpoint (nothing starts until ``start_link``/``channels.serve``).

        The ASGI and publish options (the other options are described in the README):

        Args:
            asgi_app: An ASGI 3 app for the HTTP requests no socket, route or static file
                takes (``channels.endpoint._asgi``); its lifespan runs in ``<name>.ASGI``.
            asgi_response_timeout: Seconds the app has to start its response (then 500).
            asgi_lifespan_timeout: Seconds for the app's lifespan startup and shutdown.
            publish_token: Mounts the HTTP publish route (``POST publish_path`` with
                ``Authorization: Bearer <token>``); None reads ``OTP_CHANNELS_PUBLISH_TOKEN``,
                and without either there is no route.
            publish_path: Where the publish route is (default ``/_channels/broadcast``).
        """
        self.name = name
        self.host = host
        self.requested_port = port
        self.sockets = list(sockets)
        self.static_dir = static_dir
        self.static_files = dict(static_files or {})
        self.check_origin = check_origin
        self.url_host = url_host
        # Each acceptor owns its own SO_REUSEPORT socket and, at the limit, holds one accepted
        # connection while it waits for a slot: no more acceptors than slots.
        self.num_acceptors = max(1, min(num_acceptors, max_connections))
        self.max_connections = max_connections
        self.pubsub_partitions = pubsub_partitions
        if redis_url is not None and pubsub_adapter is None:
            from ..pubsub._redis_adapter import RedisAdapter

            pubsub_adapter = RedisAdapter(redis_url, node_name=node_name or "")
        self.pubsub_adapter = pubsub_adapter
        self.pubsub_adapter_spec = pubsub_adapter_spec
        self.drainer = drainer
        self.http_limits = http_limits or HTTPLimits()
        #: Whether the key was given (code, environment): a random one changes at every start.
        self.secret_key_base_given = secret_key_base is not None
        self.secret_key_base = secret_key_base or os.urandom(32).hex()
        #: ``ssl.SSLContext`` or ``(certfile, keyfile)``: serve https/wss (see ``channels.http._tls``).
        self.ssl = ssl
        #: Addresses or networks of reverse proxies whose ``X-Forwarded-For`` gives the peer address.
        self.trusted_proxies = list(trusted_proxies)
        #: Serve Prometheus metrics at ``/metrics`` (see ``channels.endpoint._metrics``).
        self.metrics = metrics
        self.extra_children = list(extra_children)
        self.pubsub_server = f"{name}.PubSub"
        self.port: int | None = None
        #: Custom HTTP routes (``Route``), tried in order; see ``add_route``.
        self.routes: list[Route] = list(routes)
        self.asgi_app = asgi_app
        self.asgi_response_timeout = asgi_response_timeout
        self.asgi_lifespan_timeout = asgi_lifespan_timeout
        self.publish_token = publish_token if publish_token is not None else os.environ.get(PUBLISH_TOKEN_ENV) or None
        self.publish_path = publish_path
        self._asgi_lifespan: _LifespanState | None = None

    def __repr__(self) -> str:
        return f"<Endpoint {self.name} {self.host}:{self.port or self.requested_port}>"

    def add_route(self, path: str, handler: HTTPHandler, *, methods: Sequence[str] | None = None) -> Route:
        """Add a custom HTTP route (before the endpoint starts); see ``Route``."""
        route = Route(path, handler, None if methods is None else tuple(methods))
        self.routes.append(route)
        return route

    @property
    def scheme(self) -> str:
        """``"https"`` when the endpoint serves TLS itself, else ``"http"``."""
        return "https" if self.ssl is not None else "http"

    def pool_name(self, handler: type[Socket] | type[Transport]) -> str:
        return f"{self.name}.{handler.__qualname__}.Pool"

    # -- supervision tree ----------------------------------------------------------------

    def children(self) -> list[otp.ChildSpec]:
        children = [
            PubSub.child_spec(name=self.pubsub_server, partitions=self.pubsub_partitions,
                              adapter=self.pubsub_adapter, adapter_spec=self.pubsub_adapter_spec),
        ]
        seen: set[str] = set()
        for mount in self.sockets:
            if not issubclass(mount.handler, Socket):
                continue
            pool = self.pool_name(mount.handler)
            if pool not in seen:
                seen.add(pool)
                children.append(otp.PartitionSupervisor.child_spec(name=pool, partitions=mount.partitions))
        if any(m.longpoll for m in self.sockets):
            children.extend(longpoll_children(self.name, self.pubsub_server))
        children.extend(self.extra_children)
        if self.asgi_app is not None:
            self._asgi_lifespan = _LifespanState()
            children.append(asgi_lifespan_spec(self.asgi_app, f"{self.name}.ASGI", self._asgi_lifespan,
                                               timeout=self.asgi_lifespan_timeout))
        children.append(otp.Supervisor.child_spec(
            self._listener_children(), id="listener", name=f"{self.name}.Listener",
            strategy=otp.Strategy.REST_FOR_ONE,
        ))
        if self.drainer is not None:
            children.append(_Drainer.child_spec((self, self.drainer), id="drainer",
                                                name=f"{self.name}.Drainer"))
        return children

    def child_spec(self) -> otp.ChildSpec:
        """A spec for starting this endpoint under your own supervisor."""
        return otp.Supervisor.child_spec(self.children(), id=self.name, name=self.name)

    async def start_link(self) -> otp.Pid:
        """Start the endpoint's tree linked to the caller; return once it listens."""
        return await otp.Supervisor.start_link(self.children(), name=self.name)

    async def stop(self) -> None:
        """Stop the endpoint (drain, close connections, stop everything)."""
        await otp.Supervisor.stop(self.name, otp.SHUTDOWN)

    @staticmethod
    def tune_gc() -> None:
        """Make the cyclic garbage collector fit a long-running server (called by ``run``/``serve``).

        A server holds hundreds of thousands of long-lived objects (two processes per joined
        connection); with CPython's default thresholds every few thousand allocations
        trigger a collection and full collections traverse them all, which showed up as a
        third of connect+join time in profiles. ``gc.freeze()`` moves everything allocated
        at start-up out of the collector's way, and a higher first threshold makes young
        collections rarer. Cycles are still collected.
        """
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)

    def _runtime(self) -> _Runtime:
        runtime = _RUNTIMES.get(otp.current_node(), self.name)
        assert runtime is not None, "endpoint is not running"
        return runtime

    def _listener_children(self) -> list[otp.ChildSpec]:
        endpoint = self

        async def start_sockets() -> otp.Pid:
            return await _ListenSockets.start_link(endpoint, name=f"{endpoint.name}.ListenSockets")

        def acceptor_start(i: int) -> Callable[[], otp.Pid]:
            return lambda: otp.spawn_link(_acceptor, endpoint, i)

        acceptors = [
            otp.ChildSpec(id=i, start=acceptor_start(i), behaviour="Acceptor", shutdown=otp.BRUTAL_KILL)
            for i in range(self.num_acceptors)
        ]
        return [
            otp.ChildSpec(id="sockets", start=start_sockets, behaviour="ListenSockets"),
            otp.DynamicSupervisor.child_spec(id="connections", name=f"{self.name}.Connections"),
            otp.Supervisor.child_spec(acceptors, id="acceptors", name=f"{self.name}.Acceptors"),
        ]

    # -- broadcasting -------------------------------------------------------------------------

    def broadcast(self, topic: str, event: str, payload: Any) -> None:
        """Broadcast ``event`` to every subscriber of ``topic`` on every node."""
        _broadcast(self.pubsub_server, topic, event, payload)

    def broadcast_from(self, from_pid: otp.Pid, topic: str, event: str, payload: Any) -> None:
        """Broadcast to every subscriber of ``topic`` except ``from_pid``."""
        _broadcast(self.pubsub_server, topic, event, payload, from_pid=from_pid)

    def local_broadcast(self, topic: str, event: str, payload: Any) -> None:
        """Broadcast to subscribers on this node only."""
        _broadcast(self.pubsub_server, topic, event, payload, local=True)

    def local_broadcast_from(self, from_pid: otp.Pid, topic: str, event: str, payload: Any) -> None:
        _broadcast(self.pubsub_server, topic, event, payload, from_pid=from_pid, local=True)

    def subscribe(self, topic: str) -> None:
        """Subscribe the current process to ``topic`` (it receives ``Broadcast`` messages)."""
        PubSub.subscribe(self.pubsub_server, topic)

    def unsubscribe(self, topic: str) -> None:
        PubSub.unsubscribe(self.pubsub_server, topic)

    def statistics(self) -> dict[str, Any]:
        rt = self._runtime()
        return {
            "connections": rt.limiter.count,
            "connections_high_water": rt.limiter.high_water,
            "max_connections": rt.limiter.limit,
            "port": self.port,
            "pubsub": PubSub.statistics(self.pubsub_server),
        }


# -- listening sockets ------------------------------------------------------------------------


#: Set by ``serve --workers`` for its workers: the port they may share with SO_REUSEPORT.
SHARED_PORT_ENV = "OTP_CHANNELS_SHARED_PORT"


class _ListenSockets(otp.GenServer[list[trio.socket.SocketType]]):
    """Binds one SO_REUSEPORT listening socket per acceptor and owns them."""

    behaviour_name = "ListenSockets"

    async def init(self, endpoint: Endpoint) -> otp.Ok[list[trio.socket.SocketType]]:
        socks: list[trio.socket.SocketType] = []
        port = endpoint.requested_port
        try:
            if port and os.environ.get(SHARED_PORT_ENV) != str(port):
                # SO_REUSEPORT is for our own acceptors (and the workers of one ``serve
                # --workers``, which set SHARED_PORT_ENV): a second server on a busy port must
                # fail, not silently take half of the connections. A probe bound without
                # SO_REUSEPORT fails if anything listens there, our kind included.
                with stdsocket.socket(stdsocket.AF_INET6 if ":" in endpoint.host else stdsocket.AF_INET,
                                      stdsocket.SOCK_STREAM) as probe:
                    probe.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
                    probe.bind((endpoint.host, port))
            for _ in range(endpoint.num_acceptors):
                sock = trio.socket.socket(stdsocket.AF_INET6 if ":" in endpoint.host else stdsocket.AF_INET,
                                          stdsocket.SOCK_STREAM)
                sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
                if hasattr(stdsocket, "SO_REUSEPORT"):
                    sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEPORT, 1)
                await sock.bind((endpoint.host, port))
                sock.listen(4096)
                socks.append(sock)
                port = sock.getsockname()[1]
        except OSError as exc:
            for s in socks:
                s.close()
            raise OSError(exc.errno, f"{endpoint.name} cannot listen on {endpoint.host}:"
                                     f"{endpoint.requested_port}: {exc.strerror}") from None
        endpoint.port = port
        node = otp.current_node()
        router: Router[tuple[SocketMount, str]] = Router()
        for mount in endpoint.sockets:
            if mount.websocket:
                router.add(mount.transport_path("websocket"), (mount, "websocket"))
            if mount.longpoll:
                router.add(mount.transport_path("longpoll"), (mount, "longpoll"))
        static = None
        if endpoint.static_dir is not None or endpoint.static_files:
            static = StaticFiles(endpoint.static_dir, files=endpoint.static_files)
        try:
            tls = server_context(endpoint.ssl) if endpoint.ssl is not None else None
            trusted = tuple(ipaddress.ip_network(a, strict=False) for a in endpoint.trusted_proxies)
        except ValueError as exc:
            for s in socks:
                s.close()
            raise ValueError(f"{endpoint.name}: {exc}") from None
        routes = list(endpoint.routes)
        if endpoint.publish_token:
            path, handler = publish_route(endpoint.broadcast, endpoint.publish_token, endpoint.publish_path)
            routes.append(Route(path, handler))
        rt = _Runtime(endpoint, router, static, Limiter(endpoint.max_connections), routes,
                      endpoint._asgi_lifespan, tls=tls, trusted_proxies=trusted)
        metrics = None
        if endpoint.metrics:
            from ._metrics import Metrics, metrics_route

            metrics = Metrics(endpoint)
            metrics.attach()
            rt.routes.insert(0, Route("/metrics", metrics_route(metrics)))
        _RUNTIMES.put(node, endpoint.name, rt)
        _LISTEN_SOCKETS.put(node, endpoint.name, socks)
        me = otp.current_process()
        assert me is not None

        def close_all(_p: otp.Process, _r: Any) -> None:
            for s in socks:
                s.close()
            _LISTEN_SOCKETS.pop(node, endpoint.name, socks)
            if metrics is not None:
                metrics.detach()

        me.add_exit_hook(close_all)
        return otp.Ok(socks)

    def format_status(self, state: list[trio.socket.SocketType]) -> Any:
        if not state:
            return {"sockets": 0, "address": None}
        host, port = state[0].getsockname()[:2]
        return {"sockets": len(state), "address": f"{host}:{port}"}


async def _acceptor(endpoint: Endpoint, index: int) -> None:
    node = otp.current_node()
    me = otp.current_process()
    assert me is not None
    me.behaviour = "Acceptor"
    socks = _LISTEN_SOCKETS.fetch(node, endpoint.name)
    listener = socks[index % len(socks)]
    rt = _RUNTIMES.fetch(node, endpoint.name)
    stats = AcceptorStatistics()
    me.summary = lambda: {"accepted": stats.accepted, "port": endpoint.port}
    conns = f"{endpoint.name}.Connections"

    async def handle(sock: trio.socket.SocketType) -> None:
        await otp.DynamicSupervisor.start_child(conns, _connection_spec(trio.SocketStream(sock), rt))

    await accept_loop(listener, handle, limiter=rt.limiter, statistics=stats)


def _connection_spec(stream: trio.SocketStream, rt: _Runtime) -> otp.ChildSpec:
    def start() -> otp.Pid:
        pid = otp.spawn_link(_connection, stream, rt)
        proc = otp.current_node().process(pid)
        assert proc is not None

        # Added at spawn, not in _connection: a process killed before it first runs must
        # still close its socket and give its slot back.
        def cleanup(p: otp.Process, reason: Any) -> None:
            stream.socket.close()
            rt.limiter.release()
            if telemetry.ACTIVE:
                _closed_event(rt.endpoint.name, p, reason)

        proc.add_exit_hook(cleanup)
        return pid

    return otp.ChildSpec(id="connection", start=start, restart=otp.Restart.TEMPORARY, shutdown=5.0,
                         behaviour="Connection")


# -- connection processes -------------------------------------------------------------------


def _closed_event(endpoint: str, proc: otp.Process, reason: Any) -> None:
    """SOCKET_CLOSED (and SLOW_CLIENT_CLOSED) for a connection that carried a socket."""
    transport = proc.behaviour.removeprefix("Connection").strip() or None
    try:
        summary = proc.summary() if proc.summary is not None else None
    except Exception:  # introspection must never break an exit hook
        summary = None
    kind = summary.get("transport") if isinstance(summary, dict) else None
    if kind != "websocket" and transport is None:
        return  # plain HTTP (long-poll requests, static files): not a socket
    name = "websocket" if kind == "websocket" else (transport or "websocket")
    telemetry.execute(telemetry.SOCKET_CLOSED, {"count": 1}, {"endpoint": endpoint, "transport": name})
    if reason == otp.Shutdown("overflow"):
        telemetry.execute(telemetry.SLOW_CLIENT_CLOSED, {"count": 1}, {"endpoint": endpoint, "transport": name})


async def _connection(stream: trio.SocketStream, rt: _Runtime) -> None:
    try:
        if rt.tls is not None:
            # The handshake happens here, in the connection's own process, on its first read.
            upgraded = await _serve_http(trio.SSLStream(stream, rt.tls, server_side=True,
                                                        https_compatible=True), rt)
        else:
            upgraded = await _serve_http(stream, rt)
        if upgraded is not None:
            # Only the connection's coroutine lives on (this frame holds little), not the
            # HTTP driver and closures that made it.
            await upgraded
    finally:
        stream.socket.close()


async def _serve_http(stream: trio.SocketStream | trio.SSLStream[trio.SocketStream], rt: _Runtime
                      ) -> Awaitable[None] | None:
    """Serve HTTP requests until the connection ends (None) or is upgraded (what to run)."""
    me = otp.current_process()
    assert me is not None
    me.behaviour = "Connection"
    peer, _local = stream_addresses(stream)
    me.summary = lambda: {"transport": "http", "peer": f"{peer[0]}:{peer[1]}" if peer else None}

    # An upgrade hands back what to run next instead of running it inside the handler, so
    # that the HTTP driver (h11 state, buffers, the request) is freed for the lifetime of
    # the WebSocket: that is a few KiB per connection.
    upgraded: list[Callable[[], Awaitable[None]]] = []

    async def handler(request: Request, body: BodyReader) -> Response | StreamingResponse | Upgrade:
        if rt.trusted_proxies:
            request = forwarded_request(request, rt.trusted_proxies)
        return await _route(rt, me, stream, request, body, upgraded)

    await serve_http(stream, handler, limits=rt.endpoint.http_limits)
    return upgraded.pop()() if upgraded else None


_NOT_FOUND = Response(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found")


def forwarded_request(request: Request, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
                      ) -> Request:
    """``request`` with the client's address as its peer, when it came through a trusted proxy.

    Plug.RemoteIp's rule: only when the TCP peer is a trusted proxy, take the rightmost
    ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries to its left were
    written by the client and prove nothing). The port stays the proxy connection's.
    """
    if request.peer is None or not _is_trusted(request.peer[0], trusted):
        return request
    hops = [h.strip() for value in request.header_values("x-forwarded-for") for h in value.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return request  # garbage: keep the proxy's address rather than guess
        if not _is_trusted(hop, trusted):
            return dataclasses.replace(request, peer=(hop, request.peer[1]))
    return request


def _is_trusted(host: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in trusted if net.version == address.version)


async def _route(rt: _Runtime, me: otp.Process, stream: trio.SocketStream | trio.SSLStream[trio.SocketStream],
                 request: Request, body: BodyReader, upgraded: list[Callable[[], Awaitable[None]]]
                 ) -> Response | StreamingResponse | Upgrade:
    match = rt.router.match(request.path_segments)
    if match is not None:
        mount, kind = match.handler
        if kind == "websocket":
            return await _websocket(rt, me, stream, mount, request, body, match.params, upgraded)
        return await handle_longpoll(_longpoll_mount(rt.endpoint, mount, rt.limiter), request, body, match.params,
                                     origin_allowed=origin_allowed(rt.endpoint, mount, request))
    for route in rt.routes:
        if route.matches(request.path):
            if route.methods is not None and request.method not in route.methods:
                return Response(405, [("allow", ", ".join(route.methods)),
                                      ("content-type", "text/plain; charset=utf-8")], b"Method Not Allowed")
            return await route.handler(request, body)
    app = rt.endpoint.asgi_app
    if rt.static is not None and rt.static.handles(request.path) and (
            app is None or await rt.static.has_file(request.path)):
        return await rt.static(request, body)
    if app is not None:
        return asgi_response(app, request, body, response_timeout=rt.endpoint.asgi_response_timeout,
                             lifespan=rt.asgi_lifespan)
    return _NOT_FOUND


_FORBIDDEN = Response(403, [("content-type", "text/plain; charset=utf-8")], b"")


#: Refusals of bad requests: WARNING, a few per client address per minute (issue 14 item 9).
refusals = otp.RateLimitedLog(logger)


def _source(request: Request) -> str:
    return request.peer[0] if request.peer else "unknown peer"


def origin_allowed(endpoint: Endpoint, mount: SocketMount, request: Request) -> bool:
    policy = mount.check_origin if mount.check_origin is not None else endpoint.check_origin
    origin = request.header("origin")
    ok = check_origin(origin, policy, endpoint_host=endpoint.url_host or request.host,
                      request_scheme=request.scheme, request_host=request.host,
                      request_port=request.port)
    if not ok:
        refusals.warning(_source(request),
                         "Could not check origin for Phoenix.Socket transport.\n\nOrigin of the request: "
                         "%s\n\nThis happens when you are attempting a socket connection to a different "
                         "host than the one configured in your endpoint (url_host=%r) or check_origin.",
                         origin, endpoint.url_host)
    return ok


def _longpoll_mount(endpoint: Endpoint, mount: SocketMount, limiter: Limiter | None = None) -> LongPollMount:
    """The endpoint and ``mount`` as long-poll sees them: data, and ``connect`` as a callable."""

    async def connect(params: Mapping[str, Any], connect_info: Mapping[str, Any], vsn: str | None,
                      transport_pid: otp.Pid
                      ) -> tuple[Serializer, Callable[[TransportIO], SessionHandler]] | Refuse:
        socket = await connect_socket(endpoint, mount, params, connect_info, "longpoll", transport_pid, vsn)
        if isinstance(socket, Refuse):
            return socket
        assert socket.serializer is not None
        return socket.serializer, session_opener(socket, endpoint.pool_name(mount.handler))

    return LongPollMount(
        endpoint_name=endpoint.name, pubsub_server=endpoint.pubsub_server,
        secret_key_base=endpoint.secret_key_base, handler_name=mount.handler.__qualname__,
        connect_info=tuple(mount.connect_info), auth_token=bool(mount.auth_token),
        options=mount.longpoll_options, connect=connect, identity=mount,
        transport=mount.handler if issubclass(mount.handler, Transport) else None, slots=limiter)


async def connect_socket(endpoint: Endpoint, mount: SocketMount, params: Mapping[str, Any],
                         connect_info: Mapping[str, Any], transport: str, transport_pid: otp.Pid,
                         vsn: str | None) -> Socket | Refuse:
    """Negotiate the serializer and run the user's ``connect``/``id``; a ``Refuse`` means refused.

    The ``Refuse`` is the user's when ``connect`` refused (its reason goes to the transport's
    ``error_handler``), else a plain ``Refuse()`` (bad vsn, invalid results: 403).

    ``vsn`` comes from ``parse_vsn`` (which already turns a missing vsn into "1.0.0"): None
    means it was not a plain string (``vsn[]=...``) and is refused, as in Phoenix.
    """
    serializer = negotiate_serializer(vsn) if vsn is not None else None
    if serializer is None:
        logger.warning("The client's requested transport version \"%s\" does not match server's "
                       "version requirements of ~> 1.0.0 or ~> 2.0.0", vsn)
        return Refuse()
    assert issubclass(mount.handler, Socket)
    socket = mount.handler()
    socket.endpoint = endpoint
    socket.transport = transport
    socket.transport_pid = transport_pid
    socket.serializer = serializer
    socket.pubsub_server = endpoint.pubsub_server
    name = mount.handler.__qualname__
    started = time.perf_counter() if telemetry.ACTIVE else 0.0
    result = await socket.connect(params, connect_info)
    if telemetry.ACTIVE:
        telemetry.execute(telemetry.SOCKET_CONNECTED, {"duration": time.perf_counter() - started},
                          {"endpoint": endpoint.name, "transport": transport, "handler": name,
                           "result": "ok" if type(result) is Accept else "error"})
    if type(result) is Refuse:
        logger.info("%s refused a connection: %r", name, result.reply)
        return result
    if type(result) is not Accept or not isinstance(result.socket, Socket):
        logger.error("%s.connect returned an invalid value (expected Accept(socket) | Refuse()), got: %r",
                     name, result)
        return Refuse()
    connected: Socket = result.socket
    sid: Any = connected.id()
    if sid is not None and not isinstance(sid, str):
        logger.error("%s.id must return a str or None, got: %r", name, sid)
        return Refuse()
    connected.socket_id = sid
    return connected


async def _websocket(rt: _Runtime, me: otp.Process, stream: trio.SocketStream | trio.SSLStream[trio.SocketStream],
                     mount: SocketMount,
                     request: Request, body: BodyReader, path_params: Mapping[str, str],
                     upgraded: list[Callable[[], Awaitable[None]]]) -> Response | Upgrade:
    endpoint = rt.endpoint
    if request.method != "GET":
        return Response(400)
    if not origin_allowed(endpoint, mount, request):
        return _FORBIDDEN
    options = mount.websocket_options
    token: str | None = None
    protocols = parse_subprotocols(request.header_values("sec-websocket-protocol"))
    if mount.auth_token:
        try:
            token, protocols = extract_auth_token(request.header_values("sec-websocket-protocol"))
        except InvalidAuthToken as exc:
            logger.warning("refusing WebSocket: %s", exc)
            return _FORBIDDEN
    configured = list(options.subprotocols) if options.subprotocols is not None else None
    if token is not None:
        configured = ["phoenix", *(configured or [])]
    ok, chosen = select_subprotocol(protocols, configured)
    if not ok:
        refusals.warning(_source(request), "Could not check Websocket subprotocols for Phoenix.Socket "
                         "transport. Subprotocols of the request: %r; configured: %r", protocols, configured)
        return _FORBIDDEN
    params = {**request.query_dict(), **path_params}
    info_keys = list(mount.connect_info)
    if mount.auth_token and "auth_token" not in info_keys:
        info_keys.append("auth_token")
    connect_info = build_connect_info(request, info_keys, auth_token=token, subprotocols=protocols)
    if issubclass(mount.handler, Transport):
        return await _raw_websocket(me, stream, mount.handler(), params, connect_info, chosen, options,
                                    request, body, upgraded)
    try:
        socket = await connect_socket(endpoint, mount, params, connect_info, "websocket", me.pid,
                                      parse_vsn(request.query_params))
    except Exception:
        logger.exception("%s.connect crashed", mount.handler.__qualname__)
        return Response(500)
    if isinstance(socket, Refuse):
        return _refused(options, mount, request, socket)
    me.summary = lambda: {"transport": "websocket", "state": "upgrading"}
    assert socket.serializer is not None
    handler = ChannelSocketHandler(socket.serializer, session_opener(socket, endpoint.pool_name(mount.handler)))
    return _upgrade(stream, request, body, chosen, options, handler, upgraded)


def _upgrade(stream: trio.SocketStream | trio.SSLStream[trio.SocketStream], request: Request, body: BodyReader,
             subprotocol: str | None, options: WebSocketOptions, handler: ConnectionHandler,
             upgraded: list[Callable[[], Awaitable[None]]]) -> Response | Upgrade:
    """The opening handshake, answered by the connection's state machine from the request
    h11 parsed: the refusal as a response, or the connection handed to the one loop."""
    conn = ServerConnection(max_message_size=options.max_frame_size, compression=options.compress)
    result = conn.accept(request, subprotocol=subprotocol)
    if not isinstance(result, Accepted):
        logger.warning("refusing WebSocket upgrade from %s: %d %s", _peer(request), result.status, result.reason)
        return Response(result.status, [("content-type", "text/plain; charset=utf-8"), *result.headers],
                        result.body)
    rest = body.take_over(replay_head=False).replay  # what the client sent after the request
    upgraded.append(_over(stream, partial(run_websocket, conn=conn, accepted=result, rest=rest,
                                          handler=handler, options=options, peer=_peer(request))))
    return Upgrade()


def _peer(request: Request) -> str | None:
    return f"{request.peer[0]}:{request.peer[1]}" if request.peer else None


def _refused(options: WebSocketOptions, mount: SocketMount, request: Request, refusal: Refuse) -> Response:
    return _refused_by(options, mount.handler.__qualname__, request, refusal)


def _refused_by(options: WebSocketOptions, name: str, request: Request, refusal: Refuse) -> Response:
    """403, or what the ``error_handler`` makes of ``Refuse(reason)`` (Phoenix: ``{:error, reason}``)."""
    handler = options.error_handler
    if handler is None or refusal.reply is None:
        return _FORBIDDEN
    try:
        return handler(request, refusal.reply)
    except Exception:
        logger.exception("the error_handler of %s crashed", name)
        return Response(500)


def _over(stream: trio.SocketStream | trio.SSLStream[trio.SocketStream],
          run: Callable[[trio.SocketStream], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """What the connection runs after an upgrade: ``run`` on the socket, through a TLS bridge if need be."""

    if isinstance(stream, trio.SSLStream):
        return partial(_over_tls, stream, run)
    return partial(run, stream)


async def _over_tls(tls: trio.SSLStream[trio.SocketStream],
                    call: Callable[[trio.SocketStream], Awaitable[None]]) -> None:
    """Run a transport over TLS: it gets a plain socket that ``open_tls_bridge`` pumps."""
    error: BaseException | None = None
    async with open_tls_bridge(tls) as plain:
        try:
            await call(plain)
        except trio.Cancelled:
            raise
        except BaseException as exc:  # re-raised below, outside the bridge's nursery (no ExceptionGroup)
            error = exc
    if error is not None:
        raise error


async def _raw_websocket(me: otp.Process, stream: trio.SocketStream | trio.SSLStream[trio.SocketStream],
                         transport: Transport,
                         params: Mapping[str, Any], connect_info: Mapping[str, Any], chosen: str | None,
                         options: WebSocketOptions, request: Request, body: BodyReader,
                         upgraded: list[Callable[[], Awaitable[None]]]) -> Response | Upgrade:
    name = type(transport).__qualname__
    transport.transport = "websocket"
    try:
        result: Any = await transport.connect(params, connect_info)
    except Exception:
        logger.exception("%s.connect crashed", name)
        return Response(500)
    if isinstance(result, Refuse):
        logger.info("%s refused a connection: %r", name, result.reply)
        return _refused_by(options, name, request, result)
    if not isinstance(result, Accept):
        logger.error("%s.connect returned an invalid value (expected Accept(state) | Refuse()), got: %r",
                     name, result)
        return _FORBIDDEN
    me.behaviour = f"Connection {name}"
    return _upgrade(stream, request, body, chosen, options, TransportHandler(transport, result.socket), upgraded)


# -- drainer -------------------------------------------------------------------------------


class _Drainer(otp.GenServer[tuple[Endpoint, DrainerOptions]]):
    """Sends ``phx_drain`` to every channel when the endpoint shuts down (Phoenix's PoolDrainer)."""

    behaviour_name = "Drainer"
    trap_exit = True

    async def init(self, arg: tuple[Endpoint, DrainerOptions]) -> otp.Ok[tuple[Endpoint, DrainerOptions]]:
        return otp.Ok(arg)

    async def terminate(self, reason: otp.ExitReason, state: tuple[Endpoint, DrainerOptions]) -> None:
        endpoint, opts = state
        node = otp.current_node()
        pids: list[otp.Pid] = []
        for pool in sorted({endpoint.pool_name(m.handler) for m in endpoint.sockets if issubclass(m.handler, Socket)}):
            try:
                n = otp.PartitionSupervisor.partitions(pool)
            except otp.NoProcessError:  # that pool is not running
                continue
            for i in range(n):
                try:
                    pids.extend(pid for _, pid, _, _ in await otp.DynamicSupervisor.which_children(f"{pool}.{i}")
                                if isinstance(pid, otp.Pid))
                except otp.CallError:
                    continue
        if not pids:
            return
        logger.info("%s draining %d channels in batches of %d", endpoint.name, len(pids), opts.batch_size)
        # The transports of these channels: we wait for them to finish their 1012 close.
        transports = {t for t in map(transport_of, pids) if t is not None}
        refs = {otp.monitor(t) for t in transports}
        with trio.move_on_after(opts.shutdown):
            for start in range(0, len(pids), opts.batch_size):
                for pid in pids[start:start + opts.batch_size]:
                    node.send(pid, Drain())
                if start + opts.batch_size < len(pids):
                    await trio.sleep(opts.batch_interval)
            while refs:
                msg = await otp.receive(lambda m: type(m) is otp.Down and m.ref in refs)
                refs.discard(msg.ref)

