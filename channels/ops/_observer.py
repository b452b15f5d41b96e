"""The observer: a page on the endpoint that draws the live process tree, fed by a channel of our own.

``channels.observer.enable(endpoint)`` (or ``otp-channels serve ... --observer``) mounts:

* ``/_observer/``          the page (``observer_static/``: HTML, CSS and a small JS client);
* ``/_observer/socket``    an ``ObserverSocket`` whose ``observer:tree`` topic is served by
  ``ObserverChannel``.

The channel polls ``otp.snapshot()`` every ``interval`` seconds (``otp.send_after`` to
itself; less often when a snapshot is slow, so that it stays under a tenth of a core) and
pushes ``"tree"`` with the process tree whenever it changed (statistics that change on
every poll, like uptime, are left out of the comparison and of the push). The
client asks for one process's details with the ``"info"`` event (``{"target": pid}``),
answered by a reply. It is read-only: it cannot kill or send to processes.

Only same-origin pages may connect (``check_origin="conn"``): another site open in the
browser cannot read the tree through the user's browser.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import otp

from ..channel._channel import Channel
from ..channel._socket import Accept, Refuse, Socket
from ..endpoint._endpoint import Endpoint, SocketMount
from ..http import BodyReader, Request, Response, StaticFiles

__all__ = ["STATIC_DIR", "TOPIC", "ObserverChannel", "ObserverSocket", "enable", "mounted_path", "tree_view"]

#: The page's files.
STATIC_DIR = Path(__file__).with_name("observer_static")
#: The one topic the observer socket serves.
TOPIC = "observer:tree"

_mounted: weakref.WeakKeyDictionary[Endpoint, str] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class _Tick:
    """Time to take a snapshot (sent by the channel to itself)."""


def _slim(d: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a process the page draws (no counters that change on every poll)."""
    summary = d.get("summary")
    slim_summary: Any = None
    if isinstance(summary, dict):
        slim_summary = {k: v for k, v in summary.items()
                        if k in ("strategy", "topic", "topics", "transport", "peer", "address", "children",
                                 "state", "channel", "restarts")
                        and not (k == "children" and isinstance(v, list))}
        if isinstance(slim_summary.get("children"), int):
            # Count what the tree shows: a snapshot taken while a child starts sees the child
            # before its supervisor has recorded it (a pool read "children=0" beside its child).
            slim_summary["children"] = len(d.get("children", [])) + int(d.get("more", 0))
    elif isinstance(summary, str | int | float | bool):
        slim_summary = summary
    return {
        "pid": d["pid"],
        "name": d.get("name"),
        "behaviour": d.get("behaviour"),
        "status": d.get("status"),
        "mailbox": d.get("mailbox"),
        "restarts": d.get("restarts"),
        "summary": slim_summary,
        "more": d.get("more", 0),
        "children": [_slim(c) for c in d.get("children", [])],
    }


def tree_view(snap: Mapping[str, Any]) -> dict[str, Any]:
    """What the page receives: the node's name, counts and the slim tree."""
    return {
        "node": snap["node"],
        "processes": snap["processes"],
        "crashes": snap["crashes"],
        "tree": [_slim(d) for d in snap["tree"]],
    }


class ObserverChannel(Channel):
    """Pushes the process tree as it changes; replies to ``info`` with one process in detail."""

    async def join(self, topic: str, payload: Any, socket: Any) -> Accept[Any] | Refuse:
        if topic != TOPIC:
            return Refuse({"reason": f"the observer serves {TOPIC!r} only"})
        me = otp.self()
        otp.send(me, _Tick())
        return Accept(socket.assign(last=None))

    async def handle_info(self, msg: Any, socket: Any) -> otp.NoReply[Any]:
        if type(msg) is _Tick:
            interval = float(socket.assigns.get("interval", 0.5))
            limit = int(socket.assigns.get("max_children", 200))
            started = time.perf_counter()
            view = tree_view(otp.snapshot(max_children=limit))
            if view != socket.assigns.get("last"):
                socket.push("tree", view)
                socket = socket.assign(last=view)
            # On a big node a snapshot takes a while: poll less often, so that the
            # observer never takes more than a tenth of a core.
            spent = time.perf_counter() - started
            otp.send_after(max(interval, 10 * spent), otp.self(), _Tick())
        return otp.NoReply(socket)

    async def handle_in(self, event: str, payload: Any, socket: Any) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "info":
            target = payload.get("target") if isinstance(payload, dict) else None
            node = otp.current_node()
            pid = node.pid_from_string(str(target)) if target else None
            proc = node.process(pid) if pid is not None else None
            if proc is None:
                return otp.Reply(("error", {"reason": f"no process {target}"}), socket)
            info = otp.process_snapshot(proc)
            kids = [p for p in node.processes() if p.parent is proc.pid and not p.external]
            info["children"] = [{"pid": str(k.pid), "name": k.name, "behaviour": k.behaviour} for k in kids]
            parent = node.process(proc.parent) if proc.parent is not None else None
            info["parent_name"] = parent.name if parent is not None else None
            return otp.Reply(("ok", info), socket)
        return otp.Reply(("error", {"reason": f"unknown event {event!r}"}), socket)


class ObserverSocket(Socket):
    """The observer's socket: one topic, no authentication beyond same-origin (read-only)."""

    routes = [(TOPIC, ObserverChannel)]
    #: Seconds between snapshots.
    interval: ClassVar[float] = 0.5
    #: Children listed per process (the rest are counted).
    max_children: ClassVar[int] = 200

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Accept[Any] | Refuse:
        return Accept(self.assign(interval=self.interval, max_children=self.max_children))


def enable(endpoint: Endpoint, *, path: str = "/_observer", interval: float = 0.5,
           max_children: int = 200) -> Endpoint:
    """Mount the observer page and its socket on ``endpoint`` (before it starts); return it.

    Example::

        endpoint = channels.Endpoint(...)
        channels.observer.enable(endpoint)     # then open http://host:port/_observer/
    """
    if endpoint.port is not None:
        raise RuntimeError("enable the observer before the endpoint starts")
    prefix = "/" + path.strip("/")
    socket_cls = type("ObserverSocket", (ObserverSocket,), {"interval": interval, "max_children": max_children})
    endpoint.sockets.append(SocketMount(prefix + "/socket", socket_cls, check_origin="conn"))
    static = StaticFiles(STATIC_DIR, prefix=prefix, cache_control="no-cache")

    async def page(request: Request, body: BodyReader) -> Response:
        if request.path == prefix:
            return Response(302, [("location", prefix + "/")])
        return await static(request, body)

    endpoint.add_route(prefix, page)
    _mounted[endpoint] = prefix
    return endpoint


def mounted_path(endpoint: Endpoint) -> str | None:
    """Where ``enable`` mounted the observer on ``endpoint`` (None if it did not)."""
    return _mounted.get(endpoint)
