"""§1.10 over real sockets: the ordering guarantees of joins, replies, pushes and broadcasts."""

from __future__ import annotations

import trio

from channels import testing
from channels.protocol import Message, ReplyMessage


async def test_join_reply_comes_before_pushes_made_right_after_join(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await client.send(Message("room:1", "phx_join", {"after_join": True}, "1", "1"))
    assert await client.receive() == ReplyMessage("room:1", "ok", {}, "1", "1")
    assert await client.receive() == Message("room:1", "after_join", {"hello": "room:1"}, None, "1")


async def test_join_reply_comes_before_a_broadcast_made_right_after_join(ep: testing.RunningEndpoint) -> None:
    watcher = await testing.connect(ep)
    client = await testing.connect(ep)
    for i in range(20):
        topic = f"room:{i}"
        assert await watcher.join(topic) == ("ok", {})
        ref = client.next_ref()
        await client.send(Message(topic, "phx_join", {"broadcast_after_join": True}, ref, ref))
        assert await client.receive() == ReplyMessage(topic, "ok", {}, ref, ref)
        assert await client.receive() == Message(topic, "joined", {"topic": topic}, None, None)
        await watcher.assert_broadcast(topic, "joined")


async def test_broadcasts_racing_a_join_arrive_after_the_reply_in_order_without_gaps(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    count = 300

    async def broadcaster() -> None:
        for i in range(count):
            ep.broadcast("room:1", "seq", {"i": i})
            await trio.sleep(0)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(broadcaster)
        await trio.sleep(0)
        assert await client.join("room:1") == ("ok", {})
    await client.settle()
    frames = [r.decoded for r in client.history]
    assert isinstance(frames[0], ReplyMessage)
    seen = [f.payload["i"] for f in frames[1:] if isinstance(f, Message)]
    assert len(seen) == len(frames) - 1
    assert seen, "the join finished after every broadcast"
    assert seen == list(range(seen[0], count))


async def test_fastlane_broadcast_from_handle_in_precedes_the_reply(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})
    jr = client.join_refs["room:1"]
    ref = await client.push("room:1", "broadcast", {"event": "news", "payload": {"n": 1}})
    assert await client.receive() == Message("room:1", "news", {"n": 1}, None, None)
    assert await client.receive() == ReplyMessage("room:1", "ok", {"sent": "news"}, ref, jr)


async def test_intercepted_broadcast_from_handle_in_follows_the_reply(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, params={"user": "u"})
    assert await client.join("room:1") == ("ok", {})
    jr = client.join_refs["room:1"]
    ref = await client.push("room:1", "broadcast", {"event": "intercepted", "payload": {"n": 1}})
    assert await client.receive() == ReplyMessage("room:1", "ok", {"sent": "intercepted"}, ref, jr)
    assert await client.receive() == Message("room:1", "intercepted", {"n": 1, "intercepted_by": "u"}, None, jr)


async def test_one_channels_frames_keep_their_order(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})
    refs = [await client.push("room:1", "echo", {"i": i}) for i in range(50)]
    for i, ref in enumerate(refs):
        reply = await client.receive()
        assert isinstance(reply, ReplyMessage)
        assert (reply.ref, reply.payload) == (ref, {"i": i})


async def test_pushes_and_broadcasts_of_one_channel_keep_their_order_right_after_join(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    for i in range(10):
        topic = f"room:{i}"
        assert await client.join(topic, {"push_then_broadcast": True}) == ("ok", {})
        events = [(await client.receive()).event for _ in range(3)]  # type: ignore[union-attr]
        assert events == ["first", "second", "third"], (i, events)


async def test_duplicate_join_closes_the_old_join_before_the_new_channels_first_frames(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await client.send(Message("room:1", "phx_join", {}, "1", "1"))
    await client.assert_reply("1", "ok", {})
    await client.send(Message("room:1", "phx_join", {"broadcast_after_join": True}, "2", "2"))
    assert await client.receive() == ReplyMessage("room:1", "ok", {}, "2", "2")
    assert await client.receive() == Message("room:1", "phx_close", {}, "1", "1")
    assert await client.receive() == Message("room:1", "joined", {"topic": "room:1"}, None, None)


async def test_pushes_and_broadcasts_of_one_channel_keep_their_order(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})
    await client.push("room:1", "push_then_broadcast", {})
    events = [(await client.receive()).event for _ in range(3)]  # type: ignore[union-attr]
    assert events == ["first", "second", "third"]


async def test_a_channels_push_and_broadcast_keep_their_order_while_another_topic_joins(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:a") == ("ok", {})
    # room:b's join makes room:a push "first", broadcast "second", push "third" while the
    # transport waits for the join result.
    assert await client.join("room:b", {"poke": "room:a"}) == ("ok", {})
    events = [(await client.receive()).event for _ in range(3)]  # type: ignore[union-attr]
    assert events == ["first", "second", "third"]
