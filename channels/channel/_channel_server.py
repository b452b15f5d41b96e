"""The process behind each joined channel (Phoenix.Channel.Server; private machinery).

It wraps the user's ``Channel`` the way ``Phoenix.Channel.Server`` wraps a module: the
user writes callbacks, this GenServer runs them, validates what they return, talks the
transport protocol (join result, replies, ``socket_close``, drain) and subscribes the
channel to its topic with fastlane metadata.

Join handshake: the transport starts this server under the socket pool; ``init`` monitors
the transport and defers the join to ``handle_continue`` so the supervisor's
``start_child`` returns at once; the join result goes back to the transport as a
``JoinResult`` message, and the transport waits for it or for the channel's ``Down``.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any

import otp

from .. import telemetry
from ..protocol import Broadcast, ReplyMessage
from ..pubsub._fastlane import FastlaneSub
from ..pubsub._pubsub import PubSub
from ..transports._messages import ClientMessage, Drain, JoinResult, PushFrame, SocketClose, SocketDrain
from ._channel import Channel
from ._socket import Accept, Refuse, Socket

__all__ = ["ChannelServer", "JoinArgs", "transport_of"]

logger = logging.getLogger("channels.channel")

#: Each live channel server process and the pid of its transport (as data, for the drainer).
_TRANSPORTS: weakref.WeakKeyDictionary[otp.Process, otp.Pid] = weakref.WeakKeyDictionary()


def transport_of(pid: otp.Pid) -> otp.Pid | None:
    """The transport pid of the channel server ``pid`` (None if it is not a live channel server)."""
    proc = otp.current_node().process(pid)
    return _TRANSPORTS.get(proc) if proc is not None else None


@dataclass(frozen=True, slots=True)
class JoinArgs:
    channel: type[Channel]
    socket: Socket
    payload: Any
    ref: otp.Ref
    #: The fastlane subscription, made by the transport so that it can mark it ready.
    sub: FastlaneSub


def _status_payload(reply: Any) -> tuple[str, Any]:
    if type(reply) is tuple and len(reply) == 2 and type(reply[0]) is str:
        return reply
    if isinstance(reply, str):
        return reply, {}
    if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[0], str):
        return reply[0], reply[1]
    raise otp.BadReturnError(
        f'expected a reply of "ok" | "error" | (status, payload), got: {reply!r}'
    )


def _endpoint_name(socket: Socket) -> str | None:
    endpoint = socket.endpoint
    return getattr(endpoint, "name", None)


def _joined_event(socket: Socket, channel: str, result: str, started: float) -> None:
    telemetry.execute(telemetry.CHANNEL_JOINED, {"duration": time.perf_counter() - started},
                      {"endpoint": _endpoint_name(socket), "channel": channel, "topic": socket.topic,
                       "result": result})


def _handled_in_event(socket: Socket, channel: str, event: str, started: float) -> None:
    telemetry.execute(telemetry.CHANNEL_HANDLED_IN, {"duration": time.perf_counter() - started},
                      {"endpoint": _endpoint_name(socket), "channel": channel, "topic": socket.topic,
                       "event": event})


def pushed_event(socket: Socket, channel: str, kind: str) -> None:
    """CHANNEL_PUSHED: a channel sent its client a message (``kind``: "push" or "reply")."""
    telemetry.execute(telemetry.CHANNEL_PUSHED, {"count": 1},
                      {"endpoint": _endpoint_name(socket), "channel": channel, "kind": kind})


class ChannelServer(otp.GenServer[Socket]):
    behaviour_name = "Channel"

    channel: Channel
    transport_ref: otp.Ref

    async def init(self, arg: JoinArgs) -> otp.Ok[Socket]:
        me = otp.current_process()
        assert me is not None
        me.behaviour = arg.channel.__qualname__
        self.channel = arg.channel()

        socket = arg.socket
        assert socket.transport_pid is not None
        self.transport_ref = otp.monitor(socket.transport_pid)
        _TRANSPORTS[me] = socket.transport_pid
        return otp.Ok(socket._evolve(channel_pid=me.pid), continue_=arg)

    def format_status(self, state: Socket) -> Any:
        return {
            "topic": state.topic,
            "channel": type(self.channel).__qualname__,
            "joined": state.joined,
            "transport": str(state.transport_pid),
            "join_ref": state.join_ref,
            "assigns": sorted(str(k) for k in state.assigns),
        }

    # -- join ----------------------------------------------------------------------------

    async def handle_continue(self, arg: JoinArgs, socket: Socket) -> otp.NoReply[Socket] | otp.Stop[Socket]:
        name = type(self.channel).__qualname__
        started = time.perf_counter() if telemetry.ACTIVE else 0.0
        try:
            result = await self.channel.join(socket.topic or "", arg.payload, socket)
            if type(result) is not Accept and type(result) is not Refuse:
                raise otp.BadReturnError(
                    f"expected {name}.join to return Accept(socket) | Accept(socket, reply) | "
                    f"Refuse(reply), got: {result!r}"
                )
        except Exception as exc:
            # "join crashed": the transport sees our Down. terminate does not run: the
            # state is not a joined socket.
            if telemetry.ACTIVE:
                _joined_event(socket, name, "crash", started)
            raise otp.ProcessExit(exc) from None
        if telemetry.ACTIVE:
            _joined_event(socket, name, "ok" if type(result) is Accept else "error", started)
            pushed_event(socket, name, "reply")  # the join's reply, sent below
        transport = socket.transport_pid
        assert transport is not None
        if isinstance(result, Refuse):
            otp.send(transport, JoinResult(arg.ref, "error", {} if result.reply is None else result.reply))
            return otp.Stop(otp.SHUTDOWN, socket)
        joined = result.socket._evolve(joined=True)
        assert joined.pubsub_server is not None
        PubSub.subscribe(joined.pubsub_server, joined.topic or "", metadata=arg.sub)
        otp.send(transport, JoinResult(arg.ref, "ok", {} if result.reply is None else result.reply))
        return otp.NoReply(joined)

    # -- messages -----------------------------------------------------------------------

    async def handle_info(self, msg: Any, socket: Socket) -> otp.NoReply[Socket] | otp.Stop[Socket]:
        t = type(msg)
        if t is ClientMessage:
            message = msg.message
            if message.event == "phx_leave":
                self._reply(socket, message.ref, ("ok", {}))
                return self._stop(otp.Shutdown("left"), socket)
            # handle_in gets a copy of the socket carrying the message's ref (for an
            # async reply); inlined here, the request path.
            current = socket._clone()
            current.ref = message.ref
            if telemetry.ACTIVE:
                started = time.perf_counter()
                res = await self.channel.handle_in(message.event, message.payload, current)
                _handled_in_event(socket, type(self.channel).__qualname__, message.event, started)
            else:
                res = await self.channel.handle_in(message.event, message.payload, current)
            return self._after_handle_in(message, res, socket, current)
        if t is Broadcast:
            if msg.topic == socket.topic:
                res = await self.channel.handle_out(msg.event, msg.payload, socket)
                return self._result("handle_out", res, socket)
            res = await self.channel.handle_info(msg, socket)
            return self._result("handle_info", res, socket)
        if t is otp.Down and msg.ref is self.transport_ref:
            reason = otp.Shutdown("closed") if msg.reason == otp.NORMAL else msg.reason
            return otp.Stop(reason, socket)
        if t is Drain:
            assert socket.transport_pid is not None
            otp.send(socket.transport_pid, SocketDrain())
            return self._stop(otp.Shutdown("draining"), socket)
        res = await self.channel.handle_info(msg, socket)
        return self._result("handle_info", res, socket)

    def _after_handle_in(self, message: Any, res: Any, socket: Socket, current: Socket
                         ) -> otp.NoReply[Socket] | otp.Stop[Socket]:
        t = type(res)
        if t is otp.Reply or t is otp.NoReply or isinstance(res, otp.Reply | otp.NoReply):
            if isinstance(res, otp.Reply):
                self._reply(socket, message.ref, _status_payload(res.reply))
            state = res.state
            if state is current:
                state.ref = None  # our own copy, made for this call: no need for another
            elif state.ref is not None:
                state = state._evolve(ref=None)
            return otp.NoReply(state)
        if isinstance(res, otp.Stop):
            if res.has_reply:
                self._reply(socket, message.ref, _status_payload(res.reply))
            return self._stop(res.reason, res.state)
        raise otp.BadReturnError(
            f"expected {type(self.channel).__qualname__}.handle_in to return Reply(reply, socket) | "
            f"NoReply(socket) | Stop(reason, socket[, reply=...]), got: {res!r}"
        )

    def _reply(self, socket: Socket, ref: Any, status_payload: tuple[str, Any]) -> None:
        assert socket.serializer is not None
        assert socket.transport_pid is not None
        status, payload = status_payload
        frame = socket.serializer.encode_reply(ReplyMessage(socket.topic or "", status, payload, ref, socket.join_ref))
        if socket.sink is not None:
            socket.sink.push(frame)
        else:
            otp.send(socket.transport_pid, PushFrame(frame))
        if telemetry.ACTIVE:
            pushed_event(socket, type(self.channel).__qualname__, "reply")

    def _result(self, callback: str, res: Any, socket: Socket) -> otp.NoReply[Socket] | otp.Stop[Socket]:
        t = type(res)
        if t is otp.NoReply:
            return res  # type: ignore[no-any-return]
        if t is otp.Stop:
            return self._stop(res.reason, res.state)
        raise otp.BadReturnError(
            f"expected {type(self.channel).__qualname__}.{callback} to return NoReply(socket) | "
            f"Stop(reason, socket), got: {res!r}"
        )

    def _stop(self, reason: otp.ExitReason, socket: Socket) -> otp.Stop[Socket]:
        if otp.is_normal_exit(reason) and socket.transport_pid is not None:
            me = otp.current_process()
            assert me is not None
            otp.send(socket.transport_pid, SocketClose(me.pid, reason))
        return otp.Stop(reason, socket)

    async def handle_call(self, request: Any, from_: otp.From, socket: Socket
                          ) -> otp.Reply[Socket] | otp.NoReply[Socket] | otp.Stop[Socket]:
        res = await self.channel.handle_call(request, from_, socket)
        if type(res) is otp.Stop:
            stop = self._stop(res.reason, res.state)
            # Stop(reason, socket, reply=...) answers the caller before stopping.
            return otp.Stop(stop.reason, stop.state, res.reply) if res.has_reply else stop
        return res

    async def handle_cast(self, request: Any, socket: Socket) -> otp.NoReply[Socket] | otp.Stop[Socket]:
        return self._result("handle_cast", await self.channel.handle_cast(request, socket), socket)

    async def terminate(self, reason: otp.ExitReason, socket: Socket) -> None:
        await self.channel.terminate(reason, socket)


def channel_child_spec(args: JoinArgs) -> otp.ChildSpec:
    async def start() -> otp.Pid:
        return await ChannelServer.start_link(args)

    return otp.ChildSpec(id="channel", start=start, restart=otp.Restart.TEMPORARY, shutdown=5.0,
                         behaviour=args.channel.__qualname__)
