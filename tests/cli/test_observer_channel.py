"""The observer's channel in process: tree pushes as processes come and go, details on request, same origin only."""

from __future__ import annotations

from typing import Any

import pytest

import channels
import otp
from channels import observer, testing
from examples.hello_sockets import UserSocket


def _endpoint() -> channels.Endpoint:
    endpoint = channels.Endpoint(name="Obs.Endpoint", check_origin=False, num_acceptors=1,
                                 sockets=[channels.SocketMount("/socket", UserSocket, partitions=1)])
    observer.enable(endpoint, interval=0.05)
    return endpoint


def _walk(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d in tree:
        out.append(d)
        out.extend(_walk(d["children"]))
    return out


async def _next_tree(client: testing.SocketClient) -> dict[str, Any]:
    pushed = await client.assert_push(observer.TOPIC, "tree")
    view = pushed.payload
    assert isinstance(view, dict)
    return view


async def test_the_channel_pushes_the_tree_and_again_when_a_channel_starts(node: otp.Node) -> None:
    async with testing.open_endpoint(_endpoint()) as ep:
        watcher = await testing.connect(ep, "/_observer/socket")
        assert await watcher.join(observer.TOPIC) == ("ok", {})
        view = await _next_tree(watcher)
        assert view["node"] == node.name
        names = {d["name"] for d in _walk(view["tree"])}
        assert {"Obs.Endpoint", "Obs.Endpoint.Listener", "Obs.Endpoint.ObserverSocket.Pool"} <= names
        (mine,) = [d for d in _walk(view["tree"]) if d["behaviour"] == "ObserverChannel"]
        assert mine["summary"]["topic"] == observer.TOPIC
        assert "statistics" not in mine
        assert "uptime" not in mine

        user = await testing.connect(ep, "/socket")
        assert await user.join("ping") == ("ok", {})
        while True:
            view = await _next_tree(watcher)
            pings = [d for d in _walk(view["tree"]) if d["behaviour"] == "PingChannel"]
            if pings:
                break
        assert pings[0]["summary"]["topic"] == "ping"

        ref = await watcher.push(observer.TOPIC, "info", {"target": pings[0]["pid"]})
        info = (await watcher.assert_reply(ref, "ok")).payload
        assert info["pid"] == pings[0]["pid"]
        assert info["summary"]["topic"] == "ping"
        assert info["parent_name"] == "Obs.Endpoint.UserSocket.Pool.0"
        assert set(info["statistics"]) >= {"message_queue_len", "messages_received", "uptime"}

        ref = await watcher.push(observer.TOPIC, "info", {"target": "<0.99999.0>"})
        await watcher.assert_reply(ref, "error", {"reason": "no process <0.99999.0>"})


async def test_other_topics_are_refused(node: otp.Node) -> None:
    async with testing.open_endpoint(_endpoint()) as ep:
        watcher = await testing.connect(ep, "/_observer/socket")
        status, _ = await watcher.join("observer:other")
        assert status == "error"


async def test_a_page_of_another_origin_cannot_connect(node: otp.Node) -> None:
    async with testing.open_endpoint(_endpoint()) as ep:
        with pytest.raises(testing.ConnectRejected) as rejected:
            await testing.connect(ep, "/_observer/socket", headers={"origin": "http://evil.example"})
        assert rejected.value.status_code == 403


async def test_enabling_after_the_start_is_an_error(node: otp.Node) -> None:
    endpoint = _endpoint()
    async with testing.open_endpoint(endpoint):
        with pytest.raises(RuntimeError, match="before the endpoint starts"):
            observer.enable(endpoint)
