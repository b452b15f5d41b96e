"""Presence on one node, over real sockets: presence_state, presence_diff, leaves on exit."""

from __future__ import annotations

from typing import Any

import channels
import otp
from channels import testing

PRESENCE = channels.Presence("Test.Presence", pubsub_server="PresenceTest.Endpoint.PubSub")


class RoomChannel(channels.Channel):
    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        otp.send(otp.self(), "after_join")
        return channels.Accept(socket.assign(user=payload["user"]))

    async def handle_info(self, msg: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        if msg == "after_join":
            socket.push("presence_state", PRESENCE.list(socket))
            await PRESENCE.track(socket, socket.assigns["user"], {"device": "test"})
        return otp.NoReply(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket) -> otp.Reply[Any]:
        ref = await PRESENCE.update(socket, socket.assigns["user"], {"device": payload["device"]})
        return otp.Reply(("ok", {"ref": ref}), socket)


class PresenceSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]


def endpoint() -> channels.Endpoint:
    return channels.Endpoint(
        name="PresenceTest.Endpoint", port=0, check_origin=False,
        sockets=[channels.SocketMount("/socket", PresenceSocket)],
        extra_children=[PRESENCE.child_spec()],
    )


async def test_joining_clients_see_presence_state_and_diffs_and_leaves_on_close(node: otp.Node) -> None:
    async with testing.open_endpoint(endpoint()) as ep:
        ann = await testing.connect(ep, "/socket")
        assert (await ann.join("room:1", {"user": "ann"}))[0] == "ok"
        state = (await ann.assert_push("room:1", "presence_state")).payload
        assert state == {}
        diff = (await ann.assert_broadcast("room:1", "presence_diff")).payload
        assert list(diff["joins"]) == ["ann"]
        assert diff["joins"]["ann"]["metas"][0]["device"] == "test"
        assert "phx_ref" in diff["joins"]["ann"]["metas"][0]

        bob = await testing.connect(ep, "/socket")
        assert (await bob.join("room:1", {"user": "bob"}))[0] == "ok"
        state = (await bob.assert_push("room:1", "presence_state")).payload
        assert list(state) == ["ann"]
        diff = (await ann.assert_broadcast("room:1", "presence_diff")).payload
        assert list(diff["joins"]) == ["bob"]
        assert PRESENCE.list("room:1").keys() == {"ann", "bob"}

        ref = await bob.push("room:1", "update", {"device": "phone"})
        reply = await bob.assert_reply(ref, "ok")
        diff = (await ann.assert_broadcast("room:1", "presence_diff")).payload
        assert diff["joins"]["bob"]["metas"][0]["device"] == "phone"
        assert diff["joins"]["bob"]["metas"][0]["phx_ref"] == reply.payload["ref"]
        assert diff["joins"]["bob"]["metas"][0]["phx_ref_prev"] == diff["leaves"]["bob"]["metas"][0]["phx_ref"]

        await bob.close()
        diff = (await ann.assert_broadcast("room:1", "presence_diff")).payload
        assert diff["joins"] == {}
        assert list(diff["leaves"]) == ["bob"]
        assert PRESENCE.list("room:1").keys() == {"ann"}
