"""Port of Phoenix's ``test/phoenix/integration/long_poll_socket_test.exs``.

Source: phoenixframework/phoenix @ 167c469 (v1.8.12 for these files). One test per upstream
test, named after its description and citing it; upstream runs each under two adapters, we
have one server. The socket is a raw transport (``channels.Transport``) served over
long-poll: each POST body is one ``handle_in`` (text), replies and pushes are the poll's
``messages``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import trio.testing

import channels
import otp
from channels import testing

from ._wire import HTTPResponse, http_request, query

TOKEN_HEADER = "x-phoenix-longpoll-token"


class UserSocket(channels.Transport):
    """Upstream ``UserSocket``: replies its connect params, or "pong" asynchronously."""

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> channels.Accept[Any]:
        assert self.transport == "longpoll"  # %{transport: :longpoll} = map
        return channels.Accept(("params", dict(params)))

    async def handle_in(self, data: str | bytes, state: Any) -> otp.Reply[Any] | otp.NoReply[Any]:
        if data == "params":
            return channels.Reply(json.dumps(state[1], sort_keys=True), state)
        if data == "ping":
            otp.send(otp.self(), "ping")
        return channels.NoReply(state)

    async def handle_info(self, msg: Any, state: Any) -> otp.Reply[Any] | otp.NoReply[Any]:
        if msg == "ping":
            return channels.Reply("pong", state)
        return channels.NoReply(state)


def make_endpoint() -> channels.Endpoint:
    return channels.Endpoint(
        name="Conformance.LongPollSocket",
        sockets=[
            channels.SocketMount("/ws", UserSocket, websocket=False, check_origin=["//example.com"],
                                 longpoll=channels.LongPollOptions(window_ms=200, pubsub_timeout_ms=200)),
            channels.SocketMount("/custom/:socket_var", UserSocket, websocket=False,
                                 check_origin=["//example.com"],
                                 longpoll=channels.LongPollOptions(path=":path_var/path", pubsub_timeout_ms=200)),
        ],
        secret_key_base="abcdefgh" * 8,
        drainer=None,
    )


@pytest.fixture
async def ep(node: otp.Node) -> AsyncIterator[testing.RunningEndpoint]:
    async with testing.open_endpoint(make_endpoint()) as running:
        yield running


async def poll(ep: testing.RunningEndpoint, method: str, path: str, params: Mapping[str, Any],
               body: str | None = None, headers: Mapping[str, str] | None = None) -> tuple[HTTPResponse, Any]:
    """Upstream ``poll/5``: the token goes in the ``x-phoenix-longpoll-token`` header."""
    params = dict(params)
    token = params.pop("token", None)
    hs = dict(headers or {})
    if token is not None:
        hs[TOKEN_HEADER] = token
    return await poll_with_token_in_params(ep, method, path, params, body, hs)


async def poll_with_token_in_params(ep: testing.RunningEndpoint, method: str, path: str,
                                    params: Mapping[str, Any], body: str | None = None,
                                    headers: Mapping[str, str] | None = None) -> tuple[HTTPResponse, Any]:
    if method == "GET":
        # Let the session handle what a POST left in its mailbox (the async "pong") first.
        await trio.testing.wait_all_tasks_blocked()
    hs = {"content-type": "application/json", **(headers or {})}
    resp = await http_request(ep.port, method, f"/{path}?{query(params)}", hs, (body or "").encode())
    return resp, resp.json()


async def test_refuses_unallowed_origins(ep: testing.RunningEndpoint) -> None:
    # long_poll_socket_test.exs: test "refuses unallowed origins"
    _, body = await poll(ep, "GET", "ws/longpoll", {}, None, {"origin": "https://example.com"})
    assert body["status"] == 410
    _, body = await poll(ep, "GET", "ws/longpoll", {}, None, {"origin": "http://notallowed.com"})
    assert body["status"] == 403


async def test_returns_params_with_sync_request(ep: testing.RunningEndpoint) -> None:
    # long_poll_socket_test.exs: test "returns params with sync request"
    resp, body = await poll(ep, "GET", "ws/longpoll", {"hello": "world"})
    assert body["token"]
    assert body["status"] == 410
    assert resp.status == 200
    secret = {"token": body["token"]}
    _, body = await poll(ep, "POST", "ws/longpoll", secret, "params")
    assert body["status"] == 200
    _, body = await poll(ep, "GET", "ws/longpoll", secret)
    assert body["messages"] == [json.dumps({"hello": "world"})]


async def test_allows_a_path_with_variables(ep: testing.RunningEndpoint) -> None:
    # long_poll_socket_test.exs: test "allows a path with variables"
    path = "custom/123/456/path"
    _, body = await poll(ep, "GET", path, {"key": "value"})
    secret = {"token": body["token"]}
    _, body = await poll(ep, "POST", path, secret, "params")
    assert body["status"] == 200
    _, body = await poll(ep, "GET", path, secret)
    [params] = body["messages"]
    assert json.loads(params) == {"key": "value", "socket_var": "123", "path_var": "456"}


async def test_accepts_the_token_from_params(ep: testing.RunningEndpoint) -> None:
    # long_poll_socket_test.exs: test "accepts the token from params"
    _, body = await poll(ep, "GET", "ws/longpoll", {"hello": "world"})
    secret = {"token": body["token"]}
    _, body = await poll_with_token_in_params(ep, "POST", "ws/longpoll", secret, "params")
    assert body["status"] == 200
    _, body = await poll_with_token_in_params(ep, "GET", "ws/longpoll", secret)
    assert body["messages"] == [json.dumps({"hello": "world"})]


async def test_the_header_takes_precedence_over_a_stale_params_token(ep: testing.RunningEndpoint) -> None:
    # long_poll_socket_test.exs: test "the header takes precedence over a stale params token"
    _, body = await poll(ep, "GET", "ws/longpoll", {"hello": "world"})
    token = body["token"]
    _, body = await poll_with_token_in_params(ep, "POST", "ws/longpoll", {"token": "bogus"}, "params",
                                              {TOKEN_HEADER: token})
    assert body["status"] == 200


async def test_responses_are_never_cached(ep: testing.RunningEndpoint) -> None:
    # long_poll_socket_test.exs: test "responses are never cached"
    resp, _ = await poll(ep, "GET", "ws/longpoll", {})
    assert resp.header("cache-control") == "no-store"


async def test_returns_pong_from_async_request(ep: testing.RunningEndpoint) -> None:
    # long_poll_socket_test.exs: test "returns pong from async request"
    resp, body = await poll(ep, "GET", "ws/longpoll", {"hello": "world"})
    assert body["token"]
    assert body["status"] == 410
    assert resp.status == 200
    secret = {"token": body["token"]}
    _, body = await poll(ep, "POST", "ws/longpoll", secret, "ping")
    assert body["status"] == 200
    _, body = await poll(ep, "GET", "ws/longpoll", secret)
    assert body["messages"] == ["pong"]
