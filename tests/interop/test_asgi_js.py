"""examples.asgi end to end: a FastAPI handler calls endpoint.broadcast in-process and the
official phoenix.js client, connected to the same port, receives it (issue 16)."""

from __future__ import annotations

from typing import Any

from tests.interop.test_js_client import Server, one, run_node, start_server  # noqa: F401


def test_fastapi_handler_broadcast_reaches_phoenix_js_on_the_same_port(start_server: Any) -> None:  # noqa: F811
    server: Server = start_server("examples.asgi")
    events = run_node("asgi_client.mjs", server.socket_url, server=server)
    assert one(events, event="http", path="/api/health")["body"] == {"ok": True, "endpoint": "Asgi.Endpoint"}
    posted = one(events, event="http", path="/api/rooms/messages")
    assert posted["status"] == 202
    message = one(events, event="new_msg")
    assert (message["user"], message["body"]) == ("fastapi", "hello from a FastAPI handler")
    assert one(events, event="join")["status"] == "ok"
