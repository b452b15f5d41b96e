"""Reference floors for the round trip: the least a Trio WebSocket echo server can cost.

Not a peer (nobody would deploy it) but a yardstick for ``roundtrip``: it shows what Trio
itself costs on this machine, so that otp-channels' figures can be read against it.

* ``python bench/servers/trio_floor_server.py PORT`` (``trio-echo``): one task per
  connection waits for the socket (``trio.lowlevel.wait_readable``), reads, unmasks each
  client frame and writes it straight back with ``os.write``. No protocol beyond framing.
* ``... PORT --hop`` (``trio-hop``): the same, but the reading task hands each message to
  a second task, which writes the reply: one task hand-off per message, which is what any
  server pays whose socket reader and message handler are separate tasks (Phoenix's
  transport process and channel process are).

Both do the opening handshake with a minimal parser (no validation beyond the key), answer
any text frame with the same text, and close when the client goes away. The project venv
runs them (they need only trio).
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import os
import socket
from typing import Any

import trio

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def _frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


_CLOSE = object()


def _messages(buf: bytearray) -> list[Any]:
    """Take the complete (masked) client frames out of ``buf``: their payloads, and
    ``_CLOSE`` for a close frame (after which nothing is read)."""
    out: list[Any] = []
    while len(buf) >= 2:
        n = buf[1] & 0x7F
        head = 2
        if n == 126:
            if len(buf) < 4:
                break
            n, head = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, head = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < head + 4 + n:
            break
        opcode = buf[0] & 0x0F
        payload = _unmask(bytes(buf[head + 4:head + 4 + n]), bytes(buf[head:head + 4]))
        del buf[:head + 4 + n]
        if opcode == 0x8:
            out.append(_CLOSE)
            break
        out.append(payload)
    return out


async def _handshake(fd: int) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        await trio.lowlevel.wait_readable(fd)
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    key = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")), b"")
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    os.write(fd, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    return rest


async def _connection(sock: socket.socket, hop: bool) -> None:
    fd = sock.fileno()
    try:
        rest = await _handshake(fd)
        if rest is None:
            return
        buf = bytearray(rest)
        if not hop:
            while True:
                for message in _messages(buf):
                    if message is _CLOSE:
                        os.write(fd, b"\x88\x02\x03\xe8")  # close 1000
                        return
                    os.write(fd, _frame(message))
                await trio.lowlevel.wait_readable(fd)
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                buf += chunk
        queue: collections.deque[bytes] = collections.deque()
        parked: list[Any] = []

        async def writer() -> None:
            while True:
                while not queue:
                    parked.append(trio.lowlevel.current_task())
                    await trio.lowlevel.wait_task_rescheduled(
                        lambda _: trio.lowlevel.Abort.SUCCEEDED)
                os.write(fd, _frame(queue.popleft()))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            while True:
                for message in _messages(buf):
                    if message is _CLOSE:
                        while queue:
                            await trio.lowlevel.checkpoint()  # let the writer finish
                        os.write(fd, b"\x88\x02\x03\xe8")
                        nursery.cancel_scope.cancel()
                        return
                    queue.append(message)
                    if parked:
                        trio.lowlevel.reschedule(parked.pop())
                await trio.lowlevel.wait_readable(fd)
                chunk = os.read(fd, 65536)
                if not chunk:
                    nursery.cancel_scope.cancel()
                    return
                buf += chunk
    except OSError:
        return
    finally:
        trio.lowlevel.notify_closing(sock)
        sock.close()


async def main(port: int, hop: bool) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4096)
    listener.setblocking(False)
    print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    async with trio.open_nursery() as nursery:
        while True:
            await trio.lowlevel.wait_readable(listener)
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            nursery.start_soon(_connection, sock, hop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="trio_floor_server.py")
    parser.add_argument("port", type=int)
    parser.add_argument("--hop", action="store_true",
                        help="hand each message to a second task, which writes the reply")
    args = parser.parse_args()
    trio.run(main, args.port, args.hop)
