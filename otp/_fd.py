"""A process that owns a file descriptor (a socket): one wait for "readable or a message".

Erlang gives a socket to a process (its *controlling process*), which then gets the data as
messages. Here the owning process reads the fd itself, in its own task, and one wait covers
both of its inputs::

    owned = otp.OwnedFd(sock.fileno())          # in the owning process
    while True:
        if await owned.wait_readable():          # True: the fd is readable
            data = os.read(owned.fd, 65536)
        else:                                    # False: a message is in the mailbox
            msg = otp.receive_nowait()
    ...
    owned.close()                                # before the socket itself is closed

Rules:

- ``wait_readable()`` returns False at once if the mailbox holds a message, and returns
  False as soon as a message is delivered while it waits; True when the fd is readable.
  Only the owning process calls it.
- ``wait_writable()`` may be called by any task working for the owner (a writer's flusher,
  started with :meth:`OwnedFd.start_soon`); a message delivered to the owner does not end it.
- ``close()`` marks the fd closed and wakes every waiter: each then raises
  ``trio.ClosedResourceError``. It does not close the kernel fd, whose object (a
  ``trio.socket``) keeps that job; call ``close()`` first, then close the socket. Closing the
  socket some other way also wakes the waiters with ``trio.ClosedResourceError``.
- Tasks started with :meth:`start_soon` run under the owner's node (its nursery), not as Trio
  system tasks; they must end by themselves once the fd is closed (waits raise then).

How a message wakes the wait: Trio's epoll waits can be ended only by the fd's readiness,
by cancellation, or by ``trio.lowlevel.notify_closing(fd)``. A cancel scope around every wait
costs ~9 µs here (more than the read it guards, on a request/reply path), so ``deliver``
uses ``notify_closing(fd)``: it wakes every task waiting on the fd with
``ClosedResourceError`` and drops the fd's epoll registration (the next wait makes it
again); nothing is closed. That detail stays inside this module: ``wait_writable`` tells
such a wake-up from a real close (``closed``) and waits again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ._node import Process, current_process

__all__ = ["OwnedFd"]


class OwnedFd:
    """The file descriptor ``fd`` owned by ``owner`` (by default the current process)."""

    __slots__ = ("closed", "fd", "owner")

    def __init__(self, fd: int, owner: Process | None = None) -> None:
        if owner is None:
            owner = current_process()
            if owner is None:
                raise RuntimeError("OwnedFd must be made in its owning process (or be given it)")
        self.fd = fd
        self.owner = owner
        #: Set by :meth:`close`: every wait raises ``trio.ClosedResourceError`` from now on.
        self.closed = False

    def __repr__(self) -> str:
        return f"<OwnedFd {self.fd} of {self.owner.pid}{' closed' if self.closed else ''}>"

    async def wait_readable(self) -> bool:
        """Wait until the fd is readable (True) or the owner's mailbox has a message (False).

        Raises:
            trio.ClosedResourceError: The fd was closed (``close()``, or its socket closed).
        """
        proc = self.owner
        if self.closed:
            raise trio.ClosedResourceError("the fd was closed")
        if proc.mailbox:
            return False
        if proc._waiting is not None or proc._io_waiter is not None:
            proc.refuse_second_waiter()
        proc._io_waiter = self
        try:
            await trio.lowlevel.wait_readable(self.fd)
        except trio.ClosedResourceError:
            if proc._io_waiter is self:  # not a message's wake-up: the fd was closed
                proc._io_waiter = None
                raise
            if self.closed:
                raise
            return False
        except BaseException:
            proc._io_waiter = None
            raise
        proc._io_waiter = None
        return True

    def _wake(self) -> None:
        """A message was delivered to the owner (``Process.deliver``): end ``wait_readable``."""
        if not self.closed:
            trio.lowlevel.notify_closing(self.fd)

    async def wait_writable(self) -> None:
        """Wait until the fd is writable (any task of the owner; messages do not end it).

        Raises:
            trio.ClosedResourceError: The fd was closed.
        """
        while True:
            if self.closed:
                raise trio.ClosedResourceError("the fd was closed")
            try:
                await trio.lowlevel.wait_writable(self.fd)
                return
            except trio.ClosedResourceError:
                if self.closed:
                    raise
                # The owner was woken for a message (see the module doc): wait again.
                # A socket closed behind our back is seen by the next wait (EBADF).
                continue

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None) -> None:
        """Run ``fn(*args)`` as a task under the owner's node, for the fd's I/O (a flusher).

        It must not raise (an exception would stop the node): catch what it expects.
        """
        self.owner.node._nursery.start_soon(fn, *args, name=name)

    def close(self) -> None:
        """Mark the fd closed and wake every waiter with ``trio.ClosedResourceError``.

        The kernel fd is left to its owner object (close the socket next). Idempotent.
        """
        if self.closed:
            return
        self.closed = True
        if self.owner._io_waiter is self:
            self.owner._io_waiter = None
        trio.lowlevel.notify_closing(self.fd)
