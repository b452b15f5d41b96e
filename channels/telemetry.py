"""In-process events for your own handlers, as Phoenix's ``:telemetry`` events.

Attach a function to one or more events; the code that emits an event calls every
function attached to it, in the emitting process, with ``(event, measurements, metadata)``::

    from channels import telemetry

    def log_slow_handle_in(event, measurements, metadata):
        if measurements["duration"] > 0.010:
            print("slow", metadata["channel"], metadata["event"], measurements["duration"])

    telemetry.attach("log-slow-handle-in", telemetry.CHANNEL_HANDLED_IN, log_slow_handle_in)
    ...
    telemetry.detach("log-slow-handle-in")

The events, each with its ``measurements`` and then its ``metadata`` (durations in seconds):

* ``SOCKET_CONNECTED``: ``duration`` of the ``connect`` callback; ``endpoint``,
  ``transport``, ``handler``, ``result`` (``"ok"`` / ``"error"``).
* ``SOCKET_CLOSED``: ``count`` (1); ``endpoint``, ``transport``.
* ``CHANNEL_JOINED``: ``duration`` of the ``join`` callback; ``endpoint``, ``channel`` (the
  class name), ``topic``, ``result`` (``"ok"`` / ``"error"`` / ``"crash"``).
* ``CHANNEL_HANDLED_IN``: ``duration`` of ``handle_in``; ``endpoint``, ``channel``,
  ``topic``, ``event``.
* ``CHANNEL_PUSHED``: ``count`` of messages a channel sent its client (a push, a reply, a
  join's reply); ``endpoint``,
  ``channel``, ``kind`` (``"push"`` / ``"reply"``).
* ``BROADCAST``: ``deliveries``, the local subscribers reached; ``pubsub``, ``topic``.
* ``SLOW_CLIENT_CLOSED``: ``count`` (1); ``endpoint``, ``transport``.

As with ``:telemetry``, handlers run synchronously where the event happens, so keep them
short; a handler that raises is detached and logged once (at ERROR, on the
``channels.telemetry`` logger), and the code that emitted the event carries on.

When nothing is attached, emitting costs one truth test of a dict (:data:`ACTIVE` is
empty), so the message path pays nothing measurable for events nobody listens to.
``channels.Endpoint(metrics=True)`` attaches the Prometheus exporter's handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

__all__ = [
    "ACTIVE",
    "BROADCAST",
    "CHANNEL_HANDLED_IN",
    "CHANNEL_JOINED",
    "CHANNEL_PUSHED",
    "EVENTS",
    "SLOW_CLIENT_CLOSED",
    "SOCKET_CLOSED",
    "SOCKET_CONNECTED",
    "Event",
    "Handler",
    "attach",
    "detach",
    "execute",
    "list_handlers",
]

logger = logging.getLogger("channels.telemetry")

Event: TypeAlias = tuple[str, ...]
Handler: TypeAlias = Callable[[Event, Mapping[str, Any], Mapping[str, Any]], None]

SOCKET_CONNECTED: Event = ("channels", "socket_connected")
SOCKET_CLOSED: Event = ("channels", "socket_closed")
CHANNEL_JOINED: Event = ("channels", "channel_joined")
CHANNEL_HANDLED_IN: Event = ("channels", "channel_handled_in")
CHANNEL_PUSHED: Event = ("channels", "channel_pushed")
BROADCAST: Event = ("channels", "broadcast")
SLOW_CLIENT_CLOSED: Event = ("channels", "slow_client_closed")

#: Every event this package emits.
EVENTS: tuple[Event, ...] = (SOCKET_CONNECTED, SOCKET_CLOSED, CHANNEL_JOINED, CHANNEL_HANDLED_IN,
                             CHANNEL_PUSHED, BROADCAST, SLOW_CLIENT_CLOSED)

#: event -> the handlers attached to it, as ``(handler_id, function)``. Empty when nothing
#: is attached: emitting code tests ``if ACTIVE:`` before building measurements.
ACTIVE: dict[Event, tuple[tuple[str, Handler], ...]] = {}

_by_id: dict[str, tuple[tuple[Event, ...], Handler]] = {}


def attach(handler_id: str, events: Event | Iterable[Event], fn: Handler) -> None:
    """Call ``fn(event, measurements, metadata)`` on each of ``events`` (one event or several).

    Raises:
      ValueError: ``handler_id`` is already attached (detach it first), or an event is not a
        tuple of strings.
    """
    if handler_id in _by_id:
        raise ValueError(f"a telemetry handler with id {handler_id!r} is already attached")
    one = isinstance(events, tuple) and all(isinstance(part, str) for part in events)
    wanted: tuple[Event, ...] = (events,) if one else tuple(events)  # type: ignore[assignment,arg-type]
    for event in wanted:
        if not isinstance(event, tuple) or not event or not all(isinstance(p, str) for p in event):
            raise ValueError(f"an event is a non-empty tuple of strings, such as {CHANNEL_JOINED!r}; got {event!r}")
    _by_id[handler_id] = (wanted, fn)
    for event in wanted:
        ACTIVE[event] = (*ACTIVE.get(event, ()), (handler_id, fn))


def detach(handler_id: str) -> bool:
    """Detach a handler; return whether it was attached."""
    found = _by_id.pop(handler_id, None)
    if found is None:
        return False
    for event in found[0]:
        left = tuple(h for h in ACTIVE.get(event, ()) if h[0] != handler_id)
        if left:
            ACTIVE[event] = left
        else:
            ACTIVE.pop(event, None)
    return True


def list_handlers(prefix: Event = ()) -> list[tuple[str, Event]]:
    """The attached ``(handler_id, event)`` pairs whose event starts with ``prefix``."""
    return [(hid, event) for event, handlers in ACTIVE.items() if event[: len(prefix)] == prefix
            for hid, _fn in handlers]


def execute(event: Event, measurements: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
    """Emit ``event``: call every handler attached to it, in attachment order."""
    handlers = ACTIVE.get(event)
    if not handlers:
        return
    for handler_id, fn in handlers:
        try:
            fn(event, measurements, metadata)
        except Exception:
            detach(handler_id)
            logger.exception("telemetry handler %r failed on %s and was detached", handler_id, event)
