"""``otp-channels serve --workers N``: worker processes on one port, clustered through Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import trio
import trio_websocket

from tests.cluster.conftest import ROOT, free_port
from tests.support.redis_server import RedisServer


def _run_cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "channels", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_workers_share_the_port_and_a_broadcast_reaches_clients_of_every_worker(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "OTP_CHANNELS_RUNTIME_DIR": str(tmp_path / "run"), "PYTHONUNBUFFERED": "1",
           # Several workers need one stable secret key base (serve refuses to start without it).
           "OTP_CHANNELS_SECRET_KEY_BASE": "w" * 64}
    parent = subprocess.Popen(
        [sys.executable, "-m", "channels", "serve", "examples.chat:Endpoint", "--port", str(port),
         "--workers", "2", "--redis-url", redis_server.url],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        # Both workers listening and registered (their control sockets are in the runtime dir).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            nodes = [line for line in _run_cli("nodes", env=env).splitlines() if "os_pid=" in line]
            if len(nodes) == 2:
                break
            await trio.sleep(0.1)
        assert len(nodes) == 2, nodes
        clients = []
        async with trio.open_nursery() as nursery:
            for i in range(16):
                ws = await trio_websocket.connect_websocket_url(
                    nursery, f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0&user=u{i}")
                await ws.send_message(orjson.dumps(["1", "1", "room:w", "phx_join", {}]).decode())
                while orjson.loads(await ws.get_message())[3] != "phx_reply":
                    pass
                clients.append(ws)
            # The kernel spread the connections over both workers.
            per_worker = []
            for line in nodes:
                node_name = line.split()[0]
                snap = json.loads(_run_cli("tree", "--node", node_name, "--json", env=env))
                per_worker.append(json.dumps(snap).count('"Connection"'))
            assert all(n > 0 for n in per_worker), per_worker
            # One broadcast reaches every client, whichever worker holds it.
            await clients[0].send_message(orjson.dumps(["1", "2", "room:w", "new_msg", {"body": "all"}]).decode())
            with trio.fail_after(10):
                for ws in clients:
                    while True:
                        frame = orjson.loads(await ws.get_message())
                        if frame[3] == "new_msg":
                            assert frame[4] == {"body": "all", "user": "u0"}
                            break
            for ws in clients:
                await ws.aclose()
    finally:
        parent.send_signal(signal.SIGTERM)
        try:
            out, _ = parent.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            parent.kill()
            out, _ = parent.communicate()
    assert parent.returncode == 0, out.decode(errors="replace")
    assert "starting 2 workers" in out.decode()


