"""Observer details: the page has an icon (no /favicon.ico 404), a pool's children count is the tree's,
and a status dot cannot be squeezed out of a wide row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

import channels
import otp
from channels import observer, testing
from channels.ops._observer import STATIC_DIR, tree_view


class RoomChannel(channels.Channel):
    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> Any:
        return channels.Accept(socket)


class RoomSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]


async def _get(port: int, path: str) -> tuple[bytes, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode())
        data = b""
        while chunk := await stream.receive_some():
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


async def test_the_page_links_an_icon_that_is_served(node: otp.Node) -> None:
    endpoint = channels.Endpoint(name="Obs.Endpoint", sockets=[channels.SocketMount("/socket", RoomSocket)])
    observer.enable(endpoint)
    async with testing.open_endpoint(endpoint) as ep:
        _head, page = await _get(ep.port, "/_observer/")
        assert b'<link rel="icon" href="favicon.svg"' in page
        head, icon = await _get(ep.port, "/_observer/favicon.svg")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"content-type: image/svg+xml" in head.lower()
        assert icon.startswith(b"<svg")


def test_a_dynamic_supervisors_children_count_is_what_the_tree_shows() -> None:
    # A snapshot taken while a child starts: the child is in the tree, its supervisor's
    # summary does not count it yet.
    snap = {"node": "n", "processes": 2, "crashes": 0, "tree": [{
        "pid": "<0.1.0>", "name": "Pool.0", "behaviour": "DynamicSupervisor", "status": "waiting",
        "mailbox": 1, "restarts": 0, "summary": {"children": 0, "restarts": 0},
        "children": [{"pid": "<0.2.0>", "name": None, "behaviour": "RoomChannel", "status": "runnable",
                      "mailbox": 0, "restarts": 0, "summary": {"topic": "room:1"}, "children": []}],
    }]}
    (pool,) = tree_view(snap)["tree"]
    assert pool["summary"]["children"] == 1


def test_the_status_dot_does_not_shrink_in_a_flex_row() -> None:
    css = (Path(STATIC_DIR) / "observer.css").read_text()
    (rule,) = [line for line in css.splitlines() if line.startswith(".dot {")]
    assert "flex: none" in rule
