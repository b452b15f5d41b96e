"""Issue 14 item 11: SO_REUSEPORT is shared only between the workers of one ``serve --workers``;
a second endpoint on a busy port fails with one clear error instead of taking half the clients."""

from __future__ import annotations

import pytest

import channels
import otp
from channels import testing
from channels.endpoint._endpoint import SHARED_PORT_ENV


def _endpoint(name: str, port: int) -> channels.Endpoint:
    return channels.Endpoint(name=name, port=port, drainer=None,
                             sockets=[channels.SocketMount("/socket", channels.Socket)])


async def test_a_second_endpoint_on_a_busy_port_fails_to_start(
        node: otp.Node, caplog: pytest.LogCaptureFixture) -> None:
    async with testing.open_endpoint(_endpoint("First", 0)) as first:
        second = _endpoint("Second", first.port)
        with pytest.raises(Exception, match=f"Second cannot listen on 127.0.0.1:{first.port}: .*in use"):
            await second.start_link()
        assert otp.whereis("Second") is None


async def test_the_workers_of_one_serve_share_the_port(node: otp.Node, monkeypatch: pytest.MonkeyPatch) -> None:
    async with testing.open_endpoint(_endpoint("Worker1", 0)) as first:
        monkeypatch.setenv(SHARED_PORT_ENV, str(first.port))
        async with testing.open_endpoint(_endpoint("Worker2", first.port), port=None) as second:
            assert second.port == first.port
