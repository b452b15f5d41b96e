"""Child specifications and the checks supervisors make on them and on their own flags.

This module imports nothing of the runtime's behaviours: ``GenServer.child_spec`` builds a
``ChildSpec`` from here and the supervisors import ``GenServer`` -- with the spec in its
own module the two do not import each other (no ``_gen_server`` <-> ``_supervisor`` cycle).

Every value is checked when the spec is made and every supervisor flag when the
supervisor is started (OTP's ``check_childspecs`` and ``supervisor_data``), so a bad value
is refused at once with an ``InvalidSpecError`` naming the field, instead of crashing the
supervisor later (a negative shutdown used to fail inside Trio at the first stop).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import attrs

from ._types import ExitReason

__all__ = [
    "BRUTAL_KILL",
    "INFINITY",
    "ChildSpec",
    "ChildStartError",
    "ChildType",
    "InvalidSpecError",
    "Restart",
    "ShutdownPolicy",
    "Strategy",
    "SupervisorError",
]


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


class SupervisorError(RuntimeError):
    """A supervisor operation failed (unknown child id, child already present...)."""


class InvalidSpecError(SupervisorError, ValueError):
    """A child spec or a supervisor flag was refused; ``field`` names it, ``value`` is what was given.

    OTP's ``{invalid_shutdown, -10}``, ``{supervisor_data, {invalid_intensity, X}}``...
    """

    def __init__(self, field: str, value: Any, expected: str) -> None:
        super().__init__(f"invalid {field}: {value!r} (expected {expected})")
        self.field = field
        self.value = value


class ChildStartError(SupervisorError):
    """A child failed to start while its supervisor started (OTP's ``failed_to_start_child``).

    ``id`` is the child's id and ``reason`` what its start raised or exited with (an
    exception is also chained as ``__cause__``). The supervisor stops the children it had
    started, logs the failure once, and its ``start_link`` raises this.
    """

    def __init__(self, id: Hashable, reason: ExitReason) -> None:
        # A nested supervisor's failure reads as a path: child 'a' ...: child 'b' ...: Error(...)
        why = str(reason) if isinstance(reason, ChildStartError) else repr(reason)
        super().__init__(f"child {id!r} failed to start: {why}")
        self.id = id
        self.reason = reason


def _default_shutdown(spec: ChildSpec) -> float | ShutdownPolicy:
    return INFINITY if spec.type is ChildType.SUPERVISOR else 5.0


def check_shutdown(value: Any, field: str = "shutdown") -> None:
    if value is BRUTAL_KILL or value is INFINITY:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or value == math.inf:
        raise InvalidSpecError(field, value, "a finite number of seconds >= 0, BRUTAL_KILL or INFINITY")


@attrs.frozen(kw_only=True)
class ChildSpec:
    """How to start, restart and stop one child.

    Args:
      id: unique among the supervisor's children (any hashable value).
      start: a function that starts the child *linked to the caller* and returns its pid
        (``lambda: Worker.start_link(arg)``; async or sync, e.g. ``otp.spawn_link``).
        Returning None, or raising ``otp.Ignored``, means "nothing to start".
      restart: ``Restart.PERMANENT`` (default), ``TRANSIENT`` or ``TEMPORARY``.
      shutdown: seconds to wait after ``shutdown`` before killing (default 5.0; OTP's
        5000 ms), ``BRUTAL_KILL``, or ``INFINITY`` (the default for supervisors).
      type: ``ChildType.WORKER`` or ``ChildType.SUPERVISOR``.
      behaviour: a label for introspection (defaults to the start function's name).

    Raises:
      InvalidSpecError: a field has a value no supervisor accepts (a negative or NaN
        shutdown, a restart or type that is not one of the enums, a start that is not
        callable, an unhashable id); ``field`` names it.
    """

    id: Hashable
    start: Callable[[], Any]
    restart: Restart = Restart.PERMANENT
    type: ChildType = ChildType.WORKER
    shutdown: float | ShutdownPolicy = attrs.field(
        default=attrs.Factory(_default_shutdown, takes_self=True)
    )
    behaviour: str | None = None

    def __attrs_post_init__(self) -> None:
        # Plain checks, not attrs validators: a channel join builds one spec, keep it cheap.
        if type(self.restart) is not Restart:
            raise InvalidSpecError("restart", self.restart, "otp.Restart.PERMANENT, TRANSIENT or TEMPORARY")
        if type(self.type) is not ChildType:
            raise InvalidSpecError("type", self.type, "otp.ChildType.WORKER or SUPERVISOR")
        sd = self.shutdown
        if sd is not BRUTAL_KILL and sd is not INFINITY:
            check_shutdown(sd)
        if not callable(self.start):
            raise InvalidSpecError("start", self.start, "a function returning a Pid or None")
        try:
            hash(self.id)
        except TypeError:
            raise InvalidSpecError("id", self.id, "a hashable value") from None
        if self.behaviour is not None and not isinstance(self.behaviour, str):
            raise InvalidSpecError("behaviour", self.behaviour, "a str or None")


def check_children(children: Any) -> list[ChildSpec]:
    """The initial children of a supervisor, checked: ChildSpecs with distinct ids."""
    if isinstance(children, ChildSpec | str | bytes) or not isinstance(children, Sequence):
        raise InvalidSpecError("children", children, "a sequence of otp.ChildSpec")
    out = list(children)
    seen: set[Hashable] = set()
    for i, spec in enumerate(out):
        if type(spec) is not ChildSpec:
            raise InvalidSpecError(f"children[{i}]", spec, "an otp.ChildSpec")
        if spec.id in seen:
            raise InvalidSpecError(f"children[{i}].id", spec.id,
                                   "an id not used by an earlier child (duplicate child id)")
        seen.add(spec.id)
    return out


def check_flags(*, strategy: Any = Strategy.ONE_FOR_ONE, max_restarts: Any, max_seconds: Any,
                max_children: Any = math.inf) -> None:
    """Refuse supervisor flags OTP refuses (``invalid_strategy``, ``invalid_intensity``...)."""
    if type(strategy) is not Strategy:
        raise InvalidSpecError("strategy", strategy, "otp.Strategy.ONE_FOR_ONE, ONE_FOR_ALL or REST_FOR_ONE")
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        raise InvalidSpecError("max_restarts", max_restarts, "an int >= 0")
    if (isinstance(max_seconds, bool) or not isinstance(max_seconds, int | float)
            or not max_seconds > 0 or max_seconds == math.inf):
        raise InvalidSpecError("max_seconds", max_seconds, "a finite number of seconds > 0")
    if max_children != math.inf and (
        isinstance(max_children, bool) or not isinstance(max_children, int) or max_children < 0
    ):
        raise InvalidSpecError("max_children", max_children, "an int >= 0 or math.inf")
