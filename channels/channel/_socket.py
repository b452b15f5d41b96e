"""The Socket behaviour: authenticate a connection, name it, and route its topics to channels.

Example::

    class UserSocket(channels.Socket):
        routes = [("room:*", RoomChannel), ("ping", PingChannel)]

        async def connect(self, params, connect_info):
            if params.get("token") != "secret":
                return channels.Refuse()
            return channels.Accept(self.assign(user_id=params.get("user")))

        def id(self):
            return f"users_socket:{self.assigns['user_id']}"

As in Phoenix, the *socket* is both the behaviour and the value: the endpoint makes one
``UserSocket`` instance per connection and calls ``connect`` on it; each joined channel
then gets its own copy with ``topic``, ``join_ref`` and ``channel_pid`` set. A socket
is treated as immutable: ``assign`` returns a new socket, so return it from your callback
(``channels.Accept(socket.assign(...))``, ``channels.NoReply(socket)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import otp

from .. import telemetry
from ..protocol import Message, ReplyMessage, Serializer
from ..transports._messages import Accept as Accept, Refuse as Refuse

__all__ = ["Accept", "Refuse", "Socket", "SocketRef"]

S = TypeVar("S", bound="Socket")


@dataclass(frozen=True, slots=True)
class SocketRef:
    """Where an asynchronous reply goes: ``channels.reply(socket_ref, ...)`` from any process."""

    transport_pid: otp.Pid
    serializer: Serializer
    topic: str
    ref: Any
    join_ref: Any


class Socket:
    """Base class of user sockets (Phoenix's ``use Phoenix.Socket``).

    Class attributes configure it: ``channels`` (route patterns with ``*`` wildcards to
    Channel classes), ``max_channels_per_transport`` (default 100).
    """

    #: ``[(pattern, ChannelClass)]`` or ``[(pattern, ChannelClass, {"assigns": {...}})]``;
    #: ``"room:*"`` matches any topic starting with ``"room:"`` (Phoenix's ``channel`` macro).
    #: (Not called ``channels``: inside a class body that name would hide the ``channels`` module.)
    routes: ClassVar[Sequence[tuple[Any, ...]]] = ()
    #: Joins beyond this many on one connection are refused ("too many channels joined").
    max_channels_per_transport: ClassVar[int] = 100

    # Fields of the value, set by the runtime. Slots: a server holds two or more copies
    # per joined connection (the transport's and each channel's).
    __slots__ = (
        "__dict__",
        "assigns",
        "channel",
        "channel_pid",
        "endpoint",
        "join_ref",
        "joined",
        "pubsub_server",
        "ref",
        "serializer",
        "sink",
        "socket_id",
        "topic",
        "transport",
        "transport_pid",
    )

    assigns: Mapping[str, Any]
    endpoint: Any
    transport: str
    transport_pid: otp.Pid | None
    serializer: Serializer | None
    pubsub_server: str | None
    topic: str | None
    join_ref: Any
    ref: Any
    #: The joined ``Channel`` subclass. Typed ``type[Any]``: ``_channel`` imports this module,
    #: so this one does not import ``_channel`` back (no import cycle, not even for typing).
    channel: type[Any] | None
    channel_pid: otp.Pid | None
    joined: bool
    socket_id: str | None
    sink: Any

    def __init__(self) -> None:
        self.assigns = {}
        self.endpoint = None
        self.transport = "websocket"
        self.transport_pid = None
        self.serializer = None
        self.pubsub_server = None
        self.topic = None
        self.join_ref = None
        self.ref = None
        self.channel = None
        self.channel_pid = None
        self.joined = False
        self.socket_id = None
        #: The transport's sink (internal): pushes and replies are written through it.
        self.sink = None

    def __repr__(self) -> str:
        where = f" topic={self.topic!r}" if self.topic else ""
        return f"<{type(self).__qualname__}{where} assigns={dict(self.assigns)!r}>"

    # -- behaviour --------------------------------------------------------------------

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> Accept[Any] | Refuse:
        """Authenticate the connection. The default accepts everyone.

        ``connect_info`` holds what the mount's ``connect_info`` option lists, as in Phoenix:
        ``peer_data`` (``{"address", "port"}``), ``uri``, ``user_agent``, ``x_headers``,
        ``trace_context_headers``, ``sec_websocket_headers``, ``auth_token``.
        """
        return Accept(self)

    def id(self) -> str | None:
        """A topic identifying this connection's user, or None.

        Broadcasting ``"disconnect"`` to it (``endpoint.broadcast(id, "disconnect", {})``)
        closes every socket of that user with code 1001.
        """
        return None

    # -- value ----------------------------------------------------------------------------

    def assign(self: S, mapping: Mapping[str, Any] | None = None, /, **values: Any) -> S:
        """A copy of the socket with ``values`` merged into ``assigns``."""
        new = self._clone()
        merged = dict(self.assigns)
        if mapping:
            merged.update(mapping)
        merged.update(values)
        new.assigns = merged
        return new

    def _evolve(self: S, **fields: Any) -> S:
        new = self._clone()
        for k, v in fields.items():
            setattr(new, k, v)
        return new

    def _clone(self: S) -> S:
        # Spelled out (every slot but __dict__): a copy per client message is on the
        # request path, and this is about 3x faster than a loop over the slots.
        new = object.__new__(type(self))
        new.assigns = self.assigns
        new.channel = self.channel
        new.channel_pid = self.channel_pid
        new.endpoint = self.endpoint
        new.join_ref = self.join_ref
        new.joined = self.joined
        new.pubsub_server = self.pubsub_server
        new.ref = self.ref
        new.serializer = self.serializer
        new.sink = self.sink
        new.socket_id = self.socket_id
        new.topic = self.topic
        new.transport = self.transport
        new.transport_pid = self.transport_pid
        extra = self.__dict__
        if extra:  # attributes a subclass set on itself
            new.__dict__.update(extra)
        return new

    # -- channel API (valid on a joined channel's socket) -----------------------------

    def _require_joined(self, what: str) -> None:
        if not self.joined or self.transport_pid is None or self.serializer is None:
            raise RuntimeError(
                f"{what} can only be used on a joined socket; inside join/3 send yourself a "
                "message (otp.send(otp.self(), 'after_join')) and do it in handle_info"
            )

    def push(self, event: str, payload: Any) -> None:
        """Send ``event`` to this channel's client (Phoenix's ``push/3``)."""
        self._require_joined("push")
        from ..transports._messages import PushFrame

        frame = self.serializer.encode_push(  # type: ignore[union-attr]
            Message(self.topic or "", event, payload, None, self.join_ref)
        )
        if self.sink is not None:
            self.sink.push(frame)
        else:
            otp.send(self.transport_pid, PushFrame(frame))  # type: ignore[arg-type]
        if telemetry.ACTIVE:
            telemetry.execute(telemetry.CHANNEL_PUSHED, {"count": 1},
                              {"endpoint": getattr(self.endpoint, "name", None),
                               "channel": self.channel.__qualname__ if self.channel is not None else None,
                               "kind": "push"})

    def socket_ref(self) -> SocketRef:
        """A reference for replying later, from any process (only inside ``handle_in``)."""
        self._require_joined("socket_ref")
        if self.ref is None:
            raise RuntimeError("socket_ref can only be taken inside handle_in (the message has a ref)")
        assert self.transport_pid is not None
        assert self.serializer is not None
        return SocketRef(self.transport_pid, self.serializer, self.topic or "", self.ref, self.join_ref)

    def broadcast(self, event: str, payload: Any) -> None:
        """Broadcast ``event`` to every subscriber of this topic, this client included."""
        self._require_joined("broadcast")
        from ..pubsub._fastlane import broadcast

        broadcast(self.pubsub_server or "", self.topic or "", event, payload)

    def broadcast_from(self, event: str, payload: Any) -> None:
        """Broadcast to every subscriber of this topic except this channel's client."""
        self._require_joined("broadcast_from")
        from ..pubsub._fastlane import broadcast

        broadcast(self.pubsub_server or "", self.topic or "", event, payload,
                  from_pid=self.channel_pid)

    # -- routing ---------------------------------------------------------------------------

    @classmethod
    def route(cls, topic: str) -> tuple[type[Any], Mapping[str, Any]] | None:
        """The ``Channel`` subclass (and route options) for ``topic``, or None."""
        for entry in cls.routes:
            pattern, channel = entry[0], entry[1]
            opts: Mapping[str, Any] = entry[2] if len(entry) > 2 else {}
            if pattern == topic or (
                isinstance(pattern, str)
                and pattern.endswith("*")
                and topic.startswith(pattern[:-1])
            ):
                return channel, opts
        return None




def reply(socket_ref: SocketRef, status: str | tuple[str, Any]) -> None:
    """Reply to a client message asynchronously, from any process (Phoenix's ``reply/2``).

    ``status`` is ``"ok"`` / ``"error"`` (empty response) or ``(status, payload)``.
    """
    from ..transports._messages import PushFrame

    st, payload = (status, {}) if isinstance(status, str) else status
    frame = socket_ref.serializer.encode_reply(
        ReplyMessage(socket_ref.topic, st, payload, socket_ref.ref, socket_ref.join_ref)
    )
    otp.send(socket_ref.transport_pid, PushFrame(frame))

