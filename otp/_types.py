"""Value types of the runtime: pids, references, exit reasons and system messages."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from typing import Any, Final, Literal, final

__all__ = [
    "KILL",
    "KILLED",
    "NOPROC",
    "NORMAL",
    "RESTARTING",
    "SHUTDOWN",
    "ChildPid",
    "Down",
    "Exit",
    "ExitReason",
    "Pid",
    "Ref",
    "RegisteredName",
    "Shutdown",
    "is_normal_exit",
    "is_shutdown_exit",
]


@final
class Pid:
    """The identity of one process, printed the Erlang way: ``<0.42.0>``.

    Pids compare by identity: the runtime creates exactly one ``Pid`` per
    process and never reuses it. Use :func:`otp.whereis` or
    :meth:`otp.Node.pid_from_string` to get one back from its printed form.
    """

    __slots__ = ("id", "node_id", "serial")

    def __init__(self, node_id: int, id: int, serial: int = 0) -> None:
        self.node_id = node_id
        self.id = id
        self.serial = serial

    def __repr__(self) -> str:
        return f"<{self.node_id}.{self.id}.{self.serial}>"

    __str__ = __repr__

    def __lt__(self, other: Pid) -> bool:
        return (self.node_id, self.id, self.serial) < (other.node_id, other.id, other.serial)


_ref_counter = itertools.count(1)


@final
class Ref:
    """A unique reference (``make_ref()``), used for monitors, calls and timers."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = next(_ref_counter)

    def __repr__(self) -> str:
        return f"#Ref<0.{self.n}>"


class _Atom(str, enum.Enum):
    """Atom-like exit reasons; they compare equal to their plain string."""

    NORMAL = "normal"
    SHUTDOWN = "shutdown"
    KILL = "kill"
    KILLED = "killed"
    NOPROC = "noproc"
    RESTARTING = "restarting"

    def __repr__(self) -> str:
        return f":{self.value}"

    __str__ = __repr__


#: The process finished its work. Linked processes are not affected.
NORMAL: Final = _Atom.NORMAL
#: Asked to stop by its supervisor or owner. Quiet, like ``normal``, but it
#: kills linked processes that do not trap exits.
SHUTDOWN: Final = _Atom.SHUTDOWN
#: An exit signal that cannot be trapped. Links see the victim exit ``killed``.
KILL: Final = _Atom.KILL
#: The reason of a process that was sent ``kill``.
KILLED: Final = _Atom.KILLED
#: The reason in a ``Down`` for a pid that was already dead when monitored.
NOPROC: Final = _Atom.NOPROC
#: What ``which_children`` shows in place of the pid of a child whose restart failed and
#: is being retried (OTP's ``restarting``).
RESTARTING: Final = _Atom.RESTARTING

#: The pid slot of a ``which_children`` row: the pid, ``RESTARTING``, or None (not running).
ChildPid = Pid | Literal[_Atom.RESTARTING] | None


@dataclass(frozen=True, slots=True)
class Shutdown:
    """``{:shutdown, term}``: a quiet exit that carries a term, e.g. ``Shutdown("left")``."""

    term: Any

    def __repr__(self) -> str:
        return f"{{:shutdown, {self.term!r}}}"


#: An exit reason: ``NORMAL``, ``SHUTDOWN``, ``Shutdown(term)``, ``KILL``/``KILLED``,
#: an exception (a crash, with its ``__traceback__``), or any other term.
ExitReason = Any


def is_normal_exit(reason: ExitReason) -> bool:
    """True for the reasons that are not crashes: normal, shutdown, ``Shutdown(term)``."""
    return reason is NORMAL or reason is SHUTDOWN or type(reason) is Shutdown or (
        isinstance(reason, str) and reason in ("normal", "shutdown")
    )


def is_shutdown_exit(reason: ExitReason) -> bool:
    """True for ``shutdown`` and ``Shutdown(term)``."""
    return reason is SHUTDOWN or type(reason) is Shutdown or reason == "shutdown"


@dataclass(frozen=True, slots=True)
class Exit:
    """The message a process that traps exits receives for an exit signal.

    Erlang's ``{'EXIT', pid, reason}``.
    """

    pid: Pid
    reason: ExitReason


@dataclass(frozen=True, slots=True)
class RegisteredName:
    """A process identified by its registered name: Erlang's ``{Name, Node}``.

    It is what a ``Down`` carries in place of a pid when the monitor was taken on a name
    (``otp.monitor("name")``), as Erlang's ``{'DOWN', Ref, process, {Name, Node}, Reason}``
    does, whether the process was alive when monitored or not.
    """

    name: str
    node: str

    def __repr__(self) -> str:
        return f"{{{self.name}, {self.node}}}"


@dataclass(frozen=True, slots=True)
class Down:
    """The message a monitor delivers: ``{'DOWN', ref, :process, object, reason}``.

    ``pid`` is the monitored pid, or a ``RegisteredName`` when the monitor was taken on a
    registered name (Erlang reports ``{Name, Node}`` there, never the pid).
    """

    ref: Ref
    pid: Pid | RegisteredName
    reason: ExitReason
