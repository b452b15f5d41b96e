"""A test node for the cluster tests: ``python -m tests.cluster.node --port P --redis-url URL``.

Channel ``room:*``: ``shout`` broadcasts ``shout`` (fastlane); ``tag`` broadcasts ``tag``,
which is intercepted and stamped with this node's name in ``handle_out``. Joining with
``{"user": name}`` tracks a presence (heartbeat 0.2 s, down after 1 s of silence).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import channels
import otp

PRESENCE = channels.Presence("Cluster.Presence", pubsub_server="Cluster.Endpoint.PubSub",
                             broadcast_period=0.2, down_period=1.0, permdown_period=30.0)


class RoomChannel(channels.Channel):
    intercept = ["tag"]

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        if isinstance(payload, dict) and "user" in payload:
            otp.send(otp.self(), ("track", payload["user"]))
        return channels.Accept(socket)

    async def handle_info(self, msg: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        if isinstance(msg, tuple) and msg[0] == "track":
            socket.push("presence_state", PRESENCE.list(socket))
            await PRESENCE.track(socket, msg[1], {"node": NODE_NAME})
        return otp.NoReply(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket) -> otp.Reply[Any]:
        socket.broadcast(event, payload)
        return otp.Reply(("ok", {}), socket)

    async def handle_out(self, event: str, payload: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        socket.push(event, {**payload, "seen_on": NODE_NAME})
        return otp.NoReply(socket)


class NodeSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]


NODE_NAME = "?"


def main() -> None:
    global NODE_NAME
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--name", default="node")
    args = parser.parse_args()
    NODE_NAME = args.name
    logging.basicConfig(level=logging.INFO, format=f"{args.name} %(levelname)s %(name)s: %(message)s")
    endpoint = channels.Endpoint(
        name="Cluster.Endpoint", port=args.port, check_origin=False,
        sockets=[channels.SocketMount("/socket", NodeSocket)],
        pubsub_adapter=channels.RedisAdapter(args.redis_url, node_name=args.name),
        extra_children=[PRESENCE.child_spec()],
    )
    raise SystemExit(channels.serve(endpoint, control=False, node_name=args.name))


if __name__ == "__main__":
    main()
