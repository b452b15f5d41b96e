"""Fastlane: encode a broadcast once per serializer and write it straight to transports.

Phoenix's ``Phoenix.Channel.Server.dispatch/3`` does the same: a subscriber entry carries
``{:fastlane, transport_pid, serializer, intercepts}``; a broadcast whose event the channel
does not intercept is serialised once (per serializer, per dispatch) and handed to the
transport directly, never through the channel process.

We go one step further, because a mailbox hop per subscriber costs a Trio scheduler pass
(about 9 µs here, see ``reference/performance.md`` B1/B4): the entry holds the transport's
*sink*, and the frame bytes go to the socket from the broadcasting task itself: collected
per socket until that task yields, then written with one non-blocking ``send()`` per
socket (``channels.transports._writer``). For WebSocket the frame is also framed once: server frames
are unmasked, so the bytes are identical for every subscriber (and, with permessage-deflate,
compressed once per window size: the server never keeps context between messages).

Order: what one process sends a transport keeps its order, as through Phoenix's
transport mailbox. A sink writes directly only while the transport's mailbox is empty;
otherwise the frame queues behind what waits there (a push of the same channel, the
transport's own join reply...). And until the transport marks a new subscription
``ready`` (right after writing the join reply), broadcasts go through its mailbox. Both
halves of that rule are :class:`OrderedSink`, which every transport's sink is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import otp

from ..protocol import Broadcast, Frame, Serializer, frame_to_ws_bytes
from ._pubsub import PubSub, register_dispatcher

__all__ = ["FastlaneSub", "OrderedSink", "PushFrame", "Sink", "broadcast", "fastlane_dispatcher"]


@dataclass(frozen=True, slots=True)
class PushFrame:
    """channel or fastlane -> transport: write this encoded frame (``{:socket_push, opcode, data}``).

    Defined here, in the pub/sub layer, because the fastlane sends it to a transport whose
    sink is not ready; transports and channels import it from here (or ``transports._messages``).
    """

    frame: Frame


class Sink(Protocol):
    """Where a transport takes pre-encoded frames from the fastlane (see :class:`OrderedSink`)."""

    #: "ws", "ws+deflate/<bits>" (WebSocket-framed bytes) or "raw" (the serializer's bytes,
    #: for long-poll): sinks with the same encoding share one encoding of a broadcast.
    encoding: str

    def write_fastlane(self, frame: Frame, data: bytes, *, ready: bool = True) -> None:
        """Write one broadcast frame; ``data`` is ``frame`` encoded for ``encoding``."""

    def push(self, frame: Frame) -> None:
        """Write a channel's push or reply (from the channel's process), keeping its order."""


class OrderedSink:
    """The one place of the rule "write directly only while the transport's mailbox is
    empty and the fastlane is ready" (transports subclass it).

    A frame for the client is written to the socket at once, from the sending process
    (the channel's, or the broadcaster's), only while nothing waits in the transport
    process's mailbox; otherwise it goes there as ``PushFrame``, behind what waits, so that
    what one process sends the client keeps its order. A broadcast also waits in the
    mailbox until the transport marked its subscription ``ready`` (after the join reply).
    """

    __slots__ = ()

    #: See :attr:`Sink.encoding`.
    encoding: str

    def transport_process(self) -> otp.Process | None:
        """The transport process whose mailbox orders this sink's frames."""
        raise NotImplementedError

    def write_now(self, frame: Frame, data: bytes | None, broadcast: bool) -> None:
        """Write ``frame`` now (``data``: its bytes for :attr:`encoding`, if already made)."""
        raise NotImplementedError

    def push(self, frame: Frame) -> None:
        self._write(frame, None, False, True)

    def write_fastlane(self, frame: Frame, data: bytes, *, ready: bool = True) -> None:
        self._write(frame, data, True, ready)

    def _write(self, frame: Frame, data: bytes | None, broadcast: bool, ready: bool) -> None:
        proc = self.transport_process()
        if proc is None:
            return  # the transport is gone
        if proc.mailbox or not ready:
            proc.deliver(PushFrame(frame))
        else:
            self.write_now(frame, data, broadcast)


class FastlaneSub:
    """The metadata of a channel's subscription to its own topic."""

    __slots__ = ("intercepts", "ready", "serializer", "sink", "transport_pid")

    def __init__(self, sink: Sink, serializer: Serializer, intercepts: frozenset[str],
                 transport_pid: otp.Pid) -> None:
        self.sink = sink
        self.serializer = serializer
        self.intercepts = intercepts
        self.transport_pid = transport_pid
        self.ready = False

    def __repr__(self) -> str:
        return f"<FastlaneSub {self.transport_pid} {self.sink.encoding} ready={self.ready}>"


class _FastlaneDispatcher:
    __slots__ = ("cache", "last")

    def __init__(self) -> None:
        self.last: Any = None
        self.cache: dict[tuple[Serializer, str], tuple[Frame, bytes]] = {}

    def __call__(self, entries: Iterable[tuple[otp.Pid, Any]], from_pid: otp.Pid | None,
                 msg: Any) -> None:
        node = otp.current_node()
        if type(msg) is not Broadcast:
            for pid, _meta in entries:
                if pid is not from_pid:
                    node.send(pid, msg)
            return
        if msg is not self.last:
            # Registry.dispatch calls us once per partition: keep the encodings of the
            # current broadcast across those calls.
            self.last = msg
            self.cache = {}
        cache = self.cache
        event = msg.event
        for pid, meta in entries:
            if pid is from_pid:
                continue
            if type(meta) is not FastlaneSub:
                node.send(pid, msg)
                continue
            if event in meta.intercepts:
                node.send(pid, msg)
                continue
            key = (meta.serializer, meta.sink.encoding)
            hit = cache.get(key)
            if hit is None:
                frame = meta.serializer.fastlane(msg)
                data = frame.data if key[1] == "raw" else frame_to_ws_bytes(frame, key[1])
                hit = cache[key] = (frame, data)
            meta.sink.write_fastlane(hit[0], hit[1], ready=meta.ready)


    def end(self) -> None:
        """The broadcast is dispatched: forget it (it must not be kept alive)."""
        self.last = None
        self.cache = {}


fastlane_dispatcher = _FastlaneDispatcher()
register_dispatcher("channels", fastlane_dispatcher)


def broadcast(pubsub: str, topic: str, event: str, payload: Any, *,
              from_pid: otp.Pid | None = None, local: bool = False) -> None:
    """Broadcast a channel event (the ``Phoenix.Channel.Server`` dispatcher)."""
    if not isinstance(topic, str) or not isinstance(event, str):
        raise TypeError(f"topic and event must be str, got {topic!r}, {event!r}")
    msg = Broadcast(topic, event, payload)
    if local:
        PubSub.local_broadcast_from(pubsub, from_pid, topic, msg, "channels")
    else:
        PubSub.broadcast_from(pubsub, from_pid, topic, msg, "channels")
