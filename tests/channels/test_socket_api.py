"""The socket and transport API of issue 12 at its edges: mount validation, error handlers,
transport paths, raw transports over long-poll, control frames, and custom HTTP routes.

The Phoenix scenarios themselves are in ``tests/conformance/``; these are the cases Phoenix's
suites do not reach (refusals at declaration, handlers that fail, what long-poll cannot carry).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

import channels
import otp
from channels import testing
from tests.conformance._wire import Closed, Control, Rejected, Text, WebsocketClient, http_request


class Plain(channels.Socket):
    routes = ()


class Refusing(channels.Socket):
    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]
                      ) -> channels.Accept[Any] | channels.Refuse:
        return channels.Refuse(params.get("why", "no")) if params.get("why") != "none" else channels.Refuse()


class Raw(channels.Transport):
    """``bin`` replies binary, ``ping`` a ping, ``stop`` stops; pongs from the client stop too."""

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> channels.Accept[Any]:
        return channels.Accept({"transport": self.transport, "terminated": None})

    async def handle_in(self, data: str | bytes, state: Any) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        if data == "bin":
            return channels.Reply(b"\x00\x01", state)
        if data == "ping":
            return channels.Reply(channels.Ping(b"p"), state)
        if data == "stop":
            return channels.Stop(otp.NORMAL, state)
        if data == "junk":
            return channels.Reply(42, state)
        return channels.Reply(f"{state['transport']}:{data}", state)

    async def handle_control(self, opcode: str, payload: bytes, state: Any) -> otp.NoReply[Any] | otp.Stop[Any]:
        if opcode == "pong" and payload == b"bye":
            return channels.Stop(otp.NORMAL, state)
        return channels.NoReply(state)

    async def terminate(self, reason: otp.ExitReason, state: Any) -> None:
        if otp.whereis("observer") is not None:
            otp.send("observer", ("terminated", state["transport"], reason))


def crashing_handler(request: channels.Request, reason: Any) -> channels.Response:
    raise RuntimeError("the error handler crashed")


def teapot(request: channels.Request, reason: Any) -> channels.Response:
    return channels.Response.text(f"refused: {reason}", status=418)


async def hello(request: channels.Request, body: channels.BodyReader) -> channels.Response:
    return channels.Response.text(f"hello {request.path}")


def make_endpoint() -> channels.Endpoint:
    return channels.Endpoint(
        name="SocketAPI.Endpoint",
        check_origin=False,
        sockets=[
            channels.SocketMount("/raw", Raw, longpoll=channels.LongPollOptions(window_ms=200)),
            channels.SocketMount("/refusing", Refusing,
                                 websocket=channels.WebSocketOptions(error_handler=teapot),
                                 longpoll=channels.LongPollOptions(error_handler=teapot)),
            channels.SocketMount("/crashing", Refusing,
                                 websocket=channels.WebSocketOptions(error_handler=crashing_handler)),
        ],
        routes=[channels.Route("/hello", hello, methods=("GET",))],
        drainer=None,
    )


@pytest.fixture
async def ep(node: otp.Node) -> Any:
    async with testing.open_endpoint(make_endpoint()) as running:
        yield running


# -- declaration -------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"handler": dict}, "must be a channels.Socket or channels.Transport subclass"),
    ({"handler": Plain, "websocket": False}, "enables no transport"),
    ({"handler": Raw, "partitions": 2}, "partitions is for channel sockets"),
    ({"handler": Plain, "connect_info": ["session"]}, "'session' is not supported"),
    ({"handler": Plain, "connect_info": [("session", {"key": "_k"})]}, "'session' is not supported"),
    ({"handler": Plain, "connect_info": ["peer"]}, "unsupported connect_info key 'peer'"),
])
def test_a_mount_refuses_what_is_not_supported_when_declared(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        channels.SocketMount("/s", **kwargs)


def test_a_raw_transport_may_be_mounted_on_long_poll_alone() -> None:
    mount = channels.SocketMount("/raw", Raw, websocket=False, longpoll=True)
    assert mount.transport_path("longpoll") == "/raw/longpoll"


@pytest.mark.parametrize(("mount", "suffix", "path"), [
    ("/socket", "/websocket", "/socket/websocket"),
    ("/socket/", "nested/path", "/socket/nested/path"),
    ("/custom/:a", ":b/path", "/custom/:a/:b/path"),
])
def test_transport_paths_join_the_mount_path_and_the_path_option(mount: str, suffix: str, path: str) -> None:
    socket_mount = channels.SocketMount(mount, Plain, websocket=channels.WebSocketOptions(path=suffix))
    assert socket_mount.transport_path("websocket") == path


def test_a_ping_payload_is_at_most_125_bytes() -> None:
    assert channels.Ping(b"x" * 125).payload == b"x" * 125
    with pytest.raises(ValueError, match="at most 125 bytes"):
        channels.Ping(b"x" * 126)


def test_a_route_path_starts_with_a_slash() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        channels.Route("hello", hello)


# -- error handlers ------------------------------------------------------------------------------


async def test_refuse_with_a_reason_goes_to_the_error_handler_and_a_bare_refuse_stays_403(
        ep: testing.RunningEndpoint) -> None:
    with pytest.raises(Rejected) as handled:
        await WebsocketClient.connect(ep.nursery, ep.port, "/refusing/websocket?why=busy", "2.0.0")
    assert (handled.value.status_code, handled.value.body) == (418, b"refused: busy")
    with pytest.raises(Rejected) as plain:
        await WebsocketClient.connect(ep.nursery, ep.port, "/refusing/websocket?why=none", "2.0.0")
    assert plain.value.status_code == 403
    # long-poll: the handler's response as it is (long-poll's own answers are always HTTP 200)
    resp = await http_request(ep.port, "GET", "/refusing/longpoll?why=busy")
    assert (resp.status, resp.body) == (418, b"refused: busy")
    resp = await http_request(ep.port, "GET", "/refusing/longpoll?why=none")
    assert (resp.status, resp.json()["status"]) == (200, 403)


async def test_an_error_handler_that_crashes_answers_500_and_is_logged(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(Rejected) as refused:
        await WebsocketClient.connect(ep.nursery, ep.port, "/crashing/websocket?why=busy", "2.0.0")
    assert refused.value.status_code == 500
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "the error_handler of Refusing crashed"]


# -- raw transports ------------------------------------------------------------------------------


async def test_a_raw_transport_knows_its_transport_and_serves_long_poll(ep: testing.RunningEndpoint) -> None:
    ws = await WebsocketClient.connect(ep.nursery, ep.port, "/raw/websocket", None)
    await ws.send("hi")
    await ws.assert_receive(Text("websocket:hi"))
    opened = (await http_request(ep.port, "GET", "/raw/longpoll")).json()
    headers = {"x-phoenix-longpoll-token": opened["token"], "content-type": "application/x-ndjson"}
    assert (await http_request(ep.port, "POST", "/raw/longpoll", headers, b'["a"]\n["b"]')).json() == {"status": 200}
    polled = (await http_request(ep.port, "GET", "/raw/longpoll", headers)).json()
    assert polled["messages"] == ['longpoll:["a"]', 'longpoll:["b"]']
    await ws.close()


async def test_long_poll_drops_what_it_cannot_carry_binary_and_pings(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    opened = (await http_request(ep.port, "GET", "/raw/longpoll")).json()
    headers = {"x-phoenix-longpoll-token": opened["token"], "content-type": "application/json"}
    for body in (b"bin", b"ping", b"after"):
        assert (await http_request(ep.port, "POST", "/raw/longpoll", headers, body)).json() == {"status": 200}
    assert (await http_request(ep.port, "GET", "/raw/longpoll", headers)).json()["messages"] == ["longpoll:after"]
    assert "dropping a binary frame" in caplog.text


async def test_a_stop_ends_a_long_poll_session_and_runs_terminate(ep: testing.RunningEndpoint) -> None:
    async with otp.open_mailbox(name="observer"):
        opened = (await http_request(ep.port, "GET", "/raw/longpoll")).json()
        headers = {"x-phoenix-longpoll-token": opened["token"], "content-type": "application/json"}
        assert (await http_request(ep.port, "POST", "/raw/longpoll", headers, b"stop")).json() == {"status": 200}
        assert await otp.receive(lambda m: m[0] == "terminated", timeout=5) == ("terminated", "longpoll", otp.NORMAL)
        assert (await http_request(ep.port, "POST", "/raw/longpoll", headers, b"x")).json() == {"status": 410}


async def test_handle_control_sees_the_clients_pong_to_a_server_ping_and_may_stop(
        ep: testing.RunningEndpoint) -> None:
    async with otp.open_mailbox(name="observer"):
        ws = await WebsocketClient.connect(ep.nursery, ep.port, "/raw/websocket", None)
        await ws.send("ping")
        await ws.assert_receive(Control("ping", b"p"))  # the client answered with pong "p"
        await ws.send(Control("pong", b"bye"))  # an unsolicited pong: handle_control stops
        await ws.assert_receive(Closed(1000, ""))
        assert await otp.receive(lambda m: m[0] == "terminated", timeout=5) == ("terminated", "websocket", otp.NORMAL)


async def test_a_reply_that_is_not_str_bytes_or_ping_crashes_the_connection(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    ws = await WebsocketClient.connect(ep.nursery, ep.port, "/raw/websocket", None)
    await ws.send("junk")
    await ws.assert_down()
    assert "Raw.handle_in replied with 42; expected str, bytes or Ping" in caplog.text


# -- custom routes --------------------------------------------------------------------------------


async def test_a_route_answers_its_path_and_below_and_other_methods_get_405(ep: testing.RunningEndpoint) -> None:
    assert (await http_request(ep.port, "GET", "/hello")).body == b"hello /hello"
    assert (await http_request(ep.port, "GET", "/hello/there")).body == b"hello /hello/there"
    assert (await http_request(ep.port, "GET", "/hellothere")).status == 404
    refused = await http_request(ep.port, "POST", "/hello")
    assert (refused.status, refused.header("allow")) == (405, "GET")
