"""The transport side of Phoenix.Socket: joins, leaves, routing to channels, replies.

One ``SocketSession`` lives in each transport process (a WebSocket connection, or a
long-poll session). It is transport-agnostic: it hands encoded frames to the transport's
``write_frame`` and asks it to ``close``. The rules are those of ``Phoenix.Socket``
(``lib/phoenix/socket.ex``, reference §1.7-§1.10, §2.2, §2.7):

* heartbeats (topic ``phoenix``) are answered before any channel lookup;
* joins are synchronous: the transport waits for the channel's join result (or its death)
  before handling anything else, so the join reply precedes every push of that channel;
* a duplicate join kills the old channel (no terminate), joins the new one, and then
  sends ``phx_close`` for the old join;
* a message whose ``join_ref`` is not null and differs from the joined one is stale and
  dropped silently (a stale ``phx_leave`` too);
* a channel that stops gracefully sends ``SocketClose`` first (→ ``phx_close``); any
  other death is seen as ``Down`` (→ ``phx_error``); the socket stays open either way.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import otp

from ..protocol import Broadcast, CloseCode, Message, ReplyMessage, Serializer
from ..pubsub._fastlane import FastlaneSub
from ..pubsub._pubsub import PubSub
from ..transports._messages import (
    ClientMessage,
    JoinResult,
    PushFrame,
    SocketClose,
    SocketDrain,
    TransportIO as TransportIO,
)
from ._channel_server import JoinArgs, channel_child_spec
from ._socket import Socket

__all__ = ["SocketSession", "TransportIO", "session_opener"]

logger = logging.getLogger("channels.socket")
#: Refusals of what a client asked for: WARNING, a few per connection per minute (issue 14 item 9).
refusals = otp.RateLimitedLog(logger)

#: How long a duplicate join waits for the old channel to die before killing it.
DUPLICATE_JOIN_TIMEOUT = 5.0


_INTERCEPTS: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()


def _intercepted(channel_cls: type) -> frozenset[str]:
    """The channel class's ``intercept`` events, one frozenset per class (not per join)."""
    found = _INTERCEPTS.get(channel_cls)
    if found is None:
        found = _INTERCEPTS[channel_cls] = frozenset(getattr(channel_cls, "intercept", ()))
    return found


@dataclass(eq=False, slots=True)
class _Joined:
    topic: str
    pid: otp.Pid
    proc: otp.Process | None
    join_ref: Any
    mref: otp.Ref
    sub: FastlaneSub


class SocketSession:
    """Phoenix.Socket's ``handle_in``/``handle_info`` for one connection."""

    def __init__(self, *, socket: Socket, io: TransportIO, pool: str,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.socket = socket
        self.io = io
        self.pool = pool
        self.serializer: Serializer = socket.serializer  # type: ignore[assignment]
        self.channels: dict[str, _Joined] = {}
        self.by_pid: dict[otp.Pid, _Joined] = {}
        self.by_mref: dict[otp.Ref, _Joined] = {}
        self.on_event = on_event

    def summary(self) -> dict[str, Any]:
        return {
            "socket": type(self.socket).__qualname__,
            "id": self.socket.socket_id,
            "serializer": self.serializer.vsn if hasattr(self.serializer, "vsn") else repr(self.serializer),
            "topics": sorted(self.channels),
        }

    # -- output -------------------------------------------------------------------------

    def _reply(self, join_ref: Any, ref: Any, topic: str, status: str, payload: Any) -> None:
        self.io.write_frame(self.serializer.encode_reply(ReplyMessage(topic, status, payload, ref, join_ref)))

    def _push(self, topic: str, event: str, payload: Any, ref: Any, join_ref: Any) -> None:
        self.io.write_frame(self.serializer.encode_push(Message(topic, event, payload, ref, join_ref)))

    # -- client input -----------------------------------------------------------------------

    async def handle_in(self, msg: Message) -> None:
        """Handle one message from the client (a join waits for the channel's answer)."""
        if not self.handle_in_nowait(msg):
            await self._join(msg)

    def handle_in_nowait(self, msg: Message) -> bool:
        """Handle a message from the client that needs no waiting: everything but a join,
        for which it returns False (then ``handle_in`` it)."""
        topic = msg.topic
        event = msg.event
        if event == "phx_join":
            return False
        if topic == "phoenix" and event == "heartbeat":
            self._reply(None, msg.ref, "phoenix", "ok", {})
            return True
        joined = self.channels.get(topic)
        if joined is not None:
            if msg.join_ref is not None and msg.join_ref != joined.join_ref:
                logger.debug("dropping stale message for %r (join_ref %r, joined %r)",
                             topic, msg.join_ref, joined.join_ref)
                return True
            # Straight into the channel's mailbox (what otp.send does, less the lookup of
            # the pid: this is the request path). Until its Down reaches us the channel
            # may be gone: then, as any send to a dead pid, the message is dropped.
            proc = joined.proc
            if proc is not None and proc.alive:
                proc.deliver(ClientMessage(msg))
            return True
        if event == "phx_leave":
            self._reply(msg.join_ref, msg.ref, topic, "ok", {})
            return True
        self._reply(None, msg.ref, topic, "error", {"reason": "unmatched topic"})
        return True

    async def _join(self, msg: Message) -> None:
        topic = msg.topic
        handler = type(self.socket)
        route = handler.route(topic)
        if route is None:
            refusals.warning(self.socket.transport_pid, 'Ignoring unmatched topic "%s" in %s', topic,
                             handler.__qualname__)
            self._reply(None, msg.ref, topic, "error", {"reason": "unmatched topic"})
            return
        old = self.channels.get(topic)
        if old is not None:
            await self._shutdown_duplicate(old)
        elif len(self.channels) >= handler.max_channels_per_transport:
            refusals.warning(
                self.socket.transport_pid,
                "Rejecting join on %r: max_channels_per_transport (%d) reached by %s",
                topic, handler.max_channels_per_transport, handler.__qualname__,
            )
            self._reply(msg.join_ref, msg.ref, topic, "error", {"reason": "too many channels joined"})
            return
        channel_cls, opts = route
        join_ref = msg.join_ref if msg.join_ref is not None else msg.ref
        socket = self.socket._evolve(topic=topic, join_ref=join_ref, channel=channel_cls, ref=None,
                                     sink=self.io.sink)
        extra = opts.get("assigns")
        if extra:
            socket = socket.assign(extra)
        me = otp.current_process()
        assert me is not None
        ref = otp.make_ref()
        sub = FastlaneSub(self.io.sink, self.serializer, _intercepted(channel_cls), me.pid)
        args = JoinArgs(channel_cls, socket, msg.payload, ref, sub)
        try:
            pid = await otp.PartitionSupervisor.start_child(self.pool, channel_child_spec(args), key=ref)
        except Exception as exc:
            logger.error("could not start channel %s for %r: %r", channel_cls.__qualname__, topic, exc)
            self._reply(msg.join_ref, msg.ref, topic, "error", {"reason": "join crashed"})
            return
        assert pid is not None
        mref = otp.monitor(pid)
        result = await otp.receive(
            lambda m: (type(m) is JoinResult and m.ref is ref) or (type(m) is otp.Down and m.ref is mref)
        )
        # Phoenix 1.7/1.8: the reply carries the join_ref the client sent (null stays null),
        # whatever the outcome; so do phx_close, phx_error and the stale-message check
        # (put_channel stores msg.join_ref). The channel's own pushes and replies use
        # ``socket.join_ref``: that join_ref, or the join's ref if it was null (Phoenix's
        # Channel.Server ``join_ref || ref``). Phoenix <= 1.6 used the join's ref here
        # instead, as the seed transcript shows (README, "The seed transcript and join_ref").
        reply_join_ref = msg.join_ref
        if type(result) is otp.Down:
            self._reply(reply_join_ref, msg.ref, topic, "error", {"reason": "join crashed"})
        elif result.status == "ok":
            # None if it has died since it answered: its Down, on the way, ends the join.
            proc = otp.current_node().process(pid)
            joined = _Joined(topic, pid, proc, msg.join_ref, mref, sub)
            self.channels[topic] = joined
            self.by_pid[pid] = joined
            self.by_mref[mref] = joined
            self._reply(reply_join_ref, msg.ref, topic, "ok", result.reply)
            if old is not None:
                # Phoenix queues this phx_close before the new channel's first push.
                self._push(topic, "phx_close", {}, old.join_ref, old.join_ref)
                old = None
            # Broadcasts that reached us before the reply was written wait in the mailbox
            # (as PushFrames, behind anything the channel sent before them) and are written
            # in mailbox order by the main loop. From now on the fastlane may write straight
            # to the socket: it does so only while our mailbox is empty, so it cannot
            # overtake them.
            sub.ready = True
        else:
            otp.demonitor(mref, flush=True)
            self._reply(reply_join_ref, msg.ref, topic, "error", result.reply)
        if old is not None:
            self._push(topic, "phx_close", {}, old.join_ref, old.join_ref)
        if self.on_event is not None:
            self.on_event("join", {"topic": topic, "status": "ok" if topic in self.channels else "error"})

    async def _shutdown_duplicate(self, old: _Joined) -> None:
        self._forget(old)
        otp.demonitor(old.mref, flush=True)
        mref = otp.monitor(old.pid)
        otp.exit(old.pid, otp.Shutdown("duplicate_join"))
        try:
            await otp.receive(lambda m: type(m) is otp.Down and m.ref is mref,
                              timeout=DUPLICATE_JOIN_TIMEOUT)
        except otp.ReceiveTimeout:
            otp.exit(old.pid, otp.KILL)
            await otp.receive(lambda m: type(m) is otp.Down and m.ref is mref)
        otp.flush(lambda m: type(m) is SocketClose and m.pid is old.pid)

    def _forget(self, joined: _Joined) -> None:
        if self.channels.get(joined.topic) is joined:
            del self.channels[joined.topic]
        self.by_pid.pop(joined.pid, None)
        self.by_mref.pop(joined.mref, None)

    # -- messages from channels and pubsub ----------------------------------------------------

    def handle_info(self, msg: Any) -> bool:
        """Handle a mailbox message; False if it is not a session message."""
        t = type(msg)
        if t is PushFrame:
            self.io.write_frame(msg.frame)
            return True
        if t is SocketClose:
            joined = self.by_pid.get(msg.pid)
            if joined is not None:
                self._forget(joined)
                otp.demonitor(joined.mref, flush=True)
                self._push(joined.topic, "phx_close", {}, joined.join_ref, joined.join_ref)
            return True
        if t is otp.Down:
            joined = self.by_mref.get(msg.ref)
            if joined is not None:
                self._forget(joined)
                self._push(joined.topic, "phx_error", {"reason": "channel_crash"},
                           joined.join_ref, joined.join_ref)
            return joined is not None
        if t is SocketDrain:
            self.io.close(CloseCode.SERVICE_RESTART, otp.Shutdown("restart"))
            return True
        if t is Broadcast:
            if msg.topic == self.socket.socket_id and msg.event == "disconnect":
                self.io.close(CloseCode.GOING_AWAY, otp.Shutdown("disconnected"))
            return True
        return False


def session_opener(socket: Socket, pool: str) -> Callable[[TransportIO], SocketSession]:
    """What a transport calls, in its own process, to start carrying ``socket``.

    Subscribes the transport process to the socket id (``socket.id``-wide disconnects) and
    makes the ``SocketSession``. The endpoint hands this to the transport, so that transports
    never import the channel layer.
    """

    def open_session(io: TransportIO) -> SocketSession:
        session = SocketSession(socket=socket, io=io, pool=pool)
        if socket.socket_id is not None and socket.pubsub_server is not None:
            PubSub.subscribe(socket.pubsub_server, socket.socket_id)
        return session

    return open_session

