"""The runtime kernel: the node that owns every process, and the processes themselves.

# Design

A *process* is one Trio task plus a mailbox, links, monitors and a name. All processes
of a node run in the node's root nursery, flat, exactly as Erlang processes are not
nested in their spawner: a process outlives the process that spawned it unless the two
are linked. Supervision is therefore expressed with links and exit signals, not with
nesting, and the supervision tree is a fact about links (plus the ``parent`` each
process records for introspection).

Things that don't work:

* One nursery per supervisor (Trio's natural shape). It makes "a process outlives its
  spawner" impossible and turns every ``spawn`` from a GenServer callback into a
  structural question.
* A memory channel per mailbox. ``send`` must never block and selective receive has to
  leave non-matching messages queued in order, which a channel cannot do; a channel also
  costs an extra hand-off per message.

Solution:

* The mailbox is a ``collections.deque``. ``send`` appends and, if the receiver is
  parked in ``receive``, reschedules its task with ``trio.lowlevel.reschedule`` -- one
  scheduler pass per message, the cheapest wake-up Trio has.
* ``receive(match)`` scans the queue from where its previous scan stopped, so a process
  that waits for one reply does not rescan its whole backlog on each new message.
* An exit signal that kills is a cancellation: each process runs inside its own
  ``CancelScope`` and ``exit(pid, reason)`` records the reason and cancels that scope.
  Like Erlang's kill, it takes effect at the victim's next checkpoint.
* On exit (``_finish``), everything happens synchronously, in this order: the name is
  freed, exit hooks run (registries drop their entries), links are signalled, monitors
  get ``Down``. So a name can be registered again by whoever sees the ``Down``.
* Timers live in a heap served by one task per node, not one task per timer. A timer
  aimed at a pid is also recorded on that process and cancelled (its message let go)
  when the process exits, as Erlang's are; one aimed at a name resolves it when it fires.

# Where Python cannot do what Erlang does

* **No pre-emption.** An exit signal from *another* process takes effect at the victim's
  next checkpoint (an ``await`` that yields): plain Python code between two checkpoints
  runs on, where the BEAM would stop it between any two reductions. A process that loops
  without awaiting cannot be stopped at all until it awaits.
* **A dead process's code may still run.** Termination is a Trio cancellation, so
  ``finally`` blocks and shielded sections of the victim still execute after the process is
  dead to the runtime. Everything the runtime owns is released at once (name, links,
  monitors, timers: ``_finish``); any otp call made from such code raises ``ProcessExit``
  again (``otp.self()``, ``send``, ``receive``, ``call``...), so it cannot act as the
  process it was.
* **Exits to oneself are immediate.** ``otp.exit(otp.self(), reason)`` ends the process
  before it returns, as in Erlang: ``_finish`` runs there and then, and ``ProcessExit`` is
  raised in the caller (see the previous point if the caller catches it).
* **One mailbox waiter.** An Erlang process is one thread of control; here a process may
  run several Trio tasks (a nursery inside it), but only one of them may wait for the
  mailbox at a time (``receive``, ``call``, ``OwnedFd.wait_readable``, the GenServer loop); a second
  is refused at once with ``ConcurrentReceiveError`` instead of silently stealing the first
  one's wake-up.

The README's "Differences from OTP" table lists these with the rest.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Final, Generic, Protocol, TypeVar, final

import attrs
import outcome
import trio

from ._types import (
    KILL,
    KILLED,
    NOPROC,
    NORMAL,
    SHUTDOWN,
    Down,
    Exit,
    ExitReason,
    Pid,
    Ref,
    RegisteredName,
    is_normal_exit,
)

__all__ = [
    "AlreadyRegisteredError",
    "ConcurrentReceiveError",
    "Node",
    "NoProcessError",
    "NotInProcessError",
    "Process",
    "ProcessExit",
    "ProcessInfo",
    "ProcessStatistics",
    "ReceiveTimeout",
    "TimerRef",
    "current_node",
    "current_process",
    "open_node",
    "run",
]

logger = logging.getLogger("otp")
crash_logger = logging.getLogger("otp.crash")

T = TypeVar("T")
Dest = Pid | str


class _FdWaiter(Protocol):
    """An ``otp.OwnedFd`` waiting for readability in its owner (``otp._fd``)."""

    def _wake(self) -> None: ...


class ProcessExit(BaseException):
    """Raised inside a process to exit with ``reason`` (Erlang's ``exit(Reason)``).

    It derives from ``BaseException`` so that ``except Exception`` in user code does
    not swallow it by accident.
    """

    def __init__(self, reason: ExitReason = NORMAL) -> None:
        super().__init__(reason)
        self.reason = reason


class NoProcessError(LookupError):
    """A name is not registered, or a pid is not alive, where one was required.

    ``reason`` is the term Erlang raises there: ``noproc``.
    """

    reason: ExitReason = NOPROC


class AlreadyRegisteredError(ValueError):
    """The name is taken, or the process already has a name.

    ``pid`` is the process that holds the name (Erlang's ``{already_started, Pid}``), or
    None when the process itself already has another name.
    """

    def __init__(self, message: str, pid: Pid | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class NotInProcessError(RuntimeError):
    """A process-only operation (``self()``, ``receive``, ``link``...) ran outside a process."""


class ReceiveTimeout(TimeoutError):
    """``receive`` found no matching message before its timeout."""


class ConcurrentReceiveError(RuntimeError):
    """A second task of one process tried to wait for its mailbox while another waits.

    An Erlang process is one thread of control: it cannot be in two ``receive`` at once.
    Here a process may run several Trio tasks (a nursery inside it), but only one of them
    may wait for the mailbox at a time; the second is refused at once rather than left
    to steal (or lose) the first one's wake-up.
    """


@attrs.frozen
class ProcessStatistics:
    """Counters of one process, in the spirit of ``trio``'s ``statistics()`` objects."""

    #: Messages waiting in the mailbox now.
    message_queue_len: int
    #: The most messages the mailbox ever held at once.
    message_queue_high_water: int
    #: Messages ever delivered to the mailbox.
    messages_received: int
    #: Links and monitors held.
    links: int
    monitors: int
    monitored_by: int
    #: Seconds since the process started (node clock).
    uptime: float


@attrs.frozen
class ProcessInfo:
    """A snapshot of one process for introspection (``otp.process_info``)."""

    pid: Pid
    name: str | None
    behaviour: str
    status: str
    parent: Pid | None
    links: tuple[Pid, ...]
    monitors: tuple[Pid, ...]
    monitored_by: tuple[Pid, ...]
    trap_exit: bool
    statistics: ProcessStatistics
    summary: Any
    started_wall: float


_current: ContextVar[Process | None] = ContextVar("otp_current_process", default=None)
_current_node: ContextVar[Node | None] = ContextVar("otp_current_node", default=None)
# The node of this Trio run, for tasks that did not inherit the context var (pytest-trio
# runs fixtures and tests in sibling tasks, for instance).
_run_node: trio.lowlevel.RunVar[Node | None] = trio.lowlevel.RunVar("otp_run_node", default=None)


# Shared by every process that has not received a message yet: empty, never appended to
# (``deliver`` replaces it first) -- a tuple, so that a stray append fails loudly.
_NO_MAILBOX: Any = ()
# Likewise for links (most processes of a server have one or two, many have none).
_NO_LINKS: Any = frozenset()


@final
class Process:
    """One running process: its mailbox, links, monitors and exit state.

    User code rarely touches this object; it uses the module functions (``otp.send``,
    ``otp.receive``, ``otp.link`` ...) which act on the current process.
    """

    __slots__ = (
        "__weakref__",
        "_cancel_scope",
        "_exit_hooks",
        "_io_waiter",
        "_pending_exit",
        "_timers",
        "_waiting",
        "alive",
        "behaviour",
        "crash_context",
        "external",
        "hwm",
        "links",
        "mailbox",
        "monitored_by",
        "monitors",
        "name",
        "node",
        "parent",
        "pid",
        "reason",
        "received",
        "started_at",
        "started_wall",
        "summary",
        "trap_exit",
    )

    def __init__(self, node: Node, pid: Pid, parent: Pid | None, behaviour: str) -> None:
        self.node = node
        self.pid = pid
        self.parent = parent
        self.behaviour = behaviour
        self.name: str | None = None
        # The deque is made on the first message: most processes of a server sit idle
        # with an empty mailbox, and an empty deque costs ~600 bytes.
        self.mailbox: collections.deque[Any] = _NO_MAILBOX
        self.links: set[Pid] = _NO_LINKS  # a set once the first link is made
        # monitors I hold: ref -> monitored pid; monitors on me: ref -> watcher pid
        self.monitors: dict[Ref, Pid] = {}
        self.monitored_by: dict[Ref, Pid] = {}
        self.trap_exit = False
        self.alive = True
        self.reason: ExitReason = None
        self.received = 0
        self.hwm = 0
        self.started_at = trio.current_time()
        self.started_wall = time.time()
        self.summary: Callable[[], Any] | None = None
        self.crash_context: Callable[[], str] | None = None
        self.external = False
        #: The ``OwnedFd`` whose ``wait_readable`` this process is in; ``deliver`` wakes it.
        self._io_waiter: _FdWaiter | None = None
        self._waiting: trio.lowlevel.Task | None = None
        self._pending_exit: ExitReason = None
        self._cancel_scope = trio.CancelScope()
        self._exit_hooks: list[Callable[[Process, ExitReason], None]] | None = None
        #: Timers aimed at this pid, cancelled when it exits (as Erlang's are): None, the
        #: one timer itself (most processes have at most one: 216 bytes of set saved per
        #: connection), or a set of them.
        self._timers: TimerRef | set[TimerRef] | None = None

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        return f"<Process {self.pid}{name} {self.behaviour}>"

    # -- mailbox ---------------------------------------------------------------------

    def deliver(self, msg: Any) -> None:
        """Append ``msg`` to the mailbox and wake the process if it waits. Never blocks."""
        mb = self.mailbox
        if mb is _NO_MAILBOX:
            mb = self.mailbox = collections.deque()
        mb.append(msg)
        self.received += 1
        n = len(mb)
        if n > self.hwm:
            self.hwm = n
        task = self._waiting
        if task is not None:
            self._waiting = None
            trio.lowlevel.reschedule(task)
        elif self._io_waiter is not None:
            waiter = self._io_waiter
            self._io_waiter = None
            waiter._wake()  # see otp._fd

    async def receive(
        self,
        match: Callable[[Any], bool] | None = None,
        timeout: float | None = None,
        _start: int = 0,
    ) -> Any:
        start = _start
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        while True:
            mb = self.mailbox  # re-read: the first message replaces the shared empty one
            if match is None:
                if mb:
                    m = mb.popleft()
                    if not mb:
                        self.mailbox = _NO_MAILBOX  # give the deque back while idle
                    return m
            else:
                n = len(mb)
                i = start
                while i < n:
                    m = mb[i]
                    if match(m):
                        del mb[i]
                        if not mb:
                            self.mailbox = _NO_MAILBOX
                        return m
                    i += 1
                start = n
            if deadline != math.inf and trio.current_time() >= deadline:
                raise ReceiveTimeout(f"no matching message within {timeout} s")
            # Park until ``deliver`` reschedules us (inlined: one coroutine frame less
            # per parked process, which is most of them).
            if self._waiting is not None or self._io_waiter is not None:
                self.refuse_second_waiter()
            self._waiting = trio.lowlevel.current_task()
            if deadline == math.inf:
                await trio.lowlevel.wait_task_rescheduled(self._abort)
            else:
                with trio.move_on_at(deadline):
                    await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _add_timer(self, timer: TimerRef) -> None:
        timers = self._timers
        if timers is None:
            self._timers = timer
        elif type(timers) is TimerRef:
            self._timers = {timers, timer}
        else:
            timers.add(timer)

    def _forget_timer(self, timer: TimerRef) -> None:
        timers = self._timers
        if timers is timer:
            self._timers = None
        elif timers is not None and type(timers) is not TimerRef:
            timers.discard(timer)

    def refuse_second_waiter(self) -> None:
        """Raise ``ConcurrentReceiveError``: another task of this process waits already."""
        other = self._waiting
        what = f"task {other.name!r} waits in receive" if other is not None else "a task waits in OwnedFd.wait_readable"
        raise ConcurrentReceiveError(
            f"{self.pid}: {what}; only one task of a process may wait for its mailbox at a time "
            "(receive in one task and hand messages to the others)"
        )

    def _abort(self, _: Any) -> trio.lowlevel.Abort:
        self._waiting = None
        return trio.lowlevel.Abort.SUCCEEDED

    def receive_nowait(self) -> Any:
        """Take the oldest message (the caller knows the mailbox is not empty)."""
        mb = self.mailbox
        m = mb.popleft()
        if not mb:
            self.mailbox = _NO_MAILBOX
        return m

    def add_link(self, pid: Pid) -> None:
        if self.links is _NO_LINKS:
            self.links = set()
        self.links.add(pid)

    def remove_link(self, pid: Pid) -> None:
        if self.links:
            self.links.discard(pid)

    def drop(self, match: Callable[[Any], bool]) -> int:
        """Remove every queued message matching ``match``; return how many."""
        mb = self.mailbox
        keep = [m for m in mb if not match(m)]
        dropped = len(mb) - len(keep)
        if dropped:
            mb.clear()
            mb.extend(keep)
        return dropped

    # -- exit signals ------------------------------------------------------------------

    def signal_exit(self, from_pid: Pid, reason: ExitReason, *, linked: bool) -> None:
        """Deliver an exit signal from ``from_pid`` (Erlang semantics)."""
        if not self.alive:
            return
        if reason is KILL and not linked:
            self.kill(KILLED)
            return
        # A *link* exit signal with reason ``kill`` (a linked process ended itself with
        # ``kill``) is an ordinary signal: trappable, and not turned into ``killed``
        # (reference manual, "Receiving Exit Signals").
        if self.trap_exit:
            self.deliver(Exit(from_pid, reason))
            return
        if is_normal_reason_only(reason):
            # A normal exit signal does not kill, unless it comes from the process itself.
            if from_pid is self.pid:
                self.kill(NORMAL)
            return
        self.kill(reason)

    def kill(self, reason: ExitReason) -> None:
        """Make the process exit with ``reason`` at its next checkpoint."""
        if not self.alive:
            return
        if self._pending_exit is None:
            self._pending_exit = reason
        if self.external:
            # An external caller has no scope of its own to cancel: it ends now, and a
            # receive it is parked in raises ProcessExit.
            reason = self._pending_exit
            self._finish(reason)
            task = self._waiting
            if task is not None:
                self._waiting = None
                trio.lowlevel.reschedule(task, outcome.Error(ProcessExit(reason)))
            return
        self._cancel_scope.cancel()

    def add_exit_hook(self, hook: Callable[[Process, ExitReason], None]) -> None:
        """Run ``hook(process, reason)`` synchronously when the process exits.

        Hooks run after the name is freed and before links and monitors are signalled.
        Registries use them to drop entries, as Erlang's ETS-backed registries do.
        """
        if self._exit_hooks is None:
            self._exit_hooks = []
        self._exit_hooks.append(hook)

    def remove_exit_hook(self, hook: Callable[[Process, ExitReason], None]) -> None:
        """Forget ``hook`` (added with ``add_exit_hook``); nothing happens if it is not there."""
        hooks = self._exit_hooks
        if hooks is not None:
            try:
                hooks.remove(hook)
            except ValueError:
                return
            if not hooks:
                self._exit_hooks = None

    def _finish(self, reason: ExitReason) -> None:
        if not self.alive:
            return
        self.alive = False
        self.reason = reason
        node = self.node
        node._procs.pop(self.pid.id, None)
        if self.name is not None and node._names.get(self.name) is self:
            del node._names[self.name]
        hooks = self._exit_hooks
        if hooks:
            self._exit_hooks = None
            for hook in hooks:
                try:
                    hook(self, reason)
                except Exception:
                    logger.exception("exit hook %r of %s failed", hook, self.pid)
        timers = self._timers
        if timers is not None:
            self._timers = None
            if type(timers) is TimerRef:
                node._cancel(timers)
            else:
                for timer in timers:
                    node._cancel(timer)
        procs = node._procs
        for other_pid in self.links:
            other = procs.get(other_pid.id)
            if other is not None:
                other.remove_link(self.pid)
                other.signal_exit(self.pid, reason, linked=True)
        self.links = _NO_LINKS
        names = node._monitor_names
        for ref, watcher_pid in self.monitored_by.items():
            watcher = procs.get(watcher_pid.id)
            if watcher is not None and watcher.monitors.pop(ref, None) is not None:
                obj: Pid | RegisteredName = self.pid
                if names:
                    obj = names.pop(ref, obj)
                watcher.deliver(Down(ref, obj, reason))
        self.monitored_by.clear()
        for ref, target_pid in self.monitors.items():
            if names:
                names.pop(ref, None)
            target = procs.get(target_pid.id)
            if target is not None:
                target.monitored_by.pop(ref, None)
        self.monitors.clear()
        self.mailbox = _NO_MAILBOX
        # Let go of what the process's code hung on it: its summary is often a bound method
        # of an object that holds the process, a cycle that only a full collection frees, and
        # with many live processes those are rare (a soak's RSS grew by the garbage).
        self.summary = self.crash_context = None

    # -- introspection -------------------------------------------------------------------

    def statistics(self) -> ProcessStatistics:
        return ProcessStatistics(
            message_queue_len=len(self.mailbox),
            message_queue_high_water=self.hwm,
            messages_received=self.received,
            links=len(self.links),
            monitors=len(self.monitors),
            monitored_by=len(self.monitored_by),
            uptime=trio.current_time() - self.started_at,
        )

    def info(self) -> ProcessInfo:
        summary: Any = None
        if self.summary is not None:
            try:
                summary = self.summary()
            except Exception as exc:  # introspection must never break the process
                summary = f"<summary failed: {exc!r}>"
        status = "waiting" if self._waiting is not None or self._io_waiter is not None else "runnable"
        if not self.alive:
            status = "exited"
        return ProcessInfo(
            pid=self.pid,
            name=self.name,
            behaviour=self.behaviour,
            status=status,
            parent=self.parent,
            links=tuple(sorted(self.links)),
            monitors=tuple(sorted(self.monitors.values())),
            monitored_by=tuple(sorted(self.monitored_by.values())),
            trap_exit=self.trap_exit,
            statistics=self.statistics(),
            summary=summary,
            started_wall=self.started_wall,
        )


def is_normal_reason_only(reason: ExitReason) -> bool:
    return reason is NORMAL or (type(reason) is str and reason == "normal")


@final
class TimerRef:
    """A handle on a timer started by ``send_after``; pass it to ``cancel_timer``/``read_timer``."""

    __slots__ = ("cancelled", "deadline", "dest", "fired", "msg", "node", "proc", "seq")

    def __init__(self, node: Node, deadline: float, seq: int, dest: Dest, msg: Any) -> None:
        self.node = node
        self.deadline = deadline
        self.seq = seq
        self.dest: Any = dest
        self.msg = msg
        #: The target process of a timer aimed at a pid (None for a name).
        self.proc: Process | None = None
        self.cancelled = False
        self.fired = False

    def __lt__(self, other: TimerRef) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)

    def __repr__(self) -> str:
        return f"<TimerRef {self.seq} at {self.deadline:.3f}>"


#: How long the node waits for each top-level process to stop on shutdown before
#: killing it.
NODE_SHUTDOWN_TIMEOUT: Final = 10.0

_node_ids = itertools.count(0)


@final
class Node:
    """The runtime root: owns every process, the name table and the timer service.

    Create one with ``async with otp.open_node() as node:`` (or ``otp.run(main)``).
    Leaving the block stops all processes, newest first, and waits for them.
    """

    def __init__(self, nursery: trio.Nursery, *, node_id: int = 0, name: str = "nonode") -> None:
        self._nursery = nursery
        self.node_id = node_id
        self.name = name
        self._procs: dict[int, Process] = {}
        self._names: dict[str, Process] = {}
        self._next_id = itertools.count(1)
        self._timers: list[TimerRef] = []
        self._timer_seq = itertools.count()
        self._timer_scope: trio.CancelScope | None = None
        self._timer_wakeup_at = math.inf
        self._closing = False
        self._closed = False
        self.tables: dict[Hashable, Any] = {}
        #: The pseudo-pid that signals sent by the node itself (or by plain Trio code) come from.
        self.pid = Pid(node_id, 0)
        self._cancelled_timers = 0
        self._pending_calls: set[Ref] = set()
        #: Monitors taken on a registered name: their ``Down`` names it, not the pid.
        self._monitor_names: dict[Ref, RegisteredName] = {}
        self.crash_count = 0
        self.started_wall = time.time()

    def __repr__(self) -> str:
        return f"<Node {self.name} processes={len(self._procs)}>"

    # -- processes -------------------------------------------------------------------------

    def spawn(
        self,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        name: str | None = None,
        link: bool = False,
        trap_exit: bool = False,
        behaviour: str | None = None,
        parent: Pid | None = None,
    ) -> Pid:
        """Start ``fn(*args)`` as a new process and return its pid at once.

        ``link`` acts on behalf of the *current* process, atomically with the spawn (there
        is no window in which the child could exit unobserved).
        """
        me = _current.get()
        if link and me is None:
            raise NotInProcessError("spawn_link must be called from a process")
        if self._closing:
            raise RuntimeError(f"{self!r} is shutting down; cannot spawn")
        pid = Pid(self.node_id, next(self._next_id))
        if behaviour is None:
            behaviour = getattr(fn, "__qualname__", type(fn).__name__)
        proc = Process(self, pid, parent if parent is not None else (me.pid if me else None), behaviour)
        proc.trap_exit = trap_exit
        self._procs[pid.id] = proc
        if name is not None:
            try:
                self._register(name, proc)
            except BaseException:
                del self._procs[pid.id]
                raise
        if link and me is not None:
            me.add_link(pid)
            proc.add_link(me.pid)
        self._nursery.start_soon(self._run_process, proc, fn, args, name=f"otp{pid}")
        return pid

    async def _run_process(
        self, proc: Process, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
    ) -> None:
        _current.set(proc)
        _current_node.set(self)
        reason: ExitReason = NORMAL
        crashed = False
        try:
            with proc._cancel_scope:
                if proc._pending_exit is None:
                    body = fn(*args)
                    # This frame lives as long as the process; its arguments are the
                    # function's business (which may drop them when done with them).
                    del fn, args
                    await body
            if proc._pending_exit is not None:
                reason = proc._pending_exit
        except ProcessExit as exc:
            reason = exc.reason if proc._pending_exit is None else proc._pending_exit
            crashed = proc._pending_exit is None and not is_normal_exit(reason)
        except trio.Cancelled:
            # The node's nursery is being cancelled: the node is going away.
            proc._finish(proc._pending_exit if proc._pending_exit is not None else KILLED)
            raise
        except Exception as exc:  # a crash
            if proc._pending_exit is not None:
                reason = proc._pending_exit
            else:
                reason = exc
                crashed = True
        except BaseException as exc:  # KeyboardInterrupt and friends: let them through
            proc._finish(exc)
            raise
        if crashed:
            self._log_crash(proc, reason)
        proc._finish(reason)

    def _log_crash(self, proc: Process, reason: ExitReason) -> None:
        self.crash_count += 1
        who = f"{proc.pid}" + (f" ({proc.name})" if proc.name else "")
        extra = ""
        if proc.crash_context is not None:
            try:
                extra = "\n" + proc.crash_context()
            except Exception:  # pragma: no cover - context is best effort
                extra = ""
        if isinstance(reason, BaseException):
            crash_logger.error(
                "Process %s [%s] crashed: %r%s",
                who,
                proc.behaviour,
                reason,
                extra,
                exc_info=(type(reason), reason, reason.__traceback__),
            )
        else:
            crash_logger.error(
                "Process %s [%s] exited abnormally: %r%s", who, proc.behaviour, reason, extra
            )

    def process(self, pid: Pid) -> Process | None:
        """The live ``Process`` for ``pid``, or None."""
        proc = self._procs.get(pid.id)
        if proc is not None and proc.pid is pid:
            return proc
        return None

    def processes(self) -> list[Process]:
        """Every live process, oldest first."""
        return [self._procs[k] for k in sorted(self._procs)]

    def pid_from_string(self, text: str) -> Pid | None:
        """Find a live pid from its printed form ``<0.42.0>`` (or ``0.42.0``)."""
        parts = text.strip().strip("<>").split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        proc = self._procs.get(int(parts[1]))
        return proc.pid if proc is not None else None

    def resolve(self, dest: Dest) -> Process | None:
        if type(dest) is Pid:
            proc = self._procs.get(dest.id)
            return proc if proc is not None and proc.pid is dest else None
        return self._names.get(dest)

    # -- names ---------------------------------------------------------------------------

    def _register(self, name: str, proc: Process) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a registered name must be a non-empty str, got {name!r}")
        if name in self._names:
            holder = self._names[name].pid
            raise AlreadyRegisteredError(f"name {name!r} is already registered to {holder}", holder)
        if proc.name is not None:
            raise AlreadyRegisteredError(f"{proc.pid} is already registered as {proc.name!r}")
        self._names[name] = proc
        proc.name = name

    def register(self, name: str, pid: Pid) -> None:
        proc = self.process(pid)
        if proc is None:
            raise NoProcessError(f"cannot register {name!r}: {pid} is not alive")
        self._register(name, proc)

    def unregister(self, name: str) -> None:
        proc = self._names.pop(name, None)
        if proc is None:
            raise NoProcessError(f"name {name!r} is not registered")
        proc.name = None

    def whereis(self, name: str) -> Pid | None:
        proc = self._names.get(name)
        return proc.pid if proc is not None else None

    def registered(self) -> list[str]:
        return sorted(self._names)

    # -- messages --------------------------------------------------------------------------

    def send(self, dest: Dest, msg: Any) -> None:
        """Deliver ``msg`` to ``dest`` (a pid or a registered name). Never blocks.

        Sending to a dead pid silently does nothing, as in Erlang; sending to a name that
        is not registered raises ``NoProcessError``.
        """
        if type(dest) is Pid:
            proc = self._procs.get(dest.id)
            if proc is not None and proc.pid is dest:
                proc.deliver(msg)
            return
        proc = self._names.get(dest)
        if proc is None:
            raise NoProcessError(f"cannot send to {dest!r}: no process is registered under it")
        proc.deliver(msg)

    def exit(self, pid: Pid, reason: ExitReason, *, sender: Pid | None = None) -> None:
        """Send the exit signal ``reason`` to ``pid`` (Erlang's ``exit/2``).

        Without a ``sender`` (plain Trio code, the node itself) the signal comes from the
        node's own pseudo-pid ``node.pid`` (``<0.0.0>``).
        """
        proc = self.process(pid)
        if proc is None:
            return
        if sender is None:
            sender = self.pid
        if reason is KILL or (type(reason) is str and reason == "kill"):
            proc.kill(KILLED)
            return
        from_pid = sender
        if is_normal_reason_only(reason) and from_pid is not pid:
            if proc.trap_exit:
                proc.deliver(Exit(from_pid, reason))
            return
        if proc.trap_exit:
            proc.deliver(Exit(from_pid, reason))
        else:
            proc.kill(reason)

    # -- timers ------------------------------------------------------------------------------

    def send_after(self, delay: float, dest: Dest, msg: Any) -> TimerRef:
        """Send ``msg`` to ``dest`` after ``delay`` seconds; returns a ``TimerRef``.

        A timer aimed at a pid lives no longer than that process: it is cancelled when the
        process exits, and one aimed at a pid that is already dead is never armed (its
        ``read_timer`` answers None at once). A timer aimed at a name resolves the name
        when it fires, as Erlang's do.

        Raises:
          TypeError: ``delay`` is not a number, or ``dest`` is neither a pid nor a str.
          ValueError: ``delay`` is negative, NaN or infinite.
        """
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise TypeError(f"send_after: the delay must be a number of seconds, got {delay!r}")
        if not 0 <= delay < math.inf:
            raise ValueError(f"send_after: the delay must be finite and >= 0 seconds, got {delay!r}")
        deadline = trio.current_time() + delay
        timer = TimerRef(self, deadline, next(self._timer_seq), dest, msg)
        if type(dest) is Pid:
            proc = self._procs.get(dest.id)
            if proc is None or proc.pid is not dest:
                # Never armed: Erlang drops a timer aimed at a dead pid at once.
                timer.cancelled = True
                timer.dest = timer.msg = None
                return timer
            timer.proc = proc
            proc._add_timer(timer)
        elif not isinstance(dest, str):
            raise TypeError(f"send_after: the destination must be a Pid or a registered name, got {dest!r}")
        self._arm(timer)
        return timer

    def _arm(self, timer: TimerRef) -> None:
        """Put ``timer`` in the heap, waking the timer service earlier if it is the next one due."""
        heapq.heappush(self._timers, timer)
        if timer.deadline < self._timer_wakeup_at and self._timer_scope is not None:
            self._timer_wakeup_at = timer.deadline
            self._timer_scope.deadline = timer.deadline

    def _start_timeout(self, proc: Process, delay: float, msg: Any) -> TimerRef:
        """Arm a timer sending ``msg`` to ``proc`` (alive) after ``delay`` s: a call's timeout.

        The cheap path of ``send_after`` (no checks; the caller validated ``delay``). A heap
        entry costs a fraction of a Trio cancel scope with a deadline, which was half the cost
        of an ``otp.call``; gen_server's own call timeout is likewise a timer of the runtime.
        """
        timer = TimerRef(self, trio.current_time() + delay, next(self._timer_seq), proc.pid, msg)
        timer.proc = proc
        proc._add_timer(timer)
        self._arm(timer)
        return timer

    def _stop_timeout(self, timer: TimerRef) -> bool:
        """Cancel a timer (its process forgets it); False if it has fired (its message was sent)."""
        if timer.fired:
            return False
        proc = timer.proc
        if proc is not None:
            proc._forget_timer(timer)
        self._cancel(timer)
        return True

    def _own_timer(self, timer: Any, what: str) -> TimerRef | None:
        if type(timer) is TimerRef:
            return timer if timer.node is self else None
        if type(timer) is Ref:
            return None  # a reference that is not one of our timers: "not found"
        raise TypeError(f"{what}: expected a TimerRef (or a Ref), got {timer!r}")

    def cancel_timer(self, timer: TimerRef | Ref) -> float | None:
        """Cancel a timer; return the seconds it had left, or None if there is no such timer.

        None (Erlang's ``false``) when it has fired, was cancelled already, was never
        armed (aimed at a dead pid, or its process exited), or is not a timer of this node
        (any other ``Ref``).

        Raises:
          TypeError: ``timer`` is not a reference at all (Erlang: ``badarg``).
        """
        t = self._own_timer(timer, "cancel_timer")
        if t is None or t.fired or t.cancelled:
            return None
        left = max(0.0, t.deadline - trio.current_time())
        self._stop_timeout(t)
        return left

    def read_timer(self, timer: TimerRef | Ref) -> float | None:
        """The seconds a timer has left, or None if there is no such timer (as ``cancel_timer``).

        Raises:
          TypeError: ``timer`` is not a reference at all (Erlang: ``badarg``).
        """
        t = self._own_timer(timer, "read_timer")
        if t is None or t.fired or t.cancelled:
            return None
        return max(0.0, t.deadline - trio.current_time())

    def _cancel(self, timer: TimerRef) -> None:
        """Mark ``timer`` cancelled and let go of its message (its heap entry goes later)."""
        if timer.cancelled or timer.fired:
            return
        timer.cancelled = True
        timer.dest = timer.msg = timer.proc = None
        self._cancelled_timers += 1
        if self._cancelled_timers > 64 and self._cancelled_timers * 2 > len(self._timers):
            # Cancelled timers would otherwise stay in the heap until their deadline.
            self._timers[:] = [t for t in self._timers if not t.cancelled]
            heapq.heapify(self._timers)
            self._cancelled_timers = 0

    async def _timer_loop(self) -> None:
        timers = self._timers
        while True:
            now = trio.current_time()
            while timers and timers[0].deadline <= now:
                timer = heapq.heappop(timers)
                if timer.cancelled:
                    self._cancelled_timers -= 1
                    continue
                timer.fired = True
                proc = timer.proc
                if proc is not None:
                    # Aimed at a pid: alive, or the timer would have been cancelled.
                    timer.proc = None
                    proc._forget_timer(timer)
                else:
                    proc = self.resolve(timer.dest)
                msg = timer.msg
                timer.dest = timer.msg = None
                if proc is not None:
                    proc.deliver(msg)
                # Not held while the service sleeps (the process may end meanwhile).
                del timer, proc, msg
            wake = timers[0].deadline if timers else math.inf
            self._timer_wakeup_at = wake
            with trio.CancelScope(deadline=wake) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
            self._timer_scope = None

    # -- shutdown ---------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Stop every process, top-level ones newest first, then anything left over."""
        self._closing = True
        while self._procs:
            roots = [
                p
                for p in self.processes()
                if not p.external and (p.parent is None or self.process(p.parent) is None)
            ]
            if not roots:
                roots = [p for p in self.processes() if not p.external]
            if not roots:
                for p in self.processes():
                    p._finish(SHUTDOWN)
                break
            for proc in reversed(roots):
                await self._stop_process(proc)

    async def _stop_process(self, proc: Process) -> None:
        if not proc.alive:
            return
        done = trio.Event()
        proc.add_exit_hook(lambda _p, _r: done.set())
        parent = proc.parent if proc.parent is not None and self.process(proc.parent) is not None else None
        self.exit(proc.pid, SHUTDOWN, sender=parent)
        with trio.move_on_after(NODE_SHUTDOWN_TIMEOUT):
            await done.wait()
            return
        logger.warning("%r did not stop within %s s of shutdown; killing it", proc, NODE_SHUTDOWN_TIMEOUT)
        proc.kill(KILLED)
        await done.wait()


@final
class Table(Generic[T]):
    """A typed kind of per-node table, instead of an ad-hoc tuple key into ``Node.tables``.

    Declare one per kind, at module level: ``RUNTIMES: otp.Table[Runtime] = otp.Table("endpoint")``;
    a node then holds one value per name: ``RUNTIMES.put(node, name, rt)``,
    ``RUNTIMES.get(node, name)`` (None if absent), ``RUNTIMES.fetch(node, name)`` (KeyError if
    absent) and ``RUNTIMES.pop(node, name, rt)`` (removes it only if it is still ``rt``).
    """

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"otp.Table({self.kind!r})"

    def get(self, node: Node, name: str) -> T | None:
        return node.tables.get((self, name))

    def fetch(self, node: Node, name: str) -> T:
        try:
            return node.tables[(self, name)]  # type: ignore[no-any-return]
        except KeyError:
            raise KeyError(f"no {self.kind} table named {name!r} on node {node.name}") from None

    def put(self, node: Node, name: str, value: T) -> None:
        node.tables[(self, name)] = value

    def pop(self, node: Node, name: str, value: T | None = None) -> None:
        """Remove the entry (only if it is ``value``, when given: a restarted owner's is kept)."""
        key = (self, name)
        if value is None or node.tables.get(key) is value:
            node.tables.pop(key, None)


def current_process() -> Process | None:
    """The ``Process`` running the current task, or None outside processes."""
    return _current.get()


def current_node() -> Node:
    """The node of the current task. Raises ``RuntimeError`` outside ``open_node``."""
    node = _current_node.get()
    if node is None:
        try:
            node = _run_node.get()
        except RuntimeError:  # not inside trio.run
            node = None
    if node is None or node._closed:
        raise RuntimeError(
            "no otp node is running here; wrap your code in `async with otp.open_node():` "
            "or start it with `otp.run(main)`"
        )
    return node


@asynccontextmanager
async def open_node(*, name: str = "nonode") -> AsyncIterator[Node]:
    """Open a runtime node: the root that owns every process.

    Example::

        async with otp.open_node() as node:
            pid = node.spawn(worker)
            ...
        # every process has stopped here, newest first

    Nothing runs outside it: leaving the block (normally or by an exception) sends
    ``shutdown`` to the top-level processes in reverse start order (supervisors stop
    their children in turn), waits for them, and then returns.
    """
    try:
        async with trio.open_nursery() as nursery:
            node = Node(nursery, node_id=0, name=name)
            token = _current_node.set(node)
            outer = _run_node.get()
            if outer is None:
                _run_node.set(node)
            nursery.start_soon(node._timer_loop, name="otp-timers")
            try:
                yield node
            finally:
                with trio.CancelScope(shield=True):
                    await node._shutdown()
                _current_node.reset(token)
                node._closed = True
                if outer is None:
                    _run_node.set(None)
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The body's error comes out of the root nursery wrapped in a group; a user who
        # wrote `raise KeyError` inside the node expects a KeyError (trio#2929's "black
        # box rule"). Several errors stay grouped.
        single = _single_error(group)
        if single is None:
            raise
        # Drop the group, keep the error's own cause (``raise X from Y`` in the node).
        raise single from single.__cause__


def _single_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else None


def run(main: Callable[..., Awaitable[T]], *args: Any, name: str = "nonode") -> T:
    """Run ``main(*args)`` inside a fresh node with ``trio.run`` and return its result.

    ``main`` runs as a plain task inside the node (not as a process); it can spawn
    processes, call servers and start supervisors.
    """

    async def _root() -> T:
        async with open_node(name=name):
            return await main(*args)

    return trio.run(_root)
