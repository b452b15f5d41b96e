"""Interop: the official Phoenix JS client's LongPoll transport against our long-poll sessions.

The endpoint runs in the test's own node (port 0); Node scripts from this directory drive
``phoenix`` (npm, the version of ``package-lock.json``) with ``transport: LongPoll`` over
Node's global ``fetch``, and headless Chromium loads a page whose socket cannot use
WebSocket and falls back to LongPoll (``longPollFallbackMs``). The scripts print one JSON
line per observed event (``harness.mjs``); the tests assert on them.

Needs node and the npm packages (``cd tests/interop && npm ci``), and Debian's
``chromium`` for the browser test; the tests skip when node or chromium are absent.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

import channels
import otp
from channels import Accept, Refuse
from channels.http import BodyReader, Request, Response
from channels.transports._longpoll import LongPollOptions

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
PHOENIX_JS = NODE_MODULES / "phoenix" / "priv" / "static" / "phoenix.min.js"
#: Bound (seconds) of one Node script; its own deadline (--timeout) is shorter.
NODE_TIMEOUT = 60.0

_joins: Counter[tuple[str, str]] = Counter()


class LPChannel(channels.Channel):
    """``lp:*``: counts joins, replies to ping, broadcasts shout, and loses its session on request."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> Accept[Any]:
        key = (str(socket.assigns["user"]), topic)
        _joins[key] += 1
        return Accept(socket, {"joins": _joins[key]})

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "ping":
            return channels.Reply(("ok", {"pong": payload}), socket)
        if event == "push_me":
            socket.push("pushed", payload)
            return channels.Reply("ok", socket)
        if event == "shout":
            socket.broadcast("shout", payload)
            return channels.Reply("ok", socket)
        if event == "crash":
            raise RuntimeError(f"crash requested by the client on {socket.topic}")
        if event == "kill_session":
            # The session process goes away as if its node had restarted.
            assert socket.transport_pid is not None
            otp.exit(socket.transport_pid, otp.Shutdown("lost_on_purpose"))
            return channels.NoReply(socket)
        if event == "disconnect":
            assert socket.socket_id is not None
            socket.endpoint.broadcast(socket.socket_id, "disconnect", {})
            return channels.Reply("ok", socket)
        return channels.Reply(("error", {"reason": f"unknown event {event!r}"}), socket)


class LPSocket(channels.Socket):
    routes = [("lp:*", LPChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Accept[Any] | Refuse:
        user = params.get("user")
        if not isinstance(user, str) or not user:
            return Refuse()
        return Accept(self.assign(user=user))

    def id(self) -> str | None:
        return f"lp_socket:{self.assigns['user']}"


#: The fallback page: its socket's mount has no WebSocket route, so the WebSocket attempt
#: fails before opening and the client falls back to LongPoll.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>long-poll fallback</title></head>
<body>
<script src="/phoenix.min.js"></script>
<script>
  window.events = [];
  const log = (e) => window.events.push(e);
  const socket = new Phoenix.Socket("/lponly", {longPollFallbackMs: 2000, params: {user: "browser"}});
  window.phxSocket = socket;
  socket.onOpen(() => log({event: "open", transport: socket.transport === Phoenix.LongPoll ? "longpoll" : "other"}));
  socket.onError(() => log({event: "socket_error"}));
  socket.connect();
  const ch = socket.channel("lp:browser", {});
  ch.on("shout", (p) => log({event: "shout", payload: p}));
  ch.join().receive("ok", (r) => {
    log({event: "join", response: r});
    ch.push("ping", {n: 1}).receive("ok", (r) => {
      log({event: "reply", response: r});
      ch.push("shout", {from: "chromium"});
    });
  });
</script>
</body></html>
"""


async def _page(request: Request, body: BodyReader) -> Response:
    return Response(200, [("content-type", "text/html; charset=utf-8")], PAGE.encode())


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (`.ci/setup --with-services` or `apt-get install nodejs npm`)")
    for package in ("phoenix", "playwright-core"):
        if not (NODE_MODULES / package / "package.json").is_file():
            pytest.fail(f"the npm package {package!r} is missing from {NODE_MODULES}: run "
                        "`cd tests/interop && npm ci`")
    return node


def _chromium() -> str:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("chromium is not installed (`apt-get install chromium`)")


@asynccontextmanager
async def lp_endpoint() -> AsyncIterator[channels.Endpoint]:
    endpoint = channels.Endpoint(
        name="LPInterop", port=0, check_origin=False,
        sockets=[
            channels.SocketMount("/socket", LPSocket, longpoll=LongPollOptions(window_ms=2_000)),
            channels.SocketMount("/lponly", LPSocket, websocket=False, longpoll=True),
        ],
        static_files={"/phoenix.min.js": PHOENIX_JS},
    )
    endpoint.add_route("/fallback", _page)
    await endpoint.start_link()
    try:
        yield endpoint
    finally:
        pid = otp.whereis(endpoint.name)
        proc = otp.current_node().process(pid) if pid is not None else None
        gone = trio.Event()
        if proc is not None:
            proc.add_exit_hook(lambda _p, _r: gone.set())
            await endpoint.stop()
            await gone.wait()


async def run_node(*args: str) -> list[dict[str, Any]]:
    """Run ``node args...`` (while our node serves); return its JSON lines, or fail with its output."""
    command = [_node(), *args]
    with trio.move_on_after(NODE_TIMEOUT) as scope:
        done = await trio.run_process(command, cwd=HERE, capture_stdout=True, capture_stderr=True, check=False)
    if scope.cancelled_caught:
        pytest.fail(f"{' '.join(command)} did not finish within {NODE_TIMEOUT} s")
    stdout = done.stdout.decode(errors="replace")
    events: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            events.append({"event": "unparsed", "line": line})
    if done.returncode != 0 or not events or events[-1].get("event") != "done":
        pytest.fail(f"{' '.join(command)} failed (rc {done.returncode})\n--- stdout\n{stdout}\n"
                    f"--- stderr\n{done.stderr.decode(errors='replace')}")
    return events


def pick(events: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    return [e for e in events if all(e.get(k) == v for k, v in fields.items())]


def one(events: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    found = pick(events, **fields)
    assert len(found) == 1, f"expected one event with {fields}, got {found}\nall events: {events}"
    return found[0]


def index(events: list[dict[str, Any]], event: dict[str, Any]) -> int:
    return next(i for i, e in enumerate(events) if e is event)


def _url(endpoint: channels.Endpoint) -> str:
    return f"ws://127.0.0.1:{endpoint.port}/socket"


async def test_js_longpoll_joins_replies_pushes_broadcasts_leaves_and_rejoins_after_a_crash(
        node: otp.Node) -> None:
    async with lp_endpoint() as endpoint:
        events = await run_node("longpoll_client.mjs", "channels", _url(endpoint), "--timeout", "40000")

    assert one(events, event="transport", who="alice")["name"] == "LongPoll"
    room = one(events, event="state", who="bob")["topic"]
    joins = pick(events, event="join", topic=room)
    assert [(j["who"], j["status"]) for j in joins[:2]] in (
        [("alice", "ok"), ("bob", "ok")], [("bob", "ok"), ("alice", "ok")])
    ping = one(events, event="reply", label="ping")
    assert (ping["status"], ping["response"]) == ("ok", {"pong": {"n": 1}})
    assert one(events, event="push", who="alice", name="pushed")["payload"] == {"x": 1}
    assert [e["payload"]["body"] for e in pick(events, event="push", who="alice", name="shout")] == [
        "hello bob", "after leave"]
    # Bob left: nothing for him on the room after the leave, up to his later round trip.
    assert [e["payload"]["body"] for e in pick(events, event="push", who="bob", name="shout")] == ["hello bob"]
    leave = one(events, event="reply", who="bob", label="leave")
    assert (leave["status"], leave["response"]) == ("ok", {})
    assert one(events, event="state", who="bob")["state"] == "closed"
    assert one(events, event="reply", label="round_trip")["status"] == "ok"
    # The crash: phx_error, then a rejoin (the join counter says it is the second join).
    error = pick(events, event="channel_error", who="alice", topic=room)[0]
    assert error["reason"] == {"reason": "channel_crash"}
    rejoin = [j for j in pick(events, event="join", who="alice", topic=room) if j["response"] == {"joins": 2}]
    assert rejoin
    assert index(events, error) < index(events, rejoin[0])
    assert one(events, event="reply", label="ping_after_rejoin")["status"] == "ok"
    assert len(pick(events, event="open", who="alice")) == 1, "a channel crash must not end the session"


async def test_js_longpoll_recovers_from_a_lost_session(node: otp.Node) -> None:
    async with lp_endpoint() as endpoint:
        events = await run_node("longpoll_client.mjs", "session_loss", _url(endpoint), "--timeout", "30000")

    opens = pick(events, event="open")
    assert len(opens) == 2
    close = pick(events, event="close")[0]
    assert (close["code"], close["reason"]) == (3410, "session_gone")
    joins = pick(events, event="join")
    assert [(j["status"], j["response"]) for j in joins] == [("ok", {"joins": 1}), ("ok", {"joins": 2})]
    assert index(events, close) < index(events, opens[1]) < index(events, joins[1])
    assert one(events, event="reply", label="ping_after_recovery")["status"] == "ok"
    assert one(events, event="state")["state"] == "joined"


async def test_js_longpoll_reconnects_after_a_disconnect_broadcast(node: otp.Node) -> None:
    async with lp_endpoint() as endpoint:
        events = await run_node("longpoll_client.mjs", "disconnect", _url(endpoint), "--timeout", "30000")

    closes = pick(events, event="close")
    assert closes
    assert closes[0]["code"] == 3410
    opens = pick(events, event="open")
    assert len(opens) == 2
    joins = pick(events, event="join")
    assert [(j["status"], j["response"]) for j in joins] == [("ok", {"joins": 1}), ("ok", {"joins": 2})]
    assert index(events, closes[0]) < index(events, opens[1]) < index(events, joins[1])
    assert one(events, event="reply", label="ping_after_reconnect")["status"] == "ok"


async def test_chromium_page_falls_back_from_websocket_to_longpoll(node: otp.Node) -> None:
    chromium = _chromium()
    async with lp_endpoint() as endpoint:
        events = await run_node("longpoll_browser.mjs", f"http://127.0.0.1:{endpoint.port}/fallback",
                                "--chromium", chromium, "--timeout", "40000")

    page = [e["entry"] for e in pick(events, event="page")]
    # The WebSocket attempt failed (no WebSocket route on /lponly) before the LongPoll open.
    assert [e["path"] for e in pick(events, event="websocket")] == ["/lponly/websocket"]
    assert [e["event"] for e in page[:2]] == ["socket_error", "open"]
    assert page[1]["transport"] == "longpoll"
    assert [e["response"] for e in page if e["event"] in ("join", "reply")] == [{"joins": 1}, {"pong": {"n": 1}}]
    assert [e["payload"] for e in page if e["event"] == "shout"] == [{"from": "chromium"}]
    assert one(events, event="fallback_memo")["value"] == "true"
    methods = {e["method"] for e in pick(events, event="request")}
    assert {"GET", "POST"} <= methods
    assert not pick(events, event="pageerror")
