"""The socket and channels the long-poll tests talk to, and an endpoint runner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

import channels
import otp
from channels import Accept, Refuse
from channels.transports._longpoll import LongPollOptions

#: Tests that open a mailbox under this name receive ("terminate", topic, reason) and
#: ("connect", params, connect_info) reports.
OBSERVER = "longpoll-observer"
SECRET = "long-poll-test-secret-key-base-0123456789"


def report(msg: Any) -> None:
    if otp.whereis(OBSERVER) is not None:
        otp.send(OBSERVER, msg)


class RoomChannel(channels.Channel):
    intercept = ["filtered"]

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any] | channels.Refuse:
        if isinstance(payload, dict) and payload.get("deny"):
            return channels.Refuse({"reason": "denied"})
        return channels.Accept(socket, {"joined": topic})

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        if event == "ping":
            return channels.Reply(("ok", {"pong": payload}), socket)
        if event == "shout":
            socket.broadcast("shout", payload)
            return channels.NoReply(socket)
        if event == "push_me":
            socket.push("pushed", payload)
            return channels.NoReply(socket)
        if event == "binary_push":
            socket.push("bin", b"\x00\x01\x02")
            socket.push("after_bin", {})
            return channels.NoReply(socket)
        if event == "bytes":
            return channels.Reply(("ok", {"size": len(payload), "binary": isinstance(payload, bytes)}), socket)
        if event == "async_reply":
            ref = socket.socket_ref()

            async def later() -> None:
                channels.reply(ref, ("ok", {"later": payload}))

            otp.spawn(later)
            return channels.NoReply(socket)
        if event == "crash":
            raise RuntimeError("crash requested by the test")
        if event == "stop":
            return channels.Stop(otp.Shutdown("asked"), socket, reply=("ok", {"bye": True}))
        return channels.NoReply(socket)

    async def handle_out(self, event: str, payload: Any, socket: channels.Socket) -> otp.NoReply[Any]:
        if isinstance(payload, dict) and payload.get("keep"):
            socket.push(event, {**payload, "intercepted": True})
        return channels.NoReply(socket)

    async def terminate(self, reason: otp.ExitReason, socket: channels.Socket) -> None:
        report(("terminate", socket.topic, reason))


class SlowChannel(channels.Channel):
    """Its join never finishes: the client's dispatch is never acknowledged."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        await otp.receive(lambda m: m == "never")
        return channels.Accept(socket)


class UserSocket(channels.Socket):
    routes = [("room:*", RoomChannel), ("slow:*", SlowChannel)]

    async def connect(self, params: Any, connect_info: Any) -> Accept[Any] | Refuse:
        report(("connect", dict(params), dict(connect_info)))
        if params.get("user") == "refused":
            return Refuse()
        if params.get("user") == "slow":
            report(("slow_connect", otp.self()))
            await otp.receive(lambda m: m == "go")
        if params.get("user") == "crash":
            raise RuntimeError("connect crashed on purpose")
        return Accept(self.assign(user=params.get("user", "anon")))

    def id(self) -> str | None:
        user = self.assigns.get("user")
        return f"users_socket:{user}" if user != "anon" else None


@asynccontextmanager
async def running_endpoint(
    longpoll: LongPollOptions | bool = True,
    *,
    check_origin: Any = False,
    url_host: str | None = None,
    auth_token: bool = False,
    connect_info: Sequence[Any] | None = None,
    name: str = "LP",
) -> AsyncIterator[channels.Endpoint]:
    kw: dict[str, Any] = {}
    if connect_info is not None:
        kw["connect_info"] = connect_info
    endpoint = channels.Endpoint(
        name=name, port=0, check_origin=check_origin, url_host=url_host, secret_key_base=SECRET,
        sockets=[channels.SocketMount("/socket", UserSocket, longpoll=longpoll, auth_token=auth_token, **kw)],
    )
    await endpoint.start_link()
    try:
        yield endpoint
    finally:
        await stop_endpoint(endpoint)


async def stop_endpoint(endpoint: channels.Endpoint) -> None:
    """Stop the endpoint and wait until its tree is gone (``otp.stop`` returns on the reply)."""
    pid = otp.whereis(endpoint.name)
    gone = trio.Event()
    proc = otp.current_node().process(pid) if pid is not None else None
    if proc is None:
        return
    proc.add_exit_hook(lambda _p, _r: gone.set())
    await endpoint.stop()
    await gone.wait()
