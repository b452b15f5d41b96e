"""§1.7-§1.9 of the protocol reference over real sockets: what the server sends, per situation."""

from __future__ import annotations

import logging

import pytest

import otp
from channels import testing
from channels.protocol import Message, ReplyMessage

from ._app import events

ANY = testing.ANY


async def joined(ep: testing.RunningEndpoint, *topics: str, path: str = "/socket",
                 **params: str) -> testing.SocketClient:
    client = await testing.connect(ep, path, params=params or None)
    for topic in topics:
        assert await client.join(topic, {}) == ("ok", {})
    return client


# -- heartbeat ---------------------------------------------------------------------------------


async def test_heartbeat_reply_is_ok_with_null_join_ref(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    ref = await client.push("phoenix", "heartbeat", {}, join_ref="77")
    await client.assert_reply(ref, "ok", {}, topic="phoenix", join_ref=None)
    ref = await client.heartbeat()
    await client.assert_reply(ref, "ok", {}, topic="phoenix", join_ref=None)


# -- join --------------------------------------------------------------------------------------


async def test_join_ok_replies_ok_with_empty_response(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await client.send(Message("room:1", "phx_join", {}, "3", "3"))
    await client.assert_reply("3", "ok", {}, topic="room:1", join_ref="3")
    await client.settle()
    assert ep.channel_topics() == ["room:1"]
    assert [type(meta).__name__ for _pid, meta in ep.subscribers("room:1")] == ["FastlaneSub"]


async def test_join_ok_with_reply_returns_the_reply(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1", {"reply": {"welcome": [1, 2]}}) == ("ok", {"welcome": [1, 2]})


async def test_join_reply_echoes_the_clients_join_ref_not_the_joins_ref(ep: testing.RunningEndpoint) -> None:
    # Phoenix 1.7/1.8 (socket.ex handle_in/4): the join reply carries the join_ref the client
    # sent, and that join_ref (not the join's ref) is the key of later messages. The seed
    # transcript's ["3","3",...] is Phoenix <= 1.6 (README, "The seed transcript and
    # join_ref"); test_join_ref.py covers every other kind of reply.
    client = await testing.connect(ep)
    await client.send(Message("room:1", "phx_join", {}, "R5", "J1"))
    await client.assert_reply("R5", "ok", {}, join_ref="J1")
    stale = await client.push("room:1", "echo", {"a": 1}, join_ref="R5")
    await client.refute_reply(stale)
    ok = await client.push("room:1", "echo", {"a": 2}, join_ref="J1")
    await client.assert_reply(ok, "ok", join_ref="J1")


async def test_join_refused_replies_error_and_terminates_unjoined_without_phx_close(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1", {"refuse": {"reason": "nope"}}) == ("error", {"reason": "nope"})
    await client.refute_push("room:1", "phx_close")
    assert events("terminate", "room:1") == [otp.SHUTDOWN]
    assert ep.channel_topics() == []
    assert ep.subscribers("room:1") == []
    # The topic is not joined: a message on it is an unmatched topic.
    ref = await client.push("room:1", "echo", {})
    await client.assert_reply(ref, "error", {"reason": "unmatched topic"}, join_ref=None)


@pytest.mark.parametrize("payload", [{"crash": True}, {"bad_return": True}])
async def test_join_crash_replies_join_crashed_and_runs_no_terminate(
        ep: testing.RunningEndpoint, payload: dict[str, bool], caplog: pytest.LogCaptureFixture) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1", payload) == ("error", {"reason": "join crashed"})
    await client.settle()
    assert events("terminate") == []
    assert ep.channel_topics() == []
    crashes = [r for r in caplog.records if r.name == "otp.crash"]
    assert len(crashes) == 1, crashes
    # The socket is fine.
    assert await client.join("room:2", {}) == ("ok", {})


async def test_join_on_unmatched_topic_replies_with_null_join_ref_and_logs(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    client = await testing.connect(ep)
    await client.send(Message("nowhere:1", "phx_join", {}, "4", "4"))
    await client.assert_reply("4", "error", {"reason": "unmatched topic"}, topic="nowhere:1", join_ref=None)
    assert any('Ignoring unmatched topic "nowhere:1"' in r.getMessage() for r in caplog.records)


async def test_join_beyond_max_channels_per_transport_is_refused(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1", "room:2", path="/limited")
    await client.send(Message("room:3", "phx_join", {}, "9", "9"))
    await client.assert_reply("9", "error", {"reason": "too many channels joined"}, join_ref="9")
    await client.settle()
    assert ep.channel_topics() == ["room:1", "room:2"]
    # A rejoin of a joined topic is a duplicate join, not a new channel: allowed at the limit.
    assert await client.join("room:2", {}) == ("ok", {})
    # Leaving frees a slot.
    assert await client.leave("room:1") == ("ok", {})
    assert await client.join("room:3", {}) == ("ok", {})


async def test_the_limit_is_per_connection(ep: testing.RunningEndpoint) -> None:
    await joined(ep, "room:1", "room:2", path="/limited")
    other = await joined(ep, "room:1", "room:2", path="/limited")
    assert (await other.join("room:3"))[0] == "error"


# -- unjoined topics ---------------------------------------------------------------------------


async def test_event_on_unjoined_topic_replies_unmatched_topic_with_null_join_ref(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    ref = await client.push("room:9", "echo", {"x": 1}, join_ref="5")
    await client.assert_reply(ref, "error", {"reason": "unmatched topic"}, topic="room:9", join_ref=None)
    assert events("in") == []


async def test_leave_of_unjoined_topic_replies_ok_echoing_the_join_ref(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    ref = await client.push("room:9", "phx_leave", {}, join_ref="J9")
    await client.assert_reply(ref, "ok", {}, join_ref="J9")
    ref = await client.push("room:9", "phx_leave", {}, join_ref=None)
    await client.assert_reply(ref, "ok", {}, join_ref=None)
    await client.refute_push("room:9", "phx_close")


# -- leave -------------------------------------------------------------------------------------


async def test_leave_replies_ok_then_phx_close_then_terminate_pushes(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1", {"push_on_terminate": True}) == ("ok", {})
    jr = client.join_refs["room:1"]
    ref = await client.push("room:1", "phx_leave", {})
    reply = await client.receive()
    close = await client.receive()
    terminating = await client.receive()
    assert reply == ReplyMessage("room:1", "ok", {}, ref, jr)
    assert close == Message("room:1", "phx_close", {}, jr, jr)
    assert terminating == Message("room:1", "terminating", {"reason": "Shutdown('left')"}, None, jr) or (
        terminating.topic == "room:1" and getattr(terminating, "event", None) == "terminating")
    await client.settle()
    assert events("terminate", "room:1") == [otp.Shutdown("left")]
    assert ep.channel_topics() == []
    assert ep.subscribers("room:1") == []
    # Left: the topic is unjoined now.
    ref = await client.push("room:1", "echo", {})
    await client.assert_reply(ref, "error", {"reason": "unmatched topic"})


async def test_leave_with_null_join_ref_leaves_the_joined_channel(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    ref = await client.push("room:1", "phx_leave", {}, join_ref=None)
    await client.assert_reply(ref, "ok", {}, join_ref=client.join_refs["room:1"])
    await client.assert_push("room:1", "phx_close", {})


async def test_stale_leave_is_ignored(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    ref = await client.push("room:1", "phx_leave", {}, join_ref="stale")
    await client.refute_reply(ref)
    await client.refute_push("room:1", "phx_close")
    assert ep.channel_topics() == ["room:1"]
    ref = await client.push("room:1", "echo", {"still": "joined"})
    await client.assert_reply(ref, "ok", {"still": "joined"})


async def test_stale_message_is_dropped_silently(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    ref = await client.push("room:1", "echo", {"x": 1}, join_ref="stale")
    await client.refute_reply(ref)
    assert events("in") == []
    # null join_ref means "don't care": delivered.
    ref = await client.push("room:1", "echo", {"x": 2}, join_ref=None)
    await client.assert_reply(ref, "ok", {"x": 2})


# -- duplicate join ----------------------------------------------------------------------------


async def test_duplicate_join_replies_before_closing_the_old_join_and_skips_its_terminate(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await client.send(Message("room:1", "phx_join", {"push_on_terminate": True}, "1", "1"))
    await client.assert_reply("1", "ok", {})
    await client.settle()
    [old] = ep.channel_processes()
    await client.send(Message("room:1", "phx_join", {}, "2", "2"))
    assert await client.receive() == ReplyMessage("room:1", "ok", {}, "2", "2")
    assert await client.receive() == Message("room:1", "phx_close", {}, "1", "1")
    await client.refute_any()  # no terminate push from the old channel
    assert events("terminate") == []
    [new] = ep.channel_processes()
    assert new["pid"] != old["pid"]
    assert len(ep.subscribers("room:1")) == 1
    ref = await client.push("room:1", "push", {"event": "hi"}, join_ref="2")
    await client.assert_push("room:1", "hi", {}, join_ref="2")
    await client.refute_reply(ref)
    # The old join_ref is stale now.
    ref = await client.push("room:1", "echo", {}, join_ref="1")
    await client.refute_reply(ref)


# -- channel stops -----------------------------------------------------------------------------


@pytest.mark.parametrize(("event", "reason"), [
    ("stop", otp.Shutdown("bye")),
    ("info_stop", otp.SHUTDOWN),
])
async def test_graceful_stop_sends_phx_close_and_keeps_the_socket(
        ep: testing.RunningEndpoint, event: str, reason: otp.ExitReason) -> None:
    client = await joined(ep, "room:1", "room:2")
    ref = await client.push("room:1", event, {})
    jr = client.join_refs["room:1"]
    assert await client.receive() == Message("room:1", "phx_close", {}, jr, jr)
    await client.refute_reply(ref)
    assert events("terminate", "room:1") == [reason]
    assert ep.channel_topics() == ["room:2"]
    ref = await client.push("room:2", "echo", {"ok": 1})
    await client.assert_reply(ref, "ok", {"ok": 1})
    ref = await client.heartbeat()
    await client.assert_reply(ref, "ok", {})


async def test_stop_with_reply_sends_the_reply_then_phx_close(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    jr = client.join_refs["room:1"]
    ref = await client.push("room:1", "stop_normal_reply", {})
    assert await client.receive() == ReplyMessage("room:1", "ok", {"bye": True}, ref, jr)
    assert await client.receive() == Message("room:1", "phx_close", {}, jr, jr)


async def test_stop_with_reply_and_crash_reason_sends_the_reply_then_phx_error(
        ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    jr = client.join_refs["room:1"]
    ref = await client.push("room:1", "stop_crash_reply", {})
    assert await client.receive() == ReplyMessage("room:1", "error", {"bye": True}, ref, jr)
    assert await client.receive() == Message("room:1", "phx_error", {"reason": "channel_crash"}, jr, jr)


@pytest.mark.parametrize("event", ["raise", "stop_crash"])
async def test_crash_sends_phx_error_and_leaves_socket_and_other_channels_alone(
        ep: testing.RunningEndpoint, event: str, caplog: pytest.LogCaptureFixture) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1", {"push_on_terminate": True}) == ("ok", {})
    assert await client.join("room:2", {}) == ("ok", {})
    other = await joined(ep, "room:1")
    jr = client.join_refs["room:1"]
    caplog.clear()
    ref = await client.push("room:1", event, {})
    # terminate runs (gen_server semantics) and its push comes before the phx_error.
    first = await client.receive()
    assert isinstance(first, Message)
    assert first.event == "terminating"
    assert first.join_ref == jr
    assert await client.receive() == Message("room:1", "phx_error", {"reason": "channel_crash"}, jr, jr)
    await client.refute_reply(ref)
    assert len(events("terminate", "room:1")) == 1
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(crashes) == 1, [r.getMessage() for r in crashes]
    assert ep.channel_topics() == ["room:1", "room:2"]  # room:1 of the other client
    ref = await client.push("room:2", "echo", {"alive": True})
    await client.assert_reply(ref, "ok", {"alive": True})
    ref = await other.push("room:1", "echo", {"alive": True})
    await other.assert_reply(ref, "ok", {"alive": True})
    # The crashed topic can be joined again.
    assert await client.join("room:1", {}) == ("ok", {})


# -- push / reply join_ref rules -----------------------------------------------------------------


async def test_push_carries_join_ref_and_null_ref_and_reply_carries_both(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await client.send(Message("room:1", "phx_join", {}, "J", "J"))
    await client.assert_reply("J", "ok", {})
    client.join_refs["room:1"] = "J"
    ref = await client.push("room:1", "push_then_reply", {})
    assert await client.receive() == Message("room:1", "pushed", {"n": 1}, None, "J")
    assert await client.receive() == ReplyMessage("room:1", "ok", {"n": 2}, ref, "J")


async def test_reply_statuses_and_default_response(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    ref = await client.push("room:1", "status", {"status": "custom"})
    await client.assert_reply(ref, "custom", {})


async def test_join_with_null_join_ref_uses_the_ref_for_pushes_and_null_for_phx_close(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1", {}, join_ref=None) == ("ok", {})
    ref = await client.push("room:1", "push", {"event": "hi"})
    jr_of_push = (await client.assert_push("room:1", "hi")).join_ref
    assert jr_of_push is not None  # the ref of the join
    # A non-null join_ref now differs from the stored null: stale, dropped.
    ref = await client.push("room:1", "echo", {}, join_ref=jr_of_push)
    await client.refute_reply(ref)
    await client.push("room:1", "stop", {}, join_ref=None)
    assert await client.receive() == Message("room:1", "phx_close", {}, None, None)


async def test_async_reply_through_socket_ref_from_another_process(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    ref = await client.push("room:1", "async_reply", {"n": 7})
    await client.assert_reply(ref, "ok", {"later": {"n": 7}}, join_ref=client.join_refs["room:1"])


# -- broadcasts --------------------------------------------------------------------------------


async def test_broadcast_not_intercepted_goes_by_fastlane_to_every_subscriber(
        ep: testing.RunningEndpoint) -> None:
    a = await joined(ep, "room:1", user="a")
    b = await joined(ep, "room:1", user="b")
    ref = await a.push("room:1", "broadcast", {"event": "news", "payload": {"n": 1}})
    await a.assert_reply(ref, "ok", {"sent": "news"})
    for client in (a, b):
        msg = await client.assert_broadcast("room:1", "news", {"n": 1})
        assert (msg.ref, msg.join_ref) == (None, None)
    assert events("out") == []


async def test_intercepted_broadcast_goes_through_handle_out_per_subscriber(
        ep: testing.RunningEndpoint) -> None:
    a = await joined(ep, "room:1", user="a")
    b = await joined(ep, "room:1", user="b")
    await a.push("room:1", "broadcast", {"event": "intercepted", "payload": {"n": 1}})
    for client, user in ((a, "a"), (b, "b")):
        await client.assert_push("room:1", "intercepted", {"n": 1, "intercepted_by": user},
                                 join_ref=client.join_refs["room:1"])
        await client.refute_broadcast("room:1", "intercepted")
    assert len(events("out", "room:1")) == 2


async def test_broadcast_from_excludes_the_sender(ep: testing.RunningEndpoint) -> None:
    a = await joined(ep, "room:1", user="a")
    b = await joined(ep, "room:1", user="b")
    ref = await a.push("room:1", "broadcast_from", {"event": "news", "payload": {"n": 2}})
    await a.assert_reply(ref, "ok", {})
    await b.assert_broadcast("room:1", "news", {"n": 2})
    await a.refute_push("room:1", "news")


async def test_endpoint_broadcast_from_outside_a_channel(ep: testing.RunningEndpoint) -> None:
    a = await joined(ep, "room:1", "room:2", user="a")
    b = await joined(ep, "room:1", user="b")
    ep.broadcast("room:1", "news", {"from": "outside"})
    ep.broadcast("room:1", "intercepted", {"from": "outside"})
    for client, user in ((a, "a"), (b, "b")):
        await client.assert_broadcast("room:1", "news", {"from": "outside"})
        await client.assert_push("room:1", "intercepted", {"from": "outside", "intercepted_by": user})
    await a.refute_push("room:2")
    ep.broadcast("room:nobody", "news", {})  # no subscribers: nothing happens
    await a.refute_any()
    await b.refute_any()


async def test_one_broadcast_reaches_v1_and_v2_subscribers_each_in_their_format(
        ep: testing.RunningEndpoint) -> None:
    v1 = await testing.connect(ep, vsn="1.0.0")
    v2 = await testing.connect(ep, vsn="2.0.0")
    for client in (v1, v2):
        assert await client.join("room:1") == ("ok", {})
    ep.broadcast("room:1", "news", {"n": 1})
    assert await v1.receive_frame() == b'{"event":"news","payload":{"n":1},"ref":null,"topic":"room:1"}'.decode()
    assert await v2.receive_frame() == '[null,null,"room:1","news",{"n":1}]'


async def test_refused_and_crashed_joins_take_no_channel_slot(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, "/limited")
    assert (await client.join("room:1", {"refuse": {}}))[0] == "error"
    assert (await client.join("room:2", {"crash": True}))[0] == "error"
    assert await client.join("room:3") == ("ok", {})
    assert await client.join("room:4") == ("ok", {})


# -- other callbacks ---------------------------------------------------------------------------


async def test_push_inside_join_is_an_error_so_the_join_crashes(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1", {"push_in_join": True}) == ("error", {"reason": "join crashed"})
    await client.refute_push("room:1", "too_early")


async def test_handle_out_stop_closes_the_channel(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    jr = client.join_refs["room:1"]
    ep.broadcast("room:1", "intercepted", {"stop": True})
    assert await client.receive() == Message("room:1", "phx_close", {}, jr, jr)
    await client.settle()
    assert events("terminate", "room:1") == [otp.Shutdown("out")]


async def test_route_assigns_are_merged_into_the_channel_socket(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "vip:1", "room:1", user="ann")
    ref = await client.push("vip:1", "assigns", {})
    await client.assert_reply(ref, "ok", {"user": "ann", "vip": True})
    ref = await client.push("room:1", "assigns", {})
    await client.assert_reply(ref, "ok", {"user": "ann"})


async def test_calls_and_casts_reach_the_channel_process(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    [proc] = ep.channel_processes()
    pid = otp.current_node().pid_from_string(proc["pid"])
    assert pid is not None
    otp.cast(pid, "hello")
    await client.assert_push("room:1", "cast", {"request": "hello"})
    assert await otp.call(pid, "topic") == "room:1"
    assert await otp.call(pid, "stop") == "bye"
    jr = client.join_refs["room:1"]
    assert await client.receive() == Message("room:1", "phx_close", {}, jr, jr)


async def test_handle_info_crash_sends_phx_error(ep: testing.RunningEndpoint) -> None:
    client = await joined(ep, "room:1")
    [proc] = ep.channel_processes()
    pid = otp.current_node().pid_from_string(proc["pid"])
    assert pid is not None
    otp.current_node().send(pid, "crash")
    jr = client.join_refs["room:1"]
    assert await client.receive() == Message("room:1", "phx_error", {"reason": "channel_crash"}, jr, jr)
