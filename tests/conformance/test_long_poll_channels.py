"""Port of Phoenix's ``test/phoenix/integration/long_poll_channels_test.exs``.

Source: phoenixframework/phoenix @ 167c469 (v1.8.12 for these files). One test per upstream
test, named after its description and citing it. Upstream runs everything under two
adapters; we have one HTTP server. Upstream's ``for mode <- [:local, :pubsub]`` tests are
``test_local_*`` here; the ``:pubsub`` mode (a token naming a session held by another
node, found through PubSub) is a documented difference, covered by
``test_pubsub_mode_tokens_from_another_endpoint_instance_start_a_new_session``, one case per
upstream ``pubsub:`` test. The per-serializer tests are parametrized over ``vsn``.

Requests go over real TCP connections (``_wire.http_request``, a port of Phoenix's
``HTTPClient``), one per request, with bodies encoded by hand as the upstream helpers do.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing

import channels
import otp
from channels import testing

from ._wire import Binary, HTTPResponse, Msg, http_request, query

SECRET = "abcdefgh" * 8


class RoomChannel(channels.Channel):
    """Upstream ``RoomChannel`` of the long-poll test."""

    intercept = ["new_msg", "bin_ack"]

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        otp.register(topic)  # Process.register(self(), String.to_atom(topic))
        otp.send(otp.self(), ("after_join", payload))
        return channels.Accept(socket)

    async def handle_info(self, msg: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        if isinstance(msg, tuple) and msg[0] == "after_join":
            message = msg[1] if isinstance(msg[1], dict) else {}
            socket.broadcast("user_entered", {"user": message.get("user")})
            socket.push("joined", {"status": "connected", **socket.assigns})
        return channels.NoReply(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        if event == "bin" and isinstance(payload, bytes):
            socket.broadcast("bin_ack", {})
        elif event == "new_msg":
            socket.broadcast("new_msg", payload)
        elif event == "boom":
            raise RuntimeError("boom")
        return channels.NoReply(socket)

    async def handle_out(self, event: str, payload: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        socket.push(event, {**payload, "transport": f":{socket.transport}"})
        return channels.NoReply(socket)


class UserSocketConnectInfo(channels.Socket):
    routes = [("room:*", RoomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> channels.Accept[Any]:
        info = dict(connect_info)
        uri = info["uri"]
        info["uri"] = {"scheme": uri.scheme, "host": uri.host, "port": uri.port, "path": uri.path,
                       "query": uri.query}
        info["trace_context_headers"] = dict(info["trace_context_headers"])
        info["x_headers"] = dict(info["x_headers"])
        return channels.Accept(self.assign(user_id=params.get("user_id"), connect_info=info))

    def id(self) -> str | None:
        user_id = self.assigns["user_id"]
        return f"user_sockets:{user_id}" if user_id else None


class UserSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]
                      ) -> channels.Accept[Any] | channels.Refuse:
        if params.get("reject") == "true":
            return channels.Refuse()
        if params.get("custom_error") == "true":
            return channels.Refuse("custom")
        return channels.Accept(self.assign(user_id=params.get("user_id")))

    def id(self) -> str | None:
        user_id = self.assigns["user_id"]
        return f"user_sockets:{user_id}" if user_id else None


class SlowSocket(channels.Transport):
    """Upstream ``SlowSocket``: a raw transport whose ``handle_in`` never returns."""

    async def handle_in(self, data: str | bytes, state: Any) -> otp.NoReply[Any]:
        await trio.sleep_forever()  # Process.sleep(:infinity)


CHECK_ORIGIN = ["//example.com"]


def make_endpoint(name: str = "Conformance.LongPollChannels") -> channels.Endpoint:
    lp = channels.LongPollOptions(window_ms=200, pubsub_timeout_ms=200)
    return channels.Endpoint(
        name=name,
        sockets=[
            channels.SocketMount("/ws", UserSocket, longpoll=lp, check_origin=CHECK_ORIGIN),
            channels.SocketMount("/ws/admin", UserSocket, longpoll=lp, check_origin=CHECK_ORIGIN),
            channels.SocketMount("/ws/connect_info", UserSocketConnectInfo, longpoll=lp, check_origin=CHECK_ORIGIN,
                                 connect_info=["trace_context_headers", "x_headers", "peer_data", "uri"]),
            channels.SocketMount("/ws/slow", SlowSocket, websocket=False, check_origin=CHECK_ORIGIN,
                                 longpoll=channels.LongPollOptions(window_ms=100, pubsub_timeout_ms=200)),
        ],
        secret_key_base=SECRET,
        drainer=None,
    )


@pytest.fixture
async def ep(node: otp.Node) -> AsyncIterator[testing.RunningEndpoint]:
    async with testing.open_endpoint(make_endpoint()) as running:
        yield running


# -- the upstream helpers: poll/6, join/8, join_existing_session/6 ------------------------------------


@dataclass
class Resp:
    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]]


def _encode(vsn: str, msg: Any) -> bytes:
    if msg is None:
        return b""
    if isinstance(msg, list):
        if vsn.startswith("2."):
            return b"\n".join(_encode(vsn, m) for m in msg)
        return b"\n".join(json.dumps({k: v for k, v in m.items() if k != "join_ref"}).encode() for m in msg)
    if not vsn.startswith("2."):
        return json.dumps(msg).encode()
    payload = msg.get("payload")
    if isinstance(payload, Binary):
        parts = [str(msg["join_ref"] or "").encode(), str(msg["ref"] or "").encode(),
                 msg["topic"].encode(), msg["event"].encode()]
        frame = bytes([0, *(len(p) for p in parts)]) + b"".join(parts) + payload.data
        return base64.b64encode(frame)
    return json.dumps([msg.get("join_ref"), msg.get("ref"), msg.get("topic"), msg.get("event"), payload]).encode()


def _decode(vsn: str, text: str) -> Msg:
    data = json.loads(text)
    if vsn.startswith("2."):
        join_ref, ref, topic, event, payload = data[:5]
        return Msg(topic, event, payload, ref, join_ref)
    return Msg(data["topic"], data["event"], data["payload"], data.get("ref"), data.get("join_ref"))


async def poll(ep: testing.RunningEndpoint, method: str, path: str, vsn: str, params: Mapping[str, Any],
               json_body: Any = None, headers: Mapping[str, str] | None = None) -> Resp:
    if method == "GET":
        # Upstream polls right after the join's POST and expects the channel's after-join
        # push and broadcast in that poll; waiting until the run is idle first makes that
        # deterministic here (the channel has handled its after_join by then).
        await trio.testing.wait_all_tasks_blocked()
    content_type = "application/x-ndjson" if isinstance(json_body, list) else "application/json"
    hs = {"content-type": content_type, **(headers or {})}
    target = f"{path}/longpoll?{query({**params, 'vsn': vsn})}"
    resp: HTTPResponse = await http_request(ep.port, method, target, hs, _encode(vsn, json_body))
    body = resp.json()
    serializer = vsn if vsn.startswith("2.") else "1.0.0"
    body["messages"] = [_decode(serializer, m) for m in body.get("messages") or []]
    return Resp(resp.status, body, resp.headers)


async def join(ep: testing.RunningEndpoint, path: str, topic: str, vsn: str, join_ref: str | None,
               payload: Any = None, params: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    resp = await poll(ep, "GET", path, vsn, params or {}, {}, headers)
    assert resp.body["token"]
    assert resp.body["status"] == 410
    assert resp.status == 200
    session = {"token": resp.body["token"], **(params or {})}
    resp = await poll(ep, "POST", path, vsn, session, {
        "topic": topic, "event": "phx_join", "ref": "1", "join_ref": join_ref,
        "payload": {} if payload is None else payload,
    }, headers)
    assert resp.body["status"] == 200
    return session


async def join_existing_session(ep: testing.RunningEndpoint, path: str, session: Mapping[str, Any], topic: str,
                                vsn: str, ref: str, join_ref: str) -> Resp:
    resp = await poll(ep, "POST", path, vsn, session, {"topic": topic, "event": "phx_join", "ref": ref,
                                                       "join_ref": join_ref, "payload": {}})
    assert resp.body["status"] == 200
    return resp


async def whereis(name: str) -> otp.Pid:
    pid = otp.whereis(name)
    assert pid is not None, f"no process registered as {name!r}"
    return pid


async def down(mref: otp.Ref, timeout: float = 5.0) -> otp.Down:
    msg: otp.Down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is mref, timeout=timeout)
    return msg


async def receive_broadcast(event: str, timeout: float = 5.0) -> channels.Broadcast:
    msg: channels.Broadcast = await otp.receive(
        lambda m: isinstance(m, channels.Broadcast) and m.event == event, timeout=timeout)
    return msg


async def refute_broadcast(event: str) -> None:
    await trio.testing.wait_all_tasks_blocked()
    assert otp.flush(lambda m: isinstance(m, channels.Broadcast) and m.event == event) == 0


VSN = "1.0.0"


# -- adapter: ... (mode :local) ---------------------------------------------------------------------


async def test_local_joins_and_poll_messages(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: joins and poll messages" (mode :local)
    session = await join(ep, "/ws", "room:lobby", VSN, "1")
    resp = await poll(ep, "GET", "/ws", VSN, session)
    assert resp.body["status"] == 200
    phx_reply, user_entered, status_msg = resp.body["messages"]
    assert phx_reply == Msg("room:lobby", "phx_reply", {"response": {}, "status": "ok"}, "1", None)
    assert status_msg == Msg("room:lobby", "joined", {"status": "connected", "user_id": None}, None, None)
    assert user_entered == Msg("room:lobby", "user_entered", {"user": None}, None, None)
    # poll without messages sends 204 no_content
    resp = await poll(ep, "GET", "/ws", VSN, session)
    assert resp.body["status"] == 204


async def test_local_rejects_the_101st_channel_join_by_default(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: rejects the 101st channel join by default" (mode :local)
    prefix = "room:limit-lp"
    session = await join(ep, "/ws", f"{prefix}-1", VSN, "1")
    for index in range(1, 101):
        topic = f"{prefix}-{index}"
        if index > 1:
            await join_existing_session(ep, "/ws", session, topic, VSN, str(index), str(index))
        resp = await poll(ep, "GET", "/ws", VSN, session)
        assert resp.body["status"] == 200
        assert [(m.event, m.topic, m.payload) for m in resp.body["messages"]] == [
            ("phx_reply", topic, {"response": {}, "status": "ok"}),
            ("user_entered", topic, {"user": None}),
            ("joined", topic, {"status": "connected", "user_id": None}),
        ]
    overflow_topic = f"{prefix}-101"
    resp = await join_existing_session(ep, "/ws", session, overflow_topic, VSN, "101", "101")
    assert resp.body["status"] == 200
    resp = await poll(ep, "GET", "/ws", VSN, session)
    assert resp.body["status"] == 200
    assert resp.body["messages"] == [Msg(overflow_topic, "phx_reply", {
        "response": {"reason": "too many channels joined"}, "status": "error"}, "101", None)]


async def _connect_info(ep: testing.RunningEndpoint, headers: Mapping[str, str]) -> dict[str, Any]:
    session = await join(ep, "/ws/connect_info", "room:lobby", VSN, "1", {}, {}, headers)
    resp = await poll(ep, "GET", "/ws/connect_info", VSN, session)
    assert resp.body["status"] == 200
    _phx_reply, _user_entered, status_msg = resp.body["messages"]
    info: dict[str, Any] = status_msg.payload["connect_info"]
    return info


async def test_local_transport_x_headers_are_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: transport x_headers are extracted to the socket connect_info"
    info = await _connect_info(ep, {"x-application": "Phoenix"})
    assert info["x_headers"] == {"x-application": "Phoenix"}


async def test_local_transport_trace_context_headers_are_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: transport trace_context_headers are extracted to the
    # socket connect_info"
    ctx = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
           "tracestate": "congo=t61rcWkgMz"}
    info = await _connect_info(ep, ctx)
    assert info["trace_context_headers"] == ctx


async def test_local_transport_peer_data_is_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: transport peer_data is extracted to the socket connect_info"
    info = await _connect_info(ep, {"x-application": "Phoenix"})
    assert info["peer_data"]["address"] == "127.0.0.1"


async def test_local_transport_uri_is_extracted_to_the_socket_connect_info(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: transport uri is extracted to the socket connect_info"
    info = await _connect_info(ep, {"x-application": "Phoenix"})
    uri = info["uri"]
    assert (uri["host"], uri["path"], uri["query"], uri["scheme"]) == (
        "127.0.0.1", "/ws/connect_info/longpoll", f"vsn={VSN}", "http")


async def test_local_publishing_events(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: publishing events" (mode :local)
    async with otp.open_mailbox():
        ep.endpoint.subscribe("room:lobby")
        session = await join(ep, "/ws", "room:lobby", VSN, "1")
        # Publish successfully; no join_ref required on regular messages
        resp = await poll(ep, "POST", "/ws", VSN, session, {"topic": "room:lobby", "event": "new_msg", "ref": "1",
                                                           "payload": {"body": "hi!"}})
        assert resp.body["status"] == 200
        assert (await receive_broadcast("new_msg")).payload == {"body": "hi!"}
        # Get published message
        resp = await poll(ep, "GET", "/ws", VSN, session)
        assert resp.body["status"] == 200
        assert resp.body["messages"][-1] == Msg("room:lobby", "new_msg", {"transport": ":longpoll", "body": "hi!"},
                                                None, None)
        # Publish event to an unjoined room
        ep.endpoint.subscribe("room:private-room")
        resp = await poll(ep, "POST", "/ws", VSN, session, {
            "topic": "room:private-room", "event": "new_msg", "ref": "12300",
            "payload": {"body": "this method shouldn't send!'"}})
        assert resp.body["status"] == 200
        await refute_broadcast("new_msg")
        # Get join error
        resp = await poll(ep, "GET", "/ws", VSN, session)
        assert resp.body["status"] == 200
        assert resp.body["messages"][-1] == Msg("room:private-room", "phx_reply", {
            "response": {"reason": "unmatched topic"}, "status": "error"}, "12300", None)


async def test_local_no_join_ref_is_required_on_non_join_messages(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: no join_ref is required on non-join messages" (mode :local)
    vsn = "2.0.0"
    async with otp.open_mailbox():
        ep.endpoint.subscribe("room:lobby")
        session = await join(ep, "/ws", "room:lobby", vsn, "1")
        resp = await poll(ep, "POST", "/ws", vsn, session, {"topic": "room:lobby", "event": "new_msg", "ref": "2",
                                                           "payload": {"body": "hi!"}})
        assert resp.body["status"] == 200
        assert (await receive_broadcast("new_msg")).payload == {"body": "hi!"}


async def test_local_lonpoll_publishing_batch_events_on_v2_protocol(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: lonpoll publishing batch events on v2 protocol" (mode :local)
    vsn = "2.0.0"

    def new_msg(ref: str, join_ref: str, body: str) -> dict[str, Any]:
        return {"topic": "room:lobby", "event": "new_msg", "ref": ref, "join_ref": join_ref,
                "payload": {"body": body}}

    async with otp.open_mailbox():
        ep.endpoint.subscribe("room:lobby")
        session = await join(ep, "/ws", "room:lobby", vsn, "1")
        resp = await poll(ep, "POST", "/ws", vsn, session, [
            new_msg("2", "1", "hi1"), new_msg("3", "1", "hi2"), new_msg("stale", "stale", "stale")])
        assert resp.body["status"] == 200
        assert (await receive_broadcast("new_msg")).payload == {"body": "hi1"}
        assert (await receive_broadcast("new_msg")).payload == {"body": "hi2"}
        await refute_broadcast("new_msg")
        # Publish base64 binary successfully
        resp = await poll(ep, "POST", "/ws", vsn, session, [
            {"topic": "room:lobby", "event": "bin", "join_ref": "1", "ref": "4", "payload": Binary(b"\x01\x02\x03")},
            new_msg("5", "1", "hi3")])
        assert resp.body["status"] == 200
        assert (await receive_broadcast("bin_ack")).payload == {}
        assert (await receive_broadcast("new_msg")).payload == {"body": "hi3"}
    # Get published message
    resp = await poll(ep, "GET", "/ws", vsn, session)
    assert resp.body["status"] == 200
    _phx_reply, _user_entered, _joined, *rest = resp.body["messages"]
    assert rest == [
        Msg("room:lobby", "new_msg", {"body": "hi1", "transport": ":longpoll"}, None, "1"),
        Msg("room:lobby", "new_msg", {"body": "hi2", "transport": ":longpoll"}, None, "1"),
        Msg("room:lobby", "bin_ack", {"transport": ":longpoll"}, None, "1"),
        Msg("room:lobby", "new_msg", {"body": "hi3", "transport": ":longpoll"}, None, "1"),
    ]


async def test_local_shuts_down_after_timeout(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: shuts down after timeout" (mode :local)
    session = await join(ep, "/ws", "room:lobby", VSN, "1")
    channel = await whereis("room:lobby")
    async with otp.open_mailbox():
        mref = otp.monitor(channel)
        assert (await down(mref)).reason == otp.Shutdown("inactive")
    resp = await poll(ep, "POST", "/ws", VSN, session)
    assert resp.body["status"] == 410


#: Upstream's ``pubsub:`` variants (``for mode <- [:local, :pubsub]``).
PUBSUB_VARIANTS = [
    "pubsub: joins and poll messages",
    "pubsub: rejects the 101st channel join by default",
    "pubsub: transport x_headers are extracted to the socket connect_info",
    "pubsub: transport trace_context_headers are extracted to the socket connect_info",
    "pubsub: transport peer_data is extracted to the socket connect_info",
    "pubsub: transport uri is extracted to the socket connect_info",
    "pubsub: publishing events",
    "pubsub: no join_ref is required on non-join messages",
    "pubsub: lonpoll publishing batch events on v2 protocol",
    "pubsub: shuts down after timeout",
]


@pytest.mark.parametrize("upstream", PUBSUB_VARIANTS)
async def test_pubsub_mode_tokens_from_another_endpoint_instance_start_a_new_session(
        node: otp.Node, upstream: str) -> None:
    # long_poll_channels_test.exs: test "#{@mode}: ..." (mode :pubsub), each of PUBSUB_VARIANTS
    # DIFFERENCE (README "Differences from Phoenix"): upstream re-signs the session token for
    # a server it cannot see ("unknown" endpoint id) and the session is still found through
    # PubSub. Long-poll sessions here are local to the endpoint instance that made them: a
    # token signed with the same secret by another instance names no session, so a GET
    # starts a new session (410 with a new token) and a POST answers 410.
    async with testing.open_endpoint(make_endpoint()) as first:
        session = await join(first, "/ws", "room:lobby", VSN, "1")
    async with testing.open_endpoint(make_endpoint()) as second:
        resp = await poll(second, "POST", "/ws", VSN, session, {"topic": "room:lobby", "event": "new_msg",
                                                               "ref": "2", "payload": {}})
        assert resp.body["status"] == 410
        resp = await poll(second, "GET", "/ws", VSN, session)
        assert resp.body["status"] == 410
        assert resp.body["token"] != session["token"]


async def test_publish_responds_with_408_when_transport_dispatch_times_out(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "publish responds with 408 when transport_dispatch times out"
    resp = await poll(ep, "GET", "/ws/slow", "2.0.0", {})
    assert resp.body["status"] == 410
    assert resp.status == 200
    session = {"token": resp.body["token"]}
    resp = await poll(ep, "POST", "/ws/slow", "2.0.0", session, [
        {"topic": "room:lobby", "event": "ping", "ref": "1", "join_ref": "1", "payload": {}}])
    assert resp.status == 200
    assert resp.body["status"] == 408


async def test_ignores_ndjson_batch_entries_after_the_first_100(ep: testing.RunningEndpoint) -> None:
    # long_poll_channels_test.exs: test "ignores ndjson batch entries after the first 100"
    vsn, join_ref = "2.0.0", "1"
    topic = "room:test ignores ndjson batch entries after the first 100"
    session = await join(ep, "/ws", topic, vsn, join_ref)
    async with otp.open_mailbox():
        ep.endpoint.subscribe(topic)
        messages = [{"topic": topic, "event": "new_msg", "ref": str(n + 1), "join_ref": join_ref,
                     "payload": {"body": f"msg{n}"}} for n in range(1, 102)]
        resp = await poll(ep, "POST", "/ws", vsn, session, messages)
        assert resp.body["status"] == 200
        bodies = [(await receive_broadcast("new_msg")).payload["body"] for _ in range(100)]
        assert bodies == [f"msg{n}" for n in range(1, 101)]
        await refute_broadcast("new_msg")


# -- adapter: ... - with #{vsn} serializer -------------------------------------------------------------


SERIALIZERS = [pytest.param("1.0.0", None, id="V1"), pytest.param("2.0.0", "1", id="V2")]


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_refuses_connects_that_error_with_403_response(ep: testing.RunningEndpoint, vsn: str,
                                                             join_ref: str | None) -> None:
    # long_poll_channels_test.exs: test "refuses connects that error with 403 response"
    resp = await poll(ep, "GET", "/ws", vsn, {"reject": "true"}, {})
    assert resp.body["status"] == 403
    resp = await poll(ep, "GET", "/ws", vsn, {"custom_error": "true"}, {})
    assert resp.body["status"] == 403


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_refuses_unallowed_origins(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # long_poll_channels_test.exs: test "refuses unallowed origins"
    resp = await poll(ep, "GET", "/ws", vsn, {}, None, {"origin": "https://example.com"})
    assert resp.body["status"] == 410
    resp = await poll(ep, "GET", "/ws", vsn, {}, None, {"origin": "http://notallowed.com"})
    assert resp.body["status"] == 403


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_filter_params_on_join(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None,
                                     caplog: pytest.LogCaptureFixture) -> None:
    # long_poll_channels_test.exs: test "filter params on join"
    # DIFFERENCE (README "Differences from Phoenix"): joins are not logged (no JOINED line),
    # so join parameters never reach the log, filtered or not.
    with caplog.at_level(logging.DEBUG, logger="channels"):
        await join(ep, "/ws", "room:lobby", vsn, join_ref, {"foo": "bar", "password": "shouldnotshow"},
                   {"logging": "enabled"})
    assert "shouldnotshow" not in caplog.text


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_sends_phx_error_if_a_channel_server_abnormally_exits(ep: testing.RunningEndpoint, vsn: str,
                                                                    join_ref: str | None) -> None:
    # long_poll_channels_test.exs: test "sends phx_error if a channel server abnormally exits"
    topic = "room:test sends phx_error if a channel server abnormally exits"
    session = await join(ep, "/ws", topic, vsn, join_ref)
    channel = await whereis(topic)
    async with otp.open_mailbox():
        mref = otp.monitor(channel)
        resp = await poll(ep, "POST", "/ws", vsn, session, {"topic": topic, "event": "boom", "ref": join_ref,
                                                           "join_ref": join_ref, "payload": {}})
        assert resp.body["status"] == 200
        assert resp.status == 200
        await down(mref)
    resp = await poll(ep, "GET", "/ws", vsn, session)
    _phx_reply, _user_entered, _joined, chan_error = resp.body["messages"]
    assert chan_error == Msg(topic, "phx_error", {"reason": "channel_crash"}, join_ref, join_ref)


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_ignores_stale_join_refs_and_accepts_a_nil_join_ref_on_phx_leave(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # long_poll_channels_test.exs: test "ignores stale join refs and accepts a nil join ref on phx_leave"
    session = await join(ep, "/ws", "room:lobby", vsn, join_ref)
    resp = await poll(ep, "POST", "/ws", vsn, session, {"topic": "room:lobby", "event": "phx_leave",
                                                       "join_ref": "stale", "ref": "stale", "payload": {}})
    assert resp.body["status"] == 200
    assert resp.status == 200
    resp = await poll(ep, "POST", "/ws", vsn, session, {"topic": "room:lobby", "event": "phx_leave", "ref": "2",
                                                       "payload": {}})
    assert resp.body["status"] == 200
    assert resp.status == 200
    resp = await poll(ep, "GET", "/ws", vsn, session)
    _phx_reply, _joined, _user_entered, _leave_reply, phx_close = resp.body["messages"]
    assert phx_close == Msg("room:lobby", "phx_close", {}, join_ref, join_ref)


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_shuts_down_when_receiving_disconnect_broadcasts_on_sockets_id(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # long_poll_channels_test.exs: test "shuts down when receiving disconnect broadcasts on socket's id"
    resp = await poll(ep, "GET", "/ws", vsn, {"user_id": "456"}, {})
    session = {"token": resp.body["token"]}
    for topic in ["room:lpdisconnect1", "room:lpdisconnect2"]:
        await poll(ep, "POST", "/ws", vsn, session, {"topic": topic, "event": "phx_join", "ref": "1",
                                                    "payload": {}})
    chan1 = await whereis("room:lpdisconnect1")
    chan2 = await whereis("room:lpdisconnect2")
    async with otp.open_mailbox():
        refs = [otp.monitor(chan1), otp.monitor(chan2)]
        ep.broadcast("user_sockets:456", "disconnect", {})
        for mref in refs:
            assert (await down(mref)).reason == otp.Shutdown("disconnected")
    resp = await poll(ep, "GET", "/ws", vsn, session)
    assert resp.body["status"] == 410


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_refuses_non_matching_versions(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None,
                                             caplog: pytest.LogCaptureFixture) -> None:
    # long_poll_channels_test.exs: test "refuses non-matching versions"
    resp = await poll(ep, "GET", "/ws", "123.1.1", {}, None, {"origin": "https://example.com"})
    assert resp.body["status"] == 403
    assert 'The client\'s requested transport version "123.1.1" does not match server\'s version' in caplog.text


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_forces_application_json_content_type(ep: testing.RunningEndpoint, vsn: str,
                                                    join_ref: str | None) -> None:
    # long_poll_channels_test.exs: test "forces application/json content-type"
    session = await join(ep, "/ws", "room:lobby", vsn, join_ref)
    resp = await poll(ep, "POST", "/ws", vsn, session, {"topic": "room:lobby", "event": "phx_leave", "ref": "2",
                                                       "join_ref": join_ref, "payload": {}}, {"content-type": ""})
    assert resp.body["status"] == 200
    assert resp.status == 200

