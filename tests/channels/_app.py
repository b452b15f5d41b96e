"""The channels, sockets and endpoint the channel tests run against."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import channels
import otp
from channels import Accept, Refuse

#: What channel callbacks did, in order: ``(kind, topic, detail)``. Cleared per test.
EVENTS: list[tuple[str, str | None, Any]] = []

#: Stands in for an outside process that pushes on behalf of a channel.
AUTH_TOKEN = "s3cr3t-token"


def events(kind: str, topic: str | None = None) -> list[Any]:
    """The details of the recorded events of ``kind`` (on ``topic`` if given)."""
    return [d for k, t, d in EVENTS if k == kind and (topic is None or t == topic)]


async def _reply_later(socket_ref: channels.SocketRef, payload: Any) -> None:
    channels.reply(socket_ref, ("ok", {"later": payload}))


class RoomChannel(channels.Channel):
    """A channel whose behaviour the client steers through payloads and event names."""

    intercept = ["intercepted"]

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any] | channels.Refuse:
        EVENTS.append(("join", topic, payload))
        if not isinstance(payload, dict):
            return channels.Accept(socket)
        if "refuse" in payload:
            return channels.Refuse(payload["refuse"])
        if payload.get("crash"):
            raise RuntimeError("join crashed on purpose")
        if "poke" in payload:
            # Make the channel on another topic of this connection push, broadcast and push
            # while the transport waits for this join.
            me = otp.self()
            for pid, meta in channels.PubSub.subscribers(socket.pubsub_server or "", payload["poke"]):
                if getattr(meta, "transport_pid", None) is socket.transport_pid:
                    otp.send(pid, ("push_then_broadcast", me))
            await otp.receive(lambda m: m == "poked", timeout=5)
        if payload.get("push_in_join"):
            socket.push("too_early", {})
        if payload.get("bad_return"):
            return "not a join result"  # type: ignore[return-value]
        if payload.get("after_join"):
            otp.send(otp.self(), ("push", "after_join", {"hello": socket.topic}))
        if payload.get("push_then_broadcast"):
            otp.send(otp.self(), "push_then_broadcast")
        if payload.get("broadcast_after_join"):
            otp.send(otp.self(), ("broadcast", "joined", {"topic": socket.topic}))
        if payload.get("push_on_terminate"):
            socket = socket.assign(push_on_terminate=True)
        if "reply" in payload:
            return channels.Accept(socket, payload["reply"])
        return channels.Accept(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        EVENTS.append(("in", socket.topic, (event, payload)))
        data = payload if isinstance(payload, dict) else {}
        match event:
            case "echo":
                return channels.Reply(("ok", payload), socket)
            case "assigns":
                return channels.Reply(("ok", dict(socket.assigns)), socket)
            case "status":
                return channels.Reply(data["status"], socket)
            case "noreply":
                return channels.NoReply(socket)
            case "push":
                socket.push(data.get("event", "pushed"), data.get("payload", {}))
                return channels.NoReply(socket)
            case "push_then_broadcast":
                otp.send(otp.self(), "push_then_broadcast")
                return channels.NoReply(socket)
            case "push_then_reply":
                socket.push("pushed", {"n": 1})
                return channels.Reply(("ok", {"n": 2}), socket)
            case "broadcast":
                socket.broadcast(data["event"], data.get("payload", {}))
                return channels.Reply(("ok", {"sent": data["event"]}), socket)
            case "broadcast_from":
                socket.broadcast_from(data["event"], data.get("payload", {}))
                return channels.Reply(("ok", {}), socket)
            case "async_reply":
                otp.spawn(_reply_later, socket.socket_ref(), payload)
                return channels.NoReply(socket)
            case "stop":
                return channels.Stop(otp.Shutdown("bye"), socket)
            case "stop_normal_reply":
                return channels.Stop(otp.NORMAL, socket, reply=("ok", {"bye": True}))
            case "stop_crash_reply":
                return channels.Stop("boom", socket, reply=("error", {"bye": True}))
            case "stop_crash":
                return channels.Stop("boom", socket)
            case "raise":
                raise RuntimeError("handle_in crashed on purpose")
            case "info_stop":
                otp.send(otp.self(), "stop")
                return channels.NoReply(socket)
            case "binary":
                assert isinstance(payload, bytes)
                return channels.Reply(("ok", payload[::-1]), socket)
            case "binary_push":
                assert isinstance(payload, bytes)
                socket.push("binary_pushed", payload + b"!")
                return channels.NoReply(socket)
        return channels.Reply(("error", {"unknown": event}), socket)

    async def handle_out(self, event: str, payload: Any, socket: channels.Socket
                         ) -> otp.NoReply[Any] | otp.Stop[Any]:
        EVENTS.append(("out", socket.topic, (event, payload)))
        if payload.get("stop"):
            return channels.Stop(otp.Shutdown("out"), socket)
        socket.push(event, {**payload, "intercepted_by": socket.assigns.get("user")})
        return channels.NoReply(socket)

    async def handle_info(self, msg: Any, socket: channels.Socket) -> otp.NoReply[Any] | otp.Stop[Any]:
        if msg == "stop":
            return channels.Stop(otp.SHUTDOWN, socket)
        if msg == "push_then_broadcast" or (isinstance(msg, tuple) and msg[0] == "push_then_broadcast"):
            socket.push("first", {})
            socket.broadcast("second", {})
            socket.push("third", {})
            if isinstance(msg, tuple):
                otp.send(msg[1], "poked")
            return channels.NoReply(socket)
        if isinstance(msg, tuple) and msg[0] == "broadcast":
            socket.broadcast(msg[1], msg[2])
            return channels.NoReply(socket)
        if isinstance(msg, tuple) and msg[0] == "push":
            socket.push(msg[1], msg[2])
            return channels.NoReply(socket)
        if msg == "crash":
            raise RuntimeError("handle_info crashed on purpose")
        if isinstance(msg, channels.Broadcast):
            EVENTS.append(("info_broadcast", socket.topic, (msg.topic, msg.event)))
            return channels.NoReply(socket)
        return await super().handle_info(msg, socket)

    async def handle_call(self, request: Any, from_: otp.From, socket: channels.Socket
                          ) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        if request == "topic":
            return channels.Reply(socket.topic, socket)
        return channels.Stop(otp.Shutdown("called"), socket, reply="bye")

    async def handle_cast(self, request: Any, socket: channels.Socket) -> otp.NoReply[Any] | otp.Stop[Any]:
        socket.push("cast", {"request": request})
        return channels.NoReply(socket)

    async def terminate(self, reason: otp.ExitReason, socket: channels.Socket) -> None:
        EVENTS.append(("terminate", socket.topic, reason))
        if socket.assigns.get("push_on_terminate") and socket.joined:
            socket.push("terminating", {"reason": str(reason)})


class UserSocket(channels.Socket):
    """``?user=NAME`` names the socket ``user:NAME``; ``?refuse=1`` refuses the connection."""

    routes = [("vip:*", RoomChannel, {"assigns": {"vip": True}}), ("room:*", RoomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Accept[Any] | Refuse:
        if params.get("refuse"):
            return channels.Refuse({"reason": "refused"})
        return channels.Accept(self.assign(user=params.get("user")))

    def id(self) -> str | None:
        user = self.assigns.get("user")
        return f"user:{user}" if user else None


class LimitedSocket(UserSocket):
    """At most two channels per connection."""

    max_channels_per_transport = 2


class TokenSocket(UserSocket):
    """Accepts only the ``AUTH_TOKEN`` (sent in Sec-WebSocket-Protocol)."""

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Accept[Any] | Refuse:
        if connect_info.get("auth_token") != AUTH_TOKEN:
            return channels.Refuse()
        return channels.Accept(self.assign(user="token"))


class OddSocket(UserSocket):
    """``?mode=garbage|bad_id|raise``: connect returns junk, id() is not a str, connect raises."""

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Accept[Any] | Refuse:
        mode = params.get("mode")
        if mode == "garbage":
            return "yes please"  # type: ignore[return-value]
        if mode == "raise":
            raise RuntimeError("connect crashed on purpose")
        return Accept(self.assign(mode=mode))

    def id(self) -> str | None:
        return 42 if self.assigns.get("mode") == "bad_id" else None  # type: ignore[return-value]


def make_endpoint(*, websocket: channels.WebSocketOptions | None = None, name: str = "Test.Endpoint",
                  check_origin: Any = False) -> channels.Endpoint:
    """The test endpoint: ``/socket`` (UserSocket), ``/limited``, ``/auth`` (auth token),
    ``/strict`` (origin checked against the request host)."""
    ws: channels.WebSocketOptions | bool = websocket if websocket is not None else True
    return channels.Endpoint(
        name=name,
        port=0,
        sockets=[
            channels.SocketMount("/socket", UserSocket, websocket=ws),
            channels.SocketMount("/limited", LimitedSocket, websocket=ws),
            channels.SocketMount("/auth", TokenSocket, websocket=ws, auth_token=True),
            channels.SocketMount("/strict", UserSocket, websocket=ws, check_origin=True),
            channels.SocketMount("/odd", OddSocket, websocket=ws),
        ],
        check_origin=check_origin,
        num_acceptors=1,
    )
