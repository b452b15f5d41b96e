"""The one acceptor loop: the endpoint's TCP acceptors and the control socket's use it.

An acceptor is a process that loops on ``accept()`` of a listening socket and hands each
accepted socket to ``handle`` (which then owns it: it closes it if it cannot serve it). With
a ``Limiter`` it applies back-pressure as Ranch's acceptors do: it accepts, then waits for a
free connection slot before handing the socket on, so the limit is never overshot and each
acceptor holds at most one accepted connection waiting. (Taking the slot *before*
``accept()`` let an acceptor sit on a slot while a client that the kernel queued on another
acceptor's ``SO_REUSEPORT`` socket waited for ever.) When the process
runs out of file descriptors or buffers (EMFILE, ENFILE, ENOBUFS, ENOMEM) it logs once per
failure and backs off for 100 ms instead of crashing (Ranch and Cowboy do the same).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

import trio

import otp

__all__ = ["AcceptorStatistics", "Limiter", "accept_loop"]

logger = logging.getLogger("channels.endpoint")

_OVERLOAD = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

#: How long an acceptor waits after running out of file descriptors or buffers.
OVERLOAD_BACKOFF = 0.1


class Limiter:
    """Counts live connections; acceptors wait for a free slot (back-pressure)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.high_water = 0
        self._lot = trio.lowlevel.ParkingLot()

    async def wait_for_slot(self) -> None:
        while self.count >= self.limit:
            await self._lot.park()

    def acquire(self) -> None:
        self.count += 1
        if self.count > self.high_water:
            self.high_water = self.count

    def release(self) -> None:
        self.count -= 1
        self._lot.unpark()

    def try_acquire(self) -> bool:
        """Take a slot if one is free now (long-poll sessions: they cannot wait in a backlog)."""
        if self.count >= self.limit:
            return False
        self.acquire()
        return True


@dataclass(slots=True)
class AcceptorStatistics:
    """What an acceptor has done (for its process's ``summary()``)."""

    accepted: int = 0


async def accept_loop(listener: trio.socket.SocketType,
                      handle: Callable[[trio.socket.SocketType], Awaitable[None]], *,
                      limiter: Limiter | None = None,
                      statistics: AcceptorStatistics | None = None) -> NoReturn:
    """Accept connections on ``listener`` forever, in the calling (acceptor) process.

    ``handle(sock)`` runs in the acceptor between two ``accept()`` calls: it should only hand
    the socket on (start a connection process, a task). With a ``limiter`` the acceptor waits
    for a free slot after ``accept()`` and takes it; the slot is then the handler's to release
    (when the connection ends, or at once if ``handle`` raises: then the socket is closed
    here, and the error ends the acceptor).
    """
    stats = statistics if statistics is not None else AcceptorStatistics()
    while True:
        try:
            sock, _addr = await listener.accept()
        except OSError as exc:
            if exc.errno in _OVERLOAD:
                logger.error("acceptor %s: %s; backing off for %d ms", otp.self(), os.strerror(exc.errno or 0),
                             round(OVERLOAD_BACKOFF * 1000))
                await trio.sleep(OVERLOAD_BACKOFF)
                continue
            raise
        stats.accepted += 1
        if limiter is not None:
            try:
                await limiter.wait_for_slot()
            except BaseException:
                sock.close()
                raise
            limiter.acquire()
        try:
            await handle(sock)
        except Exception:
            if limiter is not None:
                limiter.release()
            sock.close()
            raise
