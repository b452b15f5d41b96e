"""Presence: who is online on which topic, replicated across nodes (Phoenix.Presence).

Example::

    presence = channels.Presence("Chat.Presence", pubsub_server=endpoint.pubsub_server)
    endpoint = channels.Endpoint(..., extra_children=[presence.child_spec()])

    class RoomChannel(channels.Channel):
        async def join(self, topic, payload, socket):
            otp.send(otp.self(), "after_join")
            return channels.Accept(socket.assign(user=payload["user"]))

        async def handle_info(self, msg, socket):
            if msg == "after_join":
                socket.push("presence_state", presence.list(socket))
                await presence.track(socket, socket.assigns["user"], {"online_at": time.time()})
            return channels.NoReply(socket)

The JS client's ``Presence`` then follows ``presence_state`` and ``presence_diff``.

# Design (Phoenix.Tracker, one shard)

A tracker process per node holds a ``TrackerState`` (``channels.presence._tracker_state``: an
add-wins observed-remove set with dotted version vectors). ``track`` links the tracked
process (the tracker traps exits, so a channel's death is a leave) and reports the change
at once to the local subscribers as a ``presence_diff`` broadcast (fastlane-encoded).

Replication goes over the PubSub itself, so it crosses nodes through whatever adapter the
PubSub has (Redis in a cluster), as JSON: every ``broadcast_period`` the tracker sends a
heartbeat with its pending *delta* (not the full state) and its clock. A peer that sees
an owner's clock ahead of what it has asks that owner for a transfer (the owner's current
values) with ``direct_broadcast``. A replica silent for ``down_period`` is *down*: its
presences are reported as leaves and hidden; if it comes back they are joins again; after
``permdown_period`` (or a graceful shutdown) it is purged. A restarted node is a new
replica (its name carries a start version), as in Phoenix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

import otp

from ..pubsub._fastlane import broadcast as _channel_broadcast
from ..pubsub._pubsub import PubSub
from ._tracker_state import (
    AlreadyTrackedError,
    NotTrackedError,
    TrackedValue,
    TrackerDelta,
    TrackerState,
    group_diff,
    list_presences,
    split_by_topic,
    stamp_meta,
)

__all__ = ["Presence", "PresenceError"]

logger = logging.getLogger("channels.presence")


class JoinedSocket(Protocol):
    """What presence needs of a joined ``channels.Socket``: its channel process and topic.

    A protocol, not the class, so that presence (below the channel layer) never imports it.
    """

    @property
    def channel_pid(self) -> otp.Pid | None: ...

    @property
    def topic(self) -> str | None: ...


_Metas = list[dict[str, Any]]


class PresenceError(RuntimeError):
    """A presence operation was refused (already tracked, not tracked...)."""


@dataclass(eq=False)
class _Tracker:
    presence: Presence
    state: TrackerState
    node_name: str
    topic: str
    last_seen: dict[str, float] = field(default_factory=dict)
    node_of: dict[str, str] = field(default_factory=dict)
    silent_periods: int = 0
    pid_keys: dict[str, otp.Pid] = field(default_factory=dict)
    heartbeats_sent: int = 0
    transfers: int = 0


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


class _TrackerServer(otp.GenServer[_Tracker]):
    behaviour_name = "Presence.Tracker"
    trap_exit = True

    async def init(self, presence: Presence) -> otp.Ok[_Tracker]:
        node_name = PubSub.node_name(presence.pubsub_server)
        replica = f"{node_name}:{time.time_ns()}"
        tracker = _Tracker(presence, TrackerState(replica), node_name, f"phx_presence:{presence.name}")
        presence._tracker = tracker
        PubSub.subscribe(presence.pubsub_server, tracker.topic)
        # The first heartbeat after a random part of the period, as Phoenix does.
        otp.send_after(presence.broadcast_period * 0.25, otp.self(), _Tick())
        return otp.Ok(tracker)

    def format_status(self, state: _Tracker) -> Any:
        return {
            "replica": state.state.replica,
            "presences": len(state.state),
            "replicas": {r: s.value for r, s in state.state.replicas.items()},
            "heartbeats_sent": state.heartbeats_sent,
            "transfers": state.transfers,
        }

    # -- local operations (calls) --------------------------------------------------------

    async def handle_call(self, request: Any, from_: otp.From, t: _Tracker
                          ) -> otp.Reply[_Tracker] | otp.NoReply[_Tracker] | otp.Stop[_Tracker]:
        op = request[0]
        st = t.state
        try:
            if op == "track":
                _, pid, topic, key, meta = request
                pid_key = self._pid_key(t, pid)
                value = st.join(pid_key, topic, key, stamp_meta(meta))
                otp.link(pid)
                self._report(t, [value], [])
                return otp.Reply(("ok", value.meta["phx_ref"]), t)
            if op == "untrack":
                _, pid, topic, key = request
                pid_key = self._pid_key(t, pid)
                if topic is None:
                    left = st.leave_pid(pid_key)
                else:
                    one = st.leave(pid_key, topic, key)
                    left = [one] if one is not None else []
                self._report(t, [], left)
                return otp.Reply(("ok", None), t)
            if op == "update":
                _, pid, topic, key, meta = request
                pid_key = self._pid_key(t, pid)
                current = st.get(pid_key, topic, key)
                if current is None:
                    return otp.Reply(("error", PresenceError(f"{pid} does not track {key!r} on {topic!r}")), t)
                new_meta = meta(current.meta) if callable(meta) else meta
                old, new = st.update(pid_key, topic, key, stamp_meta(new_meta, prev=current.meta))
                self._report(t, [new], [old])
                return otp.Reply(("ok", new.meta["phx_ref"]), t)
        except (AlreadyTrackedError, NotTrackedError) as exc:
            return otp.Reply(("error", PresenceError(str(exc))), t)
        return await super().handle_call(request, from_, t)

    def _pid_key(self, t: _Tracker, pid: otp.Pid) -> str:
        key = f"{t.state.replica}|{pid}"
        t.pid_keys[key] = pid
        return key

    def _report(self, t: _Tracker, joins: list[TrackedValue], leaves: list[TrackedValue]) -> None:
        """Broadcast ``presence_diff`` to local subscribers, per topic."""
        if not joins and not leaves:
            return
        for topic, (j, lv) in split_by_topic(joins, leaves).items():
            payload = t.presence.fetch(topic, group_diff(j, lv))
            _channel_broadcast(t.presence.pubsub_server, topic, "presence_diff", payload, local=True)

    # -- messages ------------------------------------------------------------------------

    async def handle_info(self, msg: Any, t: _Tracker) -> otp.NoReply[_Tracker] | otp.Stop[_Tracker]:
        if type(msg) is otp.Exit:
            key = f"{t.state.replica}|{msg.pid}"
            if t.pid_keys.pop(key, None) is not None:
                self._report(t, [], t.state.leave_pid(key))
            return otp.NoReply(t)
        if type(msg) is _Tick:
            self._heartbeat(t)
            self._check_down(t)
            otp.send_after(t.presence.broadcast_period, otp.self(), _Tick())
            return otp.NoReply(t)
        if isinstance(msg, dict) and "t" in msg:
            try:
                self._replication(t, msg)
            except Exception:
                logger.exception("presence %s: dropping a malformed replication message", t.presence.name)
            return otp.NoReply(t)
        return await super().handle_info(msg, t)

    def _send(self, t: _Tracker, msg: dict[str, Any], to_node: str | None = None) -> None:
        pubsub = t.presence.pubsub_server
        me = otp.self()
        if to_node is None:
            PubSub.broadcast_from(pubsub, me, t.topic, msg)
        else:
            PubSub.direct_broadcast(to_node, pubsub, t.topic, msg)

    def _heartbeat(self, t: _Tracker) -> None:
        st = t.state
        if st.has_delta():
            delta = st.take_delta()
            wire: Any = delta.to_wire()
        elif t.silent_periods + 1 >= t.presence.max_silent_periods:
            wire = None
        else:
            t.silent_periods += 1
            return
        t.silent_periods = 0
        t.heartbeats_sent += 1
        _replica, clocks = st.clocks()
        self._send(t, {"t": "hb", "from": st.replica, "node": t.node_name, "delta": wire, "clocks": clocks})

    def _check_down(self, t: _Tracker) -> None:
        now = trio.current_time()
        st = t.state
        p = t.presence
        for replica, seen in list(t.last_seen.items()):
            silent = now - seen
            if silent > p.permdown_period:
                self._report(t, [], st.remove_down_replicas(replica))
                del t.last_seen[replica]
                t.node_of.pop(replica, None)
            elif silent > p.down_period:
                leaves = st.replica_down(replica)
                if leaves:
                    logger.info("presence %s: replica %s is down (silent %.1f s)", p.name, replica, silent)
                self._report(t, [], leaves)

    def _replication(self, t: _Tracker, msg: dict[str, Any]) -> None:
        st = t.state
        kind = msg["t"]
        origin = msg.get("from")
        if not isinstance(origin, str) or origin == st.replica:
            return
        if kind == "permdown":
            self._report(t, [], st.remove_down_replicas(origin))
            t.last_seen.pop(origin, None)
            return
        node = msg.get("node")
        if isinstance(node, str):
            t.node_of[origin] = node
        if kind == "hb":
            t.last_seen[origin] = trio.current_time()
            known = st.status(origin) is not None
            joins = st.replica_up(origin)
            if joins:
                self._report(t, joins, [])
            if msg.get("delta") is not None:
                self._merge(t, TrackerDelta.from_wire(msg["delta"]))
            remote_clock = (msg.get("clocks") or {}).get(origin, 0)
            if not known or remote_clock > st.context.get(origin, 0):
                # We are missing some of the owner's events: ask it for its values.
                self._send(t, {"t": "transfer_req", "from": st.replica, "node": t.node_name, "to": origin,
                               "context": st.clocks()[1]}, to_node=t.node_of.get(origin))
        elif kind == "transfer_req" and msg.get("to") == st.replica:
            t.last_seen.setdefault(origin, trio.current_time())
            st.replica_up(origin)
            t.transfers += 1
            ctx = msg.get("context") or {}
            self._send(t, {"t": "transfer_ack", "from": st.replica, "node": t.node_name, "to": origin,
                           "state": st.extract(origin, ctx).to_wire()}, to_node=t.node_of.get(origin))
        elif kind == "transfer_ack" and msg.get("to") == st.replica:
            t.last_seen[origin] = trio.current_time()
            self._report(t, st.replica_up(origin), [])
            self._merge(t, TrackerDelta.from_wire(msg["state"]))

    def _merge(self, t: _Tracker, delta: TrackerDelta) -> None:
        joins, leaves = t.state.merge(delta)
        self._report(t, joins, leaves)

    async def terminate(self, reason: otp.ExitReason, t: _Tracker) -> None:
        # A graceful stop tells the others to drop our presences now, not after down_period.
        try:
            self._send(t, {"t": "permdown", "from": t.state.replica, "node": t.node_name})
        except Exception:
            pass
        t.presence._tracker = None


def _unwrap(result: tuple[str, Any]) -> Any:
    tag, value = result
    if tag == "error":
        raise value
    return value


class Presence:
    """A presence tracker bound to a PubSub (Phoenix's ``use Phoenix.Presence``).

    Subclass and override ``fetch`` to decorate presences (e.g. add user names).

    Args:
      name: unique name (the tracker process is registered under it).
      pubsub_server: the PubSub to replicate over (``endpoint.pubsub_server``).
      broadcast_period: seconds between heartbeats (Phoenix: 1.5).
      max_silent_periods: send an empty heartbeat at least every this many periods.
      down_period: a replica silent this long is down (default 2 x period x max_silent).
      permdown_period: a replica silent this long is purged (Phoenix: 20 min).
    """

    def __init__(self, name: str, *, pubsub_server: str, broadcast_period: float = 1.5,
                 max_silent_periods: int = 10, down_period: float | None = None,
                 permdown_period: float = 1200.0) -> None:
        self.name = name
        self.pubsub_server = pubsub_server
        self.broadcast_period = broadcast_period
        self.max_silent_periods = max_silent_periods
        self.down_period = down_period if down_period is not None else broadcast_period * max_silent_periods * 2
        if self.down_period < 2 * broadcast_period:
            raise ValueError("down_period must be at least 2 x broadcast_period")
        self.permdown_period = permdown_period
        if self.permdown_period <= self.down_period:
            raise ValueError("permdown_period must be greater than down_period")
        self._tracker: _Tracker | None = None

    def child_spec(self) -> otp.ChildSpec:
        presence = self

        async def start() -> otp.Pid:
            return await _TrackerServer.start_link(presence, name=presence.name)

        return otp.ChildSpec(id=self.name, start=start, behaviour="Presence.Tracker")

    # -- callbacks -------------------------------------------------------------------------

    def fetch(self, topic: str, presences: Any) -> Any:
        """Decorate presences before they are listed or broadcast (default: unchanged)."""
        return presences

    # -- API ---------------------------------------------------------------------------------

    async def track(self, socket: JoinedSocket, key: str, meta: Mapping[str, Any]) -> str:
        """Track the channel process of ``socket`` on its topic under ``key``; returns the phx_ref.

        Raises ``PresenceError`` if that process already tracks ``key`` on the topic.
        """
        assert socket.channel_pid is not None, "track needs a joined socket"
        assert socket.topic is not None
        return await self.track_pid(socket.channel_pid, socket.topic, key, meta)

    async def track_pid(self, pid: otp.Pid, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        """Track any process on any topic."""
        return _unwrap(await otp.call(self.name, ("track", pid, topic, str(key), dict(meta))))  # type: ignore[no-any-return]

    async def untrack(self, socket: JoinedSocket, key: str) -> None:
        assert socket.channel_pid is not None
        assert socket.topic is not None
        await self.untrack_pid(socket.channel_pid, socket.topic, key)

    async def untrack_pid(self, pid: otp.Pid, topic: str | None = None, key: str | None = None) -> None:
        """Stop tracking ``key`` on ``topic`` for ``pid`` (everything of ``pid`` if topic is None)."""
        _unwrap(await otp.call(self.name, ("untrack", pid, topic, None if key is None else str(key))))

    async def update(self, socket: JoinedSocket, key: str,
                     meta: Mapping[str, Any] | Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> str:
        """Replace the meta (or apply a function to it); the new meta carries ``phx_ref_prev``."""
        assert socket.channel_pid is not None
        assert socket.topic is not None
        return await self.update_pid(socket.channel_pid, socket.topic, key, meta)

    async def update_pid(self, pid: otp.Pid, topic: str, key: str,
                         meta: Mapping[str, Any] | Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> str:
        return _unwrap(await otp.call(self.name, ("update", pid, topic, str(key), meta)))  # type: ignore[no-any-return]

    def list(self, socket_or_topic: JoinedSocket | str) -> dict[str, dict[str, _Metas]]:
        """``{key: {"metas": [...]}}`` for a topic, as the JS client's Presence expects."""
        topic = socket_or_topic if isinstance(socket_or_topic, str) else socket_or_topic.topic
        tracker = self._tracker
        if tracker is None or topic is None:
            return {}
        return self.fetch(topic, list_presences(tracker.state.get_by_topic(topic)))  # type: ignore[no-any-return]

    def get_by_key(self, topic: str, key: str) -> dict[str, _Metas]:
        tracker = self._tracker
        if tracker is None:
            return {"metas": []}
        return list_presences(tracker.state.get_by_key(topic, str(key))).get(str(key), {"metas": []})
