"""Interop: the official Phoenix JS client (npm ``phoenix``, in Node and in headless Chromium) against our servers.

Each test starts a server in a subprocess (``python -m examples.hello_sockets``,
``-m examples.chat`` or the test-only ``-m tests.interop.server``, on ``--port 0``; the
``listening on`` line gives the port), runs a Node script from this directory with a
bounded timeout, and asserts on the JSON lines it prints (one per observed event, see
``harness.mjs``).

Needs node, the npm packages of ``package-lock.json`` (``npm ci`` here) and Debian's
``chromium``; ``.ci/setup --with-services`` installs all three. Tests skip only when node
or chromium are absent; a missing ``node_modules`` next to an installed npm is a failure
that says how to fix it.

Transports: ``TRANSPORTS`` parametrizes the Node scenarios (``--transport`` of the
scripts); add ``"longpoll"`` once the servers mount long-poll.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
NODE_MODULES = HERE / "node_modules"

#: Transports the Node scenarios run over (the scripts' ``--transport``).
TRANSPORTS = ["websocket"]

#: Bounds (seconds): server start, and one Node script (its own deadline is shorter).
SERVER_START_TIMEOUT = 30.0
NODE_TIMEOUT = 45.0
_LISTENING = re.compile(r"listening on http://[^\s:]+:(\d+)")


# -- prerequisites ---------------------------------------------------------------------------


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (`.ci/setup --with-services` or `apt-get install nodejs npm`)")
    for package in ("phoenix", "ws", "playwright-core"):
        if not (NODE_MODULES / package / "package.json").is_file():
            if shutil.which("npm") is None:
                pytest.skip("npm is not installed, so the interop packages cannot be installed")
            pytest.fail(f"the npm package {package!r} is missing from {NODE_MODULES}: run "
                        "`.ci/setup --with-services` (or `cd tests/interop && npm ci`)")
    return node


def _chromium() -> str:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("chromium is not installed (`.ci/setup --with-services` or `apt-get install chromium`)")


# -- servers ------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server subprocess and everything it printed (stdout and stderr, merged)."""

    proc: subprocess.Popen[str]
    port: int = 0
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def output(self) -> str:
        return "".join(self.lines[-200:])

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s) and collect its output."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _read_lines(server: Server, started: threading.Event) -> None:
    assert server.proc.stdout is not None
    for line in server.proc.stdout:
        server.lines.append(line)
        match = _LISTENING.search(line)
        if match and not started.is_set():
            server.port = int(match.group(1))
            started.set()
    started.set()  # EOF: the server exited


def _wait_accepting(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5.0):
        pass


@pytest.fixture(scope="module")
def start_server() -> Iterator[Any]:
    """``start_server(module, *args)``: start ``python -m module --port 0 *args``; stopped after the module."""
    servers: list[Server] = []

    def start(module: str, *args: str) -> Server:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--port", "0", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        server = Server(proc)
        started = threading.Event()
        server.reader = threading.Thread(target=_read_lines, args=(server, started), daemon=True)
        server.reader.start()
        servers.append(server)
        if not started.wait(SERVER_START_TIMEOUT):
            pytest.fail(f"{module} did not report listening within {SERVER_START_TIMEOUT} s:\n{server.output()}")
        if server.port == 0:
            pytest.fail(f"{module} exited ({proc.poll()}) before listening:\n{server.output()}")
        _wait_accepting(server.port)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def hello_server(start_server: Any) -> Server:
    _node()
    server: Server = start_server("examples.hello_sockets")
    return server


@pytest.fixture(scope="module")
def chat_server(start_server: Any) -> Server:
    _node()
    server: Server = start_server("examples.chat")
    return server


@pytest.fixture(scope="module")
def test_server(start_server: Any) -> Server:
    _node()
    server: Server = start_server("tests.interop.server")
    return server


# -- running the Node scripts --------------------------------------------------------------------


def run_node(script: str, *args: str, server: Server) -> list[dict[str, Any]]:
    """Run ``node script args...``; return its JSON lines; fail with every output if it did not finish."""
    command = [_node(), str(HERE / script), *args]
    try:
        done = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=NODE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(command)} did not finish within {NODE_TIMEOUT} s\n--- stdout\n{exc.stdout!r}\n"
                    f"--- stderr\n{exc.stderr!r}\n--- server\n{server.output()}")
    events = []
    for line in done.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            events.append({"event": "unparsed", "line": line})
    if done.returncode != 0 or not events or events[-1].get("event") != "done":
        pytest.fail(f"{' '.join(command)} failed (rc {done.returncode})\n--- stdout\n{done.stdout}\n"
                    f"--- stderr\n{done.stderr}\n--- server\n{server.output()}")
    return events


def pick(events: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    """The events whose fields include ``fields``."""
    return [e for e in events if all(e.get(k) == v for k, v in fields.items())]


def one(events: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    found = pick(events, **fields)
    assert len(found) == 1, f"expected one event with {fields}, got {found}\nall events: {events}"
    return found[0]


def index(events: list[dict[str, Any]], event: dict[str, Any]) -> int:
    return next(i for i, e in enumerate(events) if e is event)


# -- Node: WebSocket (and later long-poll) scenarios -----------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_js_client_connects_joins_gets_push_reply_and_leaves(hello_server: Server, transport: str) -> None:
    events = run_node("client.mjs", "ping", hello_server.socket_url, "--transport", transport, server=hello_server)

    assert pick(events, event="open", who="u1")
    assert one(events, event="join", topic="ping")["status"] == "ok"
    ping = one(events, event="reply", label="ping")
    assert (ping["status"], ping["response"]) == ("ok", {"ping": "pong"})
    phrase = one(events, event="reply", label="ping_phrase")
    assert (phrase["status"], phrase["response"]) == ("ok", {"ping": "hi there"})
    leave = one(events, event="reply", label="leave")
    assert (leave["status"], leave["response"]) == ("ok", {})
    assert one(events, event="state", topic="ping")["state"] == "closed"
    assert not pick(events, event="close"), "the server must not close the socket"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_chat_new_msg_is_broadcast_to_every_member_sender_included(chat_server: Server, transport: str) -> None:
    events = run_node("client.mjs", "broadcast", chat_server.socket_url, "--transport", transport,
                      server=chat_server)

    assert [e["status"] for e in pick(events, event="join")] == ["ok", "ok"]
    for who in ("alice", "bob"):
        got = [e["payload"] for e in pick(events, event="push", who=who, name="new_msg")]
        assert got == [{"body": "hello bob", "user": "alice"}, {"body": "hi alice", "user": "bob"}], who
    assert one(events, event="reply", who="alice", label="new_msg")["status"] == "ok"
    empty = one(events, event="reply", label="empty_msg")
    assert empty["status"] == "error"
    assert "non-empty" in empty["response"]["reason"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_left_client_gets_phx_close_and_no_more_room_broadcasts(chat_server: Server, transport: str) -> None:
    events = run_node("client.mjs", "leave", chat_server.socket_url, "--transport", transport, server=chat_server)

    room = one(events, event="state", who="bob")["topic"]
    leave = one(events, event="reply", who="bob", label="leave")
    assert (leave["status"], leave["response"]) == ("ok", {})
    assert one(events, event="state", who="bob")["state"] == "closed"
    left = index(events, one(events, event="checkpoint", name="left"))
    end = index(events, one(events, event="checkpoint", name="end"))
    after_leave = [e for e in events[left:end] if e.get("who") == "bob" and e.get("topic") == room]
    # Phoenix order for a leave: the ok reply, then phx_close for the join; then nothing.
    assert [e["name"] for e in after_leave if e["event"] == "frame"] == ["phx_reply", "phx_close"]
    assert [e["payload"]["body"] for e in pick(events, event="push", who="alice", topic=room)] == [
        "before leave", "after leave"]
    assert [e["payload"]["body"] for e in pick(events, event="push", who="bob", topic=room)] == ["before leave"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_crashed_channel_sends_phx_error_and_the_client_rejoins(test_server: Server, transport: str) -> None:
    events = run_node("client.mjs", "crash", test_server.socket_url, "--transport", transport, server=test_server)

    joins = pick(events, event="join", topic="test:crash")
    assert [(j["status"], j["response"]) for j in joins] == [("ok", {"joins": 1}), ("ok", {"joins": 2})]
    first_error = pick(events, event="channel_error")[0]
    assert first_error["reason"] == {"reason": "channel_crash"}
    assert index(events, joins[0]) < index(events, first_error) < index(events, joins[1])
    assert one(events, event="reply", label="ping_after_rejoin")["status"] == "ok"
    assert one(events, event="state")["state"] == "joined"
    assert len(pick(events, event="open")) == 1, "a channel crash must not close the socket"
    assert not pick(events, event="close")
    assert "CrashRequested" in test_server.output()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_disconnect_broadcast_closes_socket_1001_and_the_client_reconnects(test_server: Server,
                                                                          transport: str) -> None:
    events = run_node("client.mjs", "disconnect", test_server.socket_url, "--transport", transport,
                      server=test_server)

    closes = pick(events, event="close")
    assert closes, "the server did not close the socket"
    if transport == "websocket":
        assert closes[0]["code"] == 1001
    opens = pick(events, event="open")
    assert len(opens) == 2
    joins = pick(events, event="join", topic="test:dc")
    assert [(j["status"], j["response"]) for j in joins] == [("ok", {"joins": 1}), ("ok", {"joins": 2})]
    assert index(events, closes[0]) < index(events, opens[1]) < index(events, joins[1])
    assert one(events, event="reply", label="ping_after_reconnect")["status"] == "ok"
    assert one(events, event="state")["state"] == "joined"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_binary_payloads_round_trip_as_v2_binary_frames(test_server: Server, transport: str) -> None:
    events = run_node("client.mjs", "binary", test_server.socket_url, "--transport", transport,
                      server=test_server)

    sent = [0, 1, 2, 253, 254, 255]
    echoed = one(events, event="binary_reply")
    assert (echoed["status"], echoed["bytes"]) == ("ok", sent)
    assert one(events, event="binary_push", name="pushed")["bytes"] == sent
    assert one(events, event="binary_push", name="shout")["bytes"] == sent


def test_every_heartbeat_is_answered_and_the_socket_stays_open(test_server: Server) -> None:
    # WebSocket only: the JS LongPoll transport sends no heartbeats.
    events = run_node("client.mjs", "heartbeat", test_server.socket_url, "--beats", "5", server=test_server)

    replies = pick(events, event="heartbeat_reply")
    assert len(replies) >= 5
    assert {r["status"] for r in replies} == {"ok"}
    assert len(pick(events, event="open")) == 1
    assert not pick(events, event="close")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_shutdown_drains_the_socket_with_close_1012(start_server: Any, transport: str) -> None:
    node = _node()
    server: Server = start_server("tests.interop.server")
    command = [node, str(HERE / "client.mjs"), "wait_close", server.socket_url, "--transport", transport]
    client = subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert client.stdout is not None
        for line in client.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out: list[str] = []
    try:
        while not any('"event":"ready"' in line for line in out):
            line = lines.get(timeout=NODE_TIMEOUT)
            if line is None:
                pytest.fail(f"the client ended before joining:\n{''.join(out)}\n--- server\n{server.output()}")
            out.append(line)
        server.proc.send_signal(signal.SIGTERM)
        client.wait(timeout=NODE_TIMEOUT)
        reader.join(timeout=10)
        server_rc = server.proc.wait(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        for stream in (client.stdout, client.stderr):
            if stream is not None:
                stream.close()
    while (line := lines.get_nowait()) is not None:
        out.append(line)
    events = [json.loads(line) for line in out]

    assert events[-1]["event"] == "done", f"{out}\n--- server\n{server.output()}"
    if transport == "websocket":
        assert one(events, event="close")["code"] == 1012
    assert server_rc == 0
    assert "draining 1 channels" in server.output()


def test_chat_new_msg_reaches_a_member_on_another_node_through_redis(start_server: Any) -> None:
    _node()
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (`.ci/setup --with-services` or `apt-get install redis-server`)")
    from tests.support.redis_server import start_redis_server

    with start_redis_server() as redis:
        node_a: Server = start_server("examples.chat", "--redis-url", redis.url)
        node_b: Server = start_server("examples.chat", "--redis-url", redis.url)
        try:
            events = run_node("client.mjs", "broadcast", node_a.socket_url, "--url2", node_b.socket_url,
                              server=node_a)
        finally:
            node_a.stop()
            node_b.stop()

    for who in ("alice", "bob"):
        got = [e["payload"] for e in pick(events, event="push", who=who, name="new_msg")]
        assert got == [{"body": "hello bob", "user": "alice"}, {"body": "hi alice", "user": "bob"}], who


def test_js_presence_on_one_node_sees_a_presence_tracked_on_another_node(start_server: Any) -> None:
    _node()
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (`.ci/setup --with-services` or `apt-get install redis-server`)")
    from tests.support.redis_server import start_redis_server

    with start_redis_server() as redis:
        node_a: Server = start_server("examples.chat", "--redis-url", redis.url)
        node_b: Server = start_server("examples.chat", "--redis-url", redis.url)
        try:
            events = run_node("presence_client.mjs", node_a.socket_url, "--url2", node_b.socket_url,
                              "--timeout", "30000", server=node_a)
        finally:
            node_a.stop()
            node_b.stop()
    syncs = [e["users"] for e in pick(events, event="sync", who="watcher")]
    assert ["ann", "watcher"] in syncs
    assert syncs[-1] == ["watcher"]


# -- headless Chromium -------------------------------------------------------------------------------


def test_chat_page_in_chromium_joins_a_room_and_shows_the_echoed_message(chat_server: Server) -> None:
    chromium = _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "chat-chromium.png"
    shot.unlink(missing_ok=True)
    events = run_node("browser.mjs", "chat", chat_server.http_url, "--chromium", chromium,
                      "--screenshot", str(shot), "--timeout", "30000", server=chat_server)

    assert "joined room:browser-" in one(events, event="joined")["status"]
    message = one(events, event="message")
    assert (message["user"], message["body"]) == ("alice", "hello from chromium")
    assert pick(events, event="input_cleared")
    assert not pick(events, event="pageerror")
    assert not pick(events, event="http_error")
    assert shot.is_file()
    assert shot.stat().st_size > 0


def test_chat_page_says_how_to_install_the_client_when_phoenix_js_is_missing(start_server: Any) -> None:
    _node()
    chromium = _chromium()
    server: Server = start_server("examples.chat", "--phoenix-js", str(HERE / "no-such-dir" / "phoenix.js"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "chat-missing-client.png"
    events = run_node("browser.mjs", "missing_client", server.http_url, "--chromium", chromium,
                      "--screenshot", str(shot), "--timeout", "30000", server=server)

    notice = one(events, event="missing_client")
    assert "npm ci" in notice["text"]
    assert notice["status"] == "Phoenix client missing"
    assert notice["app_visible"] is False
    assert [(e["url"].rsplit("/", 2)[-2:], e["status"]) for e in pick(events, event="http_error")] == [
        (["js", "phoenix.js"], 404)]
    assert "the Phoenix JS client is not installed" in server.output()


def test_clean_client_close_terminates_channels_with_shutdown_closed(test_server: Server) -> None:
    # Regression: the first WebSocket transport took the writer's close after the closing
    # handshake for an overflow in about half of the clean closes ({:shutdown, 'overflow'}).
    events = run_node("client.mjs", "terminate_reasons", test_server.socket_url, "--rounds", "20",
                      server=test_server)

    reasons = [e["reason"] for e in pick(events, event="terminated", topic="test:tr")]
    assert len(reasons) == 20
    assert set(reasons) == {"{:shutdown, 'closed'}"}
