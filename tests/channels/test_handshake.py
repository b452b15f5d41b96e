"""The opening handshake and the limits on incomplete messages, over real sockets (issue 14,
items 3, 4, 5 and 10), and permessage-deflate end to end.

The handshake is answered by ``protocol.ServerConnection.accept`` from the request h11
parsed; refusals are a status with a reason, one WARNING line, and the server carries on.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
import trio.testing

import channels
import otp
from channels import testing
from channels.protocol._wsparser import unmask

from ..http._support import RawClient
from ._app import make_endpoint

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(path: str = "/socket/websocket?vsn=2.0.0", *, host: bytes = b"127.0.0.1",
            key: str = KEY, version: str = "13", extra: bytes = b"") -> bytes:
    return (f"GET {path} HTTP/1.1\r\n".encode() + b"host: " + host + b"\r\n"
            b"upgrade: websocket\r\nconnection: Upgrade\r\n"
            + f"sec-websocket-key: {key}\r\nsec-websocket-version: {version}\r\n".encode() + extra + b"\r\n")


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if n < 126:
        header = bytes([b0, 0x80 | n])
    elif n < 0x10000:
        header = bytes([b0, 0xFE]) + n.to_bytes(2, "big")
    else:
        header = bytes([b0, 0xFF]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    return header + mask + unmask(payload, mask)


@dataclass
class WSClient:
    """A WebSocket client on raw bytes: what the server sends, frame by frame."""

    raw: RawClient
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    async def open(cls, port: int, request: bytes) -> tuple[WSClient, Any]:
        raw = await RawClient.connect(port)
        await raw.send(request)
        response = await raw.read_response()
        return cls(raw), response

    async def send(self, data: bytes) -> None:
        await self.raw.send(data)

    async def read_frame(self) -> tuple[int, bytes]:
        """(first byte, payload) of the next server frame."""
        buf = self.raw.buffer
        while True:
            if len(buf) >= 2:
                n = buf[1] & 0x7F
                pos = 2
                if n == 126 and len(buf) >= 4:
                    n, pos = int.from_bytes(buf[2:4], "big"), 4
                elif n == 127 and len(buf) >= 10:
                    n, pos = int.from_bytes(buf[2:10], "big"), 10
                if (n < 126 or pos > 2) and len(buf) >= pos + n:
                    b0, payload = buf[0], bytes(buf[pos:pos + n])
                    del buf[:pos + n]
                    return b0, payload
            if not await self.raw._fill():
                raise EOFError("the server closed the connection")

    async def read_close(self) -> int:
        while True:
            b0, payload = await self.read_frame()
            if b0 & 0x0F == 0x8:
                return int.from_bytes(payload[:2], "big")


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def assert_server_still_serves(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep)
    assert await client.join("room:1") == ("ok", {})


# -- issue 14, items 3, 4, 10: refusals --------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"content-length: 5\r\n\r\nhello",
    b"transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
])
async def test_an_upgrade_request_with_a_body_gets_400_not_500(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture, body: bytes) -> None:
    # Issue 14 item 3: it used to crash the handshake (HTTP 500 and an ERROR log).
    client, response = await WSClient.open(ep.port, upgrade(extra=body[:body.index(b"\r\n") + 2])
                                           + body[body.index(b"\r\n") + 4:])
    assert response.status == 400
    assert b"must not have a body" in response.body
    await client.raw.aclose()
    assert [r.levelno for r in refusals(caplog)] == [logging.WARNING]
    await assert_server_still_serves(ep)


async def test_a_non_ascii_host_on_an_upgrade_gets_400_and_one_warning(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    # Issue 14 item 4: an IDNA decode inside the handshake crashed the connection process,
    # answered nothing and logged ~35 ERROR lines.
    client, response = await WSClient.open(ep.port, upgrade(host="bücher.example".encode()))
    assert response.status == 400
    assert b"'host' header must be ASCII" in response.body
    await client.raw.aclose()
    await trio.testing.wait_all_tasks_blocked()
    records = refusals(caplog)
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "refusing WebSocket upgrade" in records[0].getMessage()
    await assert_server_still_serves(ep)


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ=", "eHh4eHh4eHh4eHh4eHh4eHh4eA=="])
async def test_a_key_that_is_not_16_bytes_of_base64_gets_400(ep: testing.RunningEndpoint, key: str) -> None:
    # Issue 14 item 10 (RFC 6455 §4.2.1 point 5).
    client, response = await WSClient.open(ep.port, upgrade(key=key))
    assert response.status == 400
    assert b"'sec-websocket-key' header must be 16 bytes in base64" in response.body
    await client.raw.aclose()


async def test_another_websocket_version_gets_426_with_version_13(ep: testing.RunningEndpoint) -> None:
    # Issue 14 item 10 (RFC 6455 §4.4).
    client, response = await WSClient.open(ep.port, upgrade(version="8"))
    assert response.status == 426
    assert ("sec-websocket-version", "13") in response.headers
    await client.raw.aclose()
    await assert_server_still_serves(ep)


async def test_a_valid_upgrade_gets_101_and_the_first_frame_sent_with_it_is_read(
        ep: testing.RunningEndpoint) -> None:
    join = b'["1","1","room:1","phx_join",{}]'
    client, response = await WSClient.open(ep.port, upgrade() + frame(0x1, join))
    assert response.status == 101
    assert ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") in response.headers
    _, payload = await client.read_frame()
    assert payload.startswith(b'["1","1","room:1","phx_reply",{"response":{},"status":"ok"}')
    await client.raw.aclose()


# -- issue 14, item 5: incomplete messages are bounded in time and in total bytes --------------


async def test_a_message_not_completed_in_time_closes_with_1008_even_with_pings_between(
        node: otp.Node, autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture) -> None:
    options = channels.WebSocketOptions(message_timeout=30.0, timeout=3600.0)
    async with testing.open_endpoint(make_endpoint(websocket=options)) as ep:
        client, response = await WSClient.open(ep.port, upgrade())
        assert response.status == 101
        start = trio.current_time()
        await client.send(frame(0x1, b"x" * 100_000, fin=False))
        for _ in range(10):  # pings between fragments do not extend the time
            await trio.sleep(5)
            await client.send(frame(0x9, b"still here"))
            b0, _ = await client.read_frame()
            if b0 & 0x0F == 0x8:
                break
            assert b0 & 0x0F == 0xA
        else:
            pytest.fail("the connection was not closed")
        assert 30 <= trio.current_time() - start <= 31
        assert any("not completed within 30.0 s" in r.getMessage() for r in refusals(caplog))
        await client.raw.aclose()
        await assert_server_still_serves(ep)


async def test_completed_messages_restart_the_clock_of_the_next_one(
        node: otp.Node, autojump_clock: trio.abc.Clock) -> None:
    options = channels.WebSocketOptions(message_timeout=30.0, timeout=3600.0)
    async with testing.open_endpoint(make_endpoint(websocket=options)) as ep:
        client, _ = await WSClient.open(ep.port, upgrade())
        for i in range(4):  # each message takes 20 s, 80 s in all: never 30 s for one
            await client.send(frame(0x1, b'["1","%d","phoenix",' % i, fin=False))
            await trio.sleep(20)
            await client.send(frame(0x0, b'"heartbeat",{}]'))
            _, payload = await client.read_frame()
            assert b'"phx_reply"' in payload
        await client.raw.aclose()


async def test_incomplete_messages_over_the_total_budget_close_the_connection_that_grows_it_with_1009(
        node: otp.Node, caplog: pytest.LogCaptureFixture) -> None:
    # Frames of 10 kB: one loopback write each, so that the server has read all of the
    # first one when the tasks are blocked (100 kB ones could still be in flight under load).
    options = channels.WebSocketOptions(max_incomplete_bytes=15_000)
    async with testing.open_endpoint(make_endpoint(websocket=options)) as ep:
        first, _ = await WSClient.open(ep.port, upgrade())
        second, _ = await WSClient.open(ep.port, upgrade())
        await first.send(frame(0x1, b"[" + b" " * 10_000, fin=False))
        await trio.testing.wait_all_tasks_blocked()
        await second.send(frame(0x1, b"[" + b" " * 10_000, fin=False))
        assert await second.read_close() == 1009
        assert any("incomplete messages of all connections" in r.getMessage() for r in refusals(caplog))
        # The first one completes its message and is served.
        await first.send(frame(0x0, b'"1","1","room:1","phx_join",{}]'))
        _, payload = await first.read_frame()
        assert b'"status":"ok"' in payload
        # And the budget was given back: a new incomplete message fits again.
        third, _ = await WSClient.open(ep.port, upgrade())
        await third.send(frame(0x1, b"[" + b" " * 10_000, fin=False))
        await third.send(frame(0x0, b'"1","1","room:2","phx_join",{}]'))
        _, payload = await third.read_frame()
        assert b'"status":"ok"' in payload
        for c in (first, second, third):
            await c.raw.aclose()


# -- permessage-deflate end to end --------------------------------------------------------------


def compressed(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


def inflate(payload: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


async def test_deflate_is_negotiated_when_the_mount_turns_it_on_and_a_broadcast_is_compressed_once(
        node: otp.Node) -> None:
    offer = b"sec-websocket-extensions: permessage-deflate; client_max_window_bits\r\n"
    async with testing.open_endpoint(make_endpoint(websocket=channels.WebSocketOptions(compress=True))) as ep:
        clients = []
        for _ in range(2):
            client, response = await WSClient.open(ep.port, upgrade(extra=offer))
            assert ("sec-websocket-extensions", "permessage-deflate; server_no_context_takeover") \
                in response.headers
            await client.send(frame(0x1, compressed(b'["1","1","room:1","phx_join",{}]'), rsv1=True))
            b0, payload = await client.read_frame()
            assert b0 == 0xC1  # FIN, RSV1, text
            assert b'"status":"ok"' in inflate(payload)
            clients.append(client)
        ep.broadcast("room:1", "news", {"text": "hello " * 50})
        got = [await c.read_frame() for c in clients]
        assert got[0] == got[1]  # the same bytes for both: compressed once
        assert got[0][0] == 0xC1
        assert b'"news"' in inflate(got[0][1])
        for c in clients:
            await c.raw.aclose()


async def test_deflate_stays_off_by_default_even_when_offered(ep: testing.RunningEndpoint) -> None:
    offer = b"sec-websocket-extensions: permessage-deflate\r\n"
    client, response = await WSClient.open(ep.port, upgrade(extra=offer))
    assert response.status == 101
    assert not [v for k, v in response.headers if k == "sec-websocket-extensions"]
    await client.send(frame(0x1, compressed(b"[]"), rsv1=True))
    assert await client.read_close() == 1002
    await client.raw.aclose()
