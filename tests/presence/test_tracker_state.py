"""Unit tests of TrackerState: local operations, merges, replica failures, wire format."""

from __future__ import annotations

import json

import pytest

from channels.presence._tracker_state import (
    AlreadyTrackedError,
    DeltaGenerations,
    NotTrackedError,
    ReplicaStatus,
    TrackedValue,
    TrackerDelta,
    TrackerState,
    TrackerWireError,
    append_clock,
    dominates,
    dominates_or_equal,
    merge_deltas,
)


def wire(delta: TrackerDelta) -> TrackerDelta:
    """Send a delta through JSON, as it would cross Redis."""
    return TrackerDelta.from_wire(json.loads(json.dumps(delta.to_wire())))


def pair() -> tuple[TrackerState, TrackerState]:
    a, b = TrackerState("a"), TrackerState("b")
    a.replica_up("b")
    b.replica_up("a")
    return a, b


def tags(values: list[TrackedValue]) -> list[tuple[str, int]]:
    return [v.tag for v in values]


# -- local operations -------------------------------------------------------------


def test_join_tags_the_value_with_the_next_local_clock_and_records_it_in_the_delta() -> None:
    a = TrackerState("a")
    v1 = a.join("p1", "room:1", "u1", {"x": 1})
    v2 = a.join("p1", "room:1", "u2", {"x": 2})
    assert (v1.tag, v2.tag) == (("a", 1), ("a", 2))
    assert a.context == {"a": 2}
    assert a.get_by_topic("room:1") == [v1, v2]
    assert a.get("p1", "room:1", "u1") == v1
    assert a.has_delta()
    assert set(a.delta.values) == {("a", 1), ("a", 2)}


def test_joining_the_same_pid_topic_key_twice_is_refused() -> None:
    a = TrackerState("a")
    a.join("p1", "t", "k", {})
    with pytest.raises(AlreadyTrackedError, match="already tracks key 'k' on topic 't'"):
        a.join("p1", "t", "k", {})


def test_leave_removes_the_value_and_puts_its_dot_in_the_delta() -> None:
    a = TrackerState("a")
    v = a.join("p1", "t", "k", {})
    a.take_delta()
    assert not a.has_delta()
    assert a.leave("p1", "t", "k") == v
    assert a.get_by_topic("t") == []
    assert a.delta.values == {}
    assert a.delta.clouds == {"a": {1, 2}}  # the removed dot and the leave's own dot
    assert a.leave("p1", "t", "k") is None


def test_leave_pid_removes_everything_the_process_tracks() -> None:
    a = TrackerState("a")
    a.join("p1", "t1", "k", {})
    a.join("p1", "t2", "k", {})
    kept = a.join("p2", "t1", "k", {})
    assert sorted(v.topic for v in a.leave_pid("p1")) == ["t1", "t2"]
    assert a.online_list() == [kept]
    assert a.get_by_pid("p1") == []
    assert a.leave_pid("nobody") == []


def test_update_is_a_leave_and_a_join_in_one_delta() -> None:
    a, b = pair()
    a.join("p1", "t", "k", {"v": 1})
    b.merge(wire(a.take_delta()))
    old, new = a.update("p1", "t", "k", {"v": 2})
    assert (old.meta, new.meta) == ({"v": 1}, {"v": 2})
    assert new.tag == ("a", 3)
    assert a.get_by_topic("t") == [new]
    joins, leaves = b.merge(wire(a.take_delta()))
    assert (joins, leaves) == ([new], [old])
    assert b.get_by_topic("t") == [new]


def test_update_of_an_untracked_presence_is_refused() -> None:
    with pytest.raises(NotTrackedError, match="does not track"):
        TrackerState("a").update("p1", "t", "k", {})


# -- merging ------------------------------------------------------------------------


def test_merged_delta_reports_remote_joins_then_leaves() -> None:
    a, b = pair()
    v = a.join("p1", "t", "k", {})
    assert b.merge(wire(a.take_delta())) == ([v], [])
    assert b.get_by_topic("t") == [v]
    a.leave("p1", "t", "k")
    assert b.merge(wire(a.take_delta())) == ([], [v])
    assert b.get_by_topic("t") == []
    assert b.context == {"a": 2, "b": 0}


def test_merging_the_same_delta_twice_changes_nothing_the_second_time() -> None:
    a, b = pair()
    a.join("p1", "t", "k", {})
    delta = wire(a.take_delta())
    b.merge(delta)
    assert b.merge(delta) == ([], [])
    assert len(b) == 1


def test_a_leave_delivered_before_its_join_keeps_the_element_out() -> None:
    a, b = pair()
    a.join("p1", "t", "k", {})
    d1 = wire(a.take_delta())
    a.leave("p1", "t", "k")
    d2 = wire(a.take_delta())
    assert b.merge(d2) == ([], [])
    assert b.merge(d1) == ([], [])
    assert b.get_by_topic("t") == []
    assert b.context["a"] == 2


def test_a_delta_after_a_gap_waits_in_the_clouds() -> None:
    a, b = pair()
    a.join("p1", "t", "k1", {})
    d1 = wire(a.take_delta())
    v2 = a.join("p1", "t", "k2", {})
    b.merge(wire(a.take_delta()))
    assert b.get_by_topic("t") == [v2]
    assert (b.context["a"], b.clouds) == (0, {"a": {2}})
    b.merge(d1)
    assert (b.context["a"], b.clouds) == (2, {})


def test_values_of_unknown_replicas_are_ignored() -> None:
    a, b = TrackerState("a"), TrackerState("b")  # b never saw a heartbeat from a
    a.join("p1", "t", "k", {})
    assert b.merge(wire(a.take_delta())) == ([], [])
    assert len(b) == 0


def test_only_the_owner_removes_its_elements() -> None:
    a, b = pair()
    mine = b.join("pb", "t", "k", {})
    # a full state from a that lacks b's element but "covers" b's clock must not remove it
    remote = a.extract("b", b.clocks()[1])
    remote.context["b"] = 99
    assert b.merge(remote) == ([], [])
    assert b.get_by_topic("t") == [mine]


def test_full_state_transfer_observes_removals_through_the_context() -> None:
    a, b = pair()
    v = a.join("p1", "t", "k", {})
    b.merge(wire(a.take_delta()))
    a.leave("p1", "t", "k")
    a.take_delta()  # this delta is lost
    transfer = wire(a.extract("b", b.clocks()[1]))
    assert transfer.full
    assert b.merge(transfer) == ([], [v])


def test_extract_leaves_out_the_requesters_values_and_replicas_it_does_not_know() -> None:
    a, b = pair()
    a.replica_up("c")
    c = TrackerState("c")
    c.replica_up("a")
    a.merge(wire(c.extract("a", a.clocks()[1])))
    c.join("pc", "t", "k", {})
    a.merge(c.take_delta())
    b.join("pb", "t", "k", {})
    a.merge(b.take_delta())
    va = a.join("pa", "t", "k", {})
    transfer = a.extract("b", b.clocks()[1])
    assert list(transfer.values.values()) == [va]
    assert set(transfer.context) == {"a", "b"}


# -- replica failures --------------------------------------------------------------------


def test_down_replica_values_are_hidden_and_reported_as_leaves_then_joins_when_up() -> None:
    a, b = pair()
    v = a.join("p1", "t", "k", {})
    b.merge(wire(a.take_delta()))
    assert b.replica_down("a") == [v]
    assert b.status("a") is ReplicaStatus.DOWN
    assert b.get_by_topic("t") == []
    assert len(b) == 1  # kept
    assert b.clocks() == ("b", {"b": 0})
    assert b.replica_down("a") == []  # no change, no report
    assert b.replica_up("a") == [v]
    assert b.get_by_topic("t") == [v]
    assert b.replica_up("a") == []


def test_merges_about_a_down_replica_change_its_values_silently() -> None:
    a, b = pair()
    a.join("p1", "t", "k1", {})
    b.merge(wire(a.take_delta()))
    b.replica_down("a")
    v2 = a.join("p1", "t", "k2", {})
    a.leave("p1", "t", "k1")
    assert b.merge(wire(a.take_delta())) == ([], [])
    assert b.replica_up("a") == [v2]


def test_permdown_purges_silently_and_later_data_about_the_replica_is_ignored() -> None:
    a, b = pair()
    c = TrackerState("c")
    c.replica_up("a")
    b.replica_up("c")
    c.replica_up("b")
    a.join("p1", "t", "k", {})
    delta = wire(a.take_delta())
    b.merge(delta)
    c.merge(delta)
    b.replica_down("a")
    assert b.remove_down_replicas("a") == []
    assert b.status("a") is ReplicaStatus.PERMDOWN
    assert len(b) == 0
    assert "a" not in b.context
    # c still has a's presence; neither its state nor the old delta brings it back
    assert b.merge(wire(c.extract("b", b.clocks()[1]))) == ([], [])
    assert b.merge(delta) == ([], [])
    assert len(b) == 0


def test_permdown_of_a_replica_that_was_still_up_reports_its_visible_values() -> None:
    a, b = pair()
    v = a.join("p1", "t", "k", {})
    b.merge(a.take_delta())
    assert b.remove_down_replicas("a") == [v]


def test_a_replica_cannot_down_itself() -> None:
    with pytest.raises(ValueError, match="itself"):
        TrackerState("a").replica_down("a")
    with pytest.raises(ValueError, match="itself"):
        TrackerState("a").remove_down_replicas("a")


# -- compaction and clocks ---------------------------------------------------------------


def test_compact_folds_contiguous_dots_into_the_context() -> None:
    s = TrackerState("a")
    s.replica_up("b")
    s.clouds = {"b": {1, 2, 4}}
    s.compact()
    assert (s.context["b"], s.clouds) == (2, {"b": {4}})
    s.clouds["b"].add(3)
    s.compact()
    assert (s.context["b"], s.clouds) == (4, {})


def test_clock_domination_follows_phoenix() -> None:
    assert dominates({"a": 2, "b": 1}, {"a": 1})
    assert not dominates({"a": 2}, {"a": 1, "b": 1})
    assert dominates_or_equal({}, {})
    assert not dominates_or_equal({}, {"a": 1})
    assert dominates_or_equal({"a": 2}, {"a": 1, "b": 5})


def test_append_clock_keeps_only_clocks_that_are_not_dominated() -> None:
    cs = append_clock([], ("a", {"a": 1, "b": 1}))
    assert cs == [("a", {"a": 1, "b": 1})]
    assert append_clock(cs, ("b", {"a": 0, "b": 1})) == cs  # dominated: ignored
    assert append_clock(cs, ("b", {"a": 2, "b": 2})) == [("b", {"a": 2, "b": 2})]
    concurrent = append_clock(cs, ("b", {"a": 0, "b": 2}))
    assert sorted(name for name, _ in concurrent) == ["a", "b"]
    assert append_clock(cs, ("c", {})) == cs


# -- delta generations ---------------------------------------------------------------------


def test_merge_deltas_joins_contiguous_deltas_and_refuses_gaps() -> None:
    a = TrackerState("a")
    a.join("p", "t", "k1", {})
    d1 = a.take_delta()
    a.join("p", "t", "k2", {})
    d2 = a.take_delta()
    a.join("p", "t", "k3", {})
    d3 = a.take_delta()
    merged = merge_deltas(d1, d2)
    assert merged is not None
    assert (merged.start, merged.end, set(merged.values)) == (
        {"a": 0}, {"a": 2}, {("a", 1), ("a", 2)}
    )
    assert merge_deltas(d1, d3) is None


def test_delta_generations_answer_a_small_gap_with_a_delta_and_a_big_one_with_the_state() -> None:
    a, b = pair()
    gens = DeltaGenerations(max_sizes=(2, 4))
    for i in range(3):
        a.join("p", "t", f"k{i}", {})
        delta = a.take_delta()
        gens.push(a, delta)
        if i == 0:
            b.merge(delta)
    answer = gens.extract(a, "b", b.clocks()[1])
    assert not answer.full
    assert set(answer.values) == {("a", 2), ("a", 3)}
    assert b.merge(answer)[0] != []
    assert sorted(v.key for v in b.get_by_topic("t")) == ["k0", "k1", "k2"]
    fresh = TrackerState("b2")
    fresh.replica_up("a")
    a.replica_up("b2")
    assert gens.extract(a, "b2", fresh.clocks()[1]).full


# -- wire format -----------------------------------------------------------------------------


def test_state_round_trips_through_json_including_tuple_pid_keys() -> None:
    a, b = pair()
    a.join(("node-a", 7), "t", "k", {"n": [1, "x"]})
    b.join(None, "t", "k", {})
    a.merge(wire(b.take_delta()))
    a.replica_down("b")
    copy = TrackerState.from_wire(json.loads(json.dumps(a.to_wire())))
    assert copy.to_wire() == a.to_wire()
    assert copy.get(("node-a", 7), "t", "k") == a.get(("node-a", 7), "t", "k")
    assert copy.status("b") is ReplicaStatus.DOWN


def test_unserialisable_pid_key_is_refused_when_encoding() -> None:
    a = TrackerState("a")
    a.join(frozenset({1}), "t", "k", {})
    with pytest.raises(TypeError, match="cannot be serialised"):
        a.delta.to_wire()


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ([], "must be an object"),
        ({"v": 2}, "unsupported wire version"),
        ({"v": 1, "kind": "x"}, "'kind' must be"),
        ({"v": 1, "kind": "delta", "range": [{}]}, "'range'"),
        (
            {"v": 1, "kind": "delta", "range": [{}, {}], "values": [[1]], "replica": "a"},
            "list of 6",
        ),
        (
            {
                "v": 1, "kind": "delta", "range": [{}, {}], "replica": "a", "context": {},
                "clouds": {}, "values": [["a", -1, "t", "p", "k", {}]],
            },
            "non-negative",
        ),
        (
            {
                "v": 1, "kind": "delta", "range": [{}, {}], "replica": "a", "context": {},
                "clouds": {"a": 3}, "values": [],
            },
            "cloud of 'a' must be a list",
        ),
    ],
)
def test_malformed_wire_data_raises_tracker_wire_error(data: object, complaint: str) -> None:
    with pytest.raises(TrackerWireError, match=complaint):
        TrackerDelta.from_wire(data)


def test_a_rejoin_delivered_before_the_older_leave_shows_both_until_the_leave_arrives() -> None:
    a, b = pair()
    first = a.join("p1", "t", "k", {"n": 1})
    b.merge(wire(a.take_delta()))
    a.leave("p1", "t", "k")
    late_leave = wire(a.take_delta())
    second = a.join("p1", "t", "k", {"n": 2})
    assert b.merge(wire(a.take_delta())) == ([second], [])
    assert b.get_by_key("t", "k") == [first, second]
    assert b.merge(late_leave) == ([], [first])
    assert b.get_by_key("t", "k") == [second]
