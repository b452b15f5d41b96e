"""A running endpoint for the fuzzers, raw-socket clients, and the health checks they assert.

The endpoint runs in its own otp node on a thread of its own (``FuzzServer``), so that one
server serves every example of a test (an endpoint per example would spend the time budget
starting and stopping trees). The fuzzers are plain synchronous hypothesis tests that talk to
it over real loopback sockets, byte by byte as an attacker would.

After each example ``FuzzServer.assert_healthy`` checks what the issue asks of bad input:

* no ERROR line was logged (``otp.crash`` reports included: a crash is an ERROR);
* every process of the endpoint's tree that existed before the fuzzing (supervisors,
  acceptors, listen sockets, PubSub, pools) is still the same process: nothing but the
  connection's own processes may have ended;
* a fresh client is served: it connects, joins and gets its echo back.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import trio
from hypothesis import HealthCheck, settings

import channels
import otp

#: HTTP statuses the endpoint documents for a request (README "Limits and defaults", and
#: ``channels.http``): never 500 for anything a client sends.
DOCUMENTED_STATUSES = frozenset({101, 200, 204, 400, 403, 404, 405, 408, 410, 413, 414, 426, 431, 501, 503})
#: Close codes the server documents (README "Bad input": 1011 for an invalid Phoenix message,
#: as Phoenix; RFC 6455 §7.4.1 for the protocol's; 1012 on drain; 1013 for a slow client).
DOCUMENTED_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 1013})

READ_TIMEOUT = float(os.environ.get("FUZZ_READ_TIMEOUT", "10"))


def fuzz_examples(default: int) -> int:
    """Examples per fuzzer: ``default`` (CI), or ``FUZZ_EXAMPLES`` / ``pytest --fuzz-examples N``."""
    value = os.environ.get("FUZZ_EXAMPLES")
    return int(value) if value else default


def fuzz_settings(default: int) -> settings:
    """Hypothesis settings of a fuzzer: ``fuzz_examples(default)`` examples, no deadline (the
    server shares the machine), no example database (each run explores afresh)."""
    return settings(max_examples=fuzz_examples(default), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


# -- the app under fuzzing ---------------------------------------------------------------------


class FuzzChannel(channels.Channel):
    """``fuzz:*``: ``echo`` replies with the payload; ``broadcast`` sends it to the topic."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        return channels.Accept(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "echo":
            return channels.Reply(("ok", payload), socket)
        if event == "broadcast":
            socket.broadcast("broadcast", payload)
            return channels.Reply("ok", socket)
        return channels.NoReply(socket)


class FuzzSocket(channels.Socket):
    routes = [("fuzz:*", FuzzChannel)]


def make_endpoint() -> channels.Endpoint:
    return channels.Endpoint(
        name="Fuzz.Endpoint",
        port=0,
        sockets=[channels.SocketMount("/socket", FuzzSocket, longpoll=True)],
        drainer=None,
    )


# -- the server thread ---------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self.guard:
            self.records.append(record)


class FuzzServer:
    """``make_endpoint()`` served by a node on a background thread."""

    def __init__(self) -> None:
        self.endpoint = make_endpoint()
        self.port = 0
        self.token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._stop: trio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fuzz-endpoint", daemon=True)
        self.baseline: dict[otp.Pid, str] = {}
        self.log = _Records()
        self._mark = 0

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported by start()/stop()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        async with otp.open_node():
            await self.endpoint.start_link()
            assert self.endpoint.port is not None
            self.port = self.endpoint.port
            self.token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            self._ready.set()
            await self._stop.wait()
            await self.endpoint.stop()

    def start(self) -> None:
        logging.getLogger().addHandler(self.log)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None or self.token is None:
            raise RuntimeError("the fuzz endpoint did not start") from self._error
        self.baseline = self._call(_infrastructure)

    def stop(self) -> None:
        try:
            if self.token is not None and self._stop is not None:
                trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
            self._thread.join(30)
            assert not self._thread.is_alive(), "the fuzz endpoint did not stop"
            if self._error is not None:
                raise self._error
        finally:
            logging.getLogger().removeHandler(self.log)

    def _call(self, fn: Any, *args: Any) -> Any:
        assert self.token is not None
        return trio.from_thread.run_sync(fn, *args, trio_token=self.token)

    # -- health ----------------------------------------------------------------------------------

    def mark(self) -> None:
        """Start a new example: only lines logged from now on are checked."""
        with self.log.guard:
            self._mark = len(self.log.records)

    def errors(self) -> list[str]:
        with self.log.guard:
            new = self.log.records[self._mark:]
        return [f"{r.name} {r.levelname}: {r.getMessage()[:500]}" for r in new if r.levelno >= logging.ERROR]

    def assert_healthy(self, what: object) -> None:
        errors = self.errors()
        assert not errors, f"ERROR logged for bad input {what!r}:\n" + "\n".join(errors)
        gone = self._call(_missing, self.baseline)
        assert not gone, f"processes of the endpoint's tree ended after {what!r}: {gone}"
        assert_fresh_client_served(self.port)


def _infrastructure() -> dict[otp.Pid, str]:
    """Every process running before the fuzzing starts (the endpoint's tree)."""
    return {p.pid: p.behaviour or "" for p in otp.current_node().processes()}


def _missing(baseline: Mapping[otp.Pid, str]) -> list[str]:
    node = otp.current_node()
    return [f"{pid} ({what})" for pid, what in baseline.items() if node.process(pid) is None]


# -- raw clients -------------------------------------------------------------------------------


def open_tcp(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_eof(sock: socket.socket, limit: int = 1 << 22) -> bytes:
    """Everything the server sends until it closes (fails if it neither closes nor finishes)."""
    out = bytearray()
    while len(out) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            raise AssertionError(f"the server neither answered nor closed within {READ_TIMEOUT} s; "
                                 f"got {bytes(out[:200])!r}") from None
        if not chunk:
            break
        out += chunk
    return bytes(out)


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send what the server takes; it may close on us half way (that is an answer too)."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def first_status(answer: bytes) -> int | None:
    m = _STATUS.match(answer)
    return int(m.group(1)) if m else None


UPGRADE = ("GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def ws_open(port: int) -> tuple[socket.socket, bytes]:
    """A connected WebSocket (raw socket after the 101) and the bytes read past the head."""
    sock = open_tcp(port)
    sock.sendall(UPGRADE.format(port=port).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed during the handshake: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, rest


def client_frame(payload: bytes, opcode: int = 1, *, fin: bool = True, mask: bytes = b"\x01\x02\x03\x04",
                 rsv: int = 0) -> bytes:
    """A masked client frame."""
    n = len(payload)
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = bytes((first, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def server_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (opcode, payload) of each whole unmasked server frame in ``data``."""
    pos = 0
    while len(data) - pos >= 2:
        b1 = data[pos + 1]
        assert not b1 & 0x80, f"a server frame is masked: {data[pos:pos + 16]!r}"
        length = b1 & 0x7F
        start = pos + 2
        if length == 126:
            length = int.from_bytes(data[start:start + 2], "big")
            start += 2
        elif length == 127:
            length = int.from_bytes(data[start:start + 8], "big")
            start += 8
        if start + length > len(data):
            return
        yield data[pos] & 0x0F, data[start:start + length]
        pos = start + length


def close_codes(data: bytes) -> list[int]:
    codes = []
    for op, payload in server_frames(data):
        if op == 8:
            codes.append(int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005)
    return codes


def assert_documented_close(data: bytes, what: object) -> None:
    for code in close_codes(data):
        # 3000-4999: a client's own application code, echoed back (RFC 6455 §5.5.1).
        assert code in DOCUMENTED_CLOSE_CODES or code == 1005 or 3000 <= code <= 4999, \
            f"close code {code} after {what!r}"


def phoenix(join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any) -> bytes:
    return json.dumps([join_ref, ref, topic, event, payload]).encode()


def replies(data: bytes) -> list[Any]:
    out = []
    for op, payload in server_frames(data):
        if op == 1:
            with contextlib.suppress(ValueError):
                out.append(json.loads(payload))
    return out


def assert_fresh_client_served(port: int) -> None:
    """A new client connects, joins ``fuzz:fresh`` and gets its echo (then closes cleanly)."""
    sock, rest = ws_open(port)
    with sock:
        sock.sendall(client_frame(phoenix("1", "1", "fuzz:fresh", "phx_join", {}))
                     + client_frame(phoenix("1", "2", "fuzz:fresh", "echo", {"fresh": True})))
        data = rest
        while not any(isinstance(r, list) and len(r) == 5 and r[1] == "2" for r in replies(data)):
            chunk = sock.recv(65536)
            assert chunk, f"a fresh client was not served: {data!r}"
            data += chunk
        echoed = next(r for r in replies(data) if r[1] == "2")
        assert echoed[4] == {"status": "ok", "response": {"fresh": True}}, echoed
        sock.sendall(client_frame((1000).to_bytes(2, "big"), 8))
        send_quietly(sock, b"")
        read_until_eof(sock)


def b64key(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
