"""channels.emitter end to end: a plain sync Python process publishes through a real
redis-server, and a backend posts to the HTTP publish route; phoenix.js clients on two nodes
of examples.emitter receive; a wrong token gets 401 (issue 16)."""

from __future__ import annotations

import shutil
import sys
from typing import Any

import pytest

from tests.interop.test_js_client import ROOT, Server, one, pick, run_node, start_server  # noqa: F401

TOKEN = "interop-publish-token"

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (.ci/setup --with-services)")


def test_sync_emitter_broadcast_reaches_js_clients_on_two_nodes_and_disconnect_closes_one(
        start_server: Any) -> None:  # noqa: F811
    from tests.support.redis_server import start_redis_server

    with start_redis_server() as redis:
        node_a: Server = start_server("examples.emitter", "--redis-url", redis.url)
        node_b: Server = start_server("examples.emitter", "--redis-url", redis.url, "--publish-token", TOKEN)
        events = run_node("emitter_client.mjs", node_a.socket_url, "--url2", node_b.socket_url,
                          "--python", sys.executable, "--redis-url", redis.url, "--root", str(ROOT),
                          "--http2", node_b.http_url, "--token", TOKEN, server=node_a)
    # The HTTP publish route: a wrong token is refused with 401, the right one broadcasts (202).
    assert [(p["token_ok"], p["status"]) for p in pick(events, event="http_publish")] == [(False, 401), (True, 202)]
    assert not pick(events, event="headline", n=99)
    for n in (1, 2, 3, 4):
        for who in ("alice", "bob"):
            one(events, event="headline", who=who, n=n)
    published = pick(events, event="published")
    assert [p["nodes"] for p in published] == [2, 2, 2, 2]  # both nodes subscribed each time
    closes = pick(events, event="close")
    assert [(c["who"], c["code"]) for c in closes if c["who"] == "alice"][:1] == [("alice", 1001)]
    assert not [c for c in closes if c["who"] == "bob" and c["code"] != 1000]
    assert len(pick(events, event="open", who="alice")) == 2
    assert len(pick(events, event="open", who="bob")) == 1
