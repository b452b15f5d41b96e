"""phx_ref generation and the presence_state / presence_diff payload shapes (phoenix-protocol §6.1)."""

from __future__ import annotations

import base64
import re
import time

from channels.presence._tracker_state import (
    TrackerState,
    group_diff,
    list_presences,
    random_ref,
    split_by_topic,
    stamp_meta,
)


def test_random_ref_is_16_url_safe_chars_of_time_hash_and_counter() -> None:
    before = time.time_ns()
    refs = [random_ref() for _ in range(1000)]
    assert len(set(refs)) == 1000
    for ref in refs:
        assert re.fullmatch(r"[A-Za-z0-9_-]{16}", ref)
    raw = base64.urlsafe_b64decode(refs[0])
    assert len(raw) == 12
    ns = int.from_bytes(raw[:8], "big")
    assert before <= ns <= time.time_ns()
    counters = [int.from_bytes(base64.urlsafe_b64decode(r)[10:], "big") for r in refs[:2]]
    assert (counters[1] - counters[0]) % 65536 == 1


def test_stamp_meta_adds_phx_ref_without_touching_the_input() -> None:
    meta = {"online_at": "1"}
    stamped = stamp_meta(meta, ref="REF1")
    assert stamped == {"online_at": "1", "phx_ref": "REF1"}
    assert meta == {"online_at": "1"}


def test_stamp_meta_after_update_carries_the_previous_ref() -> None:
    old = stamp_meta({"status": "away"}, ref="OLD")
    new = stamp_meta({"status": "online"}, prev=old, ref="NEW")
    assert new == {"status": "online", "phx_ref": "NEW", "phx_ref_prev": "OLD"}
    # a later plain stamp drops a stale phx_ref_prev
    assert "phx_ref_prev" not in stamp_meta(new)


def test_list_presences_groups_metas_by_key_in_tracking_order() -> None:
    s = TrackerState("a")
    s.join("tab1", "room", "u1", {"phx_ref": "r1"})
    s.join("tab1", "room", "u2", {"phx_ref": "r2"})
    s.join("tab2", "room", "u1", {"phx_ref": "r3"})
    s.join("tab3", "other", "u1", {"phx_ref": "r4"})
    assert list_presences(s.get_by_topic("room")) == {
        "u1": {"metas": [{"phx_ref": "r1"}, {"phx_ref": "r3"}]},
        "u2": {"metas": [{"phx_ref": "r2"}]},
    }
    assert list_presences([]) == {}


def test_list_presences_stringifies_keys_like_phoenix() -> None:
    assert list_presences([(123, {"a": 1})]) == {"123": {"metas": [{"a": 1}]}}


def test_update_diff_has_the_new_meta_in_joins_and_the_old_in_leaves() -> None:
    s = TrackerState("a")
    s.join("pid", "room", "u1", stamp_meta({"status": "away"}, ref="OLD"))
    old, new = s.update(
        "pid", "room", "u1", stamp_meta({"status": "online"}, prev={"phx_ref": "OLD"}, ref="NEW")
    )
    assert group_diff([new], [old]) == {
        "joins": {"u1": {"metas": [{"status": "online", "phx_ref": "NEW", "phx_ref_prev": "OLD"}]}},
        "leaves": {"u1": {"metas": [{"status": "away", "phx_ref": "OLD"}]}},
    }
    assert list_presences(s.get_by_topic("room")) == {
        "u1": {"metas": [{"status": "online", "phx_ref": "NEW", "phx_ref_prev": "OLD"}]}
    }


def test_empty_diff_sides_are_empty_objects() -> None:
    assert group_diff([], [("u", {"phx_ref": "x"})]) == {
        "joins": {},
        "leaves": {"u": {"metas": [{"phx_ref": "x"}]}},
    }


def test_split_by_topic_separates_a_merge_result_per_topic() -> None:
    s = TrackerState("a")
    j1 = s.join("p", "t1", "k", {})
    j2 = s.join("p", "t2", "k", {})
    l1 = s.join("q", "t1", "k", {})
    assert split_by_topic([j1, j2], [l1]) == {"t1": ([j1], [l1]), "t2": ([j2], [])}
