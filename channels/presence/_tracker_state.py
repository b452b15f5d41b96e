"""The presence CRDT of Phoenix.Tracker: an add-wins observed-remove set with dotted version vectors.

This is a pure data structure (no I/O, no Trio), ported from the semantics of
``Phoenix.Tracker.State``, ``Clock`` and ``DeltaGeneration`` (phoenix_pubsub 2.2).

Vocabulary:

* A **replica** is a tracker instance (one per node and shard), named by a string. A
  restarted node must use a *new* name (Phoenix pairs the node name with a start
  ``vsn``), because a replica's clock restarts at zero.
* A **dot** or **tag** ``(replica, clock)`` names one event of one replica. Every join,
  leave and update consumes dots of the replica that performs it.
* The **causal context** is what a replica has seen: ``context[r]`` is the largest
  clock of ``r`` below which every dot was seen, ``clouds[r]`` holds the dots seen
  beyond that (non-contiguous). :meth:`TrackerState.compact` folds clouds into the
  context.
* An **element** is a :class:`TrackedValue`: ``(topic, pid_key, key, meta)`` with the
  tag of the join that created it. Only its owner replica removes it.

Replication (done by the tracker process, not here): every period, a replica sends its
accumulated :class:`TrackerDelta` (:meth:`TrackerState.take_delta`); a peer that falls
behind asks for a transfer and gets :meth:`TrackerState.extract` (the full state, or a
buffered delta generation, see :class:`DeltaGenerations`). :meth:`TrackerState.merge`
applies either and reports the joins and leaves it caused.

Merge rules (``phoenix-protocol.md`` §6.2):

* remote values of known replicas whose tag the local context has not seen are joins;
* local values owned by other replicas whose tag the remote context has seen but which
  the remote no longer holds are leaves;
* then the contexts are joined and compacted.

Differences from Phoenix, on purpose:

* Values are keyed by tag, so two tags for the same ``(topic, pid_key, key)`` can coexist
  briefly on a replica that received a re-join before the older leave; Phoenix's ETS
  table silently overwrote one, which made its diffs inconsistent.
* A removed tag stays in the causal context (Phoenix deleted it from the clouds, which
  let a late duplicate delta resurrect the element until the next full transfer).
* Joins and leaves of elements owned by a replica that is *down* are not reported by
  :meth:`TrackerState.merge` (they are hidden), and :meth:`TrackerState.replica_up`
  / :meth:`TrackerState.replica_down` report only on a status change. So the reported
  diffs always describe exactly the change of :meth:`TrackerState.get_by_topic`.

Everything crossing the network is plain JSON-able data (:meth:`TrackerDelta.to_wire`,
:meth:`TrackerDelta.from_wire`); ``pid_key`` must then be a str, int, float, bool,
None or a tuple of those (tuples travel as JSON arrays and come back as tuples).
"""

from __future__ import annotations

import base64
import enum
import itertools
import os
import socket
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "AlreadyTrackedError",
    "Context",
    "DeltaGenerations",
    "NotTrackedError",
    "ReplicaStatus",
    "Tag",
    "TrackedValue",
    "TrackerDelta",
    "TrackerState",
    "TrackerWireError",
    "append_clock",
    "clockset_replicas",
    "dominates",
    "dominates_or_equal",
    "group_diff",
    "list_presences",
    "lowerbound",
    "merge_deltas",
    "random_ref",
    "split_by_topic",
    "stamp_meta",
    "upperbound",
]

WIRE_VERSION = 1

Tag: TypeAlias = tuple[str, int]
"""A dot: ``(replica, clock)``."""

Context: TypeAlias = dict[str, int]
"""A version vector: ``{replica: clock}``."""

Clouds: TypeAlias = dict[str, set[int]]
"""Dots seen beyond the context: ``{replica: {clock, ...}}``."""

PidKey: TypeAlias = Hashable
"""Identifies the tracked process; must be unique across the cluster."""

Meta: TypeAlias = dict[str, Any]
"""Presence metadata (JSON-able); carries ``phx_ref`` once stamped."""


class AlreadyTrackedError(ValueError):
    """The process already tracks this ``(topic, key)`` on this replica."""


class NotTrackedError(LookupError):
    """The process does not track this ``(topic, key)`` on this replica."""


class TrackerWireError(ValueError):
    """Data received from another node is not a valid tracker state or delta."""


class ReplicaStatus(enum.Enum):
    """What a replica knows about another replica."""

    UP = "up"
    DOWN = "down"
    PERMDOWN = "permdown"


@dataclass(frozen=True, slots=True)
class TrackedValue:
    """One tracked presence: ``pid_key`` tracks ``key`` on ``topic`` with ``meta``.

    ``tag`` is the dot of the join (or update) that created it; its replica is the
    owner.
    """

    topic: str
    pid_key: PidKey
    key: str
    meta: Meta
    tag: Tag

    @property
    def replica(self) -> str:
        """The owner replica."""
        return self.tag[0]


# -- version vectors (Phoenix.Tracker.Clock) ------------------------------------


def upperbound(c1: Mapping[str, int], c2: Mapping[str, int]) -> Context:
    """The pointwise maximum of two version vectors."""
    out = dict(c1)
    for r, v in c2.items():
        if v > out.get(r, v - 1):
            out[r] = v
    return out


def lowerbound(c1: Mapping[str, int], c2: Mapping[str, int]) -> Context:
    """The pointwise minimum of two version vectors (over the union of their replicas)."""
    out = dict(c1)
    for r, v in c2.items():
        if v < out.get(r, v + 1):
            out[r] = v
    return out


def dominates(c1: Mapping[str, int], c2: Mapping[str, int]) -> bool:
    """Whether ``c1`` has seen everything ``c2`` has, for all replicas of ``c2``."""
    if len(c1) < len(c2):
        return False
    return all(c1.get(r, 0) >= v for r, v in c2.items())


def dominates_or_equal(c1: Mapping[str, int], c2: Mapping[str, int]) -> bool:
    """Whether ``c1`` dominates ``c2`` on the replicas of ``c1`` (Phoenix's definition)."""
    if not c1:
        return not c2
    return all(v >= c2.get(r, 0) for r, v in c1.items())


def clockset_replicas(clockset: Iterable[tuple[str, Mapping[str, int]]]) -> list[str]:
    """The replica names of a clockset."""
    return [name for name, _ in clockset]


def append_clock(
    clockset: list[tuple[str, Context]], clock: tuple[str, Mapping[str, int]]
) -> list[tuple[str, Context]]:
    """Add ``(replica, context)`` to a clockset, keeping only the non-dominated clocks.

    The tracker collects the clocks of heartbeats this way, then asks the replicas left
    in the set (other than itself) for a transfer.
    """
    name, ctx = clock
    if not ctx:
        return clockset
    big: Context = {}
    for _, c in clockset:
        big = upperbound(big, c)
    if dominates(ctx, big):
        return [(name, dict(ctx))]
    if dominates(big, ctx):
        return clockset
    kept: list[tuple[str, Context]] = []
    insert = False
    for other_name, other in clockset:
        if dominates(ctx, other):
            insert = True
        else:
            kept.append((other_name, other))
            insert = insert or not dominates(other, ctx)
    kept.reverse()  # Phoenix accumulates in reverse; keep its order
    if insert:
        return [(name, dict(ctx)), *kept]
    return kept


def _in(context: Mapping[str, int], clouds: Mapping[str, set[int]], tag: Tag) -> bool:
    replica, clock = tag
    if context.get(replica, 0) >= clock:
        return True
    cloud = clouds.get(replica)
    return cloud is not None and clock in cloud


def _compact(context: Context, clouds: Clouds) -> tuple[Context, Clouds]:
    new_ctx = dict(context)
    new_clouds: Clouds = {}
    for replica, cloud in clouds.items():
        rest: set[int] = set()
        for clock in sorted(cloud):
            current = new_ctx.get(replica)
            if current is not None and clock == current + 1:
                new_ctx[replica] = clock
            elif current is not None and current >= clock:
                pass
            elif current is None and clock == 1:
                new_ctx[replica] = 1
            else:
                rest.add(clock)
        if rest:
            new_clouds[replica] = rest
    return new_ctx, new_clouds


# -- deltas ---------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class TrackerDelta:
    """Replication data: a delta of recent operations, or an extracted full state.

    Attributes:
        replica: the replica that produced it.
        context: empty for a delta (its causal information is all in ``clouds``); the
            sender's context (pruned to replicas the receiver knows) for a full state.
        clouds: the dots this data covers beyond ``context``.
        values: the elements it carries, by tag.
        start: for a delta, the sender's clocks when it started accumulating.
        end: for a delta, the sender's clocks when it was taken.
        full: True for an extracted full state (a transfer), False for a delta.
    """

    replica: str
    context: Context = field(default_factory=dict)
    clouds: Clouds = field(default_factory=dict)
    values: dict[Tag, TrackedValue] = field(default_factory=dict)
    start: Context = field(default_factory=dict)
    end: Context = field(default_factory=dict)
    full: bool = False

    def size(self) -> int:
        """The number of values plus the number of cloud dots (Phoenix's ``delta_size``)."""
        return len(self.values) + sum(len(c) for c in self.clouds.values())

    def is_empty(self) -> bool:
        """Whether the delta carries no dots at all (nothing happened)."""
        return not any(self.clouds.values()) and not self.values

    def copy(self) -> TrackerDelta:
        """A copy sharing no mutable containers (metas are shared)."""
        return TrackerDelta(
            replica=self.replica,
            context=dict(self.context),
            clouds={r: set(c) for r, c in self.clouds.items()},
            values=dict(self.values),
            start=dict(self.start),
            end=dict(self.end),
            full=self.full,
        )

    def extract(self, remote_replica: str, remote_context: Mapping[str, int]) -> TrackerDelta:
        """The part of this delta worth sending to ``remote_replica``.

        Keeps only replicas the remote knows (the keys of ``remote_context``) and drops
        the remote's own values.
        """
        known = remote_context.keys()
        return TrackerDelta(
            replica=self.replica,
            context={r: v for r, v in self.context.items() if r in known},
            clouds={r: set(c) for r, c in self.clouds.items() if r in known},
            values={
                tag: v
                for tag, v in self.values.items()
                if tag[0] != remote_replica and tag[0] in known
            },
            start={r: v for r, v in self.start.items() if r in known},
            end={r: v for r, v in self.end.items() if r in known},
            full=self.full,
        )

    def remove_down_replicas(self, replica: str) -> None:
        """Forget everything about a permanently gone replica."""
        self.context.pop(replica, None)
        self.clouds.pop(replica, None)
        self.start.pop(replica, None)
        self.end.pop(replica, None)
        for tag in [t for t in self.values if t[0] == replica]:
            del self.values[tag]

    def to_wire(self) -> dict[str, Any]:
        """Plain JSON-able data (see :meth:`from_wire`)."""
        return {
            "v": WIRE_VERSION,
            "kind": "state" if self.full else "delta",
            "replica": self.replica,
            "context": dict(self.context),
            "clouds": {r: sorted(c) for r, c in self.clouds.items() if c},
            "values": [_value_to_wire(v) for v in self.values.values()],
            "range": [dict(self.start), dict(self.end)],
        }

    @classmethod
    def from_wire(cls, data: object) -> TrackerDelta:
        """Rebuild a delta or state from :meth:`to_wire` output (after a JSON round trip).

        Raises:
            TrackerWireError: if ``data`` does not have the expected shape.
        """
        d = _expect_dict(data, "delta")
        _check_version(d)
        kind = d.get("kind")
        if kind not in ("delta", "state"):
            raise TrackerWireError(f"'kind' must be 'delta' or 'state', got {kind!r}")
        rng = d.get("range")
        if not isinstance(rng, list) or len(rng) != 2:
            raise TrackerWireError("'range' must be a list of two contexts")
        values = _values_from_wire(d.get("values"))
        return cls(
            replica=_expect_str(d.get("replica"), "replica"),
            context=_context_from_wire(d.get("context"), "context"),
            clouds=_clouds_from_wire(d.get("clouds")),
            values={v.tag: v for v in values},
            start=_context_from_wire(rng[0], "range start"),
            end=_context_from_wire(rng[1], "range end"),
            full=kind == "state",
        )


def merge_deltas(local: TrackerDelta, remote: TrackerDelta) -> TrackerDelta | None:
    """Combine two contiguous deltas into one (for delta generations).

    Returns:
        The merged delta (a new object), or None if the ranges are not contiguous.
    """
    ls, le, rs, re_ = local.start, local.end, remote.start, remote.end
    if not (
        (dominates_or_equal(re_, ls) and dominates_or_equal(le, rs))
        or (dominates_or_equal(le, rs) and dominates_or_equal(re_, ls))
    ):
        return None
    clouds = {r: set(c) for r, c in local.clouds.items()}
    for r, c in remote.clouds.items():
        clouds.setdefault(r, set()).update(c)
    values = {
        tag: v
        for tag, v in local.values.items()
        if tag in remote.values or not _in(remote.context, remote.clouds, tag)
    }
    for tag, v in remote.values.items():
        if tag not in local.values and not _in(local.context, local.clouds, tag):
            values[tag] = v
    return TrackerDelta(
        replica=local.replica,
        context=dict(local.context),
        clouds=clouds,
        values=values,
        start=lowerbound(ls, rs),
        end=upperbound(le, re_),
        full=False,
    )


# -- the state --------------------------------------------------------------------


class TrackerState:
    """One replica's view of the presence set, with its pending delta.

    The state is mutable: operations change it in place and return what changed, so
    the tracker can report diffs. Operations on local presences (:meth:`join`,
    :meth:`leave`, :meth:`leave_pid`, :meth:`update`) also accumulate into
    :attr:`delta`, which the tracker broadcasts with :meth:`take_delta`.

    Args:
        replica: this replica's name (unique; a restarted node needs a new one).
    """

    def __init__(self, replica: str) -> None:
        self.replica: str = replica
        self.context: Context = {replica: 0}
        self.clouds: Clouds = {}
        self.replicas: dict[str, ReplicaStatus] = {replica: ReplicaStatus.UP}
        self.delta: TrackerDelta = TrackerDelta(replica)
        self._values: dict[Tag, TrackedValue] = {}
        self._by_topic: dict[str, dict[Tag, TrackedValue]] = {}
        self._by_replica: dict[str, set[int]] = {}
        self._local: dict[tuple[PidKey, str, str], Tag] = {}
        self._by_pid: dict[PidKey, dict[tuple[str, str], None]] = {}
        self.reset_delta()

    def __repr__(self) -> str:
        return (
            f"<TrackerState {self.replica!r} values={len(self._values)} "
            f"context={self.context!r}>"
        )

    # -- queries ----------------------------------------------------------------

    def clocks(self) -> tuple[str, Context]:
        """``(replica, context)`` without down replicas, as sent in heartbeats."""
        down = self._down()
        return self.replica, {r: c for r, c in self.context.items() if r not in down}

    def status(self, replica: str) -> ReplicaStatus | None:
        """The known status of ``replica`` (None if never seen)."""
        return self.replicas.get(replica)

    def get_by_topic(self, topic: str) -> list[TrackedValue]:
        """The values on ``topic`` owned by replicas that are up, in arrival order."""
        bucket = self._by_topic.get(topic)
        if not bucket:
            return []
        down = self._down()
        if not down:
            return list(bucket.values())
        return [v for v in bucket.values() if v.tag[0] not in down]

    def get_by_key(self, topic: str, key: str) -> list[TrackedValue]:
        """The values on ``topic`` for ``key`` owned by replicas that are up."""
        return [v for v in self.get_by_topic(topic) if v.key == key]

    def get(self, pid_key: PidKey, topic: str, key: str) -> TrackedValue | None:
        """The local value tracked by ``pid_key`` for ``(topic, key)``, if any."""
        tag = self._local.get((pid_key, topic, key))
        return None if tag is None else self._values[tag]

    def get_by_pid(self, pid_key: PidKey) -> list[TrackedValue]:
        """All local values tracked by ``pid_key``."""
        pairs = self._by_pid.get(pid_key, {})
        return [self._values[self._local[(pid_key, t, k)]] for t, k in pairs]

    def online_list(self) -> list[TrackedValue]:
        """Every value owned by a replica that is up."""
        down = self._down()
        return [v for v in self._values.values() if v.tag[0] not in down]

    def values(self) -> Iterator[TrackedValue]:
        """Every value held, including those of down replicas."""
        return iter(list(self._values.values()))

    def __len__(self) -> int:
        return len(self._values)

    def topics(self) -> list[str]:
        """Topics with at least one value held."""
        return list(self._by_topic)

    def has_delta(self) -> bool:
        """Whether local operations happened since the last :meth:`reset_delta`."""
        return any(self.delta.clouds.values())

    # -- local operations ---------------------------------------------------------

    def join(self, pid_key: PidKey, topic: str, key: str, meta: Meta) -> TrackedValue:
        """Track ``key`` on ``topic`` for the local process ``pid_key``.

        Returns:
            The new value (report it as a join).

        Raises:
            AlreadyTrackedError: if ``pid_key`` already tracks ``(topic, key)``.
        """
        if (pid_key, topic, key) in self._local:
            raise AlreadyTrackedError(
                f"{pid_key!r} already tracks key {key!r} on topic {topic!r}"
            )
        tag = self._bump_clock()
        value = TrackedValue(topic, pid_key, key, meta, tag)
        self._insert(value)
        self.delta.values[tag] = value
        return value

    def leave(self, pid_key: PidKey, topic: str, key: str) -> TrackedValue | None:
        """Stop tracking ``(topic, key)`` for ``pid_key``.

        Returns:
            The removed value (report it as a leave), or None if it was not tracked.
        """
        tag = self._local.get((pid_key, topic, key))
        if tag is None:
            return None
        value = self._remove(tag)
        self._delta_remove(tag)
        self._bump_clock()
        return value

    def leave_pid(self, pid_key: PidKey) -> list[TrackedValue]:
        """Stop everything ``pid_key`` tracks (its process exited); returns the leaves."""
        return [
            left
            for topic, key in list(self._by_pid.get(pid_key, {}))
            if (left := self.leave(pid_key, topic, key)) is not None
        ]

    def update(
        self, pid_key: PidKey, topic: str, key: str, meta: Meta
    ) -> tuple[TrackedValue, TrackedValue]:
        """Replace the meta of a local presence: a leave and a join in one delta.

        Returns:
            ``(old, new)``: report ``new`` as a join and ``old`` as a leave in one diff.

        Raises:
            NotTrackedError: if ``pid_key`` does not track ``(topic, key)``.
        """
        old_tag = self._local.get((pid_key, topic, key))
        if old_tag is None:
            raise NotTrackedError(f"{pid_key!r} does not track key {key!r} on topic {topic!r}")
        old = self._remove(old_tag)
        self._delta_remove(old_tag)
        self._bump_clock()
        tag = self._bump_clock()
        new = TrackedValue(topic, pid_key, key, meta, tag)
        self._insert(new)
        self.delta.values[tag] = new
        return old, new

    # -- replication ------------------------------------------------------------

    def reset_delta(self) -> None:
        """Start a new, empty delta from the current clock."""
        own = {self.replica: self.context.get(self.replica, 0)}
        self.delta = TrackerDelta(self.replica, start=dict(own), end=dict(own))

    def take_delta(self) -> TrackerDelta:
        """Return the accumulated delta and start a new one (then compact)."""
        delta = self.delta
        self.reset_delta()
        self.compact()
        return delta

    def compact(self) -> None:
        """Fold contiguous cloud dots into the context."""
        self.context, self.clouds = _compact(self.context, self.clouds)
        self._touch_context()

    def extract(self, remote_replica: str, remote_context: Mapping[str, int]) -> TrackerDelta:
        """The full state to send to ``remote_replica`` in answer to a transfer request.

        Only replicas the remote knows (the keys of ``remote_context``) are included, and
        the remote's own values are left out (it is their authority).
        """
        known = remote_context.keys()
        return TrackerDelta(
            replica=self.replica,
            context={r: c for r, c in self.context.items() if r in known},
            clouds={r: set(c) for r, c in self.clouds.items() if r in known},
            values={
                tag: v
                for tag, v in self._values.items()
                if tag[0] != remote_replica and tag[0] in known
            },
            full=True,
        )

    def merge(self, remote: TrackerDelta) -> tuple[list[TrackedValue], list[TrackedValue]]:
        """Merge a remote delta or extracted state into this one.

        Values of replicas this replica does not know (never :meth:`replica_up`-ed, or
        permanently down) are ignored, as is causal information about them.

        Returns:
            ``(joins, leaves)``: the visible changes (values of down replicas change
            silently).
        """
        context, clouds = self.context, self.clouds
        down = self._down()
        joins: list[TrackedValue] = []
        leaves: list[TrackedValue] = []

        # Joins: remote values of known replicas whose dot we have not seen.
        added = [
            value
            for tag, value in remote.values.items()
            if tag[0] in context and not _in(context, clouds, tag) and tag not in self._values
        ]

        # Leaves: values of other replicas the remote has seen but no longer holds.
        r_ctx, r_clouds, r_values = remote.context, remote.clouds, remote.values
        for replica in set(r_ctx) | set(r_clouds):
            if replica == self.replica:
                continue
            owned = self._by_replica.get(replica)
            if not owned:
                continue
            seen_upto = r_ctx.get(replica, 0)
            seen = r_clouds.get(replica, set())
            # A delta has no context: only its own dots matter, no scan of all values.
            candidates = (
                list(seen & owned)
                if seen_upto <= 0
                else [c for c in owned if c <= seen_upto or c in seen]
            )
            for clock in candidates:
                tag = (replica, clock)
                if tag not in r_values:
                    value = self._remove(tag)
                    self._delta_remove(tag)
                    if replica not in down:
                        leaves.append(value)

        for value in added:
            self._insert(value)
            if value.tag[0] not in down:
                joins.append(value)

        for replica, cloud in r_clouds.items():
            if replica in context and cloud:
                clouds.setdefault(replica, set()).update(cloud)
        for replica, clock in r_ctx.items():
            if replica in context and clock > context[replica]:
                context[replica] = clock
        self.compact()
        return joins, leaves

    # -- replica failures ---------------------------------------------------------

    def replica_up(self, replica: str) -> list[TrackedValue]:
        """Mark ``replica`` up (first heartbeat, or back after being down).

        Returns:
            Its values, which become visible again (report them as joins); empty if it
            was already up or is new.
        """
        was = self.replicas.get(replica)
        self.context.setdefault(replica, 0)
        self.replicas[replica] = ReplicaStatus.UP
        if was is ReplicaStatus.DOWN:
            return self._replica_values(replica)
        return []

    def replica_down(self, replica: str) -> list[TrackedValue]:
        """Mark ``replica`` down (silent too long): its values are hidden but kept.

        Returns:
            Its values, which are no longer visible (report them as leaves); empty if it
            was not up.

        Raises:
            ValueError: for this replica itself.
        """
        if replica == self.replica:
            raise ValueError("a replica cannot mark itself down")
        was = self.replicas.get(replica)
        if was is not ReplicaStatus.UP:
            return []
        self.replicas[replica] = ReplicaStatus.DOWN
        return self._replica_values(replica)

    def remove_down_replicas(self, replica: str) -> list[TrackedValue]:
        """Purge a permanently gone replica: its values, context and clouds.

        Normally it is down already (so its values were reported as leaves then) and
        this returns an empty list; if it was still up, the values that were visible are
        returned so they can be reported as leaves.

        Raises:
            ValueError: for this replica itself.
        """
        if replica == self.replica:
            raise ValueError("a replica cannot remove itself")
        visible = self.replicas.get(replica) is ReplicaStatus.UP
        removed = [self._remove((replica, clock)) for clock in list(self._by_replica.get(replica, ()))]
        self.context.pop(replica, None)
        self.clouds.pop(replica, None)
        self.delta.remove_down_replicas(replica)
        if replica in self.replicas:
            self.replicas[replica] = ReplicaStatus.PERMDOWN
        return removed if visible else []

    # -- serialisation --------------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        """The whole replica (values, causal context, statuses, pending delta) as JSON-able data."""
        return {
            "v": WIRE_VERSION,
            "kind": "replica",
            "replica": self.replica,
            "context": dict(self.context),
            "clouds": {r: sorted(c) for r, c in self.clouds.items() if c},
            "values": [_value_to_wire(v) for v in self._values.values()],
            "replicas": {r: s.value for r, s in self.replicas.items()},
            "delta": self.delta.to_wire(),
        }

    @classmethod
    def from_wire(cls, data: object) -> TrackerState:
        """Rebuild a replica from :meth:`to_wire` output.

        Raises:
            TrackerWireError: if ``data`` does not have the expected shape.
        """
        d = _expect_dict(data, "replica state")
        _check_version(d)
        if d.get("kind") != "replica":
            raise TrackerWireError(f"'kind' must be 'replica', got {d.get('kind')!r}")
        state = cls(_expect_str(d.get("replica"), "replica"))
        state.context = _context_from_wire(d.get("context"), "context")
        state.clouds = _clouds_from_wire(d.get("clouds"))
        statuses = _expect_dict(d.get("replicas"), "replicas")
        try:
            state.replicas = {
                _expect_str(r, "replica name"): ReplicaStatus(s) for r, s in statuses.items()
            }
        except ValueError as exc:
            raise TrackerWireError(f"bad replica status: {exc}") from None
        for value in _values_from_wire(d.get("values")):
            if value.tag in state._values:
                raise TrackerWireError(f"duplicate tag {value.tag!r}")
            state._insert(value)
        delta = TrackerDelta.from_wire(d.get("delta"))
        if delta.full:
            raise TrackerWireError("a replica's pending delta cannot be a full state")
        state.delta = delta
        return state

    def copy(self) -> TrackerState:
        """An independent copy (metas are shared, they are treated as immutable)."""
        return TrackerState.from_wire(self.to_wire())

    # -- internals ------------------------------------------------------------------

    def _down(self) -> set[str]:
        return {r for r, s in self.replicas.items() if s is ReplicaStatus.DOWN}

    def _replica_values(self, replica: str) -> list[TrackedValue]:
        owned = self._by_replica.get(replica)
        if not owned:
            return []
        return [v for v in self._values.values() if v.tag[0] == replica]

    def _bump_clock(self) -> Tag:
        clock = self.context.get(self.replica, 0) + 1
        self.context[self.replica] = clock
        self.delta.clouds.setdefault(self.replica, set()).add(clock)
        self._touch_context()
        return (self.replica, clock)

    def _touch_context(self) -> None:
        self.delta.end[self.replica] = self.context.get(self.replica, 0)

    def _delta_remove(self, tag: Tag) -> None:
        self.delta.clouds.setdefault(tag[0], set()).add(tag[1])
        self.delta.values.pop(tag, None)

    def _insert(self, value: TrackedValue) -> None:
        tag = value.tag
        self._values[tag] = value
        self._by_topic.setdefault(value.topic, {})[tag] = value
        self._by_replica.setdefault(tag[0], set()).add(tag[1])
        if tag[0] == self.replica:
            self._local[(value.pid_key, value.topic, value.key)] = tag
            self._by_pid.setdefault(value.pid_key, {})[(value.topic, value.key)] = None

    def _remove(self, tag: Tag) -> TrackedValue:
        value = self._values.pop(tag)
        bucket = self._by_topic[value.topic]
        del bucket[tag]
        if not bucket:
            del self._by_topic[value.topic]
        owned = self._by_replica[tag[0]]
        owned.discard(tag[1])
        if not owned:
            del self._by_replica[tag[0]]
        if tag[0] == self.replica:
            del self._local[(value.pid_key, value.topic, value.key)]
            pairs = self._by_pid[value.pid_key]
            del pairs[(value.topic, value.key)]
            if not pairs:
                del self._by_pid[value.pid_key]
        return value


# -- delta generations (Phoenix.Tracker.DeltaGeneration) ---------------------------


@dataclass(eq=False, slots=True)
class DeltaGenerations:
    """Buffered, merged deltas of increasing size, to answer transfer requests cheaply.

    After each delta a replica sends or receives, :meth:`push` merges it into every
    generation (generation *i* holds at most ``max_sizes[i]`` dots). A transfer request
    is answered with the smallest generation that covers the requester's gap, or the
    full state when none does (:meth:`extract`).
    """

    max_sizes: tuple[int, ...] = (100, 1000, 10_000)
    generations: list[TrackerDelta] = field(default_factory=list)

    def push(self, state: TrackerState, delta: TrackerDelta) -> None:
        """Record a delta; a full state resets the generations (like Phoenix)."""
        if delta.full:
            self.generations = []
            return
        gens = self.generations or [state.delta.copy() for _ in self.max_sizes]
        prev = delta
        out: list[TrackerDelta] = []
        for gen, gen_max in zip(gens, self.max_sizes, strict=True):
            merged = merge_deltas(gen, delta)
            if merged is None:
                prev = gen
                out.append(gen)
            elif merged.size() <= gen_max:
                prev = merged
                out.append(merged)
            else:
                out.append(prev)
                prev = merged
        self.generations = out

    def extract(
        self, state: TrackerState, remote_replica: str, remote_context: Mapping[str, int]
    ) -> TrackerDelta:
        """The smallest generation fulfilling ``remote_context``, else the full state."""
        known = remote_context.keys()
        for gen in self.generations:
            start = {r: v for r, v in gen.start.items() if r in known}
            end = {r: v for r, v in gen.end.items() if r in known}
            if (
                not dominates_or_equal(start, end)
                and dominates_or_equal(remote_context, start)
                and not dominates(remote_context, end)
            ):
                return gen.extract(remote_replica, remote_context)
        return state.extract(remote_replica, remote_context)

    def remove_down_replicas(self, replica: str) -> None:
        """Forget a permanently gone replica in every generation."""
        for gen in self.generations:
            gen.remove_down_replicas(replica)


# -- presence payloads (Phoenix.Presence) --------------------------------------------

_ref_counter = itertools.count()
_ref_owner = hash((socket.gethostname(), os.getpid()))


def random_ref(owner: Hashable = None) -> str:
    """A fresh ``phx_ref``: 16 url-safe base64 characters.

    Like Phoenix: 64-bit system time in ns, a 16-bit hash of the node and owner, and a
    16-bit counter, base64url-encoded (12 bytes, so no padding).
    """
    ns = time.time_ns() & 0xFFFF_FFFF_FFFF_FFFF
    h = hash((_ref_owner, owner)) & 0xFFFF
    n = next(_ref_counter) & 0xFFFF
    raw = ns.to_bytes(8, "big") + h.to_bytes(2, "big") + n.to_bytes(2, "big")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def stamp_meta(
    meta: Mapping[str, Any], *, prev: Mapping[str, Any] | None = None, ref: str | None = None
) -> Meta:
    """A copy of ``meta`` with a new ``phx_ref`` (and ``phx_ref_prev`` after an update).

    Args:
        meta: the user's metadata.
        prev: for an update, the previous meta; its ``phx_ref`` becomes ``phx_ref_prev``.
        ref: the ref to use (default: :func:`random_ref`).
    """
    out = dict(meta)
    out["phx_ref"] = ref if ref is not None else random_ref()
    if prev is not None:
        out["phx_ref_prev"] = prev["phx_ref"]
    else:
        out.pop("phx_ref_prev", None)
    return out


def _key_meta(item: TrackedValue | tuple[Any, Meta]) -> tuple[str, Meta]:
    if isinstance(item, TrackedValue):
        return item.key, item.meta
    key, meta = item
    return (key if isinstance(key, str) else str(key)), meta


def list_presences(
    values: Iterable[TrackedValue | tuple[Any, Meta]],
) -> dict[str, dict[str, list[Meta]]]:
    """Group presences by key as ``{key: {"metas": [meta, ...]}}`` in the given order.

    This is the ``presence_state`` payload (``Presence.list``); pass
    :meth:`TrackerState.get_by_topic`. Keys that are not strings are stringified.
    """
    grouped: dict[str, dict[str, list[Meta]]] = {}
    for item in values:
        key, meta = _key_meta(item)
        entry = grouped.get(key)
        if entry is None:
            grouped[key] = {"metas": [meta]}
        else:
            entry["metas"].append(meta)
    return grouped


def group_diff(
    joins: Iterable[TrackedValue | tuple[Any, Meta]],
    leaves: Iterable[TrackedValue | tuple[Any, Meta]],
) -> dict[str, dict[str, dict[str, list[Meta]]]]:
    """The ``presence_diff`` payload for one topic: ``{"joins": {...}, "leaves": {...}}``."""
    return {"joins": list_presences(joins), "leaves": list_presences(leaves)}


def split_by_topic(
    joins: Iterable[TrackedValue], leaves: Iterable[TrackedValue]
) -> dict[str, tuple[list[TrackedValue], list[TrackedValue]]]:
    """Split joins and leaves (for example from :meth:`TrackerState.merge`) per topic."""
    out: dict[str, tuple[list[TrackedValue], list[TrackedValue]]] = {}
    for value in joins:
        out.setdefault(value.topic, ([], []))[0].append(value)
    for value in leaves:
        out.setdefault(value.topic, ([], []))[1].append(value)
    return out


# -- wire helpers -------------------------------------------------------------------


def _pid_to_wire(pid: object) -> object:
    if pid is None or isinstance(pid, str | int | float):
        return pid
    if isinstance(pid, tuple):
        return [_pid_to_wire(p) for p in pid]
    raise TypeError(
        f"pid_key {pid!r} cannot be serialised; use str, int, float, bool, None or tuples"
    )


def _pid_from_wire(pid: object) -> PidKey:
    if pid is None or isinstance(pid, str | int | float):
        return pid
    if isinstance(pid, list):
        return tuple(_pid_from_wire(p) for p in pid)
    raise TrackerWireError(f"bad pid_key {pid!r}")


def _value_to_wire(value: TrackedValue) -> list[object]:
    return [
        value.tag[0],
        value.tag[1],
        value.topic,
        _pid_to_wire(value.pid_key),
        value.key,
        value.meta,
    ]


def _values_from_wire(data: object) -> list[TrackedValue]:
    if not isinstance(data, list):
        raise TrackerWireError("'values' must be a list")
    out = []
    for item in data:
        if not isinstance(item, list) or len(item) != 6:
            raise TrackerWireError(f"a value must be a list of 6 items, got {item!r}")
        replica, clock, topic, pid, key, meta = item
        if not isinstance(meta, dict):
            raise TrackerWireError(f"a meta must be an object, got {meta!r}")
        out.append(
            TrackedValue(
                _expect_str(topic, "topic"),
                _pid_from_wire(pid),
                _expect_str(key, "key"),
                meta,
                (_expect_str(replica, "replica"), _expect_clock(clock)),
            )
        )
    return out


def _expect_dict(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TrackerWireError(f"{what} must be an object, got {type(data).__name__}")
    return data


def _expect_str(data: object, what: str) -> str:
    if not isinstance(data, str):
        raise TrackerWireError(f"{what} must be a string, got {data!r}")
    return data


def _expect_clock(data: object) -> int:
    if not isinstance(data, int) or isinstance(data, bool) or data < 0:
        raise TrackerWireError(f"a clock must be a non-negative integer, got {data!r}")
    return data


def _check_version(d: Mapping[str, Any]) -> None:
    if d.get("v") != WIRE_VERSION:
        raise TrackerWireError(f"unsupported wire version {d.get('v')!r} (expected 1)")


def _context_from_wire(data: object, what: str) -> Context:
    d = _expect_dict(data, what)
    return {_expect_str(r, "replica name"): _expect_clock(c) for r, c in d.items()}


def _clouds_from_wire(data: object) -> Clouds:
    d = _expect_dict(data, "clouds")
    out: Clouds = {}
    for r, clocks in d.items():
        if not isinstance(clocks, list):
            raise TrackerWireError(f"cloud of {r!r} must be a list")
        out[_expect_str(r, "replica name")] = {_expect_clock(c) for c in clocks}
    return out
