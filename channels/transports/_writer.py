"""The one writer of a connection's socket: direct non-blocking writes, a bounded outbox.

Why not ``await stream.send_all(frame)`` per message? Because the fan-out path would then
pay a Trio checkpoint (a scheduler pass, ~9 µs here) per subscriber per broadcast, and a
slow client would stall the broadcaster. Measured on this machine (performance.md, B1):
a frame encoded once and written with a non-blocking ``send()`` reached ~85k deliveries/s
against ~17k for trio-websocket's ``send_message``.

So every byte for the socket goes through ``SocketWriter.write_nowait``: while nothing is
queued it calls ``os.write`` on the (non-blocking) socket at once, in the caller's task;
whatever the kernel refuses waits in a per-connection outbox, which a small flusher task
drains when the socket becomes writable, coalescing everything queued into one write.
The outbox is judged by its backlog over time, never by one frame's size: a backlog over
``max_outbox`` starts a clock (``over_since``, reported once through ``on_over``; the owner
gives up with ``give_up`` if it is still over after its timeout), and a frame queued while
the backlog already holds more than ``max_backlog`` is refused at once (a hard bound on the
memory one client pins). Either way the owner learns it through ``on_close`` (the transport
closes the client with 1013), so a slow client never slows a broadcast to anyone else.

One writer per socket: the handshake response, our pongs and close frames and every
channel frame go through this same queue (``channels.transports._websocket``), so no frame
can interleave with another, whoever wrote it.

The socket is an ``otp.OwnedFd`` of the connection process: the flusher is a task of that
process's node (``OwnedFd.start_soon``) and waits with ``OwnedFd.wait_writable``, which a
message to the process does not end; ``OwnedFd.close()`` ends it.
"""

from __future__ import annotations

import collections
import errno
import logging
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

import otp

__all__ = ["SocketWriter", "WriterStatistics"]

logger = logging.getLogger("channels.transport")

#: Coalesce at most this much queued data into one write.
MAX_COALESCE = 256 * 1024


@dataclass(frozen=True, slots=True)
class WriterStatistics:
    #: Bytes waiting in the outbox now.
    outbox_bytes: int
    #: The most bytes the outbox ever held.
    outbox_high_water: int
    #: Bytes written to the socket so far.
    bytes_written: int
    #: Writes that went straight to the socket / that had to wait in the outbox.
    direct_writes: int
    queued_writes: int
    #: Whether the writer gave up (peer gone, overflow).
    closed: bool


_NO_OUTBOX: Any = ()


class SocketWriter:
    """Owns the write side of one connected socket."""

    __slots__ = (
        "_drained",
        "_flushing",
        "_pending",
        "accepting",
        "bytes_written",
        "close_reason",
        "closed",
        "direct_writes",
        "fd",
        "high_water",
        "max_backlog",
        "max_outbox",
        "on_close",
        "on_over",
        "outbox",
        "outbox_bytes",
        "over_since",
        "owned",
        "queued_writes",
    )

    def __init__(self, owned: otp.OwnedFd, *, max_outbox: int, max_backlog: int | None = None,
                 on_close: Callable[[str], None] | None = None,
                 on_over: Callable[[], None] | None = None) -> None:
        self.owned = owned
        self.fd = owned.fd
        #: The backlog a client may keep for a while (see ``over_since``).
        self.max_outbox = max_outbox
        #: The backlog past which no frame is queued (the client is given up at once).
        self.max_backlog = max_outbox if max_backlog is None else max_backlog
        self.on_close = on_close
        #: Called when the backlog goes over ``max_outbox`` (``over_since`` was None).
        self.on_over = on_over
        #: When the backlog went over ``max_outbox`` (None while it is not over).
        self.over_since: float | None = None
        # Made when something has to wait (most connections never have a backlog).
        self.outbox: collections.deque[bytes | memoryview] = _NO_OUTBOX
        self.outbox_bytes = 0
        self.high_water = 0
        self.bytes_written = 0
        self.direct_writes = 0
        self.queued_writes = 0
        self.closed = False
        self.accepting = True
        self.close_reason: str | None = None
        self._flushing = False
        self._drained: trio.Event | None = None
        # Fan-out frames waiting for the coalescer (see ``write_coalesced``).
        self._pending: list[bytes] | None = None

    def write_coalesced(self, data: bytes) -> bool:
        """Write ``data`` soon, together with the other frames sent to this socket meanwhile.

        Broadcast bursts are where the per-``send()`` cost (~7 µs of kernel work on this
        machine) is the ceiling. Frames given here wait until the broadcasting task yields;
        then the coalescer writes each socket's frames with one syscall. Any other write to
        the same socket first writes what waits here, so the order of frames is kept.
        """
        if not self.accepting:
            return False
        pending = self._pending
        if pending is None:
            self._pending = [data]
            _coalescer(self.owned).add(self)
        else:
            pending.append(data)
        return True

    def flush_pending(self) -> None:
        pending = self._pending
        if pending is not None:
            self._pending = None
            self._write(pending[0] if len(pending) == 1 else b"".join(pending))

    def write_nowait(self, data: bytes) -> bool:
        """Write ``data`` now, or queue what the socket refuses. Never blocks.

        Returns False if the writer is closed (the data is dropped; the connection is
        going away and its owner has been told through ``on_close``).
        """
        if self._pending is not None:
            self.flush_pending()
        return self._write(data)

    def _write(self, data: bytes) -> bool:
        if not self.accepting:
            return False
        if not self.outbox:
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                self._fail(f"write failed: {errno.errorcode.get(exc.errno or 0, exc)}")
                return False
            self.bytes_written += n
            if n == len(data):
                self.direct_writes += 1
                return True
            rest: bytes | memoryview = memoryview(data)[n:]
        else:
            rest = data
            if self.outbox_bytes > self.max_backlog:
                # The backlog is already past the hard bound: one frame, however big, never
                # decides this (it is judged before the frame is added).
                self.give_up(f"outbox overflow: {self.outbox_bytes} bytes queued (limit {self.max_backlog})")
                return False
        self.queued_writes += 1
        if self.outbox is _NO_OUTBOX:
            self.outbox = collections.deque()
        self.outbox.append(rest)
        self.outbox_bytes += len(rest)
        if self.outbox_bytes > self.high_water:
            self.high_water = self.outbox_bytes
        self._start_flusher()
        if self.outbox_bytes > self.max_outbox and self.over_since is None:
            self.over_since = trio.current_time()
            if self.on_over is not None:
                self.on_over()
        return True

    def give_up(self, reason: str) -> None:
        """Stop taking frames (the client is too slow) and tell the owner (``on_close``).

        What is queued is kept (it ends on a frame boundary) so that the owner can still
        finish with a clean close frame (``finish``)."""
        if not self.accepting:
            return
        self.accepting = False
        self._pending = None
        self.close_reason = reason
        if self.on_close is not None:
            self.on_close(reason)

    def _start_flusher(self) -> None:
        if not self._flushing:
            self._flushing = True
            # No nursery per connection (it costs ~1.5 KiB on each): the rare flusher is a
            # task of the node, and ends with the socket (closing the OwnedFd wakes it).
            self.owned.start_soon(self._flush_quietly, name="channels-flush")

    async def _flush_quietly(self) -> None:
        try:
            await self._flush()
        except (trio.ClosedResourceError, trio.BrokenResourceError, OSError) as exc:
            self._fail(f"socket closed: {exc!r}")

    async def _flush(self) -> None:
        try:
            while self.outbox and not self.closed:
                await self.owned.wait_writable()
                if self.closed:  # closed while we waited
                    break  # type: ignore[unreachable]
                if len(self.outbox) == 1:
                    chunk: bytes | memoryview = self.outbox[0]
                else:
                    parts = []
                    size = 0
                    while self.outbox and size < MAX_COALESCE:
                        part = self.outbox.popleft()
                        parts.append(part)
                        size += len(part)
                    chunk = b"".join(parts)
                    self.outbox.appendleft(chunk)
                try:
                    n = os.write(self.fd, chunk)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    self._fail(f"write failed: {errno.errorcode.get(exc.errno or 0, exc)}")
                    break
                self.bytes_written += n
                self.outbox_bytes -= n
                if self.outbox_bytes <= self.max_outbox:
                    self.over_since = None
                if n == len(chunk):
                    self.outbox.popleft()
                else:
                    self.outbox[0] = memoryview(chunk)[n:]
        finally:
            self._flushing = False
            if not self.outbox:
                self.outbox = _NO_OUTBOX
            if not self.outbox and self._drained is not None:
                self._drained.set()
                self._drained = None

    async def wait_drained(self) -> None:
        """Wait until everything queued has been written (or the writer closed)."""
        self.flush_pending()
        while self.outbox and not self.closed:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()
        await trio.lowlevel.checkpoint()

    async def finish(self, last: bytes, timeout: float) -> None:
        """Queue ``last`` (a close frame) after what is queued and wait up to ``timeout``
        for it all to be written. Used to close a slow client cleanly."""
        if self.closed:
            return
        self.flush_pending()
        if self.outbox is _NO_OUTBOX:
            self.outbox = collections.deque()
        self.outbox.append(last)  # past the limit on purpose: it is the last frame
        self.outbox_bytes += len(last)
        self._start_flusher()
        with trio.move_on_after(timeout):
            await self.wait_drained()

    def _fail(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.accepting = False
        self._pending = None
        self.close_reason = reason
        self.outbox = _NO_OUTBOX
        self.outbox_bytes = 0
        self.over_since = None
        if self._drained is not None:
            self._drained.set()
            self._drained = None
        if self.on_close is not None:
            self.on_close(reason)

    def close(self) -> None:
        """Stop writing (queued data is dropped)."""
        self._fail("closed")

    def statistics(self) -> WriterStatistics:
        return WriterStatistics(
            outbox_bytes=self.outbox_bytes,
            outbox_high_water=self.high_water,
            bytes_written=self.bytes_written,
            direct_writes=self.direct_writes,
            queued_writes=self.queued_writes,
            closed=self.closed,
        )


class _Coalescer:
    """Writes the frames that writers collected with ``write_coalesced``, one syscall each.

    One task per node (under the node's nursery). It is woken by the first pending frame, lets the
    broadcasting task go on for one more scheduler pass (so that a burst piles up), then
    flushes every writer that has something pending.
    """

    def __init__(self, owned: otp.OwnedFd) -> None:
        self.dirty: list[SocketWriter] = []
        self.task: trio.lowlevel.Task | None = None
        self.waiting = False
        owned.start_soon(self._run, name="channels-write-coalescer")

    def add(self, writer: SocketWriter) -> None:
        self.dirty.append(writer)
        if self.waiting and self.task is not None:
            self.waiting = False
            trio.lowlevel.reschedule(self.task)

    async def _run(self) -> None:
        self.task = trio.lowlevel.current_task()
        while True:
            if not self.dirty:
                self.waiting = True
                await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.SUCCEEDED)
            # One scheduler pass for the broadcaster to add more to this batch.
            await trio.lowlevel.cancel_shielded_checkpoint()
            dirty, self.dirty = self.dirty, []
            for writer in dirty:
                writer.flush_pending()


_COALESCERS: weakref.WeakKeyDictionary[otp.Node, _Coalescer] = weakref.WeakKeyDictionary()


def _coalescer(owned: otp.OwnedFd) -> _Coalescer:
    node = owned.owner.node
    c = _COALESCERS.get(node)
    if c is None:
        c = _COALESCERS[node] = _Coalescer(owned)
    return c
