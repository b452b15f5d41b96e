"""Long-poll across workers: ``serve --workers 2`` + Redis, the phoenix.js LongPoll client does 50 round trips
with every request on a new connection (so about half land on the worker without the session, which forwards
them through PubSub) and never gets a 410 after its session was created."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import ROOT, free_port
from tests.support.redis_server import RedisServer

INTEROP = ROOT / "tests" / "interop"
ROUNDS = 50


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (`.ci/setup --with-services`)")
    if not (INTEROP / "node_modules" / "phoenix" / "package.json").is_file():
        pytest.fail("the npm package 'phoenix' is missing: run `cd tests/interop && npm ci`")
    return node


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "channels", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30, check=True)
    return done.stdout


def _forwarders(snap: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    stack = list(snap["tree"])
    while stack:
        d = stack.pop()
        if d.get("behaviour") == "Forwarder":
            found.append(d)
        stack.extend(d.get("children", []))
    return found


def test_js_longpoll_client_does_50_round_trips_across_two_workers_without_a_410(
        redis_server: RedisServer, tmp_path: Path) -> None:
    node = _node()
    port = free_port()
    runtime = tmp_path / "run"
    env = {**os.environ, "OTP_CHANNELS_RUNTIME_DIR": str(runtime), "PYTHONUNBUFFERED": "1",
           "OTP_CHANNELS_SECRET_KEY_BASE": "s" * 64}
    parent = subprocess.Popen(
        [sys.executable, "-m", "channels", "serve", "examples.hello_sockets:Endpoint", "--port", str(port),
         "--workers", "2", "--redis-url", redis_server.url],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert parent.stdout is not None
        for line in parent.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        listening = 0
        while listening < 2:  # each worker says so once its endpoint and control socket are up
            line = lines.get(timeout=60)
            assert line is not None, "serve --workers exited:\n" + "".join(seen)
            seen.append(line)
            listening += "control socket:" in line
        done = subprocess.run([node, str(INTEROP / "longpoll_roundtrips.mjs"), f"ws://127.0.0.1:{port}/socket",
                               "--rounds", str(ROUNDS), "--timeout", "60000"],
                              cwd=INTEROP, capture_output=True, text=True, timeout=90, check=False)
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert done.returncode == 0, done.stdout + done.stderr
        replies = [e for e in events if e["event"] == "reply" and e["label"].startswith("ping ")]
        assert len(replies) == ROUNDS
        assert all(e["status"] == "ok" for e in replies)
        assert [e["response"]["ping"] for e in replies] == [f"round {i}" for i in range(ROUNDS)]
        statuses = [e["status"] for e in events if e["event"] == "lp"]
        assert statuses[0] == 410  # the first GET creates the session (410 + token): the protocol
        assert 410 not in statuses[1:], statuses
        last = events.index(replies[-1])  # after it the script disconnects (a close, on purpose)
        assert not [e for e in events[:last] if e["event"] in ("close", "socket_error", "channel_error")]
        # About half of the requests reached the worker without the session: it forwarded them.
        nodes = [line.split()[0] for line in _cli(env, "nodes").splitlines() if "os_pid=" in line]
        assert len(nodes) == 2
        served = [f["summary"]["forwarded_in"] for n in nodes
                  for f in _forwarders(json.loads(_cli(env, "tree", "--node", n, "--json")))]
        assert sum(served) > 0, served
    finally:
        parent.send_signal(signal.SIGTERM)
        try:
            parent.wait(timeout=60)
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()
            reader.join(timeout=10)
            if parent.stdout is not None:
                parent.stdout.close()
