"""Issue 14 item 7: long-poll sessions count against the endpoint's ``max_connections``."""

from __future__ import annotations

import logging

import pytest

import channels
import otp

from ._app import SECRET, UserSocket, stop_endpoint
from ._client import HTTPConnection


async def test_sessions_hold_connection_slots_and_past_the_limit_get_503(
        node: otp.Node, caplog: pytest.LogCaptureFixture) -> None:
    endpoint = channels.Endpoint(name="LPL", port=0, check_origin=False, secret_key_base=SECRET, max_connections=3,
                                 sockets=[channels.SocketMount("/socket", UserSocket, longpoll=True)])
    await endpoint.start_link()
    try:
        assert endpoint.port is not None
        conn = await HTTPConnection.open(endpoint.port)  # holds one slot while open
        try:
            statuses = [(await conn.request("GET", "/socket/longpoll?vsn=2.0.0")).status for _ in range(3)]
            # Two sessions fill the limit of 3 with this connection; the third is refused.
            assert statuses == [200, 200, 503]
            assert endpoint.statistics()["connections"] == 3
            sessions = [pid for _, pid, _, _ in await otp.DynamicSupervisor.which_children("LPL.LongPoll")]
            assert len(sessions) == 2
            # A session that ends gives its slot back.
            async with otp.open_mailbox():
                ref = otp.monitor(sessions[0])
                otp.exit(sessions[0], otp.KILL)
                await otp.receive(lambda m: isinstance(m, otp.Down) and m.ref == ref)
            assert (await conn.request("GET", "/socket/longpoll?vsn=2.0.0")).status == 200
        finally:
            await conn.aclose()
    finally:
        await stop_endpoint(endpoint)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_endpoint_has_no_more_acceptors_than_connection_slots(node: otp.Node) -> None:
    # Found as a hang of the test above in full runs: with max_connections=3 and 4 acceptors
    # (each owning an SO_REUSEPORT socket and, then, waiting for a slot before accept()), the
    # fourth never accepted, and a connection the kernel queued on its socket waited for ever.
    # Acceptors now accept first and wait for a slot after; the clamp stays (an acceptor past
    # the slots could only hold a connection waiting).
    endpoint = channels.Endpoint(name="LPA", port=0, max_connections=3, num_acceptors=4,
                                 sockets=[channels.SocketMount("/socket", UserSocket, longpoll=True)])
    assert endpoint.num_acceptors == 3
    await endpoint.start_link()
    try:
        assert endpoint.port is not None
        for _ in range(8):  # one at a time: whichever acceptor's socket it lands on, it is served
            conn = await HTTPConnection.open(endpoint.port)
            try:
                assert (await conn.request("GET", "/nothing-here")).status == 404
            finally:
                await conn.aclose()
    finally:
        await stop_endpoint(endpoint)
