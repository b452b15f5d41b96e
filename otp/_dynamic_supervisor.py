"""A supervisor optimized to only start children dynamically, and a partitioned pool of them.

Example::

    sup = await otp.DynamicSupervisor.start_link(name="workers", max_children=1000)
    pid = await otp.DynamicSupervisor.start_child("workers", Worker.child_spec(arg))

    pool = await otp.PartitionSupervisor.start_link(name="sockets")   # one per CPU
    pid = await otp.PartitionSupervisor.start_child("sockets", spec, key=transport_pid)

A ``DynamicSupervisor`` has no children at start; ``start_child`` adds one. Children are
one_for_one, with the same restart types and intensity window as ``Supervisor``. On
shutdown all children are asked to stop *at once* (not one by one: there may be
thousands of them), then whatever is left when its shutdown timeout expires is killed.

A child whose restart fails stays in the supervisor as *restarting* (``which_children``
shows ``otp.RESTARTING``; it counts in ``specs``, ``workers`` and ``max_children`` but not
in ``active``) and is tried again through a message the supervisor sends itself; every
attempt counts against the intensity, so a child that cannot start makes the supervisor
give up and escalate, as Elixir's ``DynamicSupervisor`` does. ``terminate_child`` with
the child's last pid ends the retries. A start function that raises or exits (even
with ``ProcessExit``) fails that start only; the supervisor carries on.

``PartitionSupervisor`` is the structure Phoenix uses for channel servers: N dynamic
supervisors (N defaults to the CPU count) under one supervisor, a child going to
partition ``stable_hash(key) % N`` so that no single supervisor is a bottleneck. The hash
is the same in every OS process (Python's ``hash()`` of a str is salted per process), so
a key routes to the same partition on every node and after every restart.
"""

from __future__ import annotations

import collections
import enum
import math
import os
import zlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import trio

from ._api import monitor
from ._child_spec import (
    BRUTAL_KILL,
    INFINITY,
    ChildSpec,
    ChildType,
    InvalidSpecError,
    Restart,
    Strategy,
    SupervisorError,
    check_flags,
)
from ._gen_server import From, GenServer, NoReply, Ok, Reply, Stop, call, stop
from ._node import NoProcessError, Table, _current, current_node
from ._supervisor import (
    Supervisor,
    add_restart,
    crash_logger,
    kill_now,
    logger,
    start_child_from_spec,
    unwrap,
)
from ._types import RESTARTING, SHUTDOWN, ChildPid, Down, Exit, ExitReason, Pid, Ref, is_normal_exit

__all__ = ["DynamicSupervisor", "MaxChildrenError", "PartitionSupervisor", "stable_hash"]


class MaxChildrenError(SupervisorError):
    """``start_child`` on a dynamic supervisor that already has ``max_children``."""


@dataclass(eq=False)
class _State:
    max_children: float
    max_restarts: int
    max_seconds: float
    children: dict[Pid, ChildSpec] = field(default_factory=dict)
    #: Children whose restart failed and is being retried, by their last pid.
    restarting: dict[Pid, ChildSpec] = field(default_factory=dict)
    restart_times: collections.deque[float] = field(default_factory=collections.deque)
    total_restarts: int = 0
    started: int = 0


@dataclass(frozen=True, slots=True)
class _Init:
    max_children: float
    max_restarts: int
    max_seconds: float


@dataclass(frozen=True, slots=True)
class _Retry:
    """The message a dynamic supervisor sends itself to try a failed restart again."""

    old_pid: Pid


def _not_kept() -> None:  # pragma: no cover - a temporary child is never restarted
    raise SupervisorError("the start function of a temporary child is not kept")


_SLIM: dict[tuple[Any, ...], ChildSpec] = {}
_SLIM_LIMIT = 1024


def _kept(spec: ChildSpec) -> ChildSpec:
    """What the supervisor keeps of a started child's spec.

    A temporary child is never restarted, so, as OTP's supervisor does for its dynamic
    temporary children, its start function (and whatever that holds: a connection's
    stream, a channel's join arguments) is not kept: a spec with only the type, shutdown
    and behaviour stands in for it (shared between children alike; a dynamic
    supervisor's child ids are ignored anyway). With a child per connection and per
    joined channel, this is a few hundred bytes per connection.
    """
    if spec.restart is not Restart.TEMPORARY:
        return spec
    key = (spec.type, spec.shutdown, spec.behaviour)
    slim = _SLIM.get(key)
    if slim is None:
        slim = ChildSpec(id=None, start=_not_kept, restart=Restart.TEMPORARY,
                         type=spec.type, shutdown=spec.shutdown, behaviour=spec.behaviour)
        if len(_SLIM) < _SLIM_LIMIT:
            _SLIM[key] = slim
    return slim


class _DynamicSupervisorServer(GenServer[_State]):
    behaviour_name: ClassVar[str | None] = "DynamicSupervisor"
    trap_exit: ClassVar[bool] = True

    async def init(self, arg: _Init) -> Ok[_State]:
        return Ok(_State(arg.max_children, arg.max_restarts, arg.max_seconds))

    async def handle_call(self, request: Any, from_: From, state: _State
                          ) -> Reply[_State] | NoReply[_State] | Stop[_State]:
        op = request[0]
        if op == "start_child":
            spec: ChildSpec = request[1]
            if type(spec) is not ChildSpec:
                return Reply(("error", InvalidSpecError("child spec", spec, "an otp.ChildSpec")), state)
            if len(state.children) + len(state.restarting) >= state.max_children:
                return Reply(("error", MaxChildrenError(
                    f"dynamic supervisor already has max_children={state.max_children:g} children"
                )), state)
            try:
                pid = await start_child_from_spec(spec)
            except Exception as exc:
                return Reply(("error", exc), state)
            if pid is not None:
                state.children[pid] = _kept(spec)
                state.started += 1
            return Reply(("ok", pid), state)
        if op == "terminate_child":
            pid = request[1]
            found = state.children.pop(pid, None)
            if found is None:
                # A restarting child is known by its last pid (Elixir does the same).
                if state.restarting.pop(pid, None) is not None:
                    return Reply(("ok", None), state)
                return Reply(("error", SupervisorError(f"{pid} is not a child of this supervisor (not_found)")),
                             state)
            await _shutdown_many({pid: found})
            return Reply(("ok", None), state)
        if op == "which_children":
            rows: list[tuple[None, ChildPid, str, str]] = [
                (None, pid, spec.type.value, spec.behaviour or "") for pid, spec in state.children.items()
            ]
            rows.extend((None, RESTARTING, spec.type.value, spec.behaviour or "")
                        for spec in state.restarting.values())
            return Reply(("ok", rows), state)
        if op == "count_children":
            specs = [*state.children.values(), *state.restarting.values()]
            return Reply(("ok", {
                "specs": len(specs),
                "active": len(state.children),
                "supervisors": sum(1 for s in specs if s.type is ChildType.SUPERVISOR),
                "workers": sum(1 for s in specs if s.type is ChildType.WORKER),
            }), state)
        return await super().handle_call(request, from_, state)

    async def handle_info(self, msg: Any, state: _State) -> NoReply[_State] | Stop[_State]:
        if type(msg) is Exit:
            spec = state.children.pop(msg.pid, None)
            if spec is None:
                return NoReply(state)
            if spec.restart is Restart.TEMPORARY or (
                spec.restart is Restart.TRANSIENT and is_normal_exit(msg.reason)
            ):
                return NoReply(state)
            return await self._restart(state, msg.pid, spec)
        if type(msg) is _Retry:
            await trio.lowlevel.checkpoint()  # let others run between two attempts
            spec = state.restarting.pop(msg.old_pid, None)
            if spec is None:  # terminate_child came first
                return NoReply(state)
            return await self._restart(state, msg.old_pid, spec)
        return await super().handle_info(msg, state)

    async def _restart(self, state: _State, old_pid: Pid, spec: ChildSpec) -> NoReply[_State] | Stop[_State]:
        """One restart attempt of the child that was ``old_pid``; counted against the intensity."""
        if not self._add_restart(state):
            me = _current.get()
            logger.error(
                "DynamicSupervisor %s reached max restart intensity (%d restarts in %g s); "
                "shutting down its children and exiting with :shutdown",
                (me.name or me.pid) if me else "?", state.max_restarts, state.max_seconds,
            )
            state.restarting.clear()
            await _shutdown_many(state.children)
            state.children.clear()
            return Stop(SHUTDOWN, state)
        try:
            pid = await start_child_from_spec(spec)
        except Exception as exc:
            me = _current.get()
            assert me is not None
            reason = getattr(exc, "reason", exc) if isinstance(exc, SupervisorError) else exc
            crash_logger.error("DynamicSupervisor %s failed to restart child %s: %r; trying again",
                               me.name or me.pid, old_pid, reason,
                               exc_info=(type(reason), reason, reason.__traceback__)
                               if isinstance(reason, BaseException) else None)
            state.restarting[old_pid] = spec
            me.deliver(_Retry(old_pid))
            return NoReply(state)
        if pid is not None:
            state.children[pid] = spec
        return NoReply(state)

    def _add_restart(self, state: _State) -> bool:
        state.total_restarts += 1
        return add_restart(state.restart_times, state.max_restarts, state.max_seconds)

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        state.restarting.clear()
        await _shutdown_many(state.children)
        state.children.clear()

    def format_status(self, state: _State) -> Any:
        return {
            "children": len(state.children),
            "restarting": len(state.restarting),
            "max_children": None if state.max_children == math.inf else state.max_children,
            "started": state.started,
            "restarts": state.total_restarts,
        }


async def _shutdown_many(children: dict[Pid, ChildSpec]) -> None:
    """Ask every child to stop at once; kill those still alive after their timeout.

    A kill takes the child out at once even if its code is shielded (``kill_now``).
    """
    me = _current.get()
    assert me is not None
    node = me.node
    waiting: dict[Any, Pid] = {}
    deadline = 0.0
    now = trio.current_time()
    brutal: list[Pid] = []
    for pid, spec in children.items():
        me.remove_link(pid)
        target = node.process(pid)
        if target is not None:
            target.remove_link(me.pid)
        ref = monitor(pid)
        waiting[ref] = pid
        if spec.shutdown is BRUTAL_KILL:
            brutal.append(pid)
        else:
            node.exit(pid, SHUTDOWN, sender=me.pid)
            t = math.inf if spec.shutdown is INFINITY else float(spec.shutdown)  # type: ignore[arg-type]
            deadline = max(deadline, now + t)
    for pid in brutal:
        kill_now(node, pid)
    me.drop(lambda m: type(m) is Exit and m.pid in children)
    with trio.move_on_at(deadline):
        while waiting:
            msg = await me.receive(lambda m: type(m) is Down and m.ref in waiting)
            del waiting[msg.ref]
    for pid in waiting.values():
        kill_now(node, pid)
    while waiting:
        msg = await me.receive(lambda m: type(m) is Down and m.ref in waiting)
        del waiting[msg.ref]


def _check_dynamic_flags(max_children: Any, max_restarts: Any, max_seconds: Any) -> None:
    check_flags(max_restarts=max_restarts, max_seconds=max_seconds, max_children=max_children)


class DynamicSupervisor:
    """Start and manage dynamic supervisors (the client API)."""

    @staticmethod
    async def start_link(*, name: str | None = None, max_children: float = math.inf,
                         max_restarts: int = 3, max_seconds: float = 5.0) -> Pid:
        """Start an empty dynamic supervisor linked to the caller.

        Raises:
          InvalidSpecError: ``max_children``, ``max_restarts`` or ``max_seconds`` is
            invalid (``field`` names it); nothing is started.
        """
        _check_dynamic_flags(max_children, max_restarts, max_seconds)
        return await _DynamicSupervisorServer.start_link(
            _Init(max_children, max_restarts, max_seconds), name=name
        )

    @staticmethod
    def child_spec(*, id: Hashable, name: str | None = None, max_children: float = math.inf,
                   max_restarts: int = 3, max_seconds: float = 5.0) -> ChildSpec:
        _check_dynamic_flags(max_children, max_restarts, max_seconds)

        async def start() -> Pid:
            return await DynamicSupervisor.start_link(
                name=name, max_children=max_children, max_restarts=max_restarts,
                max_seconds=max_seconds,
            )

        return ChildSpec(id=id, start=start, type=ChildType.SUPERVISOR, behaviour="DynamicSupervisor")

    @staticmethod
    async def start_child(sup: Pid | str, spec: ChildSpec) -> Pid | None:
        """Start a child under ``sup``.

        Raises ``MaxChildrenError``, or the child's start error (``ChildStartError`` if
        its start function exited); the supervisor carries on either way.
        """
        if type(spec) is not ChildSpec:  # checked by the caller, as Elixir does
            raise InvalidSpecError("child spec", spec, "an otp.ChildSpec")
        return unwrap(await call(sup, ("start_child", spec), None))  # type: ignore[no-any-return]

    @staticmethod
    async def terminate_child(sup: Pid | str, pid: Pid) -> None:
        """Stop one child (honouring its shutdown) and forget it.

        ``pid`` may be the last pid of a restarting child: its retries end.
        """
        unwrap(await call(sup, ("terminate_child", pid), None))

    @staticmethod
    async def which_children(sup: Pid | str) -> list[tuple[None, ChildPid, str, str]]:
        """``[(None, pid | RESTARTING, type, behaviour), ...]``."""
        return unwrap(await call(sup, ("which_children",)))  # type: ignore[no-any-return]

    @staticmethod
    async def count_children(sup: Pid | str) -> dict[str, int]:
        """``{"specs", "active", "supervisors", "workers"}``; restarting children are not active."""
        return unwrap(await call(sup, ("count_children",)))  # type: ignore[no-any-return]

    @staticmethod
    async def stop(sup: Pid | str, reason: ExitReason = "normal", timeout: float | None = None) -> None:
        """Stop the supervisor and its children."""
        await stop(sup, reason, timeout)


_MASK = (1 << 64) - 1


def stable_hash(key: Hashable) -> int:
    """A non-negative hash of ``key`` that is the same in every OS process.

    ``str`` and ``bytes`` hash by CRC-32 of their bytes, ints by their absolute value
    (as Elixir's ``PartitionSupervisor`` routes integer keys), a ``Pid`` or ``Ref`` by its number,
    floats, None, enums and tuples of all these by their parts. Any other key falls back
    to its own ``__hash__``, which is stable across processes only if it does not hash a
    str (a dataclass with str fields does: give such keys as tuples instead).
    """
    t = type(key)
    if t is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))  # type: ignore[attr-defined]
    if t is int or t is bool:
        return abs(key)  # type: ignore[arg-type]
    if t is Pid:
        return key.id  # type: ignore[attr-defined, no-any-return]
    if t is Ref:
        return key.n  # type: ignore[attr-defined, no-any-return]
    if t is bytes:
        return zlib.crc32(key)  # type: ignore[arg-type]
    if t is tuple:
        h = 0x345678
        for item in key:  # type: ignore[attr-defined]
            h = ((h * 1000003) ^ stable_hash(item)) & _MASK
        return h
    if key is None:
        return 0
    if isinstance(key, float):
        return abs(int(key)) if key.is_integer() else hash(key) & _MASK
    if isinstance(key, enum.Enum):
        return stable_hash((type(key).__qualname__, key.value))
    if isinstance(key, str):
        return zlib.crc32(str(key).encode("utf-8", "surrogatepass"))
    if isinstance(key, int):
        return abs(int(key))
    return hash(key) & _MASK


@dataclass(frozen=True, slots=True)
class _Pool:
    partitions: int
    pid: Pid


#: The running pools of this node, by name.
_POOLS: Table[_Pool] = Table("partition_supervisor")


class PartitionSupervisor:
    """A pool of ``DynamicSupervisor`` partitions routed by a stable hash of a key.

    The pool is a ``Supervisor`` registered as ``name`` whose children are the
    partitions, ``DynamicSupervisor`` s registered as ``f"{name}.{i}"`` with ids ``0..N-1``.
    """

    @staticmethod
    async def start_link(*, name: str, partitions: int | None = None,
                         max_children: float = math.inf, max_restarts: int = 3,
                         max_seconds: float = 5.0) -> Pid:
        """Start ``partitions`` (default: the CPU count) dynamic supervisors under one supervisor.

        Partition ``i`` is registered as ``f"{name}.{i}"``; the pool itself as ``name``.
        ``max_children``, ``max_restarts`` and ``max_seconds`` apply to each partition.

        Raises:
          InvalidSpecError: ``partitions`` is not an int >= 1, or a flag is invalid.
        """
        n = partitions if partitions is not None else (os.cpu_count() or 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidSpecError("partitions", n, "an int >= 1")
        if not isinstance(name, str) or not name:
            raise InvalidSpecError("name", name, "a non-empty str")
        _check_dynamic_flags(max_children, max_restarts, max_seconds)
        children = [
            DynamicSupervisor.child_spec(id=i, name=f"{name}.{i}", max_children=max_children,
                                         max_restarts=max_restarts, max_seconds=max_seconds)
            for i in range(n)
        ]
        pid = await Supervisor.start_link(children, strategy=Strategy.ONE_FOR_ONE, name=name)
        # The pool is known by its pid: once that exits the name answers no-process again.
        _POOLS.put(current_node(), name, _Pool(n, pid))
        return pid

    @staticmethod
    def child_spec(*, name: str, partitions: int | None = None, id: Hashable | None = None,
                   max_children: float = math.inf, max_restarts: int = 3,
                   max_seconds: float = 5.0) -> ChildSpec:
        async def start() -> Pid:
            return await PartitionSupervisor.start_link(name=name, partitions=partitions,
                                                        max_children=max_children,
                                                        max_restarts=max_restarts,
                                                        max_seconds=max_seconds)

        return ChildSpec(id=id if id is not None else name, start=start,
                         type=ChildType.SUPERVISOR, behaviour="PartitionSupervisor")

    @staticmethod
    def _pool(name: str) -> _Pool:
        node = current_node()
        pool = _POOLS.get(node, name)
        if pool is not None and node.process(pool.pid) is not None:
            return pool
        if pool is not None:
            _POOLS.pop(node, name, pool)
        raise NoProcessError(
            f"no partition supervisor named {name!r} is running (noproc); start it with "
            f"`otp.PartitionSupervisor.start_link(name={name!r})`"
        )

    @staticmethod
    def partitions(name: str) -> int:
        """How many partitions the pool ``name`` has.

        Raises:
          NoProcessError: no pool ``name`` is running (never started, or stopped).
        """
        return PartitionSupervisor._pool(name).partitions

    @staticmethod
    def partition_for(name: str, key: Hashable) -> str:
        """The registered name of the partition that ``key`` routes to (``stable_hash``)."""
        return f"{name}.{stable_hash(key) % PartitionSupervisor._pool(name).partitions}"

    @staticmethod
    async def start_child(name: str, spec: ChildSpec, *, key: Hashable) -> Pid | None:
        """Start ``spec`` under the partition chosen by ``stable_hash(key)``."""
        return await DynamicSupervisor.start_child(PartitionSupervisor.partition_for(name, key), spec)

    @staticmethod
    async def which_children(name: str) -> list[tuple[Hashable, ChildPid, str, str]]:
        """The partitions, as Elixir's: ``[(i, pid, "supervisor", "DynamicSupervisor"), ...]``."""
        return await Supervisor.which_children(PartitionSupervisor._pool(name).pid)

    @staticmethod
    async def count_children(name: str) -> dict[str, int]:
        """Counts of the partitions (not of their children), as Elixir's."""
        return await Supervisor.count_children(PartitionSupervisor._pool(name).pid)

    @staticmethod
    async def stop(name: str, reason: ExitReason = "normal", timeout: float | None = None) -> None:
        """Stop the pool and every partition; ``partitions(name)`` then raises ``NoProcessError``."""
        pool = PartitionSupervisor._pool(name)
        await stop(pool.pid, reason, timeout)
