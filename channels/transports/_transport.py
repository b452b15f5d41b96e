"""Raw transport sockets: WebSocket endpoints without the channel protocol (Phoenix.Socket.Transport).

Example: an echo socket mounted at ``/echo/websocket``::

    class EchoSocket(channels.Transport):
        async def handle_in(self, data, state):
            return channels.Reply(data, state)      # str → text frame, bytes → binary

    endpoint = channels.Endpoint(sockets=[channels.SocketMount("/echo", EchoSocket)])

The connection process runs the callbacks one at a time: ``connect`` (before the
upgrade; ``Refuse`` answers 403), ``init`` (after it), ``handle_in`` for each client message,
``handle_info`` for every other message sent to the connection process (its pid is
``state``-independent: ``otp.self()`` inside a callback), ``terminate`` at the end.
Results are the otp shapes: ``NoReply(state)``, ``Reply(data, state)`` (data is pushed to
the client), ``Stop(reason, state)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

import otp

from ..protocol import Opcode, encode_ws_close, encode_ws_frame
from ._messages import IDLE_CHECK, Accept, IdleCheck, Overflow, Refuse
from ._writer import SocketWriter
from ._wsconn import HandshakeFailed, accept_websocket

__all__ = ["Transport", "run_transport"]

logger = logging.getLogger("channels.transport")


class Transport:
    """Base class of raw WebSocket transports."""

    async def connect(self, params: Mapping[str, Any], connect_info: Mapping[str, Any]) -> Accept[Any] | Refuse:
        """Accept (``Accept(state)``; note: any state, not only a socket) or refuse (``Refuse()``)."""
        return Accept(None)

    async def init(self, state: Any) -> Any:
        """Called in the connection process once the WebSocket is open; returns the state."""
        return state

    async def handle_in(self, data: str | bytes, state: Any) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        """A message from the client (``str`` for text frames, ``bytes`` for binary)."""
        return otp.NoReply(state)

    async def handle_info(self, msg: Any, state: Any) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        """Any other message sent to the connection process."""
        return otp.NoReply(state)

    async def terminate(self, reason: otp.ExitReason, state: Any) -> None:
        """The connection is ending."""


@dataclass(frozen=True, slots=True)
class _In:
    data: str | bytes


@dataclass(frozen=True, slots=True)
class _Closed:
    code: int | None


async def run_transport(transport: Transport, state: Any, stream: trio.SocketStream, replay: bytes, *,
                        subprotocol: str | None, max_frame_size: int, max_outbox_bytes: int,
                        timeout: float) -> None:
    """Run a raw transport in the current (connection) process until it ends."""
    me = otp.current_process()
    assert me is not None
    name = type(transport).__qualname__
    reason: otp.ExitReason = otp.NORMAL
    async with trio.open_nursery() as nursery:
        writer = SocketWriter(stream.socket.fileno(), nursery, max_outbox=max_outbox_bytes,
                              on_close=lambda why: me.deliver(Overflow(why)))
        try:
            conn = await accept_websocket(stream, replay, writer, subprotocol=subprotocol)
        except HandshakeFailed as exc:  # the writer is closed
            logger.info("WebSocket handshake with %s failed: %s", me.pid, exc)
            nursery.cancel_scope.cancel()
            return
        me.summary = lambda: {"transport": "websocket", "socket": name, "outbox_bytes": writer.outbox_bytes}
        state = await transport.init(state)
        me.trap_exit = True  # the endpoint's shutdown closes with 1012 (see _websocket)
        nursery.start_soon(partial(conn.run_reader, lambda data: me.deliver(_In(data)),
                                   lambda code: me.deliver(_Closed(code)), max_message_size=max_frame_size))
        last_in = trio.current_time()
        client_closed = False
        otp.send_after(timeout, me.pid, IDLE_CHECK)  # one timer, re-armed lazily (see _websocket)
        try:
            while True:
                msg = await me.receive()
                if type(msg) is IdleCheck:
                    idle = trio.current_time() - max(last_in, conn.last_in)
                    if idle >= timeout:
                        reason = otp.Shutdown("idle_timeout")
                        break
                    otp.send_after(timeout - idle, me.pid, IDLE_CHECK)
                    continue
                if type(msg) is _Closed:
                    client_closed = True
                    break
                if type(msg) is Overflow:
                    if writer.closed:  # the socket is gone, not a slow client
                        client_closed = True
                        break
                    logger.warning("closing %s connection %s: the client cannot keep up (%s)", name, me.pid,
                                   msg.reason)
                    reason = otp.Shutdown("overflow")
                    await writer.finish(encode_ws_close(1013, "client too slow"), 5.0)
                    client_closed = True
                    break
                if type(msg) is otp.Exit:
                    if msg.pid is me.parent:
                        reason = otp.SHUTDOWN
                        break
                    continue
                if type(msg) is _In:
                    last_in = trio.current_time()
                    res = await transport.handle_in(msg.data, state)
                    callback = "handle_in"
                else:
                    res = await transport.handle_info(msg, state)
                    callback = "handle_info"
                if isinstance(res, otp.Reply):
                    data = res.reply
                    if isinstance(data, str):
                        writer.write_nowait(encode_ws_frame(Opcode.TEXT, data.encode()))
                    elif isinstance(data, bytes | bytearray | memoryview):
                        writer.write_nowait(encode_ws_frame(Opcode.BINARY, bytes(data)))
                    else:
                        raise otp.BadReturnError(f"{name}.{callback} replied with {data!r}; expected str or bytes")
                    state = res.state
                elif isinstance(res, otp.NoReply):
                    state = res.state
                elif isinstance(res, otp.Stop):
                    state, reason = res.state, res.reason
                    break
                else:
                    raise otp.BadReturnError(
                        f"expected {name}.{callback} to return Reply(data, state) | NoReply(state) | "
                        f"Stop(reason, state), got: {res!r}"
                    )
            if not client_closed and writer.accepting and conn.open:
                code = 1012 if reason is otp.SHUTDOWN else 1000 if otp.is_normal_exit(reason) else 1011
                conn.start_close(code)
                with trio.move_on_after(5.0):
                    await me.receive(lambda m: type(m) is _Closed)
        except Exception as exc:
            await transport.terminate(exc, state)
            raise
        finally:
            writer.close()
            nursery.cancel_scope.cancel()
    await transport.terminate(reason, state)
    if not otp.is_normal_exit(reason):
        raise otp.ProcessExit(reason)
