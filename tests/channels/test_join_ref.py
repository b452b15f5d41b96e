"""join_ref as Phoenix 1.7/1.8 uses it, with a client whose join_ref differs from the join's ref.

Phoenix's socket (``lib/phoenix/socket.ex`` ``handle_in/4``, ``put_channel/4``,
``encode_close/3``, ``encode_on_exit/4``) echoes the join_ref the client sent in the
``phx_join``: in the join reply whatever its outcome, in every later push and reply of the
channel, in ``phx_close`` and ``phx_error`` (as join_ref *and* ref), and it is the key later
messages must carry (null means "any"). Only the "unmatched topic" reply carries none.
phoenix.js sends join_ref == ref on joins, so it cannot tell this from Phoenix <= 1.6 (which
used the join's ref); every test here uses ``J`` != ``R`` so that it can.
"""

from __future__ import annotations

import pytest

from channels import testing
from channels.protocol import Message

ANY = testing.ANY

J = "J7"  # the client's join_ref
R = "R3"  # the phx_join message's ref


async def join(client: testing.SocketClient, topic: str, payload: object) -> None:
    await client.send(Message(topic, "phx_join", payload, R, J))


@pytest.mark.parametrize(
    ("payload", "status", "response"),
    [
        pytest.param({}, "ok", {}, id="ok"),
        pytest.param({"reply": {"hi": 1}}, "ok", {"hi": 1}, id="ok-with-reply"),
        pytest.param({"refuse": {"reason": "no"}}, "error", {"reason": "no"}, id="refused"),
        pytest.param({"crash": True}, "error", {"reason": "join crashed"}, id="join-crashed"),
        pytest.param({"bad_return": True}, "error", {"reason": "join crashed"}, id="bad-return"),
    ],
)
async def test_every_join_reply_echoes_the_clients_join_ref_not_the_joins_ref(
        ep: testing.RunningEndpoint, payload: object, status: str, response: object) -> None:
    client = await testing.connect(ep)
    await join(client, "room:1", payload)
    await client.assert_reply(R, status, response, topic="room:1", join_ref=J)


async def test_a_join_over_the_channel_limit_is_refused_with_the_clients_join_ref(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, "/limited")
    assert await client.join("room:1", {}) == ("ok", {})
    assert await client.join("room:2", {}) == ("ok", {})
    await join(client, "room:3", {})
    await client.assert_reply(R, "error", {"reason": "too many channels joined"}, join_ref=J)


async def test_a_join_on_an_unmatched_topic_is_answered_with_a_null_join_ref(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await join(client, "nowhere:1", {})
    await client.assert_reply(R, "error", {"reason": "unmatched topic"}, join_ref=None)


async def test_pushes_replies_and_async_replies_carry_the_clients_join_ref(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await join(client, "room:1", {})
    await client.assert_reply(R, "ok", {}, join_ref=J)
    await client.send(Message("room:1", "push", {"event": "hello", "payload": {"n": 1}}, "m1", J))
    await client.assert_push("room:1", "hello", {"n": 1}, join_ref=J)
    await client.send(Message("room:1", "echo", {"a": 1}, "m2", J))
    await client.assert_reply("m2", "ok", {"a": 1}, join_ref=J)
    await client.send(Message("room:1", "async_reply", {"b": 2}, "m3", None))  # null: "any join"
    await client.assert_reply("m3", "ok", {"later": {"b": 2}}, join_ref=J)


async def test_messages_carrying_the_joins_ref_as_join_ref_are_stale_and_dropped(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await join(client, "room:1", {})
    await client.assert_reply(R, "ok", {}, join_ref=J)
    await client.send(Message("room:1", "echo", {}, "m1", R))
    await client.send(Message("room:1", "phx_leave", {}, "m2", R))
    await client.refute_reply("m1")
    await client.refute_reply("m2")
    await client.refute_push("room:1", "phx_close")
    assert ep.channel_topics() == ["room:1"]


@pytest.mark.parametrize(("event", "closing"), [("phx_leave", "phx_close"), ("stop", "phx_close"),
                                                ("raise", "phx_error")])
async def test_phx_close_and_phx_error_carry_the_clients_join_ref_as_join_ref_and_ref(
        ep: testing.RunningEndpoint, event: str, closing: str) -> None:
    client = await testing.connect(ep)
    await join(client, "room:1", {})
    await client.assert_reply(R, "ok", {}, join_ref=J)
    await client.send(Message("room:1", event, {}, "m1", J))
    frame = await client.assert_push("room:1", closing, ANY, join_ref=J)
    assert frame.ref == J
    if event == "phx_leave":
        await client.assert_reply("m1", "ok", {}, join_ref=J)


async def test_a_duplicate_join_answers_with_the_new_join_ref_and_closes_the_old_one_with_its_own(
        ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await join(client, "room:1", {})
    await client.assert_reply(R, "ok", {}, join_ref=J)
    await client.send(Message("room:1", "phx_join", {}, "R4", "J8"))
    await client.assert_reply("R4", "ok", {}, join_ref="J8")
    old = await client.assert_push("room:1", "phx_close", {}, join_ref=J)
    assert old.ref == J
    await client.send(Message("room:1", "echo", {}, "m1", J))
    await client.refute_reply("m1")
    await client.send(Message("room:1", "echo", {}, "m2", "J8"))
    await client.assert_reply("m2", "ok", {}, join_ref="J8")


async def test_v1_clients_get_the_join_ref_they_sent_in_the_ref_of_phx_close(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, vsn="1.0.0")
    await join(client, "room:1", {})
    await client.assert_reply(R, "ok", {}, join_ref=None)  # V1 frames have no join_ref
    await client.send(Message("room:1", "phx_leave", {}, "m1", J))
    await client.assert_reply("m1", "ok", {})
    assert (await client.assert_push("room:1", "phx_close", {})).ref == J
