"""channels.client against our own server, over real sockets.

Reconnects are forced by killing the connection's process (``otp.exit(pid, KILL)``), as a
crash of the server side of one connection would. Behaviour follows phoenix.js
(phoenixframework/phoenix assets/test/socket_test.js and channel_test.js; the cases
named after one cite it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

import otp
from channels import testing
from channels.client import (
    ChannelState,
    ConnectRejected,
    JoinError,
    PushTimeout,
    default_reconnect_after,
    default_rejoin_after,
    open_socket,
)
from tests.channels import _app


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    _app.EVENTS.clear()


@pytest.fixture
async def ep(node: otp.Node) -> AsyncIterator[testing.RunningEndpoint]:
    async with testing.open_endpoint(_app.make_endpoint()) as running:
        yield running


def url(ep: testing.RunningEndpoint, path: str = "/socket") -> str:
    return f"ws://{ep.host}:{ep.port}{path}"


def fast(tries: int) -> float:
    return 0.001


async def test_join_returns_the_response_and_sends_the_payload(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep), params={"user": "ann"}) as socket:
        room = socket.channel("room:lobby", {"reply": {"welcome": "ann"}})
        assert await room.join() == {"welcome": "ann"}
        assert room.state is ChannelState.JOINED
        assert _app.events("join", "room:lobby") == [{"reply": {"welcome": "ann"}}]


async def test_connect_params_reach_the_socket(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep), params=lambda: {"user": "bob"}) as socket:
        room = socket.channel("room:a")
        await room.join()
        reply = await room.push("assigns", {})
        assert (reply.status, reply.payload) == ("ok", {"user": "bob"})


async def test_push_awaits_its_reply_json_and_binary(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep)) as socket:
        room = socket.channel("room:a")
        await room.join()
        reply = await room.push("echo", {"body": "hi"})
        assert (reply.status, reply.payload, reply.topic) == ("ok", {"body": "hi"}, "room:a")
        reply = await room.push("status", {"status": "error"})
        assert (reply.status, reply.payload) == ("error", {})
        binary = await room.push("binary", b"\x00\x01abc")
        assert (binary.status, binary.payload) == ("ok", b"cba\x01\x00")


async def test_pushes_and_broadcasts_arrive_on_the_channel(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep)) as socket:
        room = socket.channel("room:a")
        other = socket.channel("room:b")
        await room.join()
        await other.join()
        await room.send("push", {"event": "pushed", "payload": {"n": 1}})
        ep.broadcast("room:a", "news", {"n": 2})
        await room.send("binary_push", b"raw")
        got = {}
        for _ in range(3):
            msg = await room.receive(timeout=5)
            got[msg.event] = (msg.payload, msg.ref, msg.join_ref)
        assert got == {
            "pushed": ({"n": 1}, None, room.join_ref),
            "news": ({"n": 2}, None, None),  # a broadcast: join_ref and ref null
            "binary_pushed": (b"raw!", None, room.join_ref),
        }
        with pytest.raises(trio.WouldBlock):
            other.receive_nowait()


async def test_v1_json_serializer_works_too(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep), vsn="1.0.0") as socket:
        assert socket.connection is not None
        assert socket.connection.serializer.vsn.startswith("1.")
        room = socket.channel("room:v1")
        await room.join()
        assert (await room.push("echo", {"x": 1})).payload == {"x": 1}
        ep.broadcast("room:v1", "news", {"n": 2})
        msg = await room.receive(timeout=5)
        assert (msg.event, msg.payload) == ("news", {"n": 2})


async def test_refused_first_join_raises_join_error_and_closes_the_channel(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep)) as socket:
        room = socket.channel("room:a", {"refuse": {"reason": "unauthorized"}})
        with pytest.raises(JoinError) as info:
            await room.join()
        assert info.value.response == {"reason": "unauthorized"}
        assert room.state is ChannelState.CLOSED
        assert room not in socket.channels


async def test_refused_connect_raises_connect_rejected(ep: testing.RunningEndpoint) -> None:
    with pytest.raises(ConnectRejected) as info:
        async with open_socket(url(ep), params={"refuse": "1"}):
            pass
    assert info.value.status_code == 403


async def test_push_without_reply_times_out(ep: testing.RunningEndpoint, autojump_clock: trio.testing.MockClock
                                           ) -> None:
    async with open_socket(url(ep), heartbeat_interval=None) as socket:
        room = socket.channel("room:a")
        await room.join()
        with pytest.raises(PushTimeout):
            await room.push("noreply", {}, timeout=3)
        # The channel is still usable.
        assert (await room.push("echo", {"a": 1})).payload == {"a": 1}


async def test_killed_connection_process_reconnects_and_rejoins(ep: testing.RunningEndpoint) -> None:
    # phoenix.js socket_test.js "onConnClose: schedules reconnectTimer timeout if normal close"
    # (abnormal here) and channel_test.js "rejoins channel after reconnect".
    async with open_socket(url(ep), params={"user": "ann"}, reconnect_after=fast) as socket:
        room = socket.channel("room:a", {"n": 1})
        await room.join()
        for round_ in (2, 3):
            otp.exit(ep.transport_of("user:ann").pid, otp.KILL)
            await room.wait_joined(round_)
            assert socket.connections == round_
            assert socket.last_close is not None
            assert socket.last_close.code == 1006
            assert room.state is ChannelState.JOINED
            ep.broadcast("room:a", "after", {"round": round_})
            msg = await room.receive(timeout=5)
            assert (msg.event, msg.payload) == ("after", {"round": round_})
            assert (await room.push("echo", {"r": round_})).payload == {"r": round_}
        assert _app.events("join", "room:a") == [{"n": 1}] * 3


async def test_push_made_while_disconnected_waits_for_the_rejoin(
        ep: testing.RunningEndpoint, autojump_clock: trio.testing.MockClock) -> None:
    # phoenix.js channel_test.js "push: buffers push until joined" (the push buffer).
    async with open_socket(url(ep), params={"user": "ann"}, reconnect_after=lambda tries: 5.0,
                           heartbeat_interval=None) as socket:
        room = socket.channel("room:a")
        await room.join()
        otp.exit(ep.transport_of("user:ann").pid, otp.KILL)
        await room.wait_state(ChannelState.ERRORED)
        assert not socket.connected
        reply = await room.push("echo", {"late": True}, timeout=20)
        assert reply.payload == {"late": True}
        assert room.join_count == 2


async def test_server_side_channel_crash_rejoins_after_the_rejoin_delay(ep: testing.RunningEndpoint) -> None:
    # phoenix.js channel_test.js "onError: tries to rejoin with backoff".
    async with open_socket(url(ep), rejoin_after=fast) as socket:
        room = socket.channel("room:a")
        await room.join()
        other = socket.channel("room:b")
        await other.join()
        with pytest.raises(PushTimeout):
            await room.push("raise", {}, timeout=1)
        await room.wait_joined(2)
        assert socket.connections == 1
        assert other.join_count == 1
        assert (await room.push("echo", {"ok": 1})).payload == {"ok": 1}


async def test_disconnect_broadcast_to_socket_id_reconnects(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep), params={"user": "ann"}, reconnect_after=fast) as socket:
        room = socket.channel("room:a")
        await room.join()
        ep.broadcast("user:ann", "disconnect", {})
        await room.wait_joined(2)
        assert socket.connections == 2


async def test_left_channel_is_not_rejoined(ep: testing.RunningEndpoint) -> None:
    async with open_socket(url(ep), params={"user": "ann"}, reconnect_after=fast) as socket:
        room = socket.channel("room:a")
        stay = socket.channel("room:b")
        await room.join()
        await stay.join()
        reply = await room.leave()
        assert reply is not None
        assert reply.status == "ok"
        assert room.state is ChannelState.CLOSED
        otp.exit(ep.transport_of("user:ann").pid, otp.KILL)
        await stay.wait_joined(2)
        assert room.join_count == 1
        assert _app.events("join", "room:a") == [{}]


async def test_heartbeats_are_answered_and_keep_the_connection(
        ep: testing.RunningEndpoint, autojump_clock: trio.testing.MockClock) -> None:
    async with open_socket(url(ep), heartbeat_interval=30) as socket:
        room = socket.channel("room:a")
        await room.join()
        await trio.sleep(30 * 5 + 1)
        assert socket.connections == 1
        assert (await room.push("echo", {})).status == "ok"


async def test_silent_server_gets_a_heartbeat_timeout_and_a_reconnect(
        node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    # phoenix.js socket_test.js "heartbeatTimeout: closes socket when heartbeat is not ack'd
    # within heartbeat window" then reconnects. The server is a real WebSocket server
    # (trio-websocket) that accepts and never answers.
    import trio_websocket

    accepted: list[int] = []

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        accepted.append(1)
        try:
            while True:
                await ws.get_message()
        except trio_websocket.ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        port = server.port
        async with open_socket(f"ws://127.0.0.1:{port}/socket", heartbeat_interval=30,
                               reconnect_after=fast) as socket:
            await socket.wait_connected(2, timeout=200)
            assert socket.last_close is not None
            assert socket.last_close.reason == "heartbeat timeout"
        nursery.cancel_scope.cancel()
    assert len(accepted) >= 2


def test_backoff_schedules_are_phoenix_js_defaults() -> None:
    # phoenix.js socket.js reconnectAfterMs / rejoinAfterMs defaults.
    assert [default_reconnect_after(n) for n in range(1, 12)] == [
        0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 5.0]
    assert [default_rejoin_after(n) for n in range(1, 6)] == [1.0, 2.0, 5.0, 10.0, 10.0]


async def test_an_error_in_the_block_comes_out_unwrapped(ep: testing.RunningEndpoint) -> None:
    with pytest.raises(KeyError):
        async with open_socket(url(ep)):
            raise KeyError("mine")
