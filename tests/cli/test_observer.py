"""The observer page in a real headless Chromium (Debian's, driven by playwright-core from npm).

A node runs hello_sockets with ``--observer``; a client joins two topics; the page must
draw the endpoint's tree (listener, acceptors, connection, pool, both channels with their
topics), show a channel's details on click, and redraw when a channel server is killed
through the control socket (and show the restart of a supervised acceptor killed the same
way). The test takes a screenshot (``tests/artifacts/observer.png``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import trio

from ._support import ARTIFACTS, ROOT, cli, client, serve_node, walk

INTEROP = ROOT / "tests" / "interop"
NODE_TIMEOUT = 60.0


def _need(what: str, found: str | None, how: str) -> str:
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: {how}")
    pytest.skip(f"{what} is not installed ({how})")


def _prerequisites() -> tuple[str, str]:
    node = _need("node", shutil.which("node"), "`.ci/setup --with-services` or `apt-get install nodejs npm`")
    chromium = _need("chromium", shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None),
        "`.ci/setup --with-services` or `apt-get install chromium`")
    _need("playwright-core", str(INTEROP) if (INTEROP / "node_modules" / "playwright-core").is_dir() else None,
          "`.ci/setup --with-services` (or `cd tests/interop && npm ci`)")
    return node, chromium


async def test_observer_page_draws_the_live_tree_and_follows_a_crash(runtime_dir: Path) -> None:
    node_bin, chromium = _prerequisites()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "observer.png"
    shot.unlink(missing_ok=True)
    with serve_node(runtime_dir, "--observer") as node:
        assert f"observer: http://127.0.0.1:{node.port}/_observer/" in node.output()
        async with client(node.port) as c:
            await c.join("ping")
            await c.join("wild:1:2")
            snap = json.loads((await cli(runtime_dir, "tree", "--json")).stdout)
            ping = next(d for d in walk(snap["tree"]) if d["behaviour"] == "PingChannel")
            wild = next(d for d in walk(snap["tree"]) if d["behaviour"] == "WildChannel")
            acceptors = next(d for d in walk(snap["tree"]) if d["name"] == "HelloSockets.Endpoint.Acceptors")
            acceptor = acceptors["children"][-1]

            events: list[dict[str, Any]] = []
            stderr: list[bytes] = []
            async with trio.open_nursery() as nursery:
                proc = await nursery.start(lambda task_status=trio.TASK_STATUS_IGNORED: trio.run_process(
                    [node_bin, str(Path(__file__).with_name("observer_page.mjs")),
                     f"http://127.0.0.1:{node.port}/_observer/", wild["pid"], ping["pid"], acceptor["pid"],
                     "--chromium", chromium, "--screenshot", str(shot), "--modules", str(INTEROP)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, task_status=task_status))

                async def drain_stderr() -> None:
                    async for chunk in proc.stderr:
                        stderr.append(chunk)

                nursery.start_soon(drain_stderr)
                with trio.fail_after(NODE_TIMEOUT):
                    buf = b""
                    async for chunk in proc.stdout:
                        buf += chunk
                        while b"\n" in buf:
                            line, buf = buf.split(b"\n", 1)
                            event = json.loads(line)
                            events.append(event)
                            if event["event"] == "ready_for_kill":
                                for victim in (ping, acceptor):
                                    killed = await cli(runtime_dir, "kill", victim["pid"])
                                    assert killed.returncode == 0, killed.stderr
                    await proc.wait()
            assert proc.returncode == 0, (events, b"".join(stderr).decode())

    by_kind = {e["event"]: e for e in events}
    assert "page_error" not in by_kind, by_kind["page_error"]
    tree = by_kind["tree"]
    ep = "HelloSockets.Endpoint"
    for name in (ep, f"{ep}.Listener", f"{ep}.Acceptors", f"{ep}.Connections", f"{ep}.UserSocket.Pool",
                 f"{ep}.ObserverSocket.Pool", "Control"):
        assert name in tree["names"], name
    assert "ping" in tree["topics"]
    assert "wild:1:2" in tree["topics"]
    assert tree["node"] == f"node {ep}"
    details = by_kind["details"]
    assert {"behaviour", "links", "monitors", "message_queue_len"} <= set(details["headings"])
    assert details["state"]["topic"] == "wild:1:2"
    changed = by_kind["changed"]
    assert any("exited" in line and ping["pid"] in line for line in changed["events"])
    assert any("exited" in line and acceptor["pid"] in line for line in changed["events"])
    assert any("started" in line and changed["restarted"] in line for line in changed["events"])
    assert "done" in by_kind
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
