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

``PartitionSupervisor`` is the structure Phoenix uses for channel servers: N dynamic
supervisors (N defaults to the CPU count) under one supervisor, a child going to
partition ``hash(key) % N`` so that no single supervisor is a bottleneck.
"""

from __future__ import annotations

import collections
import math
import os
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import trio

from ._api import monitor
from ._gen_server import From, GenServer, NoReply, Ok, Reply, Stop, call
from ._node import _current, current_node
from ._supervisor import (
    BRUTAL_KILL,
    INFINITY,
    ChildSpec,
    ChildType,
    Restart,
    Strategy,
    Supervisor,
    SupervisorError,
    add_restart,
    logger,
    start_child_from_spec,
    unwrap,
)
from ._types import KILL, SHUTDOWN, Down, Exit, ExitReason, Pid, is_normal_exit

__all__ = ["DynamicSupervisor", "MaxChildrenError", "PartitionSupervisor"]


class MaxChildrenError(SupervisorError):
    """``start_child`` on a dynamic supervisor that already has ``max_children``."""


@dataclass(eq=False)
class _State:
    max_children: float
    max_restarts: int
    max_seconds: float
    children: dict[Pid, ChildSpec] = field(default_factory=dict)
    restart_times: collections.deque[float] = field(default_factory=collections.deque)
    total_restarts: int = 0
    started: int = 0


@dataclass(frozen=True, slots=True)
class _Init:
    max_children: float
    max_restarts: int
    max_seconds: float


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
            if len(state.children) >= state.max_children:
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
                return Reply(("error", SupervisorError(f"{pid} is not a child of this supervisor")), state)
            await _shutdown_many({pid: found})
            return Reply(("ok", None), state)
        if op == "which_children":
            return Reply(("ok", [(None, pid, spec.type.value, spec.behaviour or "")
                                 for pid, spec in state.children.items()]), state)
        if op == "count_children":
            specs = state.children.values()
            return Reply(("ok", {
                "specs": len(state.children),
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
            if not self._add_restart(state):
                me = _current.get()
                logger.error(
                    "DynamicSupervisor %s reached max restart intensity (%d restarts in %g s); "
                    "shutting down its children and exiting with :shutdown",
                    (me.name or me.pid) if me else "?", state.max_restarts, state.max_seconds,
                )
                await _shutdown_many(state.children)
                state.children.clear()
                return Stop(SHUTDOWN, state)
            try:
                pid = await start_child_from_spec(spec)
            except Exception:
                logger.exception("DynamicSupervisor failed to restart a child")
                return NoReply(state)
            if pid is not None:
                state.children[pid] = spec
            return NoReply(state)
        return await super().handle_info(msg, state)

    def _add_restart(self, state: _State) -> bool:
        state.total_restarts += 1
        return add_restart(state.restart_times, state.max_restarts, state.max_seconds)

    async def terminate(self, reason: ExitReason, state: _State) -> None:
        await _shutdown_many(state.children)
        state.children.clear()

    def format_status(self, state: _State) -> Any:
        return {
            "children": len(state.children),
            "max_children": None if state.max_children == math.inf else state.max_children,
            "started": state.started,
            "restarts": state.total_restarts,
        }


async def _shutdown_many(children: dict[Pid, ChildSpec]) -> None:
    """Ask every child to stop at once; kill those still alive after their timeout."""
    me = _current.get()
    assert me is not None
    node = me.node
    waiting: dict[Any, Pid] = {}
    deadline = 0.0
    now = trio.current_time()
    for pid, spec in children.items():
        me.remove_link(pid)
        target = node.process(pid)
        if target is not None:
            target.remove_link(me.pid)
        ref = monitor(pid)
        waiting[ref] = pid
        if spec.shutdown is BRUTAL_KILL:
            node.exit(pid, KILL, sender=me.pid)
        else:
            node.exit(pid, SHUTDOWN, sender=me.pid)
            t = math.inf if spec.shutdown is INFINITY else float(spec.shutdown)  # type: ignore[arg-type]
            deadline = max(deadline, now + t)
    me.drop(lambda m: type(m) is Exit and m.pid in children)
    with trio.move_on_at(deadline):
        while waiting:
            msg = await me.receive(lambda m: type(m) is Down and m.ref in waiting)
            del waiting[msg.ref]
    for pid in waiting.values():
        node.exit(pid, KILL, sender=me.pid)
    while waiting:
        msg = await me.receive(lambda m: type(m) is Down and m.ref in waiting)
        del waiting[msg.ref]


class DynamicSupervisor:
    """Start and manage dynamic supervisors (the client API)."""

    @staticmethod
    async def start_link(*, name: str | None = None, max_children: float = math.inf,
                         max_restarts: int = 3, max_seconds: float = 5.0) -> Pid:
        """Start an empty dynamic supervisor linked to the caller."""
        return await _DynamicSupervisorServer.start_link(
            _Init(max_children, max_restarts, max_seconds), name=name
        )

    @staticmethod
    def child_spec(*, id: Hashable, name: str | None = None, max_children: float = math.inf,
                   max_restarts: int = 3, max_seconds: float = 5.0) -> ChildSpec:
        async def start() -> Pid:
            return await DynamicSupervisor.start_link(
                name=name, max_children=max_children, max_restarts=max_restarts,
                max_seconds=max_seconds,
            )

        return ChildSpec(id=id, start=start, type=ChildType.SUPERVISOR, behaviour="DynamicSupervisor")

    @staticmethod
    async def start_child(sup: Pid | str, spec: ChildSpec) -> Pid | None:
        """Start a child under ``sup``. Raises ``MaxChildrenError`` or the child's start error."""
        return unwrap(await call(sup, ("start_child", spec), None))  # type: ignore[no-any-return]

    @staticmethod
    async def terminate_child(sup: Pid | str, pid: Pid) -> None:
        """Stop one child (honouring its shutdown) and forget it."""
        unwrap(await call(sup, ("terminate_child", pid), None))

    @staticmethod
    async def which_children(sup: Pid | str) -> list[tuple[None, Pid, str, str]]:
        return unwrap(await call(sup, ("which_children",)))  # type: ignore[no-any-return]

    @staticmethod
    async def count_children(sup: Pid | str) -> dict[str, int]:
        return unwrap(await call(sup, ("count_children",)))  # type: ignore[no-any-return]


class PartitionSupervisor:
    """A pool of ``DynamicSupervisor`` partitions routed by the hash of a key."""

    @staticmethod
    def _partitions_key(name: str) -> tuple[str, str]:
        return ("partition_supervisor", name)

    @staticmethod
    async def start_link(*, name: str, partitions: int | None = None,
                         max_children: float = math.inf, max_restarts: int = 3,
                         max_seconds: float = 5.0) -> Pid:
        """Start ``partitions`` (default: the CPU count) dynamic supervisors under one supervisor.

        Partition ``i`` is registered as ``f"{name}.{i}"``; the pool itself as ``name``.
        """
        n = partitions if partitions is not None else (os.cpu_count() or 1)
        if n < 1:
            raise ValueError(f"partitions must be >= 1, got {n}")
        current_node().tables[PartitionSupervisor._partitions_key(name)] = n
        children = [
            DynamicSupervisor.child_spec(id=i, name=f"{name}.{i}", max_children=max_children,
                                         max_restarts=max_restarts, max_seconds=max_seconds)
            for i in range(n)
        ]
        return await Supervisor.start_link(children, strategy=Strategy.ONE_FOR_ONE, name=name)

    @staticmethod
    def child_spec(*, name: str, partitions: int | None = None, id: Hashable | None = None,
                   max_children: float = math.inf) -> ChildSpec:
        async def start() -> Pid:
            return await PartitionSupervisor.start_link(name=name, partitions=partitions,
                                                        max_children=max_children)

        return ChildSpec(id=id if id is not None else name, start=start,
                         type=ChildType.SUPERVISOR, behaviour="PartitionSupervisor")

    @staticmethod
    def partitions(name: str) -> int:
        """How many partitions the pool ``name`` has."""
        try:
            return int(current_node().tables[PartitionSupervisor._partitions_key(name)])
        except KeyError:
            raise SupervisorError(
                f"no partition supervisor named {name!r}; start it with "
                f"`otp.PartitionSupervisor.start_link(name={name!r})`"
            ) from None

    @staticmethod
    def partition_for(name: str, key: Hashable) -> str:
        """The registered name of the partition that ``key`` routes to."""
        return f"{name}.{hash(key) % PartitionSupervisor.partitions(name)}"

    @staticmethod
    async def start_child(name: str, spec: ChildSpec, *, key: Hashable) -> Pid | None:
        """Start ``spec`` under the partition chosen by ``hash(key)``."""
        return await DynamicSupervisor.start_child(PartitionSupervisor.partition_for(name, key), spec)

    @staticmethod
    async def which_children(name: str) -> list[tuple[None, Pid, str, str]]:
        out: list[tuple[None, Pid, str, str]] = []
        for i in range(PartitionSupervisor.partitions(name)):
            out.extend(await DynamicSupervisor.which_children(f"{name}.{i}"))
        return out

    @staticmethod
    async def count_children(name: str) -> dict[str, int]:
        total = {"specs": 0, "active": 0, "supervisors": 0, "workers": 0}
        for i in range(PartitionSupervisor.partitions(name)):
            for k, v in (await DynamicSupervisor.count_children(f"{name}.{i}")).items():
                total[k] += v
        return total
