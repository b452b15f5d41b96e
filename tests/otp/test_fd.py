"""otp.OwnedFd: a process that owns a file descriptor waits for "readable or a message";
what a message, a close and another task waiting on the same fd see."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import trio
import trio.testing

import otp

# -- waiting for a socket or a message ----------------------------------------------------


def _socketpair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    return a, b


async def _socket_waiter(sock: Any, log: list[Any]) -> None:
    me = otp.current_process()
    assert me is not None
    while True:
        readable = await otp.OwnedFd(sock.fileno()).wait_readable()
        if readable:
            data = sock.recv(100)
            log.append(("data", data))
            if not data:
                return
        else:
            msg = await otp.receive()
            log.append(("msg", msg))


@contextlib.asynccontextmanager
async def _socket_waiting_process(node: otp.Node) -> AsyncIterator[tuple[socket.socket, otp.Pid, list[Any]]]:
    """A process in ``_socket_waiter`` on one end of a socket pair; yields the other end,
    its pid and its log; on exit the peer end is shut and the process must have ended."""
    a, b = _socketpair()
    log: list[Any] = []
    with a, b:
        pid = node.spawn(_socket_waiter, a, log)
        await trio.testing.wait_all_tasks_blocked()
        yield b, pid, log
        b.shutdown(socket.SHUT_WR)
        await trio.testing.wait_all_tasks_blocked()
    assert log[-1] == ("data", b"")
    assert not otp.is_alive(pid)


async def test_wait_readable_returns_true_when_the_socket_has_data(node: otp.Node) -> None:
    async with _socket_waiting_process(node) as (peer, _pid, log):
        assert log == []
        peer.send(b"hello")
        await trio.testing.wait_all_tasks_blocked()
        assert log == [("data", b"hello")]


async def test_wait_readable_returns_false_when_a_message_arrives_and_waits_again(node: otp.Node) -> None:
    async with _socket_waiting_process(node) as (b, pid, log):
        otp.send(pid, "one")
        await trio.testing.wait_all_tasks_blocked()
        assert log == [("msg", "one")]
        # The fd's registration was dropped by the wake-up; the next wait makes it again.
        b.send(b"x")
        await trio.testing.wait_all_tasks_blocked()
        assert log == [("msg", "one"), ("data", b"x")]
        otp.send(pid, "two")
        otp.send(pid, "three")
        await trio.testing.wait_all_tasks_blocked()
        assert log[2:] == [("msg", "two"), ("msg", "three")]


async def test_wait_readable_returns_false_at_once_when_the_mailbox_is_not_empty(node: otp.Node) -> None:
    a, b = _socketpair()
    results: list[bool] = []

    async def body() -> None:
        me = otp.current_process()
        assert me is not None
        await otp.receive(lambda m: m == "go")
        results.append(await otp.OwnedFd(a.fileno()).wait_readable())

    with a, b:
        pid = node.spawn(body)
        otp.send(pid, "queued")
        otp.send(pid, "go")
        await trio.testing.wait_all_tasks_blocked()
    assert results == [False]


async def test_wait_readable_raises_when_the_socket_is_really_closed(node: otp.Node) -> None:
    a, b = trio.socket.socketpair()
    seen: list[BaseException] = []

    async def body() -> None:
        me = otp.current_process()
        assert me is not None
        try:
            await otp.OwnedFd(a.fileno()).wait_readable()
        except trio.ClosedResourceError as exc:
            seen.append(exc)

    with b:
        pid = node.spawn(body)
        await trio.testing.wait_all_tasks_blocked()
        a.close()  # trio's close notifies the waiters
        await trio.testing.wait_all_tasks_blocked()
    assert len(seen) == 1
    assert not otp.is_alive(pid)
    # A message to the exited process wakes nothing.
    otp.send(pid, "late")
    info = otp.process_info(pid)
    assert info is None


async def test_a_message_does_not_end_another_tasks_wait_for_writability(node: otp.Node) -> None:
    # The writer's flusher waits for room on the owner's fd while the owner waits for
    # readability; a message wakes the owner only (otp._fd says how).
    a, b = _socketpair()
    a.setblocking(False)
    events: list[str] = []
    with a, b:
        while True:  # fill the socket buffer so that ``a`` is not writable
            try:
                a.send(b"x" * 65536)
            except BlockingIOError:
                break

        async def owner() -> None:
            owned = otp.OwnedFd(a.fileno())

            async def flusher() -> None:
                try:
                    await owned.wait_writable()
                    events.append("writable")
                except trio.ClosedResourceError:
                    events.append("flusher closed")

            owned.start_soon(flusher)
            while True:
                try:
                    readable = await owned.wait_readable()
                except trio.ClosedResourceError:
                    events.append("reader closed")
                    return
                if not readable:
                    msg = otp.receive_nowait()
                    events.append(f"msg {msg}")
                    if msg == "close":
                        owned.close()

        pid = node.spawn(owner)
        await trio.testing.wait_all_tasks_blocked()
        otp.send(pid, "one")
        await trio.testing.wait_all_tasks_blocked()
        assert events == ["msg one"]  # the flusher still waits
        with trio.fail_after(10):  # a guard only: the loop ends when the buffer drained
            while "writable" not in events:
                with contextlib.suppress(BlockingIOError):
                    b.recv(1 << 20, socket.MSG_DONTWAIT)
                await trio.testing.wait_all_tasks_blocked()
        assert events == ["msg one", "writable"]
        otp.send(pid, "close")
        await trio.testing.wait_all_tasks_blocked()
        assert events == ["msg one", "writable", "msg close", "reader closed"]
        assert not otp.is_alive(pid)


async def test_close_wakes_every_waiter_with_closed_resource_error(node: otp.Node) -> None:
    a, b = _socketpair()
    seen: list[str] = []
    with a, b:
        while True:
            try:
                a.send(b"x" * 65536)
            except BlockingIOError:
                break

        async def owner() -> None:
            owned = otp.OwnedFd(a.fileno())

            async def flusher() -> None:
                try:
                    await owned.wait_writable()
                except trio.ClosedResourceError:
                    seen.append("flusher")

            owned.start_soon(flusher)
            await otp.receive(lambda m: m == "close")
            owned.close()
            try:
                await owned.wait_readable()
            except trio.ClosedResourceError:
                seen.append("reader")

        pid = node.spawn(owner)
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []
        otp.send(pid, "close")
        await trio.testing.wait_all_tasks_blocked()
    assert sorted(seen) == ["flusher", "reader"]
