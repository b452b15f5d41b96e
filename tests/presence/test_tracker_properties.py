"""Property tests: replicas exchanging deltas and states in random order converge.

A simulation drives 2-4 replicas through random schedules of local joins, leaves,
updates and process exits, delta broadcasts delivered out of order (and duplicated),
full-state transfers (synchronous or delivered late), replicas marked down and up, and
replicas crashing and coming back under a new name. Every message crosses the JSON wire
format. Throughout, each replica's reported joins/leaves must describe exactly the
change of its visible presences; merge must be idempotent and commutative; after the
network settles, every replica holds exactly the presences their owners hold.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from channels.presence._tracker_state import Tag, TrackedValue, TrackerDelta, TrackerState

TOPICS = ["room:a", "room:b"]
KEYS = ["u1", "u2", "u3"]
LOCAL_ACTIONS = ["join", "join", "leave", "leave_pid", "update"]
ACTIONS = [
    "join", "join", "leave", "leave_pid", "update", "broadcast", "broadcast",
    "deliver", "deliver", "deliver", "transfer", "transfer_late", "down", "up",
    "crash", "permdown", "algebra",
]


def snapshot(state: TrackerState) -> tuple[Any, ...]:
    """Everything that must agree between replicas (the pending delta excluded)."""
    values = sorted(
        (v.tag, v.topic, json.dumps(v.pid_key), v.key, json.dumps(v.meta, sort_keys=True))
        for v in state.values()
    )
    clouds = sorted((r, sorted(c)) for r, c in state.clouds.items() if c)
    return tuple(values), tuple(sorted(state.context.items())), tuple(clouds)


def element_set(state: TrackerState) -> set[tuple[Tag, str, str, str]]:
    return {(v.tag, v.topic, json.dumps(v.pid_key), v.key) for v in state.values()}


def send(delta: TrackerDelta) -> str:
    return json.dumps(delta.to_wire())


def receive(message: str) -> TrackerDelta:
    return TrackerDelta.from_wire(json.loads(message))


class Cluster:
    def __init__(self, n: int) -> None:
        self.incarnation = [0] * n
        self.states = [TrackerState(self.name(i)) for i in range(n)]
        self.views: list[dict[Tag, TrackedValue]] = [{} for _ in range(n)]
        self.inbox: list[list[str]] = [[] for _ in range(n)]
        self.dead: list[str] = []  # crashed names not yet purged everywhere
        self.purged: list[set[str]] = [set() for _ in range(n)]
        self.meta_counter = 0
        for i, s in enumerate(self.states):
            for j in range(n):
                if j != i:
                    assert s.replica_up(self.name(j)) == []

    def name(self, i: int) -> str:
        return f"r{i}.{self.incarnation[i]}"

    def report(self, i: int, joins: list[TrackedValue], leaves: list[TrackedValue]) -> None:
        view = self.views[i]
        for v in leaves:
            assert v.tag in view, f"leave of a value never reported as joined: {v}"
            del view[v.tag]
        for v in joins:
            assert v.tag not in view, f"join reported twice: {v}"
            view[v.tag] = v

    def check_view(self, i: int) -> None:
        online = {v.tag for v in self.states[i].online_list()}
        assert set(self.views[i]) == online
        topic_union = {v.tag for t in TOPICS for v in self.states[i].get_by_topic(t)}
        assert topic_union == online

    def meta(self) -> dict[str, Any]:
        self.meta_counter += 1
        return {"n": self.meta_counter}

    def own(self, i: int) -> list[TrackedValue]:
        s = self.states[i]
        return [v for v in s.values() if v.replica == s.replica]

    def truth(self) -> set[tuple[Tag, str, str, str]]:
        out: set[tuple[Tag, str, str, str]] = set()
        for i in range(len(self.states)):
            out |= {(v.tag, v.topic, json.dumps(v.pid_key), v.key) for v in self.own(i)}
        return out

    # -- actions ----------------------------------------------------------------

    def local_op(self, data: st.DataObject, i: int, action: str | None = None) -> None:
        s = self.states[i]
        if action is None:
            action = data.draw(st.sampled_from(LOCAL_ACTIONS), label="local action")
        if action == "join":
            pid = (self.name(i), data.draw(st.integers(0, 2), label="pid"))
            topic = data.draw(st.sampled_from(TOPICS), label="topic")
            key = data.draw(st.sampled_from(KEYS), label="key")
            if s.get(pid, topic, key) is None:
                self.report(i, [s.join(pid, topic, key, self.meta())], [])
            return
        own = self.own(i)
        if not own:
            return
        v = data.draw(st.sampled_from(own), label="value")
        if action == "leave":
            left = s.leave(v.pid_key, v.topic, v.key)
            assert left == v
            self.report(i, [], [v])
        elif action == "update":
            old, new = s.update(v.pid_key, v.topic, v.key, self.meta())
            assert old == v
            self.report(i, [new], [old])
        else:
            self.report(i, [], s.leave_pid(v.pid_key))
            assert s.get_by_pid(v.pid_key) == []

    def step(self, data: st.DataObject) -> None:
        n = len(self.states)
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        i = data.draw(st.integers(0, n - 1), label="replica")
        s = self.states[i]
        others = [j for j in range(n) if j != i]
        if action in LOCAL_ACTIONS:
            self.local_op(data, i, action)
        elif action == "broadcast":
            if s.has_delta():
                message = send(s.take_delta())
                for j in others:
                    self.inbox[j].append(message)
        elif action == "deliver":
            if self.inbox[i]:
                k = data.draw(st.integers(0, len(self.inbox[i]) - 1), label="message")
                duplicate = data.draw(st.booleans(), label="duplicate")
                message = self.inbox[i][k] if duplicate else self.inbox[i].pop(k)
                self.report(i, *s.merge(receive(message)))
        elif action in ("transfer", "transfer_late") and others:
            j = data.draw(st.sampled_from(others), label="peer")
            message = send(self.states[j].extract(s.replica, s.clocks()[1]))
            if action == "transfer":
                self.report(i, *s.merge(receive(message)))
            else:
                self.inbox[i].append(message)
        elif action in ("down", "up") and others:
            j = data.draw(st.sampled_from(others), label="peer")
            if action == "down":
                self.report(i, [], s.replica_down(self.name(j)))
            else:
                self.report(i, s.replica_up(self.name(j)), [])
        elif action == "crash":
            self.crash(i)
        elif action == "permdown":
            for name in list(self.dead):
                if name not in self.purged[i]:
                    self.permdown(i, name)
                    break
        elif action == "algebra":
            self.check_algebra(i)
        self.check_view(i)

    def crash(self, i: int) -> None:
        old = self.name(i)
        self.incarnation[i] += 1
        self.dead.append(old)
        self.states[i] = TrackerState(self.name(i))
        self.views[i] = {}
        self.inbox[i] = []
        self.purged[i] = set(self.dead)  # the new replica never knew the old one
        for j in range(len(self.states)):
            if j != i:
                assert self.states[i].replica_up(self.name(j)) == []
                assert self.states[j].replica_up(self.name(i)) == []

    def permdown(self, i: int, name: str) -> None:
        s = self.states[i]
        self.report(i, [], s.replica_down(name))
        assert s.remove_down_replicas(name) == []
        self.purged[i].add(name)

    def check_algebra(self, i: int) -> None:
        s = self.states[i]
        messages = self.inbox[i]
        if not messages:
            return
        m1 = receive(messages[0])
        once = s.copy()
        once.merge(m1)
        twice = once.copy()
        assert twice.merge(receive(messages[0])) == ([], [])
        assert snapshot(twice) == snapshot(once), "merge is not idempotent"
        if len(messages) >= 2:
            m2 = receive(messages[-1])
            ab, ba = s.copy(), s.copy()
            ab.merge(m1)
            ab.merge(m2)
            ba.merge(m2)
            ba.merge(m1)
            assert snapshot(ab) == snapshot(ba), "merge is not commutative"

    # -- the network settles ----------------------------------------------------------

    def settle(self) -> None:
        n = len(self.states)
        for i in range(n):
            for name in self.dead:
                if name not in self.purged[i]:
                    self.permdown(i, name)
            for j in range(n):
                if j != i:
                    self.report(i, self.states[i].replica_up(self.name(j)), [])
            while self.inbox[i]:
                self.report(i, *self.states[i].merge(receive(self.inbox[i].pop())))
            self.check_view(i)
        # anti-entropy: everyone sends its state to replica 0, which sends its state back
        for i in range(1, n):
            self.transfer(i, 0)
        for i in range(1, n):
            self.transfer(0, i)

    def transfer(self, src: int, dst: int) -> None:
        d = self.states[dst]
        message = send(self.states[src].extract(d.replica, d.clocks()[1]))
        self.report(dst, *d.merge(receive(message)))
        self.check_view(dst)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_replicas_converge_to_the_owners_presences_with_consistent_diffs(
    data: st.DataObject,
) -> None:
    n = data.draw(st.integers(2, 4), label="replicas")
    cluster = Cluster(n)
    for _ in range(data.draw(st.integers(0, 80), label="steps")):
        cluster.step(data)
    cluster.settle()
    truth = cluster.truth()
    first = snapshot(cluster.states[0])
    for i, s in enumerate(cluster.states):
        assert element_set(s) == truth, f"replica {s.replica} did not converge"
        assert set(cluster.views[i]) == {tag for tag, *_ in truth}
        assert snapshot(s) == first, "replicas hold different causal contexts"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_deltas_alone_in_any_order_with_duplicates_converge_to_the_owners_presences(
    data: st.DataObject,
) -> None:
    """Local operations only; every delta reaches a fresh observer, in two random orders."""
    n = data.draw(st.integers(2, 4), label="replicas")
    cluster = Cluster(n)
    messages: list[str] = []
    for _ in range(data.draw(st.integers(0, 60), label="steps")):
        i = data.draw(st.integers(0, n - 1), label="replica")
        cluster.local_op(data, i)
        cluster.check_view(i)
        if data.draw(st.booleans(), label="emit") and cluster.states[i].has_delta():
            messages.append(send(cluster.states[i].take_delta()))
    for s in cluster.states:
        if s.has_delta():
            messages.append(send(s.take_delta()))
    messages += data.draw(st.lists(st.sampled_from(messages), max_size=5), label="dups") if (
        messages
    ) else []
    names = [cluster.name(i) for i in range(n)]

    def observe(order: list[str]) -> TrackerState:
        s = TrackerState("observer")
        for name in names:
            s.replica_up(name)
        view: dict[Tag, TrackedValue] = {}
        for m in order:
            joins, leaves = s.merge(receive(m))
            for v in leaves:
                del view[v.tag]
            for v in joins:
                assert v.tag not in view
                view[v.tag] = v
        assert set(view) == {v.tag for v in s.online_list()}
        return s

    a = observe(data.draw(st.permutations(messages), label="order1"))
    b = observe(data.draw(st.permutations(messages), label="order2"))
    assert snapshot(a) == snapshot(b)
    assert element_set(a) == cluster.truth()
