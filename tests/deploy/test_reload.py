"""``serve --reload``: a change to a .py file drains the node (1012), restarts it on the same port with the
new code, and the client reconnects. Synchronised on the node's output and the client's frames, no sleeps."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio_websocket

from tests.support.processes import reap

APP = '''
import channels

VERSION = {version}


class VersionChannel(channels.Channel):
    async def join(self, topic, payload, socket):
        return channels.Accept(socket, {{"version": VERSION}})


class UserSocket(channels.Socket):
    routes = [("version", VersionChannel)]


endpoint = channels.Endpoint(name="Reload.Endpoint", check_origin=False,
                             sockets=[channels.SocketMount("/socket", UserSocket)])
'''


class Output:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError("the process exited:\n" + "".join(self.seen))
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found


@pytest.fixture
def workdir() -> Iterator[tuple[Path, Path]]:
    work = Path(tempfile.mkdtemp(prefix="oc-reload-"))
    runtime = Path(tempfile.mkdtemp(prefix="oc-"))
    runtime.chmod(0o700)
    yield work, runtime
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(runtime, ignore_errors=True)


async def _join_version(ws: trio_websocket.WebSocketConnection) -> int:
    await ws.send_message(json.dumps(["1", "1", "version", "phx_join", {}]))
    reply = json.loads(await ws.get_message())
    return int(reply[4]["response"]["version"])


@asynccontextmanager
async def _websocket(port: int) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A client WebSocket whose TCP stream is closed on the way out, however the server ended it."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        async with trio.open_nursery() as nursery:
            ws = await trio_websocket.wrap_client_stream(nursery, stream, "127.0.0.1",
                                                         "/socket/websocket?vsn=2.0.0")
            try:
                yield ws
            finally:
                await ws.aclose()
    finally:
        await trio.aclose_forcefully(stream)


async def _close_code(ws: trio_websocket.WebSocketConnection) -> int:
    """Read until the server closes the WebSocket; return its close code."""
    try:
        while True:
            await ws.get_message()
    except trio_websocket.ConnectionClosed as exc:
        return int(exc.reason.code)


def test_a_changed_file_drains_and_restarts_the_node_with_the_new_code(workdir: tuple[Path, Path]) -> None:
    pytest.importorskip("watchfiles")
    work, runtime = workdir
    (work / "app.py").write_text(APP.format(version=1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTP_CHANNELS_")}
    env.update(OTP_CHANNELS_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "channels", "serve", "app:endpoint", "--port", "0", "--reload"],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)
    try:
        out.wait_for(r"\[reload\] watching ")
        port = int(out.wait_for(r"listening on http://127\.0\.0\.1:(\d+)").group(1))

        async def scenario() -> None:
            async with _websocket(port) as ws:
                assert await _join_version(ws) == 1
                (work / "app.py").write_text(APP.format(version=2))
                # The old node drains: phx_drain, then the socket closes with 1012 (service restart).
                assert await _close_code(ws) == 1012
            await trio.to_thread.run_sync(out.wait_for, rf"listening on http://127\.0\.0\.1:{port}")
            async with _websocket(port) as ws:
                assert await _join_version(ws) == 2

        trio.run(scenario)
        assert any("app.py changed: restarting the node" in line for line in out.seen)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        reap(proc)
