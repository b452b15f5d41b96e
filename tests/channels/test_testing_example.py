"""The example of the ``channels.testing`` docstring, run as written."""

from __future__ import annotations

from typing import Any

import channels
import otp
from channels import testing


class RoomChannel(channels.Channel):
    async def join(self, topic: str, payload: Any, socket: Any) -> channels.Accept[Any]:
        return channels.Accept(socket)

    async def handle_in(self, event: str, payload: Any, socket: Any) -> otp.Reply[Any]:
        socket.broadcast("new_msg", payload)
        return channels.Reply(("ok", {"echo": payload["body"]}), socket)


class UserSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]


async def test_room_echoes_and_broadcasts(node: otp.Node) -> None:
    endpoint = channels.Endpoint(
        name="Test.Endpoint",
        sockets=[channels.SocketMount("/socket", UserSocket)],
        check_origin=False,
    )
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep, "/socket", params={"user": "ann"})
        assert await client.join("room:lobby", {}) == ("ok", {})
        ref = await client.push("room:lobby", "new_msg", {"body": "hi"})
        await client.assert_reply(ref, "ok", {"echo": "hi"})
        await client.assert_broadcast("room:lobby", "new_msg", {"body": "hi"})
        await client.refute_push("room:lobby", "typing")
        assert await client.leave("room:lobby") == ("ok", {})
        await client.assert_push("room:lobby", "phx_close", {})
