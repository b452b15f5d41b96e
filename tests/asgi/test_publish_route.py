"""The opt-in HTTP publish route (issue 16): POST with a bearer token broadcasts."""

from __future__ import annotations

import pytest

import channels
import otp
from channels import testing
from channels.client import open_socket
from examples import emitter as example

from ._http import request

TOKEN = "s3cret-publish-token"
AUTH = [("authorization", f"Bearer {TOKEN}"), ("content-type", "application/json")]


def make_endpoint(**options: object) -> channels.Endpoint:
    return channels.Endpoint(name="Publish.Test.Endpoint", port=0, check_origin=False,
                             sockets=[channels.SocketMount("/socket", example.NewsSocket)], **options)  # type: ignore[arg-type]


async def test_post_with_the_token_broadcasts_one_or_many(node: otp.Node) -> None:
    async with testing.open_endpoint(make_endpoint(publish_token=TOKEN)) as ep, \
            open_socket(f"ws://127.0.0.1:{ep.port}/socket", params={"user": "ann"}) as socket:
        news = socket.channel("news:a")
        await news.join()
        one = await request(ep.port, "POST", "/_channels/broadcast", AUTH,
                            b'{"topic": "news:a", "event": "headline", "payload": {"n": 1}}')
        assert (one.status, one.body) == (202, b'{"broadcasts":1}')
        many = await request(ep.port, "POST", "/_channels/broadcast", AUTH,
                             b'[{"topic": "news:a", "event": "headline", "payload": {"n": 2}},'
                             b' {"topic": "news:a", "event": "bare"}]')
        assert (many.status, many.body) == (202, b'{"broadcasts":2}')
        got = [await news.receive(timeout=5) for _ in range(3)]
        assert [(m.event, m.payload) for m in got] == [("headline", {"n": 1}), ("headline", {"n": 2}), ("bare", {})]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
async def test_missing_or_wrong_token_gets_401_and_broadcasts_nothing(node: otp.Node,
                                                                     authorization: str | None) -> None:
    headers = [("content-type", "application/json")]
    if authorization is not None:
        headers.append(("authorization", authorization))
    async with testing.open_endpoint(make_endpoint(publish_token=TOKEN)) as ep:
        client = await testing.connect(ep, "/socket", params={"user": "ann"})
        assert (await client.join("news:a"))[0] == "ok"
        response = await request(ep.port, "POST", "/_channels/broadcast", headers,
                                 b'{"topic": "news:a", "event": "x"}')
        assert response.status == 401
        assert response.header("www-authenticate") == 'Bearer realm="channels"'
        await client.refute_push("news:a", "x")


@pytest.mark.parametrize(("method", "body", "status"), [
    ("GET", b"", 405),
    ("POST", b"not json", 400),
    ("POST", b'{"topic": "news:a"}', 400),
    ("POST", b'[1, 2]', 400),
])
async def test_bad_requests_get_a_clear_status(node: otp.Node, method: str, body: bytes, status: int) -> None:
    async with testing.open_endpoint(make_endpoint(publish_token=TOKEN)) as ep:
        response = await request(ep.port, method, "/_channels/broadcast", AUTH, body)
        assert response.status == status
        assert response.body.startswith(b'{"error":')


async def test_without_a_token_there_is_no_route(node: otp.Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTP_CHANNELS_PUBLISH_TOKEN", raising=False)
    async with testing.open_endpoint(make_endpoint()) as ep:
        assert (await request(ep.port, "POST", "/_channels/broadcast", AUTH, b"{}")).status == 404


async def test_token_from_the_environment_and_a_custom_path(node: otp.Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTP_CHANNELS_PUBLISH_TOKEN", TOKEN)
    async with testing.open_endpoint(make_endpoint(publish_path="/internal/publish")) as ep:
        response = await request(ep.port, "POST", "/internal/publish", AUTH, b'{"topic": "t", "event": "e"}')
        assert response.status == 202
