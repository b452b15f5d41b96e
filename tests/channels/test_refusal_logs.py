"""Issue 14 item 9: refusals of what a client asks are WARNING at most, and one client
repeating them does not flood the log (``otp.RateLimitedLog``: a burst, then a count)."""

from __future__ import annotations

import logging

import pytest

from channels import testing
from channels.channel._session import refusals
from channels.protocol import Message


async def test_repeated_joins_over_the_limit_are_warned_a_few_times_never_as_errors(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    client = await testing.connect(ep, "/limited")
    for topic in ("room:1", "room:2"):
        assert (await client.join(topic))[0] == "ok"
    caplog.set_level(logging.INFO)
    for i in range(50):
        await client.send(Message(f"room:x{i}", "phx_join", {}, str(100 + i), str(100 + i)))
    for i in range(50):
        await client.assert_reply(str(100 + i), "error", {"reason": "too many channels joined"})
    lines = [r for r in caplog.records if "max_channels_per_transport" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert {r.levelname for r in lines} == {"WARNING"}
    assert len(lines) == refusals.burst
    assert "further similar lines" in lines[-1].getMessage()


async def test_repeated_bad_origins_from_one_address_are_warned_a_few_times(
        ep: testing.RunningEndpoint, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(20):
        with pytest.raises(testing.ConnectRejected) as rejected:
            await testing.connect(ep, "/strict", headers={"origin": "http://evil.example"})
        assert rejected.value.status_code == 403
    lines = [r for r in caplog.records if "Could not check origin" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert 1 <= len(lines) <= refusals.burst
