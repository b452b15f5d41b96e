"""Interop: join_refs as the official phoenix client sees them, two channels on one socket.

``join_refs_client.mjs`` joins ``test:a`` and ``test:b`` on one socket, leaves and rejoins
each, pushes on both in every phase, and prints every frame the socket receives (topic,
event, ref, join_ref) plus each join's ``channel.joinRef()``. The checks below hold every
frame to Phoenix 1.8's rule (reference §1.7, §1.9): replies and pushes of a join carry that
join's join_ref, ``phx_close`` carries it as join_ref and ref, broadcasts carry none, and
nothing of a left join arrives after its ``phx_close``.

Runs with the fixtures of ``test_js_client.py`` (server subprocess, Node script, bounded
timeouts).
"""

from __future__ import annotations

from typing import Any

import pytest

from .test_js_client import (
    TRANSPORTS,
    Server,
    pick,
    run_node,
    start_server as start_server,
    test_server as test_server,
)


def _joins(events: list[dict[str, Any]]) -> dict[tuple[str, int], str]:
    return {(e["topic"], e["round"]): e["join_ref"] for e in pick(events, event="joined")}


@pytest.mark.parametrize("transport", sorted({*TRANSPORTS, "websocket", "longpoll"}))
def test_two_channels_joined_left_and_rejoined_see_only_their_own_join_refs(
        test_server: Server, transport: str) -> None:
    events = run_node("join_refs_client.mjs", test_server.socket_url, "--transport", transport,
                      server=test_server)
    joins = _joins(events)
    assert sorted(joins) == [("test:a", 1), ("test:a", 2), ("test:b", 1), ("test:b", 2)], events
    assert len(set(joins.values())) == 4, f"every join has its own join_ref: {joins}"

    # Walk the frames in order, knowing which join of each topic is current.
    current: dict[str, str | None] = {"test:a": None, "test:b": None}
    rounds = {"test:a": 0, "test:b": 0}
    seen = {"reply": 0, "pushed": 0, "phx_close": 0}
    for event in events:
        kind = event["event"]
        if kind == "frame":
            topic, name = event["topic"], event["name"]
            if name == "phx_reply" and current[topic] is None:
                # the reply to a join: the client sent join_ref == ref, and gets it back
                rounds[topic] += 1
                current[topic] = joins[(topic, rounds[topic])]
                assert event["join_ref"] == event["ref"] == current[topic], event
                seen["reply"] += 1
                continue
            assert current[topic] is not None, f"frame for a topic that is not joined: {event}"
            assert event["join_ref"] == current[topic], f"{event} (current join_ref {current[topic]})"
            if name == "phx_close":
                assert event["ref"] == current[topic], event
                current[topic] = None
            seen[name if name in seen else "reply"] += 1
        elif kind == "joined":
            assert current[event["topic"]] == event["join_ref"], event
        elif kind == "left":
            assert current[event["topic"]] is None, event
    # 4 join replies + 6 push replies + 2 leave replies; 6 pushes; 2 closes
    assert seen == {"reply": 12, "pushed": 6, "phx_close": 2}, seen
    end = next(i for i, e in enumerate(events) if e["event"] == "checkpoint" and e["name"] == "end")
    assert not pick(events[:end], event="channel_error")
