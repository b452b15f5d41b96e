"""The process API: ``self()``, ``spawn``, ``send``, ``receive``, links, monitors, names, timers.

These are module functions that act on the current process and the current node, the way
Erlang's BIFs do. Functions that never block are sync (``send``, ``link``, ``monitor``,
``register``); functions that may wait are async (``receive``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from ._node import (
    Dest,
    NoProcessError,
    NotInProcessError,
    Process,
    ProcessExit,
    ProcessInfo,
    TimerRef,
    _current,
    current_node,
    is_normal_reason_only,
)
from ._types import KILL, KILLED, NOPROC, NORMAL, Down, Exit, ExitReason, Pid, Ref, RegisteredName

__all__ = [
    "cancel_timer",
    "demonitor",
    "exit",
    "flush",
    "is_alive",
    "link",
    "make_ref",
    "monitor",
    "open_mailbox",
    "process_info",
    "processes",
    "read_timer",
    "receive",
    "receive_nowait",
    "register",
    "registered",
    "self",
    "send",
    "send_after",
    "spawn",
    "spawn_link",
    "spawn_monitor",
    "trap_exit",
    "unlink",
    "unregister",
    "whereis",
]


def _me() -> Process:
    proc = _current.get()
    if proc is None or not proc.alive:
        if proc is not None:
            # The process has exited (``exit(self(), ...)``, a kill) and its code runs on
            # (a ``finally``, or an ``except BaseException`` that caught the exit): every
            # otp call raises the exit again, as if the process were gone (it is).
            raise ProcessExit(proc.reason)
        raise NotInProcessError(
            "this must run inside a process (spawn one, or use `async with otp.open_mailbox()`)"
        )
    return proc


def self() -> Pid:
    """The pid of the current process (Erlang's ``self()``)."""
    return _me().pid


def spawn(fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None,
          trap_exit: bool = False) -> Pid:
    """Start ``fn(*args)`` as a new, independent process and return its pid.

    The new process outlives the caller; link them with ``spawn_link`` if it should not.
    """
    return current_node().spawn(fn, *args, name=name, trap_exit=trap_exit)


def spawn_link(fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None,
               trap_exit: bool = False) -> Pid:
    """Like ``spawn``, and link the new process to the current one, atomically."""
    return current_node().spawn(fn, *args, name=name, trap_exit=trap_exit, link=True)


def spawn_monitor(fn: Callable[..., Awaitable[Any]], *args: Any,
                  name: str | None = None) -> tuple[Pid, Ref]:
    """Like ``spawn``, and monitor the new process from the current one, atomically."""
    _me()  # outside a process, fail before spawning anything
    node = current_node()
    pid = node.spawn(fn, *args, name=name)
    return pid, monitor(pid)


def send(dest: Dest, msg: Any) -> None:
    """Send ``msg`` to a pid or registered name. Never blocks; mailboxes are unbounded."""
    current_node().send(dest, msg)


async def receive(match: Callable[[Any], bool] | type | tuple[type, ...] | None = None,
                  *, timeout: float | None = None) -> Any:
    """Take the first message in the mailbox that matches, waiting for one if needed.

    Args:
      match: None for any message; a type (or tuple of types) to match by
        ``isinstance``; or a predicate. Messages that do not match stay queued, in order.
      timeout: seconds to wait; None waits forever.

    Raises:
      ReceiveTimeout: no matching message arrived in time.
    """
    me = _me()
    return await me.receive(_matcher(match), timeout)


Match = Callable[[Any], bool] | type | tuple[type, ...] | None


def _matcher(match: Match) -> Callable[[Any], bool] | None:
    """A predicate for ``match``: types (or tuples of types) match by ``isinstance``."""
    if isinstance(match, type | tuple):
        types = match

        def by_type(m: Any) -> bool:
            return isinstance(m, types)

        return by_type
    return match


def receive_nowait(match: Match = None) -> Any:
    """Take the first matching message, or raise ``trio.WouldBlock`` if there is none.

    ``match`` is as for ``receive``: None, a type or tuple of types, or a predicate.
    """
    mb = _me().mailbox
    pred = _matcher(match)
    for i, m in enumerate(mb):
        if pred is None or pred(m):
            del mb[i]
            return m
    raise trio.WouldBlock


def flush(match: Match = None) -> int:
    """Drop queued messages (all, or those matching, as for ``receive``); return how many."""
    me = _me()
    pred = _matcher(match)
    if pred is None:
        n = len(me.mailbox)
        if n:
            me.mailbox.clear()
        return n
    return me.drop(pred)


def link(pid: Pid) -> None:
    """Link the current process and ``pid``, both ways.

    Linking to a process that is not alive raises ``NoProcessError`` (reason ``noproc``)
    in the caller, as Erlang's ``link/1`` does; a caller that traps exits gets
    ``Exit(pid, NOPROC)`` in its mailbox instead.
    """
    me = _me()
    if pid is me.pid:
        return
    other = me.node.process(pid)
    if other is None:
        if me.trap_exit:
            me.deliver(Exit(pid, NOPROC))
            return
        raise NoProcessError(f"cannot link to {pid}: it is not alive (noproc)")
    me.add_link(pid)
    other.add_link(me.pid)


def unlink(pid: Pid) -> None:
    """Remove the link between the current process and ``pid``, if any."""
    me = _me()
    me.remove_link(pid)
    other = me.node.process(pid)
    if other is not None:
        other.remove_link(me.pid)


def monitor(pid: Pid | str) -> Ref:
    """Monitor a process: when it exits, the current process gets ``Down(ref, pid, reason)``.

    Monitoring a process that is already dead delivers ``Down(ref, pid, NOPROC)`` at once.
    A monitor taken on a registered name reports the name, as Erlang's ``{Name, Node}``:
    its ``Down`` carries ``RegisteredName(name, node.name)`` in place of the pid, whether
    the process was alive or not.
    """
    me = _me()
    if type(pid) is not Pid and not isinstance(pid, str):
        raise TypeError(f"monitor: expected a Pid or a registered name, got {pid!r}")
    ref = Ref()
    node = me.node
    target = node.resolve(pid)
    if target is None:
        if type(pid) is Pid:
            me.deliver(Down(ref, pid, NOPROC))
        else:
            me.deliver(Down(ref, RegisteredName(pid, node.name), NOPROC))
        return ref
    me.monitors[ref] = target.pid
    target.monitored_by[ref] = me.pid
    if type(pid) is not Pid:
        node._monitor_names[ref] = RegisteredName(pid, node.name)
    return ref


def demonitor(ref: Ref, *, flush: bool = False) -> bool:
    """Stop a monitor. With ``flush=True`` also drop its ``Down`` if already queued.

    Returns True if the monitor was active (what Erlang's ``demonitor(Ref, [info])``
    answers; plain ``demonitor/1`` always answers ``true``): False for a monitor that has
    fired, one already removed, or a reference that is not a monitor of this process.

    Raises:
      TypeError: ``ref`` is not a reference (Erlang: ``badarg``).
    """
    if type(ref) is not Ref:
        raise TypeError(f"demonitor: expected a Ref, got {ref!r}")
    me = _me()
    target_pid = me.monitors.pop(ref, None)
    if target_pid is not None:
        me.node._monitor_names.pop(ref, None)
        target = me.node.process(target_pid)
        if target is not None:
            target.monitored_by.pop(ref, None)
    if flush:
        me.drop(lambda m: type(m) is Down and m.ref is ref)
    return target_pid is not None


def exit(pid: Pid, reason: ExitReason) -> None:
    """Send an exit signal to ``pid`` from the current process (Erlang's ``exit/2``).

    ``KILL`` cannot be trapped and the victim exits ``KILLED``. A trapping process gets
    ``Exit(sender, reason)`` instead. ``NORMAL`` from another process is ignored unless
    the target traps exits. Usable outside processes too (the signal then comes from the
    node's pseudo-pid ``<0.0.0>``).

    Sent to the current process itself, a signal that ends it does so before ``exit``
    returns, as in Erlang: the process is dead to the runtime at once (links and monitors
    signalled, name freed) and ``ProcessExit`` is raised in the caller; should the code
    catch it, every later otp call raises it again. A process that traps exits gets
    ``Exit(self, reason)`` instead (except for ``KILL``), and ``NORMAL`` ends it.
    """
    me = _current.get()
    if me is not None and pid is me.pid and me.alive:
        _exit_self(me, reason)
        return
    current_node().exit(pid, reason, sender=me.pid if me is not None else None)


def _exit_self(me: Process, reason: ExitReason) -> None:
    if reason is KILL or (type(reason) is str and reason == "kill"):
        final: ExitReason = KILLED
    elif me.trap_exit:
        me.deliver(Exit(me.pid, reason))
        return
    else:
        final = NORMAL if is_normal_reason_only(reason) else reason
    me.kill(final)  # records the reason and cancels the process's scope
    final = me._pending_exit
    me._finish(final)
    raise ProcessExit(final)


def trap_exit(flag: bool = True) -> bool:
    """Set whether the current process traps exit signals; return the old value."""
    me = _me()
    old = me.trap_exit
    me.trap_exit = flag
    return old


def register(name: str, pid: Pid | None = None) -> None:
    """Register ``pid`` (default: the current process) under ``name``."""
    node = current_node()
    node.register(name, pid if pid is not None else _me().pid)


def unregister(name: str) -> None:
    """Free ``name``."""
    current_node().unregister(name)


def whereis(name: str) -> Pid | None:
    """The pid registered under ``name``, or None."""
    return current_node().whereis(name)


def registered() -> list[str]:
    """All registered names."""
    return current_node().registered()


def is_alive(pid: Pid) -> bool:
    """Whether ``pid`` is alive. The answer may be stale by the time you act on it."""
    return current_node().process(pid) is not None


def make_ref() -> Ref:
    """A new unique reference."""
    return Ref()


def send_after(delay: float, dest: Dest, msg: Any) -> TimerRef:
    """Send ``msg`` to ``dest`` after ``delay`` seconds. Returns a ``TimerRef``."""
    return current_node().send_after(delay, dest, msg)


def cancel_timer(timer: TimerRef | Ref) -> float | None:
    """Cancel a timer; return the seconds it had left, or None if there is no such timer.

    None is Erlang's ``false``: the timer fired, was cancelled, was never armed (aimed at
    a dead pid) or was cancelled when its target process exited, or ``timer`` is some
    other reference. Anything that is not a reference raises ``TypeError`` (``badarg``).
    """
    return current_node().cancel_timer(timer)


def read_timer(timer: TimerRef | Ref) -> float | None:
    """The seconds a timer has left, or None if there is no such timer (Erlang's ``read_timer``)."""
    return current_node().read_timer(timer)


def process_info(pid: Pid | str) -> ProcessInfo | None:
    """A snapshot of one process (links, monitors, statistics, summary), or None."""
    proc = current_node().resolve(pid)
    return proc.info() if proc is not None else None


def processes() -> list[Pid]:
    """All live pids, oldest first."""
    return [p.pid for p in current_node().processes()]


@asynccontextmanager
async def open_mailbox(*, name: str | None = None) -> AsyncIterator[Pid]:
    """Give the current (non-process) task a pid and a mailbox for the block's duration.

    This lets test code and plain Trio tasks ``receive``, ``monitor`` and ``call`` like a
    process. The pid exits ``normal`` when the block ends. ``otp.call`` does this for you.
    """
    if _current.get() is not None and _current.get().alive:  # type: ignore[union-attr]
        raise RuntimeError("already inside a process")
    node = current_node()
    proc = _external(node, name)
    token = _current.set(proc)
    try:
        yield proc.pid
    finally:
        _current.reset(token)
        proc._finish("normal")


def _external(node: Any, name: str | None) -> Process:
    from ._types import Pid as _Pid

    pid = _Pid(node.node_id, next(node._next_id))
    proc = Process(node, pid, None, "external")
    proc.external = True
    node._procs[pid.id] = proc
    if name is not None:
        node._register(name, proc)
    return proc
