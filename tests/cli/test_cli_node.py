"""End to end: ``otp-channels serve`` runs hello_sockets in a subprocess; ``tree``, ``ps`` and ``kill`` drive it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from ._support import by_name, cli, client, run_cli, serve_node, walk

EP = "HelloSockets.Endpoint"


async def test_tree_shows_listener_acceptors_connection_pool_and_channel_topics(runtime_dir: Path) -> None:
    with serve_node(runtime_dir) as node:
        async with client(node.port) as c:
            assert (await c.join("ping"))["status"] == "ok"
            assert (await c.join("wild:1:2"))["status"] == "ok"

            text = await cli(runtime_dir, "tree")
            assert text.returncode == 0, text.stderr
            out = text.stdout
            assert out.startswith(f"node {EP}: ")
            for name in (f"{EP}.Listener", f"{EP}.ListenSockets", f"{EP}.Acceptors", f"{EP}.Connections",
                         f"{EP}.UserSocket.Pool", f"{EP}.UserSocket.Pool.0", f"{EP}.PubSub", "Control"):
                assert f"  {name}  " in out, f"{name} missing from:\n{out}"
            conn = [line for line in out.splitlines() if "  Connection  " in line]
            assert len(conn) == 1
            assert "transport=websocket" in conn[0]
            assert "topics=[ping, wild:1:2]" in conn[0]
            assert any("PingChannel" in line and "topic=ping" in line for line in out.splitlines())
            assert any("WildChannel" in line and "topic=wild:1:2" in line for line in out.splitlines())
            assert all(" restarts=" in line for line in out.splitlines() if "Channel  " in line)

            raw = await cli(runtime_dir, "tree", "--json")
            assert raw.returncode == 0, raw.stderr
            snap = json.loads(raw.stdout)

        listener = by_name(snap, f"{EP}.Listener")
        kids = {c["name"]: c for c in listener["children"]}
        assert set(kids) == {f"{EP}.ListenSockets", f"{EP}.Connections", f"{EP}.Acceptors"}
        assert len(kids[f"{EP}.Acceptors"]["children"]) == 4
        (connection,) = kids[f"{EP}.Connections"]["children"]
        assert connection["summary"]["transport"] == "websocket"
        assert connection["summary"]["topics"] == ["ping", "wild:1:2"]
        pool = by_name(snap, f"{EP}.UserSocket.Pool")
        assert all(p["behaviour"] == "DynamicSupervisor" for p in pool["children"])
        channels = [c for p in pool["children"] for c in p["children"]]
        assert sorted(c["summary"]["topic"] for c in channels) == ["ping", "wild:1:2"]
        assert {c["summary"]["transport"] for c in channels} == {connection["pid"]}
        assert all(c["restarts"] == 0 and c["mailbox"] == 0 for c in channels)


async def test_killing_a_channel_server_through_the_runtime_changes_the_tree(runtime_dir: Path) -> None:
    with serve_node(runtime_dir) as node:
        async with client(node.port) as c:
            await c.join("ping")
            await c.join("wild:1:2")
            snap = json.loads((await cli(runtime_dir, "tree", "--json")).stdout)
            ping = next(d for d in walk(snap["tree"]) if d["behaviour"] == "PingChannel")

            killed = await cli(runtime_dir, "kill", ping["pid"])
            assert killed.returncode == 0, killed.stderr
            assert f"sent exit signal 'kill' to {ping['pid']}" in killed.stdout
            await c.wait_event("ping", "phx_error")

            after = (await cli(runtime_dir, "tree")).stdout
            assert ping["pid"] not in after
            assert "PingChannel" not in after
            assert "WildChannel" in after
            (conn,) = [line for line in after.splitlines() if "  Connection  " in line]
            assert "topics=[wild:1:2]" in conn

            # The client rejoins, as the JS client does after phx_error: a new channel server.
            assert (await c.join("ping"))["status"] == "ok"
            again = json.loads((await cli(runtime_dir, "tree", "--json")).stdout)
            pings = [d for d in walk(again["tree"]) if d["behaviour"] == "PingChannel"]
            assert len(pings) == 1
            assert pings[0]["pid"] != ping["pid"]


async def test_ps_shows_links_monitors_statistics_and_state(runtime_dir: Path) -> None:
    with serve_node(runtime_dir) as node:
        async with client(node.port) as c:
            await c.join("wild:2:4")
            snap = json.loads((await cli(runtime_dir, "tree", "--json")).stdout)
            wild = next(d for d in walk(snap["tree"]) if d["behaviour"] == "WildChannel")

            shown = await cli(runtime_dir, "ps", wild["pid"])
            assert shown.returncode == 0, shown.stderr
            out = shown.stdout
            assert out.splitlines()[0] == f"{wild['pid']}  WildChannel"
            for heading in ("behaviour:", "status:", "parent:", "links:", "monitors:", "monitored_by:",
                            "statistics:", "message_queue_len:", "messages_received:", "state:"):
                assert heading in out, f"{heading} missing from:\n{out}"
            assert "topic:        wild:2:4" in out
            assert "joined:       true" in out
            assert wild["summary"]["transport"] in out  # it monitors its transport

            by_pid_bare = await cli(runtime_dir, "ps", wild["pid"].strip("<>"), "--json")
            info = json.loads(by_pid_bare.stdout)
            assert info["pid"] == wild["pid"]
            assert info["monitors"] == [wild["summary"]["transport"]]

        named = await cli(runtime_dir, "ps", f"{EP}.Listener")
        assert named.returncode == 0, named.stderr
        assert "strategy:     rest_for_one" in named.stdout
        assert f"{EP}.Acceptors" in named.stdout  # its children


async def test_control_files_are_private_and_removed_when_the_node_stops(runtime_dir: Path) -> None:
    with serve_node(runtime_dir) as node:
        assert node.control is not None
        assert node.control.parent == runtime_dir
        assert stat.S_IMODE(node.control.stat().st_mode) == 0o600
        assert stat.S_ISSOCK(node.control.stat().st_mode)
        cookie = node.control.with_suffix(".cookie")
        assert stat.S_IMODE(cookie.stat().st_mode) == 0o600
        assert stat.S_IMODE(runtime_dir.stat().st_mode) == 0o700
        listed = run_cli(runtime_dir, "nodes")
        assert str(node.control) in listed.stdout
    assert node.proc.returncode == 0, node.output()
    assert "shutting down" in node.output()
    assert "stopped." in node.output()
    assert not node.control.exists()
    assert not cookie.exists()
    assert run_cli(runtime_dir, "tree").returncode == 1


async def test_tree_finds_the_node_by_name_pid_or_path_when_several_run(runtime_dir: Path) -> None:
    with serve_node(runtime_dir) as node:
        assert node.control is not None
        # A second live node: another control socket whose pid (ours) is alive.
        other = runtime_dir / f"Other.Endpoint-{__import__('os').getpid()}.sock"
        other.touch()
        try:
            ambiguous = run_cli(runtime_dir, "tree")
            assert ambiguous.returncode == 1
            assert "several nodes are running" in ambiguous.stderr
            assert "--node" in ambiguous.stderr
            assert str(node.control) in ambiguous.stderr
            assert "Traceback" not in ambiguous.stderr
            for address in (EP, str(node.proc.pid), str(node.control)):
                picked = run_cli(runtime_dir, "tree", "--node", address)
                assert picked.returncode == 0, picked.stderr
                assert picked.stdout.startswith(f"node {EP}: ")
        finally:
            other.unlink()
