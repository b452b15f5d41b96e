"""Port of Phoenix's ``test/phoenix/integration/websocket_socket_test.exs``.

Source: phoenixframework/phoenix @ 167c469 (v1.8.12 for these files). One test per upstream
test, named after its description and citing it; upstream runs each under two adapters, we
have one server. The sockets are raw transports (``Phoenix.Socket.Transport`` there,
``channels.Transport`` here), talked to with ``_wire.WebsocketClient`` in ``:noop`` mode
(raw text frames, pings and pongs as ``Control`` items).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

import channels
import otp
from channels import testing

from ._wire import Control, Rejected, Text, WebsocketClient, http_request


class UserSocket(channels.Transport):
    """Upstream ``UserSocket``: replies its connect params, or "pong" asynchronously."""

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> channels.Accept[Any]:
        assert self.transport == "websocket"  # %{transport: :websocket} = map
        return channels.Accept(("params", dict(params)))

    async def handle_in(self, data: str | bytes, state: Any) -> otp.Reply[Any] | otp.NoReply[Any]:
        if data == "params":
            # {:reply, :ok, {:text, inspect(params)}, state}: JSON is our inspect
            return channels.Reply(json.dumps(state[1], sort_keys=True), state)
        if data == "ping":
            otp.send(otp.self(), "ping")
        return channels.NoReply(state)

    async def handle_info(self, msg: Any, state: Any) -> otp.Reply[Any] | otp.NoReply[Any]:
        if msg == "ping":
            return channels.Reply("pong", state)  # {:push, {:text, "pong"}, state}
        return channels.NoReply(state)


class PingSocket(channels.Transport):
    """Upstream ``PingSocket``: sends pings on request and reports control frames as text."""

    async def handle_in(self, data: str | bytes, state: Any) -> otp.Reply[Any] | otp.NoReply[Any]:
        if data == "ping:start":
            return channels.Reply(channels.Ping(), state)  # {:reply, :ok, {:ping, <<>>}, state}
        if isinstance(data, str) and data.startswith("ping:start:"):
            return channels.Reply(channels.Ping(data.removeprefix("ping:start:").encode()), state)
        return channels.NoReply(state)

    async def handle_control(self, opcode: str, payload: bytes, state: Any) -> otp.Reply[Any]:
        return channels.Reply(f"{opcode}:{payload.decode()}", state)  # {:push, {:text, "#{opcode}:#{payload}"}, s}


CHECK_ORIGIN = ["//example.com"]


def make_endpoint() -> channels.Endpoint:
    return channels.Endpoint(
        name="Conformance.WebSocketSocket",
        sockets=[
            channels.SocketMount("/ws", UserSocket, check_origin=CHECK_ORIGIN,
                                 websocket=channels.WebSocketOptions(subprotocols=("sip",), timeout=0.2)),
            channels.SocketMount("/custom/some_path", UserSocket, check_origin=CHECK_ORIGIN,
                                 websocket=channels.WebSocketOptions(path="nested/path", timeout=0.2)),
            channels.SocketMount("/custom/:socket_var", UserSocket, check_origin=CHECK_ORIGIN,
                                 websocket=channels.WebSocketOptions(path=":path_var/path", timeout=0.2)),
            channels.SocketMount("/ws/ping", PingSocket),
        ],
        check_origin=False,
        drainer=None,
    )


@pytest.fixture
async def ep(node: otp.Node) -> AsyncIterator[testing.RunningEndpoint]:
    async with testing.open_endpoint(make_endpoint()) as running:
        yield running


PATH = "/ws/websocket"


async def connect(ep: testing.RunningEndpoint, path: str, headers: list[tuple[str, str]] | None = None
                  ) -> WebsocketClient:
    return await WebsocketClient.connect(ep.nursery, ep.port, path, None, headers or [])


async def test_handles_invalid_upgrade_requests(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "handles invalid upgrade requests"
    resp = await http_request(ep.port, "GET", PATH)
    assert resp.status == 400
    assert "'connection' header must contain 'upgrade'" in resp.body.decode()


async def test_refuses_unallowed_origins(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "refuses unallowed origins"
    await connect(ep, PATH, [("origin", "https://example.com")])
    with pytest.raises(Rejected) as refused:
        await connect(ep, PATH, [("origin", "http://notallowed.com")])
    assert refused.value.status_code == 403


async def test_refuses_unallowed_websocket_subprotocols(ep: testing.RunningEndpoint,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    # websocket_socket_test.exs: test "refuses unallowed Websocket subprotocols"
    with caplog.at_level(logging.WARNING, logger="channels"):
        await connect(ep, PATH, [("sec-websocket-protocol", "sip")])
        await connect(ep, PATH, [])
        with pytest.raises(Rejected) as refused:
            await connect(ep, PATH, [("sec-websocket-protocol", "mqtt")])
    assert refused.value.status_code == 403
    assert "Could not check Websocket subprotocols" in caplog.text


async def test_returns_params_with_sync_request(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "returns params with sync request"
    client = await connect(ep, f"{PATH}?key=value")
    await client.send("params")
    await client.assert_receive(Text(json.dumps({"key": "value"})))


async def test_ignores_control_frames_when_handle_control_is_not_defined(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "ignores control frames when handle_control/2 is not defined"
    client = await connect(ep, PATH)
    await client.send(Control("ping", b""))  # WebsocketClient.send(client, :ping)
    await client.send("ping")  # WebsocketClient.send(client, {:text, "ping"})
    await client.assert_receive(Text("pong"))
    await client.assert_receive(Control("pong", b""))  # the server still answers the ping
    await client.refute_receive(lambda m: isinstance(m, Text) and m.text != "pong")


async def test_returns_pong_from_async_request(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "returns pong from async request"
    client = await connect(ep, f"{PATH}?key=value")
    await client.send("ping")
    await client.assert_receive(Text("pong"))


async def test_allows_a_custom_path(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "allows a custom path"
    client = await connect(ep, "/custom/some_path/nested/path?key=value")
    await client.send("params")
    await client.assert_receive(Text(json.dumps({"key": "value"})))


async def test_allows_a_path_with_variables(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "allows a path with variables"
    client = await connect(ep, "/custom/123/456/path?key=value")
    await client.send("params")
    params = await client.assert_receive(lambda m: isinstance(m, Text))
    assert json.loads(params.text) == {"key": "value", "socket_var": "123", "path_var": "456"}


async def test_allows_using_control_frames_with_a_payload(ep: testing.RunningEndpoint) -> None:
    # websocket_socket_test.exs: test "allows using control frames with a payload"
    client = await connect(ep, "/ws/ping/websocket")
    await client.send(Control("ping", b""))
    await client.assert_receive(Control("pong", b""))
    await client.assert_receive(Text("ping:"))

    await client.send(Control("ping", b"123"))
    await client.assert_receive(Control("pong", b"123"))
    await client.assert_receive(Text("ping:123"))

    await client.send("ping:start")
    await client.assert_receive(Control("ping", b""))
    await client.assert_receive(Text("pong:"))

    await client.send("ping:start:123")
    await client.assert_receive(Control("ping", b"123"))
    await client.assert_receive(Text("pong:123"))
