"""The opening handshake (trio-websocket under our writer): what it answers, and that every
way it can fail is a ``HandshakeFailed``, never a hang or an exception group."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from channels.transports._writer import SocketWriter
from channels.transports._wsconn import HandshakeFailed, accept_websocket

REQUEST = (b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\n"
           b"connection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"sec-websocket-version: 13\r\n\r\n")


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def _read_all(sock: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


async def test_the_handshake_answers_101_and_keeps_what_followed_the_request() -> None:
    a, b = _pair()
    with a, b:
        writer = SocketWriter(a.fileno(), None, max_outbox=1 << 20)
        conn = await accept_websocket(None, REQUEST + b"\x81\x80rest", writer, subprotocol=None)  # type: ignore[arg-type]
        answer = _read_all(b)
        assert answer.startswith(b"HTTP/1.1 101 ")
        assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in answer  # RFC 6455's example key
        assert conn.take_rest() == b"\x81\x80rest"
        await trio.testing.wait_all_tasks_blocked()  # trio-websocket's reader has finished


async def test_a_request_trio_websocket_refuses_is_answered_and_fails_the_handshake() -> None:
    a, b = _pair()
    with a, b:
        writer = SocketWriter(a.fileno(), None, max_outbox=1 << 20)
        bad = REQUEST.replace(b"upgrade: websocket", b"upgrade: websocket, h2c")
        with pytest.raises(HandshakeFailed):
            await accept_websocket(None, bad, writer, subprotocol=None)  # type: ignore[arg-type]
        assert _read_all(b).startswith(b"HTTP/1.1 400 ")
        assert writer.closed  # before the caller closes the socket


async def test_a_closed_writer_fails_the_handshake() -> None:
    a, b = _pair()
    with a, b:
        writer = SocketWriter(a.fileno(), None, max_outbox=1 << 20)
        writer.close()  # the client went away
        with pytest.raises(HandshakeFailed):
            await accept_websocket(None, REQUEST, writer, subprotocol=None)  # type: ignore[arg-type]


async def test_a_handshake_that_cannot_be_written_times_out(autojump_clock: trio.abc.Clock) -> None:
    a, b = _pair()
    with a, b:
        writer = SocketWriter(a.fileno(), None, max_outbox=1 << 30)
        while writer.write_nowait(b"x" * 65536) and not writer.outbox:
            pass  # the peer does not read: fill its buffers until the writer queues
        with pytest.raises(HandshakeFailed, match="not done within 3"):
            await accept_websocket(None, REQUEST, writer, subprotocol=None, timeout=3)  # type: ignore[arg-type]
        assert writer.closed
