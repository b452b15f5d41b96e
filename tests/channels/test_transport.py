"""§2.5-§2.8 over real sockets: timeouts, frame limits, bad input, binary frames, transport
death, drain, and the slow-consumer policy."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

import channels
import otp
from channels import testing
from channels.protocol import Message, ReplyMessage

from ..http._support import RawClient
from ._app import events, make_endpoint


async def test_idle_connection_is_closed_after_the_timeout(node: otp.Node, autojump_clock: trio.abc.Clock) -> None:
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(timeout=60.0))
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep)
        assert await client.join("room:1") == ("ok", {})
        start = trio.current_time()
        # Any frame from the client resets the timer (a heartbeat here).
        await trio.sleep(45)
        await client.assert_reply(await client.heartbeat(), "ok", {})
        await trio.sleep(45)
        assert client.closed is None
        await client.assert_closed(1000, timeout=60)
        assert 105 <= trio.current_time() - start <= 106
        await client.settle()
        assert events("terminate", "room:1") == [otp.Shutdown("idle_timeout")]


async def test_websocket_pings_count_as_activity_for_the_idle_timeout(
        node: otp.Node, autojump_clock: trio.abc.Clock) -> None:
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(timeout=60.0))
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep)
        for _ in range(3):
            await trio.sleep(40)
            await client.ws.ping(b"still here")  # waits for the pong
        assert client.closed is None
        await client.assert_closed(1000, timeout=61)


async def test_frame_larger_than_max_frame_size_closes_with_1009(node: otp.Node) -> None:
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(max_frame_size=1000))
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep)
        other = await testing.connect(ep)
        assert await client.join("room:1", {"pad": "x" * 900}) == ("ok", {})
        await client.push("room:1", "echo", {"pad": "x" * 2000})
        await client.assert_closed(1009)
        await other.assert_reply(await other.heartbeat(), "ok", {})


@pytest.mark.parametrize("frame", [
    "not json",
    '["1","2","room:1"]',
    '{"topic":"room:1"}',
    '[1, 2, 3, 4]',
    b"\x05\x00\x00\x00\x00",
    b"\x01\x00\x00\x00\x00",
    b"",
])
async def test_undecodable_frame_closes_with_1011_logs_once_and_spares_other_connections(
        ep: testing.RunningEndpoint, frame: str | bytes, caplog: pytest.LogCaptureFixture) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})
    other = await testing.connect(ep)
    assert await other.join("room:1") == ("ok", {})
    caplog.clear()
    if isinstance(frame, str):
        await client.send_text(frame)
    else:
        await client.send_bytes(frame)
    await client.assert_closed(1011)
    await client.settle()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "invalid message" in warnings[0].getMessage()
    assert events("terminate", "room:1") == [otp.Shutdown("invalid_message")]
    ref = await other.push("room:1", "echo", {"still": "here"})
    await other.assert_reply(ref, "ok", {"still": "here"})
    assert ep.channel_topics() == ["room:1"]


async def test_garbage_http_gets_400(ep: testing.RunningEndpoint) -> None:
    raw = await RawClient.connect(ep.port)
    await raw.send(b"\x16\x03\x01garbage that is not http\r\n\r\n")
    assert (await raw.read_response()).status == 400
    await raw.stream.aclose()


async def test_unknown_path_gets_404(ep: testing.RunningEndpoint) -> None:
    raw = await RawClient.connect(ep.port)
    await raw.send(b"GET /nope HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    assert (await raw.read_response()).status == 404
    await raw.stream.aclose()


async def test_plain_get_of_the_websocket_path_is_not_an_upgrade(ep: testing.RunningEndpoint) -> None:
    raw = await RawClient.connect(ep.port)
    await raw.send(b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    assert (await raw.read_response()).status == 400
    await raw.stream.aclose()


# -- binary (V2) ---------------------------------------------------------------------------------


async def test_v2_binary_push_reply_and_broadcast_round_trip(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})
    jr = client.join_refs["room:1"]
    ref = await client.push("room:1", "binary", b"\x00\x01abc\xff")
    frame = await client.receive_frame()
    assert isinstance(frame, bytes)
    assert frame[0] == 1
    assert client.history[-1].decoded == ReplyMessage("room:1", "ok", b"\xffcba\x01\x00", ref, jr)
    await client.push("room:1", "binary_push", b"\x10\x20")
    frame = await client.receive_frame()
    assert isinstance(frame, bytes)
    assert frame[0] == 0
    pushed: object = client.history[-1].decoded
    assert pushed == Message("room:1", "binary_pushed", b"\x10\x20!", None, jr)
    ep.broadcast("room:1", "blob", b"\xde\xad")
    frame = await client.receive_frame()
    assert frame == b"\x02\x06\x04room:1blob\xde\xad"  # kind 2: broadcast


# -- transport death -----------------------------------------------------------------------------


async def test_client_close_terminates_channels_with_shutdown_closed(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    for topic in ("room:1", "room:2", "room:3"):
        assert await client.join(topic, {"push_on_terminate": True}) == ("ok", {})
    await client.close()
    await client.settle()
    assert events("terminate") == [otp.Shutdown("closed")] * 3
    assert ep.channel_topics() == []
    assert ep.transport_processes() == []
    for topic in ("room:1", "room:2", "room:3"):
        assert ep.subscribers(topic) == []


async def test_client_vanishing_without_close_frame_terminates_channels(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})
    await client.stream.aclose()
    await client.settle()
    assert len(events("terminate", "room:1")) == 1
    assert ep.channel_topics() == []


async def test_reset_connection_is_a_client_close_not_a_slow_consumer(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})
    # The client resets the connection; the next write to it fails (ECONNRESET/EPIPE)
    # before the server has read the reset.
    client.stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.stream.socket.close()
    ep.broadcast("room:1", "news", {})
    await client.settle()
    assert events("terminate", "room:1") == [otp.Shutdown("closed")]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_endpoint_stop_drains_joined_sockets_with_1012(node: otp.Node) -> None:
    async with testing.open_endpoint(make_endpoint()) as ep:
        a = await testing.connect(ep)
        b = await testing.connect(ep)
        for client in (a, b):
            assert await client.join("room:1") == ("ok", {})
            assert await client.join("room:2") == ("ok", {})
        await ep.stop()
        for client in (a, b):
            await client.assert_closed(1012)
            await client.refute_push(event="phx_close")
            await client.refute_push(event="phx_error")
        assert events("terminate") == [otp.Shutdown("draining")] * 4


async def test_endpoint_stop_closes_sockets_without_channels_with_1012(node: otp.Node) -> None:
    async with testing.open_endpoint(make_endpoint()) as ep:
        idle = await testing.connect(ep)
        await idle.settle()
        await ep.stop()
        # No channel to drain: the connection supervisor's shutdown reaches the transport,
        # which closes with 1012 too (so the JS client reconnects).
        await idle.assert_closed(1012)


# -- slow consumers ------------------------------------------------------------------------------


async def _broadcast_big_until(ep: testing.RunningEndpoint, transport: otp.Process,
                               done: Callable[[int], bool], then: Callable[[], Awaitable[None]],
                               never: str) -> int:
    """Broadcast 32 KiB messages on room:1 (calling ``then`` after each) until ``done`` holds
    for the transport's outbox bytes or the transport is gone; return how many were sent."""
    summary = transport.summary
    assert summary is not None
    sent = 0
    while otp.is_alive(transport.pid) and not done(summary()["outbox_bytes"]):
        ep.broadcast("room:1", "big", {"data": "x" * 32 * 1024})
        sent += 1
        assert sent < 2000, never
        await then()
    return sent


async def test_a_backlog_past_max_outbox_plus_max_frame_size_closes_with_1013_at_once_and_others_keep_receiving(
        node: otp.Node, caplog: pytest.LogCaptureFixture) -> None:
    limit = 64 * 1024
    # The timeout is out of reach: only the hard bound (limit + the largest frame) closes here.
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(
        max_outbox_bytes=limit, max_frame_size=limit, slow_client_timeout=3600.0))
    async with testing.open_endpoint(endpoint) as ep:
        slow = await testing.connect(ep, params={"user": "slow"})
        fast = await testing.connect(ep, params={"user": "fast"})
        for client in (slow, fast):
            assert await client.join("room:1") == ("ok", {})
        slow.pause_reading()
        transport = ep.transport_of("user:slow")

        async def then() -> None:
            await fast.assert_broadcast("room:1", "big")  # the fast client keeps up

        # The slow client's kernel buffers fill first, then its outbox, past the hard bound;
        # the next frame finds it there.
        sent = await _broadcast_big_until(
            ep, transport, lambda outbox: outbox > 2 * limit, then, "the slow client never overflowed")
        while not any("cannot keep up" in r.getMessage() for r in caplog.records):
            ep.broadcast("room:1", "big", {"data": "x" * 32 * 1024})
            sent += 1
            await then()
            assert sent < 2000, "it was not closed"
        slow.resume_reading()
        await slow.assert_closed(1013)
        got = sum(1 for r in slow.history if isinstance(r.decoded, Message) and r.decoded.event == "big")
        assert 0 < got < sent
        ep.broadcast("room:1", "after", {"n": 1})
        await fast.assert_broadcast("room:1", "after", {"n": 1})
        await fast.refute_any()
        await fast.settle()
        assert events("terminate") == [otp.Shutdown("overflow")]
        assert sum("cannot keep up" in r.getMessage() for r in caplog.records) == 1


async def test_a_client_whose_backlog_stays_over_max_outbox_for_slow_client_timeout_is_closed_with_1013(
        node: otp.Node, autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture) -> None:
    limit = 64 * 1024
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(max_outbox_bytes=limit, slow_client_timeout=30.0))
    async with testing.open_endpoint(endpoint) as ep:
        slow = await testing.connect(ep, params={"user": "slow"})
        assert await slow.join("room:1") == ("ok", {})
        slow.pause_reading()
        transport = ep.transport_of("user:slow")
        summary = transport.summary
        assert summary is not None
        sent = await _broadcast_big_until(ep, transport, lambda outbox: outbox > limit,
                                          trio.testing.wait_all_tasks_blocked, "the outbox never filled")
        over_at = trio.current_time()
        # Over the limit, but not for long enough: the client is kept (with its backlog).
        await trio.sleep(29)
        assert otp.is_alive(transport.pid)
        assert slow.closed is None
        assert summary()["outbox_bytes"] > limit
        await trio.sleep(1.5)
        # The backlog stayed over the limit for 30 s: the server gave up on the client and
        # now lets what is queued, then its close frame, drain (for up to close_timeout).
        slow.resume_reading()
        await slow.assert_closed(1013)
        assert trio.current_time() - over_at >= 30
        got = sum(1 for r in slow.history if isinstance(r.decoded, Message) and r.decoded.event == "big")
        assert got == sent  # nothing queued before the close was dropped
        await slow.settle()
        assert events("terminate") == [otp.Shutdown("overflow")]
        assert sum("cannot keep up" in r.getMessage() for r in caplog.records) == 1


async def test_a_backlog_that_drains_within_slow_client_timeout_keeps_the_client(
        node: otp.Node, autojump_clock: trio.abc.Clock) -> None:
    limit = 64 * 1024
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(max_outbox_bytes=limit, slow_client_timeout=30.0,
                                                                 timeout=3600.0))
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep, params={"user": "slow"})
        assert await client.join("room:1") == ("ok", {})
        transport = ep.transport_of("user:slow")
        total = 0
        # Twice over the limit for 20 s, each time drained: 40 s over it in all, never 30 in a row.
        for _ in range(2):
            client.pause_reading()
            total += await _broadcast_big_until(ep, transport, lambda outbox: outbox > limit,
                                                trio.testing.wait_all_tasks_blocked, "the outbox never filled")
            await trio.sleep(20)
            client.resume_reading()
            for _ in range(total - len([r for r in client.history if isinstance(r.decoded, Message)])):
                await client.assert_broadcast("room:1", "big")
            assert transport.summary()["outbox_bytes"] == 0
        await trio.sleep(60)
        assert client.closed is None
        await client.assert_reply(await client.heartbeat(), "ok", {})
        await client.close()


async def test_a_reading_client_receives_a_broadcast_bigger_than_max_outbox_bytes(node: otp.Node) -> None:
    limit = 1024 * 1024
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(max_outbox_bytes=limit))
    async with testing.open_endpoint(endpoint) as ep:
        a = await testing.connect(ep, params={"user": "a"})
        b = await testing.connect(ep, params={"user": "b"})
        for client in (a, b):
            assert await client.join("room:1") == ("ok", {})
        big = "x" * (5 * 1024 * 1024)
        ep.broadcast("room:1", "big", {"data": big})
        for client in (a, b):
            msg = await client.assert_broadcast("room:1", "big")
            assert msg.payload == {"data": big}
        # One frame took the backlog over the limit (the kernel took at most 4 MiB of it).
        assert max(ep.transport_of(f"user:{u}").summary()["outbox_high_water"] for u in "ab") > limit
        for client in (a, b):
            await client.assert_reply(await client.heartbeat(), "ok", {})
            assert client.closed is None
            await client.close()


async def test_a_message_the_server_accepts_inbound_is_echoed_and_broadcast_to_readers_with_the_defaults(
        node: otp.Node) -> None:
    options = channels.WebSocketOptions()
    async with testing.open_endpoint(make_endpoint(websocket=options)) as ep:
        a = await testing.connect(ep, params={"user": "a"})
        b = await testing.connect(ep, params={"user": "b"})
        for client in (a, b):
            assert await client.join("room:1") == ("ok", {})
        # Just under max_frame_size as a frame (the envelope adds ~100 bytes).
        data = "y" * (options.max_frame_size - 200)
        ref = await a.push("room:1", "echo", {"data": data})
        await a.assert_reply(ref, "ok", {"data": data})
        ref = await a.push("room:1", "broadcast", {"event": "big", "payload": {"data": data}})
        await a.assert_reply(ref, "ok", {"sent": "big"})
        for client in (a, b):
            msg = await client.assert_broadcast("room:1", "big")
            assert msg.payload == {"data": data}
            assert client.closed is None
            await client.close()


async def test_messages_waking_the_transport_do_not_stop_a_pending_flush(node: otp.Node) -> None:
    # The transport waits for its socket and its mailbox at once; a message wakes that
    # wait (otp.OwnedFd.wait_readable), which must not end the writer's wait for room.
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(max_outbox_bytes=16 * 1024 * 1024))
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep, params={"user": "slow"})
        assert await client.join("room:1") == ("ok", {})
        client.pause_reading()
        transport = ep.transport_of("user:slow")
        sent = await _broadcast_big_until(ep, transport, lambda outbox: outbox > 0,
                                          trio.testing.wait_all_tasks_blocked, "the socket never filled")
        for i in range(3):
            otp.send(transport.pid, ("poke", i))  # ignored by the transport, but wakes it
            await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(transport.pid)
        assert transport.summary()["outbox_bytes"] > 0
        client.resume_reading()
        for _ in range(sent):
            await client.assert_broadcast("room:1", "big")
        assert transport.summary()["outbox_bytes"] == 0
        ref = await client.heartbeat()
        await client.assert_reply(ref, "ok", {})
        await client.close()


# -- raw WebSocket frames -------------------------------------------------------------------------


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """One client→server WebSocket frame (RFC 6455 §5.2), masked unless told otherwise."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = b"\x01\x02\x03\x04"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def test_text_frame_with_invalid_utf8_closes_with_1007(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    other = await testing.connect(ep)
    await client.stream.send_all(client_frame(0x1, b'["1","1","room:1","phx_join",{"x":"\xff"}]'))
    await client.assert_closed(1007)
    await other.assert_reply(await other.heartbeat(), "ok", {})


async def test_unmasked_client_frame_closes_with_1002(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    await client.stream.send_all(client_frame(0x1, b'[null,"1","phoenix","heartbeat",{}]', mask=False))
    await client.assert_closed(1002)


async def test_fragmented_message_is_reassembled(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    text = b'["1","1","room:1","phx_join",{"reply":{"long":"' + b"y" * 300 + b'"}}]'
    await client.stream.send_all(client_frame(0x1, text[:100], fin=False)
                                 + client_frame(0x9, b"ping in between")
                                 + client_frame(0x0, text[100:200], fin=False)
                                 + client_frame(0x0, text[200:]))
    await client.assert_reply("1", "ok", {"long": "y" * 300})


async def test_fragmented_message_over_max_frame_size_closes_with_1009(node: otp.Node) -> None:
    endpoint = make_endpoint(websocket=channels.WebSocketOptions(max_frame_size=1000))
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep)
        await client.stream.send_all(b"".join(
            client_frame(0x1 if i == 0 else 0x0, b"z" * 400, fin=False) for i in range(3)))
        await client.assert_closed(1009)
