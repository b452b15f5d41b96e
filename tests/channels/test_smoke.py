from __future__ import annotations

import otp
from channels import testing


async def test_join_echo_leave(ep: testing.RunningEndpoint) -> None:
    client = await testing.connect(ep, "/socket", params={"user": "ann"})
    assert await client.join("room:1", {}) == ("ok", {})
    ref = await client.push("room:1", "echo", {"a": 1})
    await client.assert_reply(ref, "ok", {"a": 1})
    assert ep.channel_topics() == ["room:1"]
    assert await client.leave("room:1") == ("ok", {})
    await client.assert_push("room:1", "phx_close", {})


async def test_open_endpoint_opens_a_node_when_there_is_none() -> None:
    from ._app import make_endpoint

    async with testing.open_endpoint(make_endpoint()) as ep:
        client = await testing.connect(ep)
        assert await client.join("room:1") == ("ok", {})
        await client.assert_reply(await client.push("room:1", "echo", {"x": 1}), "ok", {"x": 1})


async def test_open_endpoint_copes_with_an_endpoint_stopped_from_outside(node: otp.Node) -> None:
    from ._app import make_endpoint

    async with testing.open_endpoint(make_endpoint()) as ep:
        await testing.connect(ep)
        await otp.Supervisor.stop(ep.endpoint.name, otp.SHUTDOWN)
