"""A property of the socket protocol over a real socket: random joins, leaves, pushes and
server-side stops on a few topics agree with a model of which topics are joined.

Joins use a join_ref different from their ref (``"j" + ref``), as Phoenix's own test client
does, so the model also checks Phoenix 1.8's join_ref rule: every reply, push, phx_close
carries the client's join_ref, and a message keyed by the join's ref instead is stale."""

from __future__ import annotations

import trio.testing
from hypothesis import HealthCheck, given, settings, strategies as st

import otp
from channels import testing
from channels.protocol import Message, Ref, ReplyMessage

from ._app import make_endpoint

TOPICS = ["room:a", "room:b", "room:c"]
LIMIT = 2  # LimitedSocket.max_channels_per_transport

ops = st.lists(st.tuples(st.sampled_from(["join", "leave", "echo", "stale", "stop"]), st.sampled_from(TOPICS)),
               max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
async def test_random_join_leave_push_sequences_match_the_model(sequence: list[tuple[str, str]]) -> None:
    async with otp.open_node() as node:
        async with testing.open_endpoint(make_endpoint()) as ep:
            client = await testing.connect(ep, "/limited")
            joined: dict[str, Ref] = {}  # topic -> join_ref
            for i, (op, topic) in enumerate(sequence):
                ref: Ref
                payload = {"i": i}
                if op == "join":
                    ref = client.next_ref()
                    new = f"j{ref}"
                    await client.send(Message(topic, "phx_join", {}, ref, new))
                    if topic in joined:
                        old = joined[topic]
                        assert await client.receive() == ReplyMessage(topic, "ok", {}, ref, new)
                        assert await client.receive() == Message(topic, "phx_close", {}, old, old)
                        joined[topic] = new
                    elif len(joined) >= LIMIT:
                        assert await client.receive() == ReplyMessage(
                            topic, "error", {"reason": "too many channels joined"}, ref, new)
                    else:
                        assert await client.receive() == ReplyMessage(topic, "ok", {}, ref, new)
                        joined[topic] = new
                elif op == "leave":
                    jr = joined.get(topic)
                    ref = await client.push(topic, "phx_leave", {}, join_ref=jr)
                    assert await client.receive() == ReplyMessage(topic, "ok", {}, ref, jr)
                    if topic in joined:
                        assert await client.receive() == Message(topic, "phx_close", {}, jr, jr)
                        del joined[topic]
                elif op == "echo":
                    jr = joined.get(topic)
                    ref = await client.push(topic, "echo", payload, join_ref=jr)
                    if jr is not None:
                        assert await client.receive() == ReplyMessage(topic, "ok", payload, ref, jr)
                    else:
                        assert await client.receive() == ReplyMessage(
                            topic, "error", {"reason": "unmatched topic"}, ref, None)
                elif op == "stale":  # keyed by the join's ref, not its join_ref: dropped if joined
                    jr = joined.get(topic)
                    ref = await client.push(topic, "echo", payload, join_ref=str(jr)[1:] if jr else "0")
                    if jr is None:
                        assert await client.receive() == ReplyMessage(
                            topic, "error", {"reason": "unmatched topic"}, ref, None)
                else:  # a graceful stop decided by the server
                    jr = joined.pop(topic, None)
                    ref = await client.push(topic, "stop", {}, join_ref=jr)
                    if jr is not None:
                        assert await client.receive() == Message(topic, "phx_close", {}, jr, jr)
                    else:
                        assert await client.receive() == ReplyMessage(
                            topic, "error", {"reason": "unmatched topic"}, ref, None)
            await client.refute_any()
            assert ep.channel_topics() == sorted(joined)
            for topic in TOPICS:
                assert len(ep.subscribers(topic)) == (topic in joined)
        await trio.testing.wait_all_tasks_blocked()
        assert node.processes() == []


broadcast_ops = st.lists(
    st.tuples(st.sampled_from(["join", "leave", "broadcast", "broadcast_from"]),
              st.integers(0, 1), st.sampled_from(TOPICS)),
    max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broadcast_ops)
async def test_broadcasts_reach_exactly_the_joined_clients(sequence: list[tuple[str, int, str]]) -> None:
    async with otp.open_node() as node:
        async with testing.open_endpoint(make_endpoint()) as ep:
            clients = [await testing.connect(ep, params={"user": f"u{i}"}) for i in range(2)]
            joined: list[set[str]] = [set(), set()]
            for n, (op, who, topic) in enumerate(sequence):
                client = clients[who]
                if op == "join":
                    assert (await client.join(topic))[0] == "ok"
                    if topic in joined[who]:
                        await client.assert_push(topic, "phx_close", {})
                    joined[who].add(topic)
                elif op == "leave":
                    assert await client.leave(topic) == ("ok", {})
                    if topic in joined[who]:
                        await client.assert_push(topic, "phx_close", {})
                        joined[who].discard(topic)
                elif topic in joined[who]:
                    # A channel broadcasts (from the client's own channel process).
                    ref = await client.push(topic, op, {"event": "news", "payload": {"n": n}})
                    await client.assert_reply(ref, "ok")
                    for other in (0, 1):
                        receives = topic in joined[other] and (op == "broadcast" or other != who)
                        if receives:
                            await clients[other].settle()
                            await clients[other].assert_broadcast(topic, "news", {"n": n}, timeout=0)
                else:
                    ep.broadcast(topic, "news", {"n": n})
                    await clients[0].settle()
                    for other in (0, 1):
                        if topic in joined[other]:
                            await clients[other].assert_broadcast(topic, "news", {"n": n}, timeout=0)
                for c in clients:
                    await c.refute_any()
        await trio.testing.wait_all_tasks_blocked()
        assert node.processes() == []
