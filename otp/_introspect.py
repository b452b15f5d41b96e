"""Introspection: a JSON-serialisable snapshot of the live process tree, and a text view.

Example::

    snap = otp.snapshot()
    print(otp.format_tree(snap))
    # <0.1.0> app  Supervisor  waiting  mailbox=0  restarts=0
    # ├─ <0.2.0> counter  Counter  waiting  mailbox=0  restarts=1
    # ...

The tree follows each process's *parent* (the process that spawned it: for supervised
processes, their supervisor). Processes whose parent is gone are roots. Supervisors add
their strategy and per-child restart counts (from ``format_status``); every process has
its ``statistics()``, links, monitors, uptime and a state summary.
"""

from __future__ import annotations

from typing import Any

from ._node import Node, Process, current_node

__all__ = ["describe", "find_process", "format_tree", "process_snapshot", "snapshot"]


def _jsonable(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > 6:
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v, depth + 1) for v in value]
    return repr(value)


def process_snapshot(proc: Process, *, restarts: int | None = None) -> dict[str, Any]:
    """One process as a JSON-friendly dict (no children)."""
    info = proc.info()
    st = info.statistics
    return {
        "pid": str(info.pid),
        "name": info.name,
        "behaviour": info.behaviour,
        "status": info.status,
        "parent": str(info.parent) if info.parent is not None else None,
        "trap_exit": info.trap_exit,
        "mailbox": st.message_queue_len,
        "restarts": restarts,
        "links": [str(p) for p in info.links],
        "monitors": [str(p) for p in info.monitors],
        "monitored_by": [str(p) for p in info.monitored_by],
        "uptime": round(st.uptime, 3),
        "statistics": {
            "message_queue_len": st.message_queue_len,
            "message_queue_high_water": st.message_queue_high_water,
            "messages_received": st.messages_received,
            "links": st.links,
            "monitors": st.monitors,
            "monitored_by": st.monitored_by,
            "uptime": round(st.uptime, 3),
        },
        "summary": _jsonable(info.summary),
    }


def snapshot(node: Node | None = None, *, max_children: int | None = None) -> dict[str, Any]:
    """The whole live process tree of ``node`` (default: the current node).

    ``max_children`` caps the children listed under each process (the rest are counted in
    the parent's ``"more"``), to keep snapshots of nodes with many connections small.
    Children of a ``DynamicSupervisor`` report ``restarts=0``: a dynamic child that is
    restarted comes back as a new child, so the count lives in the supervisor's summary.
    """
    node = node if node is not None else current_node()
    procs = [p for p in node.processes() if not p.external]
    by_parent: dict[int | None, list[Process]] = {}
    alive = {p.pid.id for p in procs}
    for p in procs:
        parent = p.parent.id if p.parent is not None and p.parent.id in alive else None
        by_parent.setdefault(parent, []).append(p)

    def restarts_of(d: dict[str, Any]) -> dict[str, int]:
        summary = d.get("summary")
        out: dict[str, int] = {}
        if isinstance(summary, dict) and isinstance(summary.get("children"), list):
            for child in summary["children"]:
                if isinstance(child, dict) and child.get("pid"):
                    out[str(child["pid"])] = int(child.get("restarts", 0))
        return out

    def build(p: Process, restarts: int | None) -> dict[str, Any]:
        d = process_snapshot(p, restarts=restarts)
        child_restarts = restarts_of(d)
        dynamic = p.behaviour == "DynamicSupervisor"
        children = by_parent.get(p.pid.id, [])
        if child_restarts:
            # A supervisor: its children in start order, as it lists them.
            order = {pid: i for i, pid in enumerate(child_restarts)}
            children = sorted(children, key=lambda c: order.get(str(c.pid), len(order)))
        shown = children if max_children is None else children[:max_children]
        d["children"] = [
            build(c, child_restarts.get(str(c.pid), 0 if (child_restarts or dynamic) else None))
            for c in shown
        ]
        if len(shown) < len(children):
            d["more"] = len(children) - len(shown)
        return d

    return {
        "node": node.name,
        "processes": len(procs),
        "registered": node.registered(),
        "crashes": node.crash_count,
        "tree": [build(p, None) for p in by_parent.get(None, [])],
    }


def find_process(snap: dict[str, Any], pid_or_name: str) -> dict[str, Any] | None:
    """Find one process (by printed pid or registered name) in a snapshot."""
    want = pid_or_name.strip()
    if want and not want.startswith("<") and want.count(".") == 2 and want.replace(".", "").isdigit():
        want = f"<{want}>"
    stack: list[dict[str, Any]] = list(snap.get("tree", []))
    while stack:
        d = stack.pop()
        if d.get("pid") == want or d.get("name") == want:
            return d
        stack.extend(d.get("children", []))
    return None


#: Summary keys shown on a tree line, in this order (scalars, and short lists of scalars).
TREE_SUMMARY_KEYS: tuple[str, ...] = (
    "strategy", "topic", "topics", "transport", "peer", "address", "accepted", "children",
    "connections", "state",
)


def _short(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        if len(value) > 8 or not all(v is None or isinstance(v, str | int | float | bool) for v in value):
            return None
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, dict):
        return None
    return str(value)


def describe(d: dict[str, Any]) -> str:
    """One process of a snapshot as a single line (what ``format_tree`` prints per process)."""
    parts = [d["pid"]]
    if d.get("name"):
        parts.append(d["name"])
    parts.append(d["behaviour"])
    parts.append(d["status"])
    parts.append(f"mailbox={d['mailbox']}")
    if d.get("restarts") is not None:
        parts.append(f"restarts={d['restarts']}")
    summary = d.get("summary")
    if isinstance(summary, dict):
        for key in TREE_SUMMARY_KEYS:
            if key in summary and summary[key] is not None:
                text = _short(summary[key])
                if text is not None:
                    parts.append(f"{key}={text}")
    return "  ".join(str(p) for p in parts)


def format_tree(snap: dict[str, Any], *, max_children: int = 50) -> str:
    """Render a snapshot as an indented tree (box-drawing characters)."""
    lines: list[str] = [f"node {snap['node']}: {snap['processes']} processes"]

    def walk(d: dict[str, Any], prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + describe(d))
        children = d.get("children", [])
        shown = children[:max_children]
        hidden = len(children) - len(shown) + int(d.get("more", 0))
        ext = "" if top else ("   " if last else "│  ")
        for i, c in enumerate(shown):
            walk(c, prefix + ext, i == len(shown) - 1 and not hidden, False)
        if hidden:
            lines.append(prefix + ext + f"└─ ... {hidden} more")

    for d in snap["tree"]:
        walk(d, "", True, True)
    return "\n".join(lines)
