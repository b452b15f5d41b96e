"""channels.emitter against a real redis-server and a running endpoint (issue 16).

The endpoint runs in this process's node; the emitters publish from a worker thread (the
sync ``Emitter``, and ``AsyncEmitter`` under ``asyncio.run``) or from Trio; a
``channels.client`` socket receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest
import trio
from hypothesis import given, strategies as st

import channels
import otp
from channels import testing
from channels.client import open_socket
from channels.emitter import (
    ENVELOPE_VERSION,
    AsyncEmitter,
    Emitter,
    EnvelopeError,
    broadcast_envelope,
    endpoint_channel,
)
from channels.protocol import Broadcast
from channels.pubsub._envelope import decode_message


class NewsChannel(channels.Channel):
    intercept = ["censored"]

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        return channels.Accept(socket)

    async def handle_out(self, event: str, payload: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        socket.push(event, {**payload, "seen_by_handle_out": True})
        return channels.NoReply(socket)


class NewsSocket(channels.Socket):
    routes = [("news:*", NewsChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> channels.Accept[Any]:
        return channels.Accept(self.assign(user=params.get("user", "anon")))

    def id(self) -> str | None:
        return f"user_socket:{self.assigns['user']}"


@pytest.fixture
async def ep(node: otp.Node, redis_url: str) -> AsyncIterator[testing.RunningEndpoint]:
    endpoint = channels.Endpoint(name="Emitter.Test.Endpoint", port=0, redis_url=redis_url, check_origin=False,
                                 sockets=[channels.SocketMount("/socket", NewsSocket)])
    async with testing.open_endpoint(endpoint) as running:
        yield running


def socket_url(ep: testing.RunningEndpoint) -> str:
    return f"ws://{ep.host}:{ep.port}/socket"


async def test_sync_emitter_broadcast_reaches_joined_clients(ep: testing.RunningEndpoint, redis_url: str) -> None:
    async with open_socket(socket_url(ep)) as socket:
        news = socket.channel("news:a")
        await news.join()
        with Emitter(redis_url, endpoint="Emitter.Test.Endpoint") as emitter:
            nodes = await trio.to_thread.run_sync(emitter.broadcast, "news:a", "headline", {"title": "hi"})
            assert nodes == 1
            await trio.to_thread.run_sync(emitter.broadcast, "news:a", "raw", b"\x00\xffbytes")
        msg = await news.receive(timeout=5)
        assert (msg.topic, msg.event, msg.payload, msg.ref, msg.join_ref) == (
            "news:a", "headline", {"title": "hi"}, None, None)
        msg = await news.receive(timeout=5)
        assert (msg.event, msg.payload) == ("raw", b"\x00\xffbytes")  # a V2 binary broadcast frame


async def test_intercepted_events_go_through_handle_out_as_with_endpoint_broadcast(
        ep: testing.RunningEndpoint, redis_url: str) -> None:
    async with open_socket(socket_url(ep)) as socket:
        news = socket.channel("news:a")
        await news.join()
        with Emitter(redis_url, endpoint="Emitter.Test.Endpoint") as emitter:
            await trio.to_thread.run_sync(emitter.broadcast, "news:a", "censored", {"x": 1})
        msg = await news.receive(timeout=5)
        assert (msg.event, msg.payload) == ("censored", {"x": 1, "seen_by_handle_out": True})


async def test_emitter_disconnect_closes_the_sockets_of_that_id(ep: testing.RunningEndpoint, redis_url: str) -> None:
    async with open_socket(socket_url(ep), params={"user": "ann"}, reconnect_after=lambda n: 0.001) as ann, \
            open_socket(socket_url(ep), params={"user": "bob"}) as bob:
        with Emitter(redis_url, endpoint="Emitter.Test.Endpoint") as emitter:
            await trio.to_thread.run_sync(emitter.disconnect, "user_socket:ann")
        await ann.wait_connected(2)
        assert ann.last_close is not None
        assert ann.last_close.code == 1001
        assert bob.connections == 1


async def test_async_emitter_publishes_under_trio(ep: testing.RunningEndpoint, redis_url: str) -> None:
    async with open_socket(socket_url(ep)) as socket:
        news = socket.channel("news:t")
        await news.join()
        async with AsyncEmitter(redis_url, endpoint="Emitter.Test.Endpoint") as emitter:
            assert await emitter.broadcast("news:t", "one", {"n": 1}) == 1
            assert await emitter.broadcast("news:t", "two", {"n": 2}) == 1
        assert [(await news.receive(timeout=5)).event for _ in range(2)] == ["one", "two"]


async def test_async_emitter_publishes_under_asyncio(ep: testing.RunningEndpoint, redis_url: str) -> None:
    async def publish() -> int:
        async with AsyncEmitter(redis_url, endpoint="Emitter.Test.Endpoint") as emitter:
            return await emitter.broadcast("news:aio", "from_asyncio", {"ok": True})

    async with open_socket(socket_url(ep)) as socket:
        news = socket.channel("news:aio")
        await news.join()
        assert await trio.to_thread.run_sync(asyncio.run, publish()) == 1
        msg = await news.receive(timeout=5)
        assert (msg.event, msg.payload) == ("from_asyncio", {"ok": True})


async def test_emitter_for_another_endpoint_name_reaches_nobody(ep: testing.RunningEndpoint, redis_url: str) -> None:
    with Emitter(redis_url, endpoint="Some.Other.Endpoint") as emitter:
        assert await trio.to_thread.run_sync(emitter.broadcast, "news:a", "x", {}) == 0


def test_envelope_is_the_documented_version_1_format() -> None:
    # docs/pubsub-envelope.md shows this envelope; other languages publish exactly this.
    data = orjson.loads(broadcast_envelope("emitter-1", "room:lobby", "new_msg", {"body": "hi"}))
    assert data == {"v": 1, "mode": "except", "node": "emitter-1", "target": None, "topic": "room:lobby",
                    "dispatcher": "channels",
                    "msg": {"t": "b", "topic": "room:lobby", "event": "new_msg", "payload": {"body": "hi"}}}
    assert ENVELOPE_VERSION == 1
    binary = orjson.loads(broadcast_envelope("emitter-1", "room:lobby", "blob", b"\x01\x02"))
    assert binary["msg"] == {"t": "b", "topic": "room:lobby", "event": "blob", "bin": "AQI="}
    assert endpoint_channel("Chat.Endpoint") == "phx:Chat.Endpoint.PubSub"


def test_bad_broadcasts_are_refused_before_publishing() -> None:
    with pytest.raises(EnvelopeError, match="not JSON"):
        broadcast_envelope("n", "room:lobby", "x", {"when": object()})
    with pytest.raises(EnvelopeError, match="must be str"):
        broadcast_envelope("n", 42, "x", {})  # type: ignore[arg-type]


def test_emitter_without_a_url_says_so() -> None:
    with pytest.raises(TypeError, match="redis_url"):
        Emitter()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(topic=st.text(min_size=1), event=st.text(min_size=1), payload=json_values | st.binary())
def test_every_json_or_binary_broadcast_survives_the_envelope(topic: str, event: str, payload: Any) -> None:
    env = orjson.loads(broadcast_envelope("n", topic, event, payload))
    assert env["v"] == ENVELOPE_VERSION
    assert decode_message(env["msg"]) == Broadcast(topic, event, payload)
