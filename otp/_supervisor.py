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

A failed restart (the start function raised, or exited) leaves the child *restarting*:
``which_children`` shows ``otp.RESTARTING`` in place of its pid, ``restart_child`` and
``delete_child`` answer "restarting", and the supervisor tries again through a message to
itself, so that calls (``terminate_child``, a shutdown) are served between two attempts.
Every attempt counts against the intensity, so a child that cannot start makes the
supervisor give up and escalate, as ``supervisor.erl`` does. ``terminate_child`` of a
restarting child ends the retries.

A child started while the supervisor starts, and which fails, stops the supervisor: the
children already started are stopped, the failure is logged once (with the child id) and
``start_link`` raises ``ChildStartError`` naming the child (OTP's
``{shutdown, {failed_to_start_child, Id, Reason}}``; the supervisor's own exit is that
quiet ``Shutdown``).

Killing a child (``BRUTAL_KILL``, or a shutdown timeout that expired) takes it out of the
tree at once: its pid is dead to the runtime (links and monitors fire, its name is free)
even if its code shields itself from cancellation; the Trio task then finishes in the
background, running whatever ``finally`` blocks it has. Python cannot stop a task
between two checkpoints, so this is as close to Erlang's untrappable ``kill`` as it gets.
"""

from __future__ import annotations

import collections
import inspect
import logging
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import trio

from ._api import monitor
from ._child_spec import (
    BRUTAL_KILL,
    INFINITY,
    ChildSpec,
    ChildStartError,
    ChildType,
    InvalidSpecError,
    Restart,
    ShutdownPolicy,
    Strategy,
    SupervisorError,
    check_children,
    check_flags,
)
from ._gen_server import (
    From,
    GenServer,
    Ignored,
    NoReply,
    Ok,
    Reply,
    StartError,
    Stop,
    call,
    stop,
)
from ._node import Node, ProcessExit, _current
from ._types import (
    KILLED,
    RESTARTING,
    SHUTDOWN,
    ChildPid,
    Down,
    Exit,
    ExitReason,
    Pid,
    Shutdown,
    is_normal_exit,
)

__all__ = [
    "AlreadyStartedError",
    "Supervisor",
    "shutdown_child",
]

logger = logging.getLogger("otp.supervisor")
#: A child's failed start is its crash report: logged once, on the runtime's crash logger.
crash_logger = logging.getLogger("otp.crash")


class AlreadyStartedError(SupervisorError):
    """``start_child`` with the id of a running child (OTP's ``{already_started, Pid}``).

    ``id`` is the child's id and ``pid`` the running child's pid.
    """

    def __init__(self, id: Hashable, pid: Pid) -> None:
        super().__init__(f"child {id!r} is already_started as {pid}")
        self.id = id
        self.pid = pid


@dataclass(eq=False)
class _Child:
    spec: ChildSpec
    pid: Pid | None = None
    #: A restart failed and is being retried (OTP's ``{restarting, OldPid}``).
    restarting: bool = False
    restarts: int = 0

    @property
    def shown_pid(self) -> ChildPid:
        return RESTARTING if self.restarting else self.pid


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
    """The message a supervisor sends itself to try a failed restart again."""

    key: Any


async def start_child_from_spec(spec: ChildSpec) -> Pid | None:
    """Run a spec's start function in the current process; None if it was ignored.

    Raises what the start function raised; a start function that *exits*
    (``ProcessExit``, Erlang's ``exit/1`` inside it) raises ``ChildStartError`` with that
    reason instead, so that the supervisor running it does not exit with it.
    """
    try:
        result = spec.start()
        if inspect.isawaitable(result):
            result = await result
    except Ignored:
        return None
    except ProcessExit as exc:
        raise _StartExit(spec.id, exc.reason) from None
    if result is not None and not isinstance(result, Pid):
        raise TypeError(
            f"the start function of child {spec.id!r} must return a Pid or None, got {result!r}"
        )
    return result


def kill_now(node: Node, pid: Pid) -> None:
    """Kill ``pid`` and make it dead to the runtime at once, even if its code is shielded.

    The kill cancels the process's scope as any ``kill`` does; the process is then
    finished right away (name freed, registries cleaned, links and monitors told
    ``killed``) instead of at its next checkpoint, which a ``CancelScope(shield=True)``
    can put off indefinitely. Its task ends in the background.
    """
    proc = node.process(pid)
    if proc is None:
        return
    proc.kill(KILLED)
    proc._finish(KILLED)


async def shutdown_child(pid: Pid, shutdown: float | ShutdownPolicy) -> ExitReason:
    """Stop a linked child the way OTP supervisors do, and return its exit reason.

    Unlinks it (and drops an ``Exit`` already queued from it), sends ``shutdown``, waits
    up to ``shutdown`` seconds for it to go down, then kills it. ``BRUTAL_KILL`` kills at
    once; ``INFINITY`` waits forever. A kill takes the child out at once, even if its
    code shields itself from cancellation (see ``kill_now``).
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
        kill_now(node, pid)
        return (await me.receive(is_down)).reason
    node.exit(pid, SHUTDOWN, sender=me.pid)
    timeout = math.inf if shutdown is INFINITY else float(shutdown)  # type: ignore[arg-type]
    with trio.move_on_after(timeout):
        return (await me.receive(is_down)).reason
    kill_now(node, pid)
    return (await me.receive(is_down)).reason


def _who() -> str:
    me = _current.get()
    if me is None:
        return "?"
    return f"{me.pid} ({me.name})" if me.name else str(me.pid)


class _StartExit(ChildStartError):
    """A start function exited (``ProcessExit``) instead of returning or raising."""


def _reason_of(exc: BaseException) -> ExitReason:
    """What a start function failed with: the exit reason of one that exited, else the error.

    A nested supervisor's ``ChildStartError`` stays as it is: the reason names the inner
    child, as OTP nests ``{shutdown, {failed_to_start_child, Id, Reason}}``.
    """
    return exc.reason if type(exc) is _StartExit else exc


def _logged_below(exc: BaseException) -> bool:
    """A nested supervisor's start failure, which that supervisor has logged already."""
    return isinstance(exc, ChildStartError) and type(exc) is not _StartExit


def _exc_info(reason: ExitReason) -> Any:
    return (type(reason), reason, reason.__traceback__) if isinstance(reason, BaseException) else None


class _SupervisorServer(GenServer[_State]):
    behaviour_name: ClassVar[str | None] = "Supervisor"
    trap_exit: ClassVar[bool] = True

    async def init(self, arg: _Init) -> Ok[_State] | Stop[_State]:
        state = _State(arg.strategy, arg.max_restarts, arg.max_seconds)
        for spec in arg.children:
            child = _Child(spec)
            try:
                child.pid = await start_child_from_spec(spec)
            except Exception as exc:
                # A child failed to start: stop those already started, newest first, log it
                # once (the failing server does not: its start error is ours to report) and
                # stop with a quiet {shutdown, {failed_to_start_child, id, reason}}.
                reason = _reason_of(exc)
                if not _logged_below(exc):
                    crash_logger.error("Supervisor %s: child %r failed to start: %r; stopping the children "
                                       "already started", _who(), spec.id, reason, exc_info=_exc_info(reason))
                await self._stop_all(state)
                error = ChildStartError(spec.id, reason)
                if isinstance(reason, BaseException):
                    error.__cause__ = reason
                return Stop(Shutdown(error), state)
            if spec.restart is Restart.TEMPORARY:
                if child.pid is None:
                    continue
                child.spec = _slim(spec)
            state.children.append(child)
        return Ok(state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        if type(msg) is Exit:
            child = state.by_pid(msg.pid)
            if child is None:
                return NoReply(state)
            return await self._child_exited(state, child, msg.reason)
        if type(msg) is _Retry:
            # Let other processes run between two attempts (a start function that fails at
            # once would otherwise retry without ever yielding); their calls queue up
            # before the next retry, as in OTP.
            await trio.lowlevel.checkpoint()
            child = state.find(msg.key)
            # Not restarting any more: terminate_child (or a group restart) came first.
            if child is not None and child.restarting:
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
        """Restart ``child`` (and its group); every call is one attempt against the intensity."""
        if not self._add_restart(state):
            logger.error(
                "Supervisor %s reached max restart intensity (%d restarts in %g s) restarting "
                "child %r; shutting down its children and exiting with :shutdown",
                _who(), state.max_restarts, state.max_seconds, child.spec.id,
            )
            child.restarting = False
            await self._stop_all(state)
            return Stop(SHUTDOWN, state)
        if state.strategy is Strategy.ONE_FOR_ONE:
            group = [child]
        else:
            idx = state.children.index(child)
            group = list(state.children if state.strategy is Strategy.ONE_FOR_ALL else state.children[idx:])
            for other in reversed(group):
                if other is not child and other.pid is not None:
                    await shutdown_child(other.pid, other.spec.shutdown)
                    other.pid = None
            for other in group:
                if other.spec.restart is Restart.TEMPORARY and other is not child:
                    state.children.remove(other)
            group = [c for c in group if c in state.children]
        for c in group:
            c.restarting = False
            if c.pid is not None:
                continue
            try:
                c.pid = await start_child_from_spec(c.spec)
            except Exception as exc:
                reason = _reason_of(exc)
                crash_logger.error("Supervisor %s: child %r failed to restart: %r; trying again",
                                   _who(), c.spec.id, reason, exc_info=_exc_info(reason))
                c.restarting = True
                me = _current.get()
                assert me is not None
                me.deliver(_Retry(c.spec.id))
                break
            c.restarts += 1
        return NoReply(state)

    async def _stop_all(self, state: _State) -> None:
        for c in reversed(state.children):
            c.restarting = False
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
        if type(spec) is not ChildSpec:
            raise InvalidSpecError("child spec", spec, "an otp.ChildSpec")
        existing = state.find(spec.id)
        if existing is not None:
            if existing.pid is not None:
                raise AlreadyStartedError(spec.id, existing.pid)
            raise SupervisorError(f"child {spec.id!r} is already_present")
        child = _Child(spec)
        child.pid = await start_child_from_spec(spec)
        if spec.restart is Restart.TEMPORARY:
            if child.pid is None:
                return None
            child.spec = _slim(spec)
        state.children.append(child)
        return child.pid

    def _get(self, state: _State, id: Hashable) -> _Child:
        child = state.find(id)
        if child is None:
            raise SupervisorError(f"no child with id {id!r} (not_found)")
        return child

    async def _op_terminate_child(self, state: _State, id: Hashable) -> None:
        child = self._get(state, id)
        # A restarting child stops restarting: the retry that is queued finds it idle.
        child.restarting = False
        if child.pid is not None:
            await shutdown_child(child.pid, child.spec.shutdown)
            child.pid = None
        if child.spec.restart is Restart.TEMPORARY:
            state.children.remove(child)

    async def _op_restart_child(self, state: _State, id: Hashable) -> Pid | None:
        child = self._get(state, id)
        if child.pid is not None:
            raise SupervisorError(f"child {id!r} is running")
        if child.restarting:
            raise SupervisorError(f"child {id!r} is restarting")
        child.pid = await start_child_from_spec(child.spec)
        return child.pid

    async def _op_delete_child(self, state: _State, id: Hashable) -> None:
        child = self._get(state, id)
        if child.pid is not None:
            raise SupervisorError(f"child {id!r} is running; terminate it first")
        if child.restarting:
            raise SupervisorError(f"child {id!r} is restarting; terminate it first")
        state.children.remove(child)

    async def _op_get_childspec(self, state: _State, id: Hashable) -> ChildSpec:
        return self._get(state, id).spec

    async def _op_which_children(self, state: _State) -> list[tuple[Hashable, ChildPid, str, str]]:
        return [
            (c.spec.id, c.shown_pid, c.spec.type.value, c.spec.behaviour or _label(c.spec.start))
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
                    **({"restarting": True} if c.restarting else {}),
                }
                for c in state.children
            ],
        }


def _label(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", type(fn).__name__)


def _not_kept() -> None:  # pragma: no cover - a temporary child is never restarted
    raise SupervisorError("the start function of a temporary child is not kept")


def _slim(spec: ChildSpec) -> ChildSpec:
    """A started temporary child's spec without its start function (OTP does not keep it).

    A temporary child is never restarted, so what its start function holds (arguments,
    a connection's stream) is not kept alive by the supervisor for the child's lifetime.
    """
    return ChildSpec(id=spec.id, start=_not_kept, restart=Restart.TEMPORARY, type=spec.type,
                     shutdown=spec.shutdown, behaviour=spec.behaviour or _label(spec.start))


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


def raise_start_failure(exc: StartError) -> None:
    """Re-raise a supervisor's ``Stop(Shutdown(ChildStartError))`` from init as that error."""
    reason = exc.reason
    if type(reason) is Shutdown and isinstance(reason.term, ChildStartError):
        error = reason.term
        raise error from error.__cause__


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

        Raises:
          InvalidSpecError: a flag or an entry of ``children`` is invalid (``field`` names
            it: ``strategy``, ``max_restarts``, ``max_seconds``, ``children[2]``,
            ``children[1].id`` for a duplicate id); nothing is started.
          ChildStartError: a child failed to start (``id`` names it, ``reason`` is its
            error, also chained); the children already started were stopped first.
        """
        check_flags(strategy=strategy, max_restarts=max_restarts, max_seconds=max_seconds)
        specs = check_children(children)
        arg = _Init(specs, strategy, max_restarts, max_seconds)
        try:
            return await _SupervisorServer.start_link(arg, name=name)
        except StartError as exc:
            raise_start_failure(exc)
            raise

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
        """A spec that starts a nested supervisor (its flags and children are checked now)."""
        check_flags(strategy=strategy, max_restarts=max_restarts, max_seconds=max_seconds)
        specs = check_children(children)

        async def start() -> Pid:
            return await Supervisor.start_link(
                specs, strategy=strategy, max_restarts=max_restarts,
                max_seconds=max_seconds, name=name,
            )

        return ChildSpec(id=id, start=start, type=ChildType.SUPERVISOR, restart=restart,
                         behaviour="Supervisor")

    @staticmethod
    async def start_child(sup: Pid | str, spec: ChildSpec) -> Pid | None:
        """Add and start a child.

        Raises:
          AlreadyStartedError: a running child has this id (its ``pid`` attribute).
          SupervisorError: a child with this id is present but not running.
          Exception: what the child's start raised (``ChildStartError`` if it exited).
        """
        if type(spec) is not ChildSpec:  # checked by the caller, as Elixir does
            raise InvalidSpecError("child spec", spec, "an otp.ChildSpec")
        return unwrap(await call(sup, ("start_child", spec), None))  # type: ignore[no-any-return]

    @staticmethod
    async def terminate_child(sup: Pid | str, id: Hashable) -> None:
        """Stop a child (its spec stays, unless it is temporary); a restarting child stops retrying."""
        unwrap(await call(sup, ("terminate_child", id), None))

    @staticmethod
    async def restart_child(sup: Pid | str, id: Hashable) -> Pid | None:
        """Start again a child that was terminated (not one that is running or restarting)."""
        return unwrap(await call(sup, ("restart_child", id), None))  # type: ignore[no-any-return]

    @staticmethod
    async def delete_child(sup: Pid | str, id: Hashable) -> None:
        """Forget a terminated child's spec."""
        unwrap(await call(sup, ("delete_child", id), None))

    @staticmethod
    async def get_childspec(sup: Pid | str, id: Hashable) -> ChildSpec:
        """The spec of child ``id`` (a temporary child's has no start function any more).

        Raises ``SupervisorError`` (not_found) for an unknown id.
        """
        return unwrap(await call(sup, ("get_childspec", id)))  # type: ignore[no-any-return]

    @staticmethod
    async def which_children(sup: Pid | str) -> list[tuple[Hashable, ChildPid, str, str]]:
        """``[(id, pid | RESTARTING | None, "worker"|"supervisor", behaviour), ...]`` in start order."""
        return unwrap(await call(sup, ("which_children",)))  # type: ignore[no-any-return]

    @staticmethod
    async def count_children(sup: Pid | str) -> dict[str, int]:
        """``{"specs", "active", "supervisors", "workers"}`` counts (restarting children are not active)."""
        return unwrap(await call(sup, ("count_children",)))  # type: ignore[no-any-return]

    @staticmethod
    async def stop(sup: Pid | str, reason: ExitReason = "normal", timeout: float | None = None) -> None:
        """Stop the supervisor and its children (newest first)."""
        await stop(sup, reason, timeout)
