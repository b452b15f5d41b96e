"""The Channel behaviour: one conversation on one topic between a client and the server.

Example::

    class RoomChannel(channels.Channel):
        intercept = ["user_joined"]

        async def join(self, topic, payload, socket):
            if topic == "room:lobby":
                return channels.Accept(socket)
            return channels.Refuse({"reason": "unauthorized"})

        async def handle_in(self, event, payload, socket):
            if event == "new_msg":
                socket.broadcast("new_msg", {"body": payload["body"]})
                return channels.NoReply(socket)
            return channels.Reply(("ok", {"echo": payload}), socket)

        async def handle_out(self, event, payload, socket):
            socket.push(event, {**payload, "seen_by": socket.assigns.get("user")})
            return channels.NoReply(socket)

Each joined topic runs in its own process (a ``GenServer`` started under the endpoint's
socket pool, restart ``temporary`` as in Phoenix), so a crash in one channel sends the
client ``phx_error`` for that topic and leaves the socket and its other channels alone.

Callback results are the otp shapes with the socket as state:

==================  ===========================================================
``join``             ``Accept(socket)``, ``Accept(socket, reply)``, ``Refuse(reply)``
``handle_in``        ``Reply(status_or_(status, payload), socket)``, ``NoReply(socket)``,
                     ``Stop(reason, socket)``, ``Stop(reason, socket, reply=...)``
``handle_out``       ``NoReply(socket)``, ``Stop(reason, socket)``
``handle_info``      ``NoReply(socket)``, ``Stop(reason, socket)``
``terminate``        anything (ignored)
==================  ===========================================================

A stop with ``otp.NORMAL``, ``otp.SHUTDOWN`` or ``otp.Shutdown(term)`` closes the channel
gracefully (``phx_close``); any other reason is a crash (``phx_error``, logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import otp

from ._socket import Accept, Refuse, Socket

__all__ = ["Channel"]

logger = logging.getLogger("channels.channel")

S = TypeVar("S", bound=Socket)


class Channel:
    """Base class of user channels (Phoenix's ``use Phoenix.Channel``)."""

    #: Events routed through ``handle_out`` instead of the fastlane.
    intercept: ClassVar[Sequence[str]] = ()

    async def join(self, topic: str, payload: Any, socket: Any) -> Accept[Any] | Refuse:
        """Authorize a join. The default refuses, so that nothing is joinable by accident."""
        return Refuse({"reason": "join/3 is not implemented"})

    async def handle_in(self, event: str, payload: Any, socket: Any
                        ) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        """Handle an event pushed by the client."""
        raise RuntimeError(f"{type(self).__qualname__} has no handle_in for event {event!r}")

    async def handle_out(self, event: str, payload: Any, socket: Any) -> otp.NoReply[Any] | otp.Stop[Any]:
        """Handle an intercepted broadcast before it is pushed (push it yourself)."""
        socket.push(event, payload)
        return otp.NoReply(socket)

    async def handle_info(self, msg: Any, socket: Any) -> otp.NoReply[Any] | otp.Stop[Any]:
        """Handle any other message sent to the channel process."""
        logger.warning("%s received an unexpected message in handle_info: %r",
                       type(self).__qualname__, msg)
        return otp.NoReply(socket)

    async def handle_call(self, request: Any, from_: otp.From, socket: Any
                          ) -> otp.Reply[Any] | otp.NoReply[Any] | otp.Stop[Any]:
        raise RuntimeError(f"{type(self).__qualname__} received an unexpected call: {request!r}")

    async def handle_cast(self, request: Any, socket: Any) -> otp.NoReply[Any] | otp.Stop[Any]:
        raise RuntimeError(f"{type(self).__qualname__} received an unexpected cast: {request!r}")

    async def terminate(self, reason: otp.ExitReason, socket: Any) -> None:
        """Called when the channel stops: leave (``Shutdown("left")``), the transport closed
        (``Shutdown("closed")``), a stop you returned, a crash in a callback, or drain."""
