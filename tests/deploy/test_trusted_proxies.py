"""Endpoint(trusted_proxies=...): behind a trusted proxy, peer_data's address is the client's (Plug.RemoteIp's
rule: the rightmost X-Forwarded-For entry that is not a trusted proxy); x_headers reach connect_info."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import channels
import otp
from channels import testing
from channels.endpoint._endpoint import forwarded_request
from channels.http import Request

_infos: list[Any] = []


class InfoSocket(channels.Socket):
    routes: list[Any] = []

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Any:
        _infos.append(connect_info)
        return channels.Accept(self)


def _endpoint(trusted: list[str]) -> channels.Endpoint:
    return channels.Endpoint(name="Proxy.Endpoint", check_origin=False, trusted_proxies=trusted,
                             sockets=[channels.SocketMount("/socket", InfoSocket)])


@pytest.mark.parametrize(("trusted", "forwarded", "address"), [
    (["127.0.0.1"], "203.0.113.7", "203.0.113.7"),
    (["127.0.0.0/8", "10.0.0.0/8"], "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"),
    ([], "203.0.113.7", "127.0.0.1"),  # no trusted proxy: the header proves nothing
    (["10.0.0.0/8"], "203.0.113.7", "127.0.0.1"),  # the TCP peer is not a trusted proxy
    (["127.0.0.1"], "not-an-address", "127.0.0.1"),  # garbage: keep the proxy's address
])
async def test_peer_address_comes_from_x_forwarded_for_only_through_a_trusted_proxy(
        node: otp.Node, trusted: list[str], forwarded: str, address: str) -> None:
    _infos.clear()
    async with testing.open_endpoint(_endpoint(trusted)) as ep:
        await testing.connect(ep, "/socket", headers={"x-forwarded-for": forwarded, "x-forwarded-proto": "https"})
    (info,) = _infos
    assert info["peer_data"]["address"] == address
    assert ("x-forwarded-proto", "https") in [tuple(h) for h in info["x_headers"]]


def test_a_request_without_a_peer_is_left_alone() -> None:
    request = Request(method="GET", target="/", raw_path="/", path="/", query_string="", query_params=(),
                      headers=(("x-forwarded-for", "203.0.113.7"),), raw_headers=())
    assert forwarded_request(request, ()) is request
