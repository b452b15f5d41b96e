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

__all__ = ["find_process", "format_tree", "process_snapshot", "snapshot"]


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


def snapshot(node: Node | None = None) -> dict[str, Any]:
    """The whole live process tree of ``node`` (default: the current node)."""
    node = node if node is not None else current_node()
    procs = [p for p in node.processes() if not p.external]
    by_parent: dict[int | None, list[Process]] = {}
    alive = {p.pid.id for p in procs}
    for p in procs:
        parent = p.parent.id if p.parent is not None and p.parent.id in alive else None
        by_parent.setdefault(parent, []).append(p)

    def restarts_of(p: Process) -> dict[str, int]:
        summary = p.summary() if p.summary is not None else None
        out: dict[str, int] = {}
        if isinstance(summary, dict):
            for child in summary.get("children", ()) if isinstance(summary.get("children"), list) else ():
                if isinstance(child, dict) and child.get("pid"):
                    out[str(child["pid"])] = int(child.get("restarts", 0))
        return out

    def build(p: Process, restarts: int | None) -> dict[str, Any]:
        d = process_snapshot(p, restarts=restarts)
        child_restarts = restarts_of(p)
        d["children"] = [
            build(c, child_restarts.get(str(c.pid), 0 if child_restarts else None))
            for c in by_parent.get(p.pid.id, [])
        ]
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


def _describe(d: dict[str, Any]) -> str:
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
        for key in ("strategy", "topic", "peer", "transport", "children", "connections", "state"):
            if key in summary and not isinstance(summary[key], list | dict):
                parts.append(f"{key}={summary[key]}")
    return "  ".join(str(p) for p in parts)


def format_tree(snap: dict[str, Any], *, max_children: int = 50) -> str:
    """Render a snapshot as an indented tree (box-drawing characters)."""
    lines: list[str] = [f"node {snap['node']}: {snap['processes']} processes"]

    def walk(d: dict[str, Any], prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + _describe(d))
        children = d.get("children", [])
        shown = children[:max_children]
        ext = "" if top else ("   " if last else "│  ")
        for i, c in enumerate(shown):
            walk(c, prefix + ext, i == len(shown) - 1 and len(children) <= max_children, False)
        if len(children) > max_children:
            lines.append(prefix + ext + f"└─ ... {len(children) - max_children} more")

    for d in snap["tree"]:
        walk(d, "", True, True)
    return "\n".join(lines)
