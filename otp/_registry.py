"""A local, decentralized and scalable key-value process storage; and process groups.

Example::

    await otp.Registry.start_link(name="rooms", keys=otp.Keys.DUPLICATE, partitions=4)
    otp.Registry.register("rooms", "lobby", {"joined_at": 1})     # from a process
    otp.Registry.lookup("rooms", "lobby")        #=> [(<0.7.0>, {'joined_at': 1})]
    otp.Registry.dispatch("rooms", "lobby", lambda entries: ...)

The registry's tables live in the node and are read and written synchronously by the
calling process, like Elixir's ETS-backed Registry: there is no message round trip on
``register``, ``lookup`` or ``dispatch``. The registry *process* owns the tables (they go
away with it) and shows up in the supervision tree. Entries of a process are removed when
it exits, before its monitors see ``Down``.

Races, honestly: ``lookup`` and ``dispatch`` may return a pid that has already exited
but whose exit is still being processed by the runtime in the same scheduler pass;
sending to it is harmless.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Hashable, Iterable, ValuesView
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._child_spec import ChildSpec
from ._gen_server import GenServer, Ok
from ._node import NoProcessError, Process, _current, current_node
from ._types import ExitReason, Pid

__all__ = ["Keys", "PG", "Registry", "RegistryError"]


class Keys(enum.Enum):
    """Whether a key maps to one process or to many."""

    UNIQUE = "unique"
    DUPLICATE = "duplicate"


class RegistryError(ValueError):
    """A registry operation was refused (key taken, unknown registry...).

    For a key already taken in a unique registry, ``pid`` is its owner (Elixir's
    ``{:error, {:already_registered, pid}}``); None otherwise.
    """

    def __init__(self, message: str, *, pid: Pid | None = None) -> None:
        super().__init__(message)
        self.pid = pid


Entry = tuple[Pid, Any]


@dataclass(eq=False)
class _Table:
    name: str
    keys: Keys
    n: int
    # partition -> key -> {entry_id: (pid, value)}
    parts: list[dict[Hashable, dict[int, Entry]]] = field(default_factory=list)
    # pid id -> [(partition, key, entry_id)]
    by_pid: dict[int, list[tuple[int, Hashable, int]]] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))
    owner: Pid | None = None
    #: The exit hook every registered process gets (one per table, not one per process).
    cleanup: Callable[[Process, ExitReason], None] | None = None

    def part_of(self, key: Hashable, pid: Pid) -> int:
        if self.n == 1:
            return 0
        # Duplicate registries partition by process (like Elixir), unique ones by key.
        return (pid.id if self.keys is Keys.DUPLICATE else hash(key)) % self.n

    def entry_count(self) -> int:
        return sum(len(v) for p in self.parts for v in p.values())


def _table(name: str) -> _Table:
    table = current_node().tables.get(("registry", name))
    if table is None:
        raise RegistryError(
            f"unknown registry {name!r}: start it first, for example "
            f"`await otp.Registry.start_link(name={name!r}, keys=otp.Keys.UNIQUE)`"
        )
    return table  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class _Init:
    name: str
    keys: Keys
    partitions: int


class _RegistryServer(GenServer[_Table]):
    behaviour_name: ClassVar[str | None] = "Registry"
    async def init(self, arg: _Init) -> Ok[_Table]:
        node = current_node()
        key = ("registry", arg.name)
        if key in node.tables:
            raise RegistryError(f"a registry named {arg.name!r} already exists")
        table = _Table(arg.name, arg.keys, arg.partitions, [{} for _ in range(arg.partitions)])
        me = _current.get()
        assert me is not None
        table.owner = me.pid
        node.tables[key] = table

        def drop_table(_p: Process, _r: ExitReason) -> None:
            if node.tables.get(key) is table:
                del node.tables[key]

        me.add_exit_hook(drop_table)
        return Ok(table)

    def format_status(self, state: _Table) -> Any:
        return {
            "keys": state.keys.value,
            "partitions": state.n,
            "entries": state.entry_count(),
            "processes": len(state.by_pid),
        }


def _cleanup_hook(table: _Table) -> Callable[[Process, ExitReason], None]:
    def cleanup(proc: Process, _reason: ExitReason) -> None:
        for part, key, eid in table.by_pid.pop(proc.pid.id, ()):
            bucket = table.parts[part].get(key)
            if bucket is not None:
                bucket.pop(eid, None)
                if not bucket:
                    del table.parts[part][key]

    return cleanup


class Registry:
    """The Registry API. Tables are named; start one with ``Registry.start_link``."""

    @staticmethod
    async def start_link(*, name: str, keys: Keys = Keys.UNIQUE, partitions: int = 1) -> Pid:
        """Start the registry process that owns the table ``name``."""
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        return await _RegistryServer.start_link(_Init(name, keys, partitions), name=name)

    @staticmethod
    def child_spec(*, name: str, keys: Keys = Keys.UNIQUE, partitions: int = 1) -> ChildSpec:
        async def start() -> Pid:
            return await Registry.start_link(name=name, keys=keys, partitions=partitions)

        return ChildSpec(id=name, start=start, behaviour="Registry")

    @staticmethod
    def register(registry: str, key: Hashable, value: Any = None, *, pid: Pid | None = None) -> None:
        """Register the current process (or ``pid``) under ``key`` with ``value``.

        Raises ``RegistryError`` if the registry has unique keys and ``key`` is taken.
        """
        table = _table(registry)
        node = current_node()
        if pid is None:
            me = _current.get()
            if me is None:
                raise NoProcessError("Registry.register must run in a process (or pass pid=)")
            proc = me
        else:
            found = node.process(pid)
            if found is None:
                raise NoProcessError(f"cannot register {pid}: it is not alive")
            proc = found
        part = table.part_of(key, proc.pid)
        bucket = table.parts[part].get(key)
        if bucket is None:
            bucket = table.parts[part][key] = {}
        elif table.keys is Keys.UNIQUE and bucket:
            (owner, _), = bucket.values()
            raise RegistryError(f"key {key!r} is already registered in {registry!r} by {owner}", pid=owner)
        eid = next(table.ids)
        bucket[eid] = (proc.pid, value)
        entries = table.by_pid.get(proc.pid.id)
        if entries is None:
            entries = table.by_pid[proc.pid.id] = []
            if table.cleanup is None:
                table.cleanup = _cleanup_hook(table)
            proc.add_exit_hook(table.cleanup)
        entries.append((part, key, eid))

    @staticmethod
    def unregister(registry: str, key: Hashable, *, pid: Pid | None = None) -> None:
        """Remove every entry of the current process (or ``pid``) under ``key``."""
        table = _table(registry)
        if pid is None:
            me = _current.get()
            if me is None:
                raise NoProcessError("Registry.unregister must run in a process (or pass pid=)")
            pid = me.pid
        entries = table.by_pid.get(pid.id)
        if not entries:
            return
        keep = []
        for part, k, eid in entries:
            if k == key:
                bucket = table.parts[part].get(k)
                if bucket is not None:
                    bucket.pop(eid, None)
                    if not bucket:
                        del table.parts[part][k]
            else:
                keep.append((part, k, eid))
        entries[:] = keep

    @staticmethod
    def lookup(registry: str, key: Hashable) -> list[Entry]:
        """``[(pid, value), ...]`` registered under ``key`` (at most one for unique keys)."""
        table = _table(registry)
        out: list[Entry] = []
        for part in table.parts:
            bucket = part.get(key)
            if bucket:
                out.extend(bucket.values())
        return out

    @staticmethod
    def dispatch(registry: str, key: Hashable, fn: Callable[[ValuesView[Entry]], None]) -> None:
        """Call ``fn(entries)`` once per partition that has entries under ``key``.

        The entries are a live view: ``fn`` must not register or unregister while
        iterating it. This is the fan-out primitive (no copy, no message per entry).
        """
        table = _table(registry)
        for part in table.parts:
            bucket = part.get(key)
            if bucket:
                fn(bucket.values())

    @staticmethod
    def match(registry: str, key: Hashable, pattern: Callable[[Any], bool]) -> list[Entry]:
        """The entries under ``key`` whose value satisfies ``pattern``."""
        return [e for e in Registry.lookup(registry, key) if pattern(e[1])]

    @staticmethod
    def keys(registry: str, pid: Pid) -> list[Hashable]:
        """The keys ``pid`` is registered under."""
        table = _table(registry)
        return [k for _, k, _ in table.by_pid.get(pid.id, ())]

    @staticmethod
    def count(registry: str) -> int:
        """How many entries the registry holds."""
        return _table(registry).entry_count()

    @staticmethod
    def count_key(registry: str, key: Hashable) -> int:
        """How many entries are under ``key``."""
        table = _table(registry)
        return sum(len(part.get(key, ())) for part in table.parts)


class PG:
    """Process groups (Erlang's ``pg``): named groups of pids, cleaned up on exit.

    Groups live in a *scope* (default ``"pg"``) created on first use.
    """

    @staticmethod
    def _scope(scope: str) -> dict[Hashable, dict[Pid, int]]:
        tables = current_node().tables
        key = ("pg", scope)
        groups = tables.get(key)
        if groups is None:
            groups = tables[key] = {}
        return groups

    @staticmethod
    def join(group: Hashable, pids: Pid | Iterable[Pid] | None = None, *, scope: str = "pg") -> None:
        """Add ``pids`` (default: the current process) to ``group``. A pid may join twice."""
        node = current_node()
        groups = PG._scope(scope)
        hooked = node.tables.setdefault(("pg_hooked", scope), set())
        for pid in _pid_list(pids, "PG.join"):
            proc = node.process(pid)
            if proc is None:
                continue
            members = groups.setdefault(group, {})
            members[pid] = members.get(pid, 0) + 1
            if pid not in hooked:
                hooked.add(pid)
                proc.add_exit_hook(_pg_cleanup(groups, hooked))

    @staticmethod
    def leave(group: Hashable, pids: Pid | Iterable[Pid] | None = None, *, scope: str = "pg") -> bool:
        """Remove one membership of each pid from ``group``.

        Returns False if none of the pids was a member of ``group`` (Erlang's
        ``not_joined``: nothing changed), True otherwise.
        """
        groups = PG._scope(scope)
        pid_list = _pid_list(pids, "PG.leave")
        members = groups.get(group)
        if not members:
            return False
        left = False
        for pid in pid_list:
            n = members.get(pid, 0)
            if n > 1:
                members[pid] = n - 1
                left = True
            elif n == 1:
                del members[pid]
                left = True
        if not members:
            del groups[group]
        return left

    @staticmethod
    def members(group: Hashable, *, scope: str = "pg") -> list[Pid]:
        """Every member of ``group`` (a pid that joined twice appears twice)."""
        members = PG._scope(scope).get(group, {})
        return [pid for pid, n in members.items() for _ in range(n)]

    @staticmethod
    def which_groups(*, scope: str = "pg") -> list[Hashable]:
        return list(PG._scope(scope))


def _pid_list(pids: Pid | Iterable[Pid] | None, what: str) -> list[Pid]:
    if pids is None:
        me = _current.get()
        if me is None:
            raise NoProcessError(f"{what} must run in a process (or pass pids)")
        return [me.pid]
    return [pids] if isinstance(pids, Pid) else list(pids)


def _pg_cleanup(groups: dict[Hashable, dict[Pid, int]], hooked: set[Pid]) -> Callable[[Process, ExitReason], None]:
    def cleanup(proc: Process, _reason: ExitReason) -> None:
        hooked.discard(proc.pid)
        for name in [g for g, members in groups.items() if proc.pid in members]:
            del groups[name][proc.pid]
            if not groups[name]:
                del groups[name]

    return cleanup
