"""Port of Phoenix's ``test/phoenix/integration/websocket_channels_test.exs``.

Source: phoenixframework/phoenix @ 167c469 (v1.8.12 for these files). Each test below is one
upstream test, named after its description and citing it. Upstream runs every test under
two adapters (Bandit, Cowboy); we have one HTTP server, so each runs once, and the tests
that upstream runs per serializer are parametrized over ``vsn`` the same way
(``1.0.0`` with join_ref ``nil``, ``2.0.0`` with join_ref ``"11"``).

Everything is at wire level: a real endpoint on 127.0.0.1, and ``_wire.WebsocketClient``
(a port of Phoenix's test client, which numbers refs from 1 and join_refs from 11).
The fixtures below mirror the upstream module's, written on our public API.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest

import channels
import otp
from channels import testing

from ._wire import ANY, Binary, Closed, M, Rejected, WebsocketClient

_unique = iter(range(1, 1_000_000))


def lobby() -> str:
    return f"room:lobby{next(_unique)}"


class RoomChannel(channels.Channel):
    """Upstream ``RoomChannel``: registers itself under its topic, announces joins, echoes."""

    intercept = ["new_msg"]

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

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "new_msg":
            socket.broadcast("new_msg", payload)
            return channels.Reply("ok", socket)
        if event == "boom":
            raise RuntimeError("boom")
        if event == "binary_event" and isinstance(payload, bytes):
            socket.push("binary_event", b"\x00\x01")
            return channels.Reply(("ok", payload + b"\x03\x04"), socket)
        return channels.NoReply(socket)

    async def handle_out(self, event: str, payload: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        # inspect(socket.transport) is ":websocket" in Elixir
        socket.push("new_msg", {**payload, "transport": f":{socket.transport}"})
        return channels.NoReply(socket)

    async def terminate(self, reason: otp.ExitReason, socket: channels.Socket) -> None:
        socket.push("you_left", {"message": "bye!"})


class CustomChannel(channels.Channel):
    """Upstream ``CustomChannel`` (a bare GenServer there): joins steered by ``action``.

    Upstream answers the join itself (``GenServer.reply``); with our Channel class the same
    three outcomes are ``Ok(socket, reply)``, ``Error(reply)`` and a crash in ``join``.
    """

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any] | channels.Refuse:
        action = payload.get("action")
        if action == "ok":
            return channels.Accept(socket, {"action": "ok"})
        if action == "ignore":
            return channels.Refuse({"action": "ignore"})
        raise RuntimeError("oops")

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket) -> otp.Stop[Any]:
        # %Message{event: "close"} -> {:stop, :shutdown, socket}
        return channels.Stop(otp.SHUTDOWN, socket)


def _dicts(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    return dict(pairs)


class UserSocketConnectInfo(channels.Socket):
    routes = [("room:*", RoomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> channels.Accept[Any]:
        info = dict(connect_info)
        uri = info["uri"]
        info["uri"] = {"scheme": uri.scheme, "host": uri.host, "port": uri.port, "path": uri.path,
                       "query": uri.query}
        info["trace_context_headers"] = _dicts(info["trace_context_headers"])
        info["x_headers"] = _dicts(info["x_headers"])
        info["sec_websocket_headers"] = _dicts(info["sec_websocket_headers"])
        return channels.Accept(self.assign(user_id=params.get("user_id"), connect_info=info))

    def id(self) -> str | None:
        user_id = self.assigns["user_id"]
        return f"user_sockets:{user_id}" if user_id else None


class UserSocket(channels.Socket):
    routes = [("room:*", RoomChannel), ("custom:*", CustomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]
                      ) -> channels.Accept[Any] | channels.Refuse:
        if params.get("reject") == "true":
            return channels.Refuse()
        if params.get("ratelimit") == "true":
            return channels.Refuse("rate_limit")
        return channels.Accept(self.assign(user_id=params.get("user_id")))

    def id(self) -> str | None:
        user_id = self.assigns["user_id"]
        return f"user_sockets:{user_id}" if user_id else None


def handle_error(request: channels.Request, reason: Any) -> channels.Response:
    """Upstream ``UserSocket.handle_error/2``: ``:rate_limit`` becomes 429."""
    assert reason == "rate_limit"
    return channels.Response(429, [("content-type", "text/plain")], b"Too many requests")


class LimitedUserSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]
    max_channels_per_transport = 1


CHECK_ORIGIN = ["//example.com"]


def make_endpoint() -> channels.Endpoint:
    ws = channels.WebSocketOptions(timeout=0.2, error_handler=handle_error)
    plain = channels.WebSocketOptions(timeout=0.2)
    return channels.Endpoint(
        name="Conformance.WebSocketChannels",
        sockets=[
            channels.SocketMount("/ws", UserSocket, websocket=ws, check_origin=CHECK_ORIGIN),
            channels.SocketMount("/ws/admin", UserSocket, websocket=plain, check_origin=CHECK_ORIGIN),
            channels.SocketMount("/ws/limited", LimitedUserSocket, websocket=plain, check_origin=CHECK_ORIGIN),
            channels.SocketMount(
                "/ws/connect_info", UserSocketConnectInfo, websocket=plain, check_origin=CHECK_ORIGIN,
                connect_info=["trace_context_headers", "x_headers", "peer_data", "uri", "user_agent",
                              "sec_websocket_headers", ("signing_salt", "salt")],
            ),
        ],
        drainer=None,
    )


@pytest.fixture
async def ep(node: otp.Node) -> AsyncIterator[testing.RunningEndpoint]:
    async with testing.open_endpoint(make_endpoint()) as running:
        yield running


#: (vsn, join_ref) of upstream's ``for {serializer, vsn, join_ref} <- [...]``.
SERIALIZERS = [pytest.param("1.0.0", None, id="V1"), pytest.param("2.0.0", "11", id="V2")]


async def connect(ep: testing.RunningEndpoint, path: str, vsn: str | None,
                  headers: Sequence[tuple[str, str]] = ()) -> WebsocketClient:
    return await WebsocketClient.connect(ep.nursery, ep.port, path, vsn, headers)


def vsn_path(vsn: str, extra: str = "") -> str:
    return f"/ws/websocket?vsn={vsn}{extra}"


async def whereis(name: str) -> otp.Pid:
    pid = otp.whereis(name)
    assert pid is not None, f"no process registered as {name!r}"
    return pid


async def joined_connect_info(ep: testing.RunningEndpoint, vsn: str,
                              headers: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    sock = await connect(ep, f"/ws/connect_info/websocket?vsn={vsn}", vsn, headers)
    await sock.join(lobby(), {})
    joined = await sock.assert_receive(M(event="joined"))
    info: dict[str, Any] = joined.payload["connect_info"]
    return info


# -- adapter: ... - with #{vsn} serializer ----------------------------------------------------


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_endpoint_handles_multiple_mount_segments(ep: testing.RunningEndpoint, vsn: str,
                                                        join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "endpoint handles multiple mount segments"
    sock = await connect(ep, f"/ws/admin/websocket?vsn={vsn}", vsn)
    await sock.join("room:admin-lobby1", {})
    await sock.assert_receive(M(event="phx_reply", payload={"response": {}, "status": "ok"},
                                join_ref=join_ref, ref="1", topic="room:admin-lobby1"))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_join_leave_and_event_messages(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "join, leave, and event messages"
    sock = await connect(ep, vsn_path(vsn), vsn)
    topic = lobby()
    await sock.join(topic, {})
    await sock.assert_receive(M(event="phx_reply", join_ref=join_ref, payload={"response": {}, "status": "ok"},
                                ref="1", topic=topic))
    await sock.assert_receive(M(event="joined", join_ref=join_ref,
                                payload={"status": "connected", "user_id": None}))
    await sock.assert_receive(M(event="user_entered", payload={"user": None}, join_ref=None, ref=None,
                                topic=topic))
    channel_pid = await whereis(topic)
    assert otp.is_alive(channel_pid)

    await sock.send_event(topic, "new_msg", {"body": "hi!"})
    await sock.assert_receive(M(event="new_msg", payload={"transport": ":websocket", "body": "hi!"}))

    async with otp.open_mailbox():
        mref = otp.monitor(channel_pid)
        await sock.leave(topic, {})
        await sock.assert_receive(M(event="you_left", payload={"message": "bye!"}))
        await sock.assert_receive(M(event="phx_reply", payload={"status": "ok"}))
        await sock.assert_receive(M(event="phx_close", payload={}))
        await otp.receive(lambda m: type(m) is otp.Down and m.ref is mref, timeout=5)
    assert not otp.is_alive(channel_pid)

    await sock.send_event(topic, "new_msg", {"body": "Should ignore"})
    await sock.refute_receive(M(event="new_msg"))
    await sock.assert_receive(M(event="phx_reply", payload={"response": {"reason": "unmatched topic"}}))
    await sock.send_event(topic, "new_msg", {"body": "Should ignore"})
    await sock.refute_receive(M(event="new_msg"))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_rejects_the_101st_channel_join_by_default(ep: testing.RunningEndpoint, vsn: str,
                                                         join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "rejects the 101st channel join by default"
    sock = await connect(ep, vsn_path(vsn), vsn)
    prefix = f"room:limit-{next(_unique)}"
    for index in range(1, 101):
        topic = f"{prefix}-{index}"
        await sock.join(topic, {})
        await sock.assert_receive(M(event="phx_reply", payload={"response": {}, "status": "ok"}, topic=topic))
        await sock.assert_receive(M(event="joined", payload={"status": "connected", "user_id": None}, topic=topic))
        await sock.assert_receive(M(event="user_entered", payload={"user": None}, topic=topic))
    overflow_topic = f"{prefix}-101"
    await sock.join(overflow_topic, {})
    await sock.assert_receive(M(
        event="phx_reply", payload={"response": {"reason": "too many channels joined"}, "status": "error"},
        ref="101", topic=overflow_topic,
        # the client's join_ref for its 101st join (11 + 100), not the ref
        join_ref=None if join_ref is None else "111",
    ))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_honors_configured_max_channels_per_transport(ep: testing.RunningEndpoint, vsn: str,
                                                            join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "honors configured max_channels_per_transport"
    sock = await connect(ep, f"/ws/limited/websocket?vsn={vsn}", vsn)
    await sock.join("room:limited-1", {})
    await sock.assert_receive(M(event="phx_reply", payload={"response": {}, "status": "ok"}, ref="1",
                                topic="room:limited-1"))
    await sock.join("room:limited-2", {})
    await sock.assert_receive(M(
        event="phx_reply", payload={"response": {"reason": "too many channels joined"}, "status": "error"},
        ref="2", topic="room:limited-2", join_ref=None if join_ref is None else "12",
    ))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_x_headers_are_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport x_headers are extracted to the socket connect_info"
    info = await joined_connect_info(ep, vsn, [("x-application", "Phoenix")])
    assert info["x_headers"] == {"x-application": "Phoenix"}


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_sec_websocket_headers_are_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport sec-websocket-* headers are extracted to the socket connect_info"
    info = await joined_connect_info(ep, vsn, [
        ("sec-websocket-protocol", "phoenix, 123"),
        ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits=15"),
    ])
    headers = info["sec_websocket_headers"]
    assert headers["sec-websocket-protocol"] == "phoenix, 123"
    assert headers["sec-websocket-extensions"] == "permessage-deflate; client_max_window_bits=15"


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_trace_context_headers_are_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport trace_context_headers are extracted to the socket connect_info"
    ctx = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
           "tracestate": "congo=t61rcWkgMzE"}
    info = await joined_connect_info(ep, vsn, list(ctx.items()))
    assert info["trace_context_headers"] == ctx


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_peer_data_is_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport peer_data is extracted to the socket connect_info"
    info = await joined_connect_info(ep, vsn)
    peer = info["peer_data"]
    assert (peer["address"], type(peer["port"]), peer["ssl_cert"]) == ("127.0.0.1", int, None)


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_uri_is_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport uri is extracted to the socket connect_info"
    info = await joined_connect_info(ep, vsn)
    assert info["uri"] == {"host": "127.0.0.1", "path": "/ws/connect_info/websocket", "query": f"vsn={vsn}",
                           "scheme": "http", "port": ep.port}


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_user_agent_is_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport user agent is extracted to the socket connect_info"
    info = await joined_connect_info(ep, vsn, [("user-agent", "foo/1.0")])
    assert info["user_agent"] == "foo/1.0"


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_session_is_extracted_to_the_socket_connect_info(vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport session is extracted to the socket connect_info"
    # DIFFERENCE (README "Differences from Phoenix"): there is no Plug session or CSRF token
    # here, so the `session: [...]` connect_info key is refused when the mount is declared,
    # instead of at the first connection.
    with pytest.raises(ValueError, match="session"):
        channels.SocketMount("/ws/connect_info", UserSocketConnectInfo,
                             connect_info=["uri", ("session", {"store": "cookie", "key": "_hello_key"})])


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_transport_custom_keywords_are_extracted_to_the_socket_connect_info(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "transport custom keywords are extracted to the socket connect_info"
    info = await joined_connect_info(ep, vsn)
    assert info["signing_salt"] == "salt"


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_logs_user_socket_connect_when_enabled(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    # websocket_channels_test.exs: test "logs user socket connect when enabled"
    # DIFFERENCE (README "Differences from Phoenix"): no CONNECTED/JOINED/HANDLED
    # instrumentation logs (Phoenix's `log:` socket option): a connect is not logged, even
    # where upstream enables it (`logging=enabled`).
    with caplog.at_level(logging.DEBUG, logger="channels"):
        sock = await connect(ep, vsn_path(vsn, "&logging=enabled"), vsn)
        await sock.send_heartbeat()
        await sock.assert_receive(M(event="phx_reply", topic="phoenix"))
    assert "CONNECTED TO" not in caplog.text
    assert [r for r in caplog.records if r.name.startswith("channels")] == []


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_does_not_log_user_socket_connect_when_disabled(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None, caplog: pytest.LogCaptureFixture) -> None:
    # websocket_channels_test.exs: test "does not log user socket connect when disabled"
    with caplog.at_level(logging.DEBUG, logger="channels"):
        sock = await connect(ep, vsn_path(vsn), vsn)
        await sock.send_heartbeat()
        await sock.assert_receive(M(event="phx_reply", topic="phoenix"))
    assert [r for r in caplog.records if r.name.startswith("channels")] == []


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_logs_and_filter_params_on_join_and_handle_in(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None, caplog: pytest.LogCaptureFixture) -> None:
    # websocket_channels_test.exs: test "logs and filter params on join and handle_in"
    # DIFFERENCE (README "Differences from Phoenix"): joins and handle_in are not logged (no
    # JOINED/HANDLED lines), so no parameter is ever written to the log, filtered or not.
    topic = "room:admin-lobby2"
    sock = await connect(ep, vsn_path(vsn, "&logging=enabled"), vsn)
    with caplog.at_level(logging.DEBUG, logger="channels"):
        await sock.join(topic, {"join": "yes", "password": "no"})
        await sock.assert_receive(M(event="phx_reply", join_ref=join_ref, payload={"response": {}, "status": "ok"},
                                    ref="1", topic=topic))
        await sock.send_event(topic, "new_msg", {"in": "yes", "password": "no"})
        await sock.assert_receive(M(event="phx_reply", ref="2"))
    assert "no" not in [str(getattr(r, "args", "")) for r in caplog.records]
    assert not any("password" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_sends_phx_error_if_a_channel_server_abnormally_exits(ep: testing.RunningEndpoint, vsn: str,
                                                                    join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "sends phx_error if a channel server abnormally exits"
    sock = await connect(ep, vsn_path(vsn), vsn)
    topic = lobby()
    await sock.join(topic, {})
    await sock.assert_receive(M(event="phx_reply", ref="1", payload={"response": {}, "status": "ok"}))
    await sock.assert_receive(M(event="joined"))
    await sock.assert_receive(M(event="user_entered"))
    await sock.send_event(topic, "boom", {})
    # phx_error carries the client's join_ref as join_ref and ref (V1: the ref slot only)
    await sock.assert_receive(M(event="phx_error", payload={"reason": "channel_crash"}, topic=topic,
                                join_ref=join_ref, ref=join_ref))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_channels_are_terminated_if_transport_normally_exits(ep: testing.RunningEndpoint, vsn: str,
                                                                   join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "channels are terminated if transport normally exits"
    sock = await connect(ep, vsn_path(vsn), vsn)
    topic = lobby()
    await sock.join(topic, {})
    await sock.assert_receive(M(event="phx_reply", ref="1", payload={"response": {}, "status": "ok"}))
    await sock.assert_receive(M(event="joined"))
    channel = await whereis(topic)
    async with otp.open_mailbox():
        mref = otp.monitor(channel)
        await sock.close()
        down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is mref, timeout=5)
    assert down.reason in (otp.SHUTDOWN, otp.Shutdown("closed"), otp.Shutdown("local_closed"))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_refuses_websocket_events_that_havent_joined(ep: testing.RunningEndpoint, vsn: str,
                                                           join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "refuses websocket events that haven't joined"
    sock = await connect(ep, vsn_path(vsn), vsn)
    await sock.send_event(lobby(), "new_msg", {"body": "hi!"})
    await sock.refute_receive(M(event="new_msg"))
    await sock.assert_receive(M(event="phx_reply", payload={"response": {"reason": "unmatched topic"}},
                                join_ref=None))
    await sock.send_event(lobby(), "new_msg", {"body": "Should ignore"})
    await sock.refute_receive(M(event="new_msg"))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_refuses_unallowed_origins(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "refuses unallowed origins"
    await connect(ep, vsn_path(vsn), vsn, [("origin", "https://example.com")])
    with pytest.raises(Rejected) as refused:
        await connect(ep, vsn_path(vsn), vsn, [("origin", "http://notallowed.com")])
    assert refused.value.status_code == 403


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_refuses_connects_that_error_with_403_response(ep: testing.RunningEndpoint, vsn: str,
                                                             join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "refuses connects that error with 403 response"
    with pytest.raises(Rejected) as refused:
        await connect(ep, vsn_path(vsn, "&reject=true"), vsn)
    assert refused.value.status_code == 403


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_refuses_connects_that_error_with_custom_error_response(ep: testing.RunningEndpoint, vsn: str,
                                                                      join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "refuses connects that error with custom error response"
    with pytest.raises(Rejected) as refused:
        await connect(ep, vsn_path(vsn, "&ratelimit=true"), vsn)
    assert refused.value.status_code == 429
    assert refused.value.body == b"Too many requests"
    # the same Error("rate_limit") on a mount without an error_handler stays 403
    with pytest.raises(Rejected) as default:
        await connect(ep, f"/ws/admin/websocket?vsn={vsn}&ratelimit=true", vsn)
    assert default.value.status_code == 403


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_shuts_down_when_receiving_disconnect_broadcasts_on_sockets_id(
        ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "shuts down when receiving disconnect broadcasts on socket's id"
    sock = await connect(ep, vsn_path(vsn, "&user_id=1001"), vsn)
    await sock.join("room:wsdisconnect1", {})
    await sock.assert_receive(M(topic="room:wsdisconnect1", event="phx_reply", ref="1",
                                payload={"response": {}, "status": "ok"}))
    await sock.join("room:wsdisconnect2", {})
    await sock.assert_receive(M(topic="room:wsdisconnect2", event="phx_reply", ref="2",
                                payload={"response": {}, "status": "ok"}))
    chan1 = await whereis("room:wsdisconnect1")
    chan2 = await whereis("room:wsdisconnect2")
    async with otp.open_mailbox():
        refs = {otp.monitor(chan1): chan1, otp.monitor(chan2): chan2}
        ep.broadcast("user_sockets:1001", "disconnect", {})
        await sock.assert_down()
        await sock.assert_receive(Closed(1001, ANY))
        for _ in range(2):
            down = await otp.receive(lambda m: type(m) is otp.Down and m.ref in refs, timeout=5)
            assert down.reason in (otp.SHUTDOWN, otp.Shutdown("closed"), otp.Shutdown("disconnected"))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_duplicate_join_event_closes_existing_channel(ep: testing.RunningEndpoint, vsn: str,
                                                            join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "duplicate join event closes existing channel"
    sock = await connect(ep, vsn_path(vsn, "&user_id=1001"), vsn)
    await sock.join("room:joiner", {})
    await sock.assert_receive(M(topic="room:joiner", event="phx_reply", ref="1",
                                payload={"response": {}, "status": "ok"}, join_ref=join_ref))
    await sock.join("room:joiner", {})
    await sock.assert_receive(M(topic="room:joiner", event="phx_reply", ref="2",
                                payload={"response": {}, "status": "ok"},
                                join_ref=None if join_ref is None else "12"))
    # and the old join is closed with its own join_ref (V1: in the ref slot only)
    await sock.assert_receive(M(topic="room:joiner", event="phx_close", payload={}, ref=join_ref,
                                join_ref=join_ref))


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_returns_403_when_versions_to_not_match(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # websocket_channels_test.exs: test "returns 403 when versions to not match"
    with pytest.raises(Rejected) as refused:
        await connect(ep, "/ws/websocket?vsn=123.1.1", vsn)
    assert refused.value.status_code == 403
    assert 'The client\'s requested transport version "123.1.1" does not match server\'s version' in caplog.text


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_shuts_down_if_client_goes_quiet(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None) -> None:
    # websocket_channels_test.exs: test "shuts down if client goes quiet" (timeout: 200 ms)
    sock = await connect(ep, vsn_path(vsn), vsn)
    await sock.send_heartbeat()
    await sock.assert_receive(M(event="phx_reply", payload={"response": {}, "status": "ok"}, ref="1",
                                topic="phoenix", join_ref=None))
    await sock.assert_down(timeout=5)


@pytest.mark.parametrize(("vsn", "join_ref"), SERIALIZERS)
async def test_warns_for_unmatched_topic(ep: testing.RunningEndpoint, vsn: str, join_ref: str | None,
                                         caplog: pytest.LogCaptureFixture) -> None:
    # websocket_channels_test.exs: test "warns for unmatched topic"
    sock = await connect(ep, vsn_path(vsn, "&logging=enabled"), vsn)
    await sock.join("unmatched-topic", {})
    await sock.assert_receive(M(event="phx_reply", ref="1", topic="unmatched-topic", join_ref=None,
                                payload={"status": "error", "response": {"reason": "unmatched topic"}}))
    assert 'Ignoring unmatched topic "unmatched-topic" in UserSocket' in caplog.text


# -- adapter: ... - custom channels -------------------------------------------------------------


async def test_join_ignore_error_and_event_messages(ep: testing.RunningEndpoint) -> None:
    # websocket_channels_test.exs: describe "custom channels", test "join, ignore, error, and event messages"
    sock = await connect(ep, vsn_path("2.0.0"), "2.0.0")
    await sock.join("custom:ignore", {"action": "ignore"})
    await sock.assert_receive(M(event="phx_reply", join_ref="11", ref="1", topic="custom:ignore",
                                payload={"response": {"action": "ignore"}, "status": "error"}))
    await sock.join("custom:error", {"action": "error"})
    await sock.assert_receive(M(event="phx_reply", join_ref="12", ref="2", topic="custom:error",
                                payload={"response": {"reason": "join crashed"}, "status": "error"}))
    await sock.join("custom:ok", {"action": "ok"})
    await sock.assert_receive(M(event="phx_reply", join_ref="13", ref="3", topic="custom:ok",
                                payload={"response": {"action": "ok"}, "status": "ok"}))
    await sock.send_event("custom:ok", "close", {"body": "bye!"})
    await sock.assert_receive(M(event="phx_close", payload={}, join_ref="13", ref="13"))


# -- adapter: ... - binary ----------------------------------------------------------------------------


async def test_messages_can_be_pushed_and_received(ep: testing.RunningEndpoint) -> None:
    # websocket_channels_test.exs: describe "binary", test "messages can be pushed and received"
    topic = "room:bin"
    sock = await connect(ep, vsn_path("2.0.0"), "2.0.0")
    await sock.join(topic, {})
    await sock.assert_receive(M(event="phx_reply", payload={"response": {}, "status": "ok"}, join_ref="11",
                                ref="1", topic=topic))
    await sock.send_event(topic, "binary_event", Binary(b"\x01\x02"))
    await sock.assert_receive(M(event="phx_reply", payload={"response": Binary(b"\x01\x02\x03\x04"), "status": "ok"},
                                join_ref="11", ref="2", topic=topic))
    await sock.assert_receive(M(event="binary_event", join_ref="11", payload=Binary(b"\x00\x01")))

