"""A behaviour module for implementing supervisors.

Example::

    children = [
        Counter.child_spec(0, name="counter"),
        otp.ChildSpec(id="cache", start=lambda: Cache.start_link(None, name="cache")),
    ]
    sup = await otp.Supervisor.start_link(children, strategy=otp.Strategy.ONE_FOR_ONE)
    await otp.Supervisor.count_children(sup)
    #=> {'specs': 2, 'active': 2, 'supervisors': 0, 'workers': 2}

# Design

A supervisor is a GenServer that traps exits. Its children are started *by* it, one at a
time and in order, with their ``start`` function, which links them to it. An ``Exit``
from a child is a restart decision; an ``Exit`` from the supervisor's own parent means
"shut down": children stop one at a time, newest first, each honouring its shutdown
(``SHUTDOWN`` then, after the timeout, ``KILL``).

Strategies (what is restarted when a child must be restarted):

* ``ONE_FOR_ONE``: only that child.
* ``ONE_FOR_ALL``: every child; the others are first stopped, newest first.
* ``REST_FOR_ONE``: that child and the children started after it.

Restart types: ``PERMANENT`` is always restarted, ``TRANSIENT`` only after an abnormal
exit (not ``normal``, ``shutdown`` or ``Shutdown(term)``), ``TEMPORARY`` never (and is
forgotten when it exits).

Restart intensity is a sliding window: more than ``max_restarts`` restarts within
``max_seconds`` makes the supervisor stop all its children and exit ``shutdown``, so that
its own supervisor decides what happens next. A group restart (one_for_all,
rest_for_one) counts as one restart.
"""

from __future__ import annotations

import collections
import enum
import inspect
import logging
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import attrs
import trio

from ._api import monitor
from ._gen_server import (
    From,
    GenServer,
    Ignored,
    NoReply,
    Ok,
    Reply,
    Stop,
    call,
)
from ._node import _current
from ._types import KILL, SHUTDOWN, Down, Exit, ExitReason, Pid, is_normal_exit

__all__ = [
    "BRUTAL_KILL",
    "INFINITY",
    "ChildSpec",
    "ChildType",
    "Restart",
    "ShutdownPolicy",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "shutdown_child",
]

logger = logging.getLogger("otp.supervisor")


class Strategy(enum.Enum):
    """What a supervisor restarts when one child must be restarted."""

    #: Only the child that exited.
    ONE_FOR_ONE = "one_for_one"
    #: Every child (the others are stopped first, newest first).
    ONE_FOR_ALL = "one_for_all"
    #: The child that exited and every child started after it.
    REST_FOR_ONE = "rest_for_one"


class Restart(enum.Enum):
    """When a child is restarted."""

    #: Always.
    PERMANENT = "permanent"
    #: Only after an abnormal exit.
    TRANSIENT = "transient"
    #: Never; the child is forgotten when it exits.
    TEMPORARY = "temporary"


class ChildType(enum.Enum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"


class ShutdownPolicy(enum.Enum):
    """Shutdown values besides a number of seconds."""

    #: Kill at once (``:brutal_kill``): the child's terminate does not run.
    BRUTAL_KILL = "brutal_kill"
    #: Wait as long as it takes (the default for supervisor children).
    INFINITY = "infinity"


BRUTAL_KILL = ShutdownPolicy.BRUTAL_KILL
INFINITY = ShutdownPolicy.INFINITY


def _default_shutdown(spec: ChildSpec) -> float | ShutdownPolicy:
    return INFINITY if spec.type is ChildType.SUPERVISOR else 5.0


@attrs.frozen(kw_only=True)
class ChildSpec:
    """How to start, restart and stop one child.

    Args:
      id: unique among the supervisor's children.
      start: a function that starts the child *linked to the caller* and returns its pid
        (``lambda: Worker.start_link(arg)``; async or sync, e.g. ``otp.spawn_link``).
        Returning None, or raising ``otp.Ignored``, means "nothing to start".
      restart: ``Restart.PERMANENT`` (default), ``TRANSIENT`` or ``TEMPORARY``.
      shutdown: seconds to wait after ``shutdown`` before killing (default 5.0; OTP's
        5000 ms), ``BRUTAL_KILL``, or ``INFINITY`` (the default for supervisors).
      type: ``ChildType.WORKER`` or ``ChildType.SUPERVISOR``.
      behaviour: a label for introspection (defaults to the start function's name).
    """

    id: Hashable
    start: Callable[[], Any]
    restart: Restart = Restart.PERMANENT
    type: ChildType = ChildType.WORKER
    shutdown: float | ShutdownPolicy = attrs.field(
        default=attrs.Factory(_default_shutdown, takes_self=True)
    )
    behaviour: str | None = None


class SupervisorError(RuntimeError):
    """A supervisor operation failed (unknown child id, child already present...)."""


@dataclass(eq=False)
class _Child:
    spec: ChildSpec
    pid: Pid | None = None
    restarts: int = 0


@dataclass(eq=False)
class _State:
    strategy: Strategy
    max_restarts: int
    max_seconds: float
    children: list[_Child] = field(default_factory=list)
    restart_times: collections.deque[float] = field(default_factory=collections.deque)
    total_restarts: int = 0

    def find(self, id: Hashable) -> _Child | None:
        for c in self.children:
            if c.spec.id == id:
                return c
        return None

    def by_pid(self, pid: Pid) -> _Child | None:
        for c in self.children:
            if c.pid is pid:
                return c
        return None


@dataclass(frozen=True, slots=True)
class _Init:
    children: Sequence[ChildSpec]
    strategy: Strategy
    max_restarts: int
    max_seconds: float


@dataclass(frozen=True, slots=True)
class _Retry:
    id: Hashable


async def start_child_from_spec(spec: ChildSpec) -> Pid | None:
    """Run a spec's start function in the current process; None if it was ignored."""
    try:
        result = spec.start()
        if inspect.isawaitable(result):
            result = await result
    except Ignored:
        return None
    if result is not None and not isinstance(result, Pid):
        raise TypeError(
            f"the start function of child {spec.id!r} must return a Pid or None, got {result!r}"
        )
    return result


async def shutdown_child(pid: Pid, shutdown: float | ShutdownPolicy) -> ExitReason:
    """Stop a linked child the way OTP supervisors do, and return its exit reason.

    Unlinks it (and drops an ``Exit`` already queued from it), sends ``shutdown``, waits
    up to ``shutdown`` seconds for it to go down, then kills it. ``BRUTAL_KILL`` kills at
    once; ``INFINITY`` waits forever.
    """
    me = _current.get()
    assert me is not None
    me.remove_link(pid)
    node = me.node
    target = node.process(pid)
    if target is not None:
        target.remove_link(me.pid)
    me.drop(lambda m: type(m) is Exit and m.pid is pid)
    ref = monitor(pid)

    def is_down(m: Any) -> bool:
        return type(m) is Down and m.ref is ref

    if shutdown is BRUTAL_KILL:
        node.exit(pid, KILL, sender=me.pid)
        return (await me.receive(is_down)).reason
    node.exit(pid, SHUTDOWN, sender=me.pid)
    timeout = None if shutdown is INFINITY else float(shutdown)  # type: ignore[arg-type]
    with trio.move_on_after(math.inf if timeout is None else timeout):
        return (await me.receive(is_down)).reason
    node.exit(pid, KILL, sender=me.pid)
    return (await me.receive(is_down)).reason


class _SupervisorServer(GenServer[_State]):
    behaviour_name: ClassVar[str | None] = "Supervisor"
    trap_exit: ClassVar[bool] = True

    async def init(self, arg: _Init) -> Ok[_State]:
        state = _State(arg.strategy, arg.max_restarts, arg.max_seconds)
        # Check every spec before starting anything (OTP's check_startspec), so that a bad
        # list leaves no child running.
        seen: list[Hashable] = []
        for spec in arg.children:
            if spec.id in seen:
                raise SupervisorError(f"duplicate child id {spec.id!r} in supervisor children")
            seen.append(spec.id)
        for spec in arg.children:
            child = _Child(spec)
            try:
                child.pid = await start_child_from_spec(spec)
            except BaseException:
                # A child failed to start: stop those already started, newest first,
                # and fail the supervisor's own start with that error.
                await self._stop_all(state)
                raise
            if child.pid is None and spec.restart is Restart.TEMPORARY:
                continue
            state.children.append(child)
        return Ok(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        if type(msg) is Exit:
            child = state.by_pid(msg.pid)
            if child is None:
                return NoReply(state)
            return await self._child_exited(state, child, msg.reason)
        if type(msg) is _Retry:
            child = state.find(msg.id)
            if child is not None and child.pid is None:
                return await self._restart(state, child)
            return NoReply(state)
        return await super().handle_info(msg, state)

    async def _child_exited(self, state: _State, child: _Child, reason: ExitReason
                            ) -> NoReply[_State] | Stop[_State]:
        child.pid = None
        restart = child.spec.restart
        if restart is Restart.TEMPORARY:
            state.children.remove(child)
            return NoReply(state)
        if restart is Restart.TRANSIENT and is_normal_exit(reason):
            return NoReply(state)
        return await self._restart(state, child)

    def _add_restart(self, state: _State) -> bool:
        state.total_restarts += 1
        return add_restart(state.restart_times, state.max_restarts, state.max_seconds)

    async def _restart(self, state: _State, child: _Child) -> NoReply[_State] | Stop[_State]:
        if not self._add_restart(state):
            me = _current.get()
            logger.error(
                "Supervisor %s reached max restart intensity (%d restarts in %g s); "
                "shutting down its children and exiting with :shutdown",
                me.name or me.pid if me else "?",
                state.max_restarts,
                state.max_seconds,
            )
            await self._stop_all(state)
            return Stop(SHUTDOWN, state)
        if state.strategy is Strategy.ONE_FOR_ONE:
            group = [child]
        else:
            idx = state.children.index(child)
            group = state.children if state.strategy is Strategy.ONE_FOR_ALL else state.children[idx:]
            group = list(group)
            for other in reversed(group):
                if other is not child and other.pid is not None:
                    await shutdown_child(other.pid, other.spec.shutdown)
                    other.pid = None
            for other in group:
                if other.spec.restart is Restart.TEMPORARY and other is not child:
                    state.children.remove(other)
            group = [c for c in group if c in state.children]
        for c in group:
            try:
                c.pid = await start_child_from_spec(c.spec)
                c.restarts += 1
            except Exception:
                logger.exception("Supervisor failed to restart child %r; will retry", c.spec.id)
                c.pid = None
                me = _current.get()
                assert me is not None
                me.deliver(_Retry(c.spec.id))
                break
        return NoReply(state)

    async def _stop_all(self, state: _State) -> None:
        for c in reversed(state.children):
            if c.pid is not None:
                await shutdown_child(c.pid, c.spec.shutdown)
                c.pid = None

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        await self._stop_all(state)

    async def handle_call(self, request: Any, from_: From, state: _State
                          ) -> Reply[_State] | NoReply[_State] | Stop[_State]:
        op = request[0]
        try:
            result = await getattr(self, "_op_" + op)(state, *request[1:])
        except Exception as exc:
            return Reply(("error", exc), state)
        return Reply(("ok", result), state)

    async def _op_start_child(self, state: _State, spec: ChildSpec) -> Pid | None:
        existing = state.find(spec.id)
        if existing is not None:
            what = "already_started" if existing.pid is not None else "already_present"
            raise SupervisorError(f"child {spec.id!r} is {what}")
        child = _Child(spec)
        child.pid = await start_child_from_spec(spec)
        if child.pid is not None or spec.restart is not Restart.TEMPORARY:
            state.children.append(child)
        return child.pid

    def _get(self, state: _State, id: Hashable) -> _Child:
        child = state.find(id)
        if child is None:
            raise SupervisorError(f"no child with id {id!r}")
        return child

    async def _op_terminate_child(self, state: _State, id: Hashable) -> None:
        child = self._get(state, id)
        if child.pid is not None:
            await shutdown_child(child.pid, child.spec.shutdown)
            child.pid = None
        if child.spec.restart is Restart.TEMPORARY:
            state.children.remove(child)

    async def _op_restart_child(self, state: _State, id: Hashable) -> Pid | None:
        child = self._get(state, id)
        if child.pid is not None:
            raise SupervisorError(f"child {id!r} is running")
        child.pid = await start_child_from_spec(child.spec)
        return child.pid

    async def _op_delete_child(self, state: _State, id: Hashable) -> None:
        child = self._get(state, id)
        if child.pid is not None:
            raise SupervisorError(f"child {id!r} is running; terminate it first")
        state.children.remove(child)

    async def _op_which_children(self, state: _State) -> list[tuple[Hashable, Pid | None, str, str]]:
        return [
            (c.spec.id, c.pid, c.spec.type.value, c.spec.behaviour or _label(c.spec.start))
            for c in state.children
        ]

    async def _op_count_children(self, state: _State) -> dict[str, int]:
        return {
            "specs": len(state.children),
            "active": sum(1 for c in state.children if c.pid is not None),
            "supervisors": sum(1 for c in state.children if c.spec.type is ChildType.SUPERVISOR),
            "workers": sum(1 for c in state.children if c.spec.type is ChildType.WORKER),
        }

    def format_status(self, state: _State) -> Any:
        return {
            "strategy": state.strategy.value,
            "max_restarts": state.max_restarts,
            "max_seconds": state.max_seconds,
            "restarts": state.total_restarts,
            "children": [
                {
                    "id": str(c.spec.id),
                    "pid": str(c.pid) if c.pid is not None else None,
                    "type": c.spec.type.value,
                    "restart": c.spec.restart.value,
                    "restarts": c.restarts,
                }
                for c in state.children
            ],
        }


def _label(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", type(fn).__name__)


def add_restart(times: collections.deque[float], max_restarts: int, max_seconds: float) -> bool:
    """Record a restart now in the sliding window ``times``; False past the intensity.

    More than ``max_restarts`` restarts within ``max_seconds`` means the supervisor must
    give up (Elixir: ``length(restarts) <= max_restarts`` after dropping older ones).
    """
    now = trio.current_time()
    times.append(now)
    while times and times[0] < now - max_seconds:
        times.popleft()
    return len(times) <= max_restarts


def unwrap(result: tuple[str, Any]) -> Any:
    """The value of an ``("ok", value)`` reply, or raise the error of ``("error", exc)``."""
    tag, value = result
    if tag == "error":
        raise value
    return value


class Supervisor:
    """Start and manage supervisors (the client API of the supervisor behaviour)."""

    @staticmethod
    async def start_link(
        children: Sequence[ChildSpec],
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        name: str | None = None,
    ) -> Pid:
        """Start a supervisor linked to the caller, starting ``children`` in order.

        Raises the first error a child's start raised (the children already started are
        stopped first).
        """
        arg = _Init(list(children), strategy, max_restarts, max_seconds)
        return await _SupervisorServer.start_link(arg, name=name)

    @staticmethod
    def child_spec(
        children: Sequence[ChildSpec],
        *,
        id: Hashable,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        name: str | None = None,
        restart: Restart = Restart.PERMANENT,
    ) -> ChildSpec:
        """A spec that starts a nested supervisor."""

        async def start() -> Pid:
            return await Supervisor.start_link(
                children, strategy=strategy, max_restarts=max_restarts,
                max_seconds=max_seconds, name=name,
            )

        return ChildSpec(id=id, start=start, type=ChildType.SUPERVISOR, restart=restart,
                         behaviour="Supervisor")

    @staticmethod
    async def start_child(sup: Pid | str, spec: ChildSpec) -> Pid | None:
        """Add and start a child. Raises ``SupervisorError`` if its id is taken."""
        return unwrap(await call(sup, ("start_child", spec), None))  # type: ignore[no-any-return]

    @staticmethod
    async def terminate_child(sup: Pid | str, id: Hashable) -> None:
        """Stop a child (its spec stays, unless it is temporary)."""
        unwrap(await call(sup, ("terminate_child", id), None))

    @staticmethod
    async def restart_child(sup: Pid | str, id: Hashable) -> Pid | None:
        """Start again a child that was terminated."""
        return unwrap(await call(sup, ("restart_child", id), None))  # type: ignore[no-any-return]

    @staticmethod
    async def delete_child(sup: Pid | str, id: Hashable) -> None:
        """Forget a terminated child's spec."""
        unwrap(await call(sup, ("delete_child", id), None))

    @staticmethod
    async def which_children(sup: Pid | str) -> list[tuple[Hashable, Pid | None, str, str]]:
        """``[(id, pid or None, "worker"|"supervisor", behaviour), ...]`` in start order."""
        return unwrap(await call(sup, ("which_children",)))  # type: ignore[no-any-return]

    @staticmethod
    async def count_children(sup: Pid | str) -> dict[str, int]:
        """``{"specs", "active", "supervisors", "workers"}`` counts."""
        return unwrap(await call(sup, ("count_children",)))  # type: ignore[no-any-return]

    @staticmethod
    async def stop(sup: Pid | str, reason: ExitReason = "normal", timeout: float | None = None) -> None:
        """Stop the supervisor and its children (newest first)."""
        from ._gen_server import stop

        await stop(sup, reason, timeout)

