"""§2.1-§2.4 over real sockets: vsn negotiation, connect refusal, check_origin, auth token,
socket id and the "disconnect" broadcast."""

from __future__ import annotations

import orjson
import pytest

import channels
import otp
from channels import testing

from ..http._support import RawClient
from ._app import AUTH_TOKEN, events, make_endpoint


async def test_missing_vsn_selects_v1_json_objects_without_join_ref(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, vsn=None)
    await client.send_text('{"topic":"room:1","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}')
    assert orjson.loads(await client.receive_frame()) == {
        "event": "phx_reply", "payload": {"response": {}, "status": "ok"}, "ref": "1", "topic": "room:1"}
    await client.send_text('{"topic":"room:1","event":"push","payload":{"event":"hi"},"ref":"2"}')
    assert orjson.loads(await client.receive_frame()) == {
        "event": "hi", "payload": {}, "ref": None, "topic": "room:1"}
    ep.broadcast("room:1", "news", {"n": 1})
    assert orjson.loads(await client.receive_frame()) == {
        "event": "news", "payload": {"n": 1}, "ref": None, "topic": "room:1"}


async def test_v1_client_without_join_ref_gets_phx_close_with_null_ref(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, vsn="1.0.0")
    await client.send_text('{"topic":"room:1","event":"phx_join","payload":{},"ref":"1"}')
    await client.assert_reply("1", "ok", {})
    await client.send_text('{"topic":"room:1","event":"stop","payload":{},"ref":"2"}')
    assert orjson.loads(await client.receive_frame()) == {
        "event": "phx_close", "payload": {}, "ref": None, "topic": "room:1"}


async def test_vsn_2_selects_v2_arrays(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, vsn="2.0.0")
    await client.send_text('["1","1","room:1","phx_join",{}]')
    assert orjson.loads(await client.receive_frame()) == ["1", "1", "room:1", "phx_reply",
                                                          {"response": {}, "status": "ok"}]


@pytest.mark.parametrize("vsn", ["123.1.1", "2.1.0", "2.0", "abc"])
async def test_unsupported_vsn_is_refused_with_403(
        ep: testing.RunningEndpoint, vsn: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(testing.ConnectRejected) as info:
        await testing.connect(ep, vsn=vsn)
    assert info.value.status_code == 403
    assert any("does not match server's version requirements" in r.getMessage() for r in caplog.records)


async def test_vsn_as_a_list_is_refused_with_403(ep: testing.RunningEndpoint) -> None:
    with pytest.raises(testing.ConnectRejected) as info:
        await testing.connect(ep, query="vsn[]=2.0.0")
    assert info.value.status_code == 403


async def test_connect_refusing_answers_403(ep: testing.RunningEndpoint) -> None:
    with pytest.raises(testing.ConnectRejected) as info:
        await testing.connect(ep, params={"refuse": "1"})
    assert info.value.status_code == 403
    assert not info.value.body


async def test_cross_origin_request_is_refused_with_403_and_logged(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(testing.ConnectRejected) as info:
        await testing.connect(ep, "/strict", headers={"origin": "http://evil.example"})
    assert info.value.status_code == 403
    assert any("Could not check origin" in r.getMessage() for r in caplog.records)
    # No origin header: allowed; same host: allowed.
    await testing.connect(ep, "/strict")
    await testing.connect(ep, "/strict", headers={"origin": f"http://{ep.host}:{ep.port}"})
    # check_origin=False on the endpoint applies to the other mounts.
    await testing.connect(ep, "/socket", headers={"origin": "http://evil.example"})


async def test_auth_token_in_sec_websocket_protocol_selects_phoenix(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, "/auth", auth_token=AUTH_TOKEN)
    assert client.subprotocol == "phoenix"
    assert await client.join("room:1") == ("ok", {})


async def test_wrong_or_missing_auth_token_is_refused(ep: testing.RunningEndpoint) -> None:
    for token in ("wrong", None):
        with pytest.raises(testing.ConnectRejected) as info:
            await testing.connect(ep, "/auth", auth_token=token)
        assert info.value.status_code == 403


async def test_malformed_auth_token_is_refused(ep: testing.RunningEndpoint) -> None:
    with pytest.raises(testing.ConnectRejected) as info:
        await testing.connect(ep, "/auth", subprotocols=["phoenix", "base64url.bearer.phx.!!!"])
    assert info.value.status_code == 403


async def test_path_params_and_query_params_reach_connect(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, params={"user": "zed"})
    assert await client.join("room:1") == ("ok", {})
    assert ep.transport_of("user:zed").pid is not None


# -- socket id and disconnect -------------------------------------------------------------------


async def test_disconnect_broadcast_closes_every_socket_of_that_id_with_1001(
        ep: testing.RunningEndpoint) -> None:
    ann1 = await testing.connect(ep, params={"user": "ann"})
    ann2 = await testing.connect(ep, params={"user": "ann"})
    bob = await testing.connect(ep, params={"user": "bob"})
    for client in (ann1, ann2, bob):
        assert await client.join("room:1") == ("ok", {})
    assert len(ep.subscribers("user:ann")) == 2
    ep.broadcast("user:ann", "disconnect", {})
    for client in (ann1, ann2):
        await client.assert_closed(1001)
        await client.refute_any()  # no phx_close / phx_error
    await bob.settle()
    assert events("terminate") == [otp.Shutdown("disconnected")] * 2
    assert ep.subscribers("user:ann") == []
    assert ep.channel_topics() == ["room:1"]
    ref = await bob.push("room:1", "echo", {"bob": "ok"})
    await bob.assert_reply(ref, "ok", {"bob": "ok"})


async def test_other_events_on_the_socket_id_topic_are_ignored(ep: testing.RunningEndpoint) -> None:
    ann = await testing.connect(ep, params={"user": "ann"})
    ep.broadcast("user:ann", "something_else", {})
    await ann.refute_any()
    assert ann.closed is None
    await ann.assert_reply(await ann.heartbeat(), "ok", {})


async def test_socket_without_id_is_not_subscribed(ep: testing.RunningEndpoint) -> None:
    await testing.connect(ep)
    client = await testing.connect(ep, params={"user": "x"})
    await client.settle()
    assert [t for t in ("user:x", "user:None") if ep.subscribers(t)] == ["user:x"]


@pytest.mark.parametrize(("mode", "status"), [("garbage", 403), ("bad_id", 403), ("raise", 500)])
async def test_invalid_connect_results_are_refused_and_logged(
        ep: testing.RunningEndpoint, mode: str, status: int, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(testing.ConnectRejected) as info:
        await testing.connect(ep, "/odd", params={"mode": mode})
    assert info.value.status_code == status
    assert [r for r in caplog.records if r.levelname == "ERROR"]
    client = await testing.connect(ep, "/odd", params={"mode": "fine"})
    assert await client.join("room:1") == ("ok", {})


async def test_non_get_request_on_the_websocket_path_gets_400(ep: testing.RunningEndpoint) -> None:
    raw = await RawClient.connect(ep.port)
    await raw.send(b"POST /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
    assert (await raw.read_response()).status == 400
    await raw.stream.aclose()


async def test_invalid_upgrade_headers_get_400_naming_the_problem(ep: testing.RunningEndpoint) -> None:
    raw = await RawClient.connect(ep.port)
    await raw.send(b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n"
                   b"upgrade: websocket\r\nsec-websocket-version: 13\r\n"
                   b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    response = await raw.read_response()
    assert response.status == 400
    assert b"'connection' header must contain 'upgrade'" in response.body
    await raw.stream.aclose()


async def test_configured_subprotocols_select_the_first_match_or_refuse(node: otp.Node) -> None:
    ws = channels.WebSocketOptions(subprotocols=("chat.v2", "chat.v1"))
    async with testing.open_endpoint(make_endpoint(websocket=ws)) as ep:
        assert (await testing.connect(ep, subprotocols=["chat.v1", "chat.v2"])).subprotocol == "chat.v2"
        assert (await testing.connect(ep)).subprotocol is None
        with pytest.raises(testing.ConnectRejected) as info:
            await testing.connect(ep, subprotocols=["other"])
        assert info.value.status_code == 403
