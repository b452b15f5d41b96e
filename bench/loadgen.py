"""Load generator worker: many cheap WebSocket clients in one process, driven over stdin/stdout.

This module is standalone (standard library, plus uvloop when importable) so that it runs in
``.bench-venv`` as a script, outside the project's import path. The orchestrator
(``bench._scenarios``) starts it as::

    python bench/loadgen.py '<json config>'

and talks to it in JSON lines: commands on stdin, events on stdout. Clients do the HTTP upgrade
by hand, send masked frames with a zero mask key and walk the server's frames with a minimal
parser; broadcast frames are recognised by a byte prefix and only counted and time-stamped, so a
client costs a few microseconds per delivered message.

Roles:
    ``sub``: hold ``n`` joined subscribers; ``expect`` arms per-message receipt tracking.
    ``ctl``: one joined connection that triggers broadcasts (``go``/``paced``) and reads the
        server's send timestamps from its own copies.
    ``rt``: ``n`` clients each pushing an echo request and awaiting the reply (``run``).
    ``soak``: hold ``n`` joined subscribers, replacing ``churn_per_s`` of them a second
        (``churn``), and account per connection for the numbered broadcasts it received
        while joined (``finish``: lost messages against the broadcaster's send stamps).
    ``soak_ctl``: one joined connection broadcasting numbered messages at a steady rate
        (``broadcast``) and reporting each one's server send stamp.

Protocols: ``phoenix`` (Phoenix V2 JSON, otp-channels), ``ws`` (raw websockets server),
``socketio`` (Engine.IO v4 websocket transport, Socket.IO v5 packets) and ``django``
(Django Channels consumer).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import re
import resource
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

IP_BIND_ADDRESS_NO_PORT = 24
_T_RE = re.compile(rb'"t":(\d+)')
_I_RE = re.compile(rb'"i":(\d+)')
_HB_INTERVAL_S = 25.0


def emit(**event: Any) -> None:
    """Writes one JSON event line to stdout."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """Encodes a masked client frame with an all-zero mask key (so the payload is sent as is)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\x00\x00\x00\x00" + payload


class Proto:
    """What differs between the servers: URL, join, trigger and echo messages, frame prefixes."""

    path = "/"
    bcast_prefix = b'{"i":'
    join_on_upgrade = True

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def on_upgrade(self, conn: Conn) -> None:
        """Called after the 101 response; sends the join (or declares the connection joined)."""
        if self.join_on_upgrade:
            conn.set_joined()

    def on_other(self, conn: Conn, payload: bytes) -> None:
        """Handles a non-broadcast text frame (join reply, echo reply, ping packet)."""
        conn.got_reply(payload)

    def go(self, m: int, size: int) -> bytes:
        """The payload that asks the server to broadcast ``m`` messages of ``size`` bytes."""
        return json.dumps({"go": m, "size": size}, separators=(",", ":")).encode()

    def echo(self, body: str) -> bytes:
        """An echo request carrying ``body``."""
        return json.dumps({"e": body}, separators=(",", ":")).encode()

    def heartbeat(self) -> bytes | None:
        """A keep-alive frame payload, when the protocol needs one."""
        return None


class PhoenixProto(Proto):
    """Phoenix V2 JSON serializer (otp-channels)."""

    path = "/socket/websocket?vsn=2.0.0"
    bcast_prefix = b"[null,null,"
    join_on_upgrade = False

    def on_upgrade(self, conn: Conn) -> None:
        conn.send(json.dumps(["1", "1", self.topic, "phx_join", {}]).encode())

    def on_other(self, conn: Conn, payload: bytes) -> None:
        if payload.startswith(b"[null,"):
            return  # heartbeat reply
        if not conn.joined:
            if b'"ok"' in payload:
                conn.set_joined()
            else:
                conn.fail("join refused: " + payload[:200].decode("utf-8", "replace"))
            return
        conn.got_reply(payload)

    def go(self, m: int, size: int) -> bytes:
        return json.dumps(["1", "2", self.topic, "go", {"m": m, "size": size}]).encode()

    def echo(self, body: str) -> bytes:
        return json.dumps(["1", "3", self.topic, "echo", {"e": body}]).encode()

    def heartbeat(self) -> bytes | None:
        return b'[null,"hb","phoenix","heartbeat",{}]'


class SocketIOProto(Proto):
    """Engine.IO v4 over the websocket transport, Socket.IO v5 packets, default namespace."""

    path = "/socket.io/?EIO=4&transport=websocket"
    bcast_prefix = b'42["m",'
    join_on_upgrade = False

    def on_upgrade(self, conn: Conn) -> None:
        pass  # wait for the Engine.IO open packet

    def on_other(self, conn: Conn, payload: bytes) -> None:
        if payload == b"2":
            conn.send(b"3")  # Engine.IO ping -> pong
            return
        if not conn.joined:
            if payload.startswith(b"0{"):
                conn.send(b"40")
            elif payload.startswith(b"40"):
                conn.send(b'420["join",' + json.dumps(self.topic).encode() + b"]")
            elif payload.startswith(b"430"):
                conn.set_joined()
            elif payload.startswith(b"44"):
                conn.fail("connect refused: " + payload[:200].decode("utf-8", "replace"))
            return
        conn.got_reply(payload)

    def go(self, m: int, size: int) -> bytes:
        return b'421["go",' + json.dumps({"m": m, "size": size}).encode() + b"]"

    def echo(self, body: str) -> bytes:
        return b'422["echo",' + json.dumps({"e": body}).encode() + b"]"


class DjangoProto(Proto):
    """A Django Channels JSON consumer that joins its group on connect."""

    path = "/ws/"


PROTOS: dict[str, type[Proto]] = {
    "phoenix": PhoenixProto,
    "ws": Proto,
    "socketio": SocketIOProto,
    "django": DjangoProto,
}


class Conn(asyncio.Protocol):
    """One client connection: hand-made upgrade, minimal frame walker, zero-mask sender."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.proto = client.proto
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.joined = False
        self.closed = False
        self.buf = b""
        self.count = 0
        self.joined_fut: asyncio.Future[None] = client.loop.create_future()
        self.reply_fut: asyncio.Future[bytes] | None = None
        self.on_bcast: Callable[[Conn, bytes, int, int, int], None] = client.on_bcast
        # soak accounting: when the join reply came, the first/last numbered message, how
        # many, and how many were skipped between them (frames of one socket come in order).
        self.joined_at = 0
        self.first_i = -1
        self.last_i = -1
        self.gaps = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.client.upgrade_request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(f"connection lost: {exc!r}")
        if self.reply_fut is not None and not self.reply_fut.done():
            self.reply_fut.set_exception(ConnectionError("connection lost"))

    def send(self, payload: bytes, opcode: int = 1) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(client_frame(payload, opcode))

    def set_joined(self) -> None:
        self.joined = True
        self.joined_at = time.monotonic_ns()
        if not self.joined_fut.done():
            self.joined_fut.set_result(None)

    def fail(self, reason: str) -> None:
        if not self.joined_fut.done():
            self.joined_fut.set_exception(ConnectionError(reason))

    def got_reply(self, payload: bytes) -> None:
        fut = self.reply_fut
        if fut is not None and not fut.done():
            fut.set_result(payload)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.fail("upgrade refused: " + data[: data.find(b"\r\n")].decode("latin-1"))
                if self.transport is not None:
                    self.transport.close()
                return
            self.upgraded = True
            data = data[end + 4 :]
            self.proto.on_upgrade(self)
        n = len(data)
        pos = 0
        prefix = self.proto.bcast_prefix
        while n - pos >= 2:
            b1 = data[pos + 1] & 0x7F
            if b1 < 126:
                start = pos + 2
                length = b1
            elif b1 == 126:
                if n - pos < 4:
                    break
                start = pos + 4
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            else:
                if n - pos < 10:
                    break
                start = pos + 10
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
            end = start + length
            if end > n:
                break
            op = data[pos] & 0x0F
            if op == 1 or op == 2:
                if data.startswith(prefix, start):
                    self.on_bcast(self, data, start, end, now)
                else:
                    self.proto.on_other(self, data[start:end])
            elif op == 9:
                self.send(data[start:end], 0xA)
            elif op == 8:
                self.fail("server closed: " + data[start:end].hex())
                if self.transport is not None:
                    self.transport.close()
            pos = end
        if pos < n:
            self.buf = data[pos:]


class Client:
    """The shared state of all connections of one worker process."""

    def __init__(self, cfg: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        self.cfg = cfg
        self.loop = loop
        self.proto = PROTOS[cfg["proto"]](cfg.get("topic", "bench:fanout"))
        self.host: str = cfg.get("host", "127.0.0.1")
        self.port: int = cfg["port"]
        self.src: str = cfg.get("src", "127.0.0.1")
        self.upgrade_request = (
            f"GET {self.proto.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.conns: list[Conn] = []
        self.m = 0
        self.last: list[int] = []
        self.complete = 0
        self.frames = 0
        self.all_done: asyncio.Event = asyncio.Event()
        self.ts: list[int] = []

    # -- broadcast receipt -------------------------------------------------------------------
    def on_bcast(self, conn: Conn, data: bytes, start: int, end: int, now: int) -> None:
        k = conn.count
        conn.count = k + 1
        self.frames += 1
        if k < self.m:
            last = self.last
            if now > last[k]:
                last[k] = now
            if k + 1 == self.m:
                self.complete += 1
                if self.complete >= len(self.conns):
                    self.all_done.set()

    def on_bcast_soak(self, conn: Conn, data: bytes, start: int, end: int, now: int) -> None:
        match = _I_RE.search(data, start, end)
        if match is None:
            return
        i = int(match.group(1))
        self.frames += 1
        if conn.first_i < 0:
            conn.first_i = i
        elif i > conn.last_i + 1:
            conn.gaps += i - conn.last_i - 1
        conn.last_i = i
        if self.m and i >= self.m - 1:
            self.all_done.set()  # someone got the last message: ``finish`` looks again

    def on_bcast_ctl(self, conn: Conn, data: bytes, start: int, end: int, now: int) -> None:
        match = _T_RE.search(data, start, end)
        self.ts.append(int(match.group(1)) if match else 0)
        self.on_bcast(conn, data, start, end, now)

    def arm(self, m: int) -> None:
        self.m = m
        self.last = [0] * m
        self.complete = 0
        self.frames = 0
        self.ts = []
        self.all_done = asyncio.Event()
        for c in self.conns:
            c.count = 0
        if m == 0:
            self.all_done.set()

    # -- connecting ----------------------------------------------------------------------------
    async def open_one(self, limit_s: float) -> Conn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        conn: Conn | None = None
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((self.src, 0))
            async with asyncio.timeout(limit_s):
                await self.loop.sock_connect(sock, (self.host, self.port))
                _, conn = await self.loop.create_connection(lambda: Conn(self), sock=sock)
                await conn.joined_fut
        except BaseException:
            if conn is not None and conn.transport is not None:
                conn.transport.abort()
            else:
                sock.close()
            raise
        return conn

    async def open_many(self, n: int, concurrency: int, limit_s: float) -> dict[str, Any]:
        sem = asyncio.Semaphore(concurrency)
        errors: dict[str, int] = {}

        async def one() -> None:
            async with sem:
                try:
                    conn = await self.open_one(limit_s)
                except Exception as exc:
                    key = f"{type(exc).__name__}: {exc}"[:160]
                    errors[key] = errors.get(key, 0) + 1
                else:
                    self.conns.append(conn)

        t0 = time.monotonic_ns()
        over = False
        try:
            async with asyncio.timeout(self.cfg.get("deadline_s")):
                await asyncio.gather(*(one() for _ in range(n)))
        except TimeoutError:
            over = True
        t1 = time.monotonic_ns()
        return {"ok": len(self.conns), "failed": n - len(self.conns), "errors": errors,
                "t_start": t0, "t_end": t1, "over_deadline": over}

    async def heartbeats(self) -> None:
        payload = self.proto.heartbeat()
        if payload is None:
            return
        while True:
            await asyncio.sleep(_HB_INTERVAL_S)
            for i, c in enumerate(list(self.conns)):
                c.send(payload)
                if i % 500 == 499:
                    await asyncio.sleep(0)

    def close_all(self) -> None:
        for c in self.conns:
            if c.transport is not None:
                c.transport.abort()


async def read_commands(loop: asyncio.AbstractEventLoop) -> asyncio.StreamReader:
    """Connects stdin to an asyncio stream reader."""
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def cpu_s() -> float:
    """This process's user+system CPU seconds."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def _commands(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, Any]]:
    """The driver's commands, one JSON object a line, until it closes the pipe."""
    while line := await reader.readline():
        yield json.loads(line)


async def run_sub(client: Client, reader: asyncio.StreamReader) -> None:
    """Subscriber role: connect+join, then answer ``expect`` commands until ``close``."""
    cfg = client.cfg
    info = await client.open_many(cfg["n"], cfg.get("concurrency", 100), cfg.get("timeout", 20.0))
    emit(ev="ready", **info)
    hb = asyncio.ensure_future(client.heartbeats())
    try:
        async for cmd in _commands(reader):
            if cmd["cmd"] == "expect":
                client.arm(cmd["m"])
                emit(ev="armed")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(cmd.get("timeout", 60.0)):
                        await client.all_done.wait()
                # Wait a moment for stragglers when incomplete? No: report what arrived.
                emit(ev="got", last=client.last, complete=client.complete,
                     conns=len(client.conns), frames=client.frames, cpu_s=cpu_s())
            elif cmd["cmd"] == "close":
                return
    finally:
        hb.cancel()
        client.close_all()


async def _open_control(client: Client) -> Conn | None:
    """Open and join the control connection, report ``ready``; None if it could not join."""
    info = await client.open_many(1, 1, client.cfg.get("timeout", 20.0))
    emit(ev="ready", **info)
    return client.conns[0] if client.conns else None


async def run_ctl(client: Client, reader: asyncio.StreamReader) -> None:
    """Control role: one joined connection that triggers broadcasts and reads timestamps."""
    conn = await _open_control(client)
    if conn is None:
        return
    conn.on_bcast = client.on_bcast_ctl
    hb = asyncio.ensure_future(client.heartbeats())
    try:
        async for cmd in _commands(reader):
            timeout = cmd.get("timeout", 60.0)
            if cmd["cmd"] == "go":
                client.arm(cmd["m"])
                t_send = time.monotonic_ns()
                conn.send(client.proto.go(cmd["m"], cmd.get("size", 100)))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await client.all_done.wait()
                emit(ev="went", t_send=t_send, ts=client.ts, recv=client.last)
            elif cmd["cmd"] == "paced":
                n = cmd["l"]
                gap = cmd["gap_s"]
                ts: list[int] = []
                recv: list[int] = []
                sends: list[int] = []
                deadline = time.monotonic() + timeout
                for _ in range(n):
                    if time.monotonic() > deadline:
                        break
                    client.arm(1)
                    sends.append(time.monotonic_ns())
                    conn.send(client.proto.go(1, cmd.get("size", 100)))
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                            await client.all_done.wait()
                    ts.extend(client.ts[:1])
                    recv.extend(client.last[:1])
                    await asyncio.sleep(gap)
                emit(ev="went", t_send=sends[0] if sends else 0, sends=sends, ts=ts, recv=recv)
            elif cmd["cmd"] == "close":
                return
    finally:
        hb.cancel()
        client.close_all()


async def run_rt(client: Client, reader: asyncio.StreamReader) -> None:
    """Round-trip role: ``n`` clients each pushing an echo request and awaiting its reply."""
    cfg = client.cfg
    info = await client.open_many(cfg["n"], cfg.get("concurrency", 100), cfg.get("timeout", 20.0))
    emit(ev="ready", **info)
    body = "x" * max(1, cfg.get("size", 100) - 40)
    try:
        async for cmd in _commands(reader):
            if cmd["cmd"] == "run":
                warm_end = time.monotonic() + cmd.get("warmup_s", 0.5)
                end = warm_end + cmd["duration_s"]
                lat: list[int] = []
                errors = 0

                async def loop_conn(
                    conn: Conn, end: float, warm_end: float, lat: list[int]
                ) -> None:
                    nonlocal errors
                    frame = client_frame(client.proto.echo(body))
                    transport = conn.transport
                    assert transport is not None
                    mono = time.monotonic
                    clock = time.perf_counter_ns
                    while True:
                        now_s = mono()
                        if now_s >= end:
                            return
                        fut: asyncio.Future[bytes] = client.loop.create_future()
                        conn.reply_fut = fut
                        t0 = clock()
                        transport.write(frame)
                        try:
                            await asyncio.wait_for(fut, 5.0)
                        except (TimeoutError, ConnectionError):
                            errors += 1
                            return
                        if now_s >= warm_end:
                            lat.append(clock() - t0)

                cpu0 = cpu_s()
                await asyncio.gather(*(loop_conn(c, end, warm_end, lat) for c in client.conns))
                cpu1 = cpu_s()
                lat.sort()
                emit(ev="rt", count=len(lat), duration_s=cmd["duration_s"], errors=errors,
                     p50_ns=pct(lat, 50), p99_ns=pct(lat, 99), p999_ns=pct(lat, 99.9),
                     cpu_s=cpu1 - cpu0)
            elif cmd["cmd"] == "close":
                return
    finally:
        client.close_all()


def soak_lost(conn: Conn, ts: list[int], left_at: int | None, grace_ns: int) -> tuple[int, int]:
    """(expected, lost) for one soak connection: every message the server sent after the join
    reached the client (``ts``: the send stamps by number) and, for a connection that left at
    ``left_at``, before ``left_at - grace_ns``, must have been received."""
    lo = next((i for i, t in enumerate(ts) if t > conn.joined_at), len(ts))
    hi = len(ts) - 1
    if left_at is not None:
        hi = max((i for i, t in enumerate(ts) if t < left_at - grace_ns), default=-1)
    if hi < lo or not conn.joined_at:
        return 0, 0
    expected = hi - lo + 1
    if conn.first_i < 0:
        return expected, expected
    got = max(0, min(hi, conn.last_i) - max(lo, conn.first_i) + 1)
    # Skips inside [first, last] are counted only where they fall in [lo, hi] (approximately:
    # all of them when the range is inside the expected one, which is the common case).
    return expected, expected - got + (conn.gaps if got else 0)


async def run_soak(client: Client, reader: asyncio.StreamReader) -> None:
    """Soak role: hold ``n`` joined subscribers, churn them, account for every message."""
    cfg = client.cfg
    client.on_bcast = client.on_bcast_soak  # type: ignore[method-assign]
    info = await client.open_many(cfg["n"], cfg.get("concurrency", 100), cfg.get("timeout", 20.0))
    for c in client.conns:
        c.on_bcast = client.on_bcast_soak
    emit(ev="ready", **info)
    hb = asyncio.ensure_future(client.heartbeats())
    left: list[tuple[Conn, int]] = []
    churn_errors: dict[str, int] = {}
    opened = 0
    churner: asyncio.Future[None] | None = None

    async def churn(per_s: float, until: float) -> None:
        nonlocal opened
        gap = 1.0 / per_s
        k = 0
        next_at = time.monotonic()
        while time.monotonic() < until:
            next_at += gap
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if client.conns:
                # Round robin over the oldest connections: close one, open one.
                old = client.conns.pop(k % len(client.conns))
                k += 1
                left.append((old, time.monotonic_ns()))
                old.send(b"", 8)  # a close frame (no status), then the TCP connection goes
                if old.transport is not None:
                    old.transport.close()
            try:
                conn = await client.open_one(cfg.get("timeout", 20.0))
            except Exception as exc:
                key = f"{type(exc).__name__}: {exc}"[:160]
                churn_errors[key] = churn_errors.get(key, 0) + 1
            else:
                conn.on_bcast = client.on_bcast_soak
                client.conns.append(conn)
                opened += 1

    try:
        async for cmd in _commands(reader):
            if cmd["cmd"] == "churn":
                if cmd["per_s"] > 0:
                    churner = asyncio.ensure_future(churn(cmd["per_s"], time.monotonic() + cmd["duration_s"]))
            elif cmd["cmd"] == "finish":
                if churner is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await churner
                ts: list[int] = cmd["ts"]
                last = len(ts) - 1
                client.m = len(ts)
                # Let the last broadcasts reach everyone still joined (bounded).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(cmd.get("timeout", 30.0)):
                        # (those that joined after the last one was sent need not get it)
                        while ts and any(c.last_i < last and not c.closed and c.joined_at < ts[last]
                                  for c in client.conns):
                            client.all_done = asyncio.Event()
                            await client.all_done.wait()
                expected = lost = lost_conns = 0
                grace = int(cmd.get("grace_s", 2.0) * 1e9)
                closed_early = 0
                for c, at in left:
                    e, m = soak_lost(c, ts, at, grace)
                    expected += e
                    lost += m
                    lost_conns += m > 0
                for c in client.conns:
                    if c.closed:  # the server closed it: count as lost what it missed
                        closed_early += 1
                    e, m = soak_lost(c, ts, None, grace)
                    expected += e
                    lost += m
                    lost_conns += m > 0
                emit(ev="soaked", held=len(client.conns), left=len(left), opened=opened,
                     churn_errors=churn_errors, expected=expected, lost=lost, lost_conns=lost_conns,
                     closed_by_server=closed_early, frames=client.frames, cpu_s=cpu_s())
            elif cmd["cmd"] == "close":
                return
    finally:
        if churner is not None:
            churner.cancel()
        hb.cancel()
        client.close_all()


async def run_soak_ctl(client: Client, reader: asyncio.StreamReader) -> None:
    """Soak broadcaster: ``broadcast`` numbered messages at ``rate`` a second for ``duration_s``."""
    conn = await _open_control(client)
    if conn is None:
        return
    stamps: dict[int, int] = {}

    def on_copy(conn: Conn, data: bytes, start: int, end: int, now: int) -> None:
        mi = _I_RE.search(data, start, end)
        mt = _T_RE.search(data, start, end)
        if mi and mt:
            stamps[int(mi.group(1))] = int(mt.group(1))
            got.set()

    conn.on_bcast = on_copy
    got = asyncio.Event()
    hb = asyncio.ensure_future(client.heartbeats())
    try:
        async for cmd in _commands(reader):
            if cmd["cmd"] == "broadcast":
                gap = 1.0 / cmd["rate"]
                end = time.monotonic() + cmd["duration_s"]
                next_at = time.monotonic()
                sent = 0
                while next_at < end:
                    conn.send(json.dumps(["1", "2", client.proto.topic, "go",
                                          {"m": 1, "size": cmd.get("size", 100), "i0": sent}]).encode())
                    sent += 1
                    next_at += gap
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(30.0):
                        while len(stamps) < sent and not conn.closed:
                            got.clear()
                            await got.wait()
                emit(ev="broadcast", sent=sent, ts=[stamps.get(i, 0) for i in range(sent)])
            elif cmd["cmd"] == "close":
                return
    finally:
        hb.cancel()
        client.close_all()


def pct(sorted_values: list[int], p: float) -> int:
    """The nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_values:
        return 0
    idx = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[idx]


async def amain(cfg: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    client = Client(cfg, loop)
    reader = await read_commands(loop)
    role = cfg["role"]
    if role == "sub":
        await run_sub(client, reader)
    elif role == "ctl":
        await run_ctl(client, reader)
    elif role == "rt":
        await run_rt(client, reader)
    elif role == "soak":
        await run_soak(client, reader)
    elif role == "soak_ctl":
        await run_soak_ctl(client, reader)
    else:
        raise SystemExit(f"unknown role {role!r}")


def main() -> None:
    cfg = json.loads(sys.argv[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if cfg.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cfg["cpu"]})
    try:
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        asyncio.run(amain(cfg))
    else:
        uvloop.run(amain(cfg))


if __name__ == "__main__":
    main()
