"""Helpers of the CLI tests: a node started with ``otp-channels serve`` in a subprocess, and a V2 client."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio_websocket

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
START_TIMEOUT = 30.0
_LISTENING = re.compile(r"listening on http://[^\s:]+:(\d+)")
_CONTROL = re.compile(r"control socket: (\S+)")


@dataclass
class NodeProcess:
    """An ``otp-channels serve`` subprocess and what it printed (stdout and stderr merged)."""

    proc: subprocess.Popen[str]
    port: int = 0
    control: Path | None = None
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = START_TIMEOUT) -> re.Match[str]:
        """Block until the node prints a line matching ``pattern`` (fails at the timeout or on exit)."""
        end = time.monotonic() + timeout
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the node did not print {pattern.pattern!r} within {timeout} s:\n"
                                     + self.output())
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the node exited ({self.proc.wait()}) before printing "
                                     f"{pattern.pattern!r}:\n" + self.output())
            m = pattern.search(line)
            if m is not None:
                return m


def cli_env(runtime_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["OTP_CHANNELS_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("XDG_RUNTIME_DIR", None)
    return env


@contextmanager
def serve_node(runtime_dir: Path, *extra: str, target: str = "examples.hello_sockets:Endpoint"
               ) -> Iterator[NodeProcess]:
    """Run ``python -m channels serve TARGET --port 0 EXTRA...``; stop it with SIGINT at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "channels", "serve", target, "--port", "0", *extra],
        cwd=ROOT, env=cli_env(runtime_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    )
    node = NodeProcess(proc)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            node.lines.append(line)
            node._queue.put(line)
        node._queue.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        node.port = int(node.wait_for_line(_LISTENING)[1])
        node.control = Path(node.wait_for_line(_CONTROL)[1])
        yield node
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def run_cli(runtime_dir: Path, *args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m channels ARGS`` with the test's runtime directory (blocking)."""
    return subprocess.run([sys.executable, "-m", "channels", *args], cwd=cwd, env=cli_env(runtime_dir),
                          capture_output=True, text=True, timeout=timeout, check=False)


async def cli(runtime_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m channels ARGS`` from an async test (the client connections keep running)."""
    return await trio.to_thread.run_sync(lambda: run_cli(runtime_dir, *args))


class Client:
    """A minimal Phoenix V2 client over a raw WebSocket."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws
        self.ref = 0

    async def receive(self) -> list[Any]:
        with trio.fail_after(10):
            msg: list[Any] = json.loads(await self.ws.get_message())
        return msg

    async def join(self, topic: str) -> dict[str, Any]:
        self.ref += 1
        ref = str(self.ref)
        await self.ws.send_message(json.dumps([ref, ref, topic, "phx_join", {}]))
        while True:
            _jr, r, _topic, event, payload = await self.receive()
            if event == "phx_reply" and r == ref:
                return payload  # type: ignore[no-any-return]

    async def wait_event(self, topic: str, event: str) -> list[Any]:
        while True:
            msg = await self.receive()
            if msg[2] == topic and msg[3] == event:
                return msg


@asynccontextmanager
async def client(port: int) -> AsyncIterator[Client]:
    async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0") as ws:
        yield Client(ws)


def walk(tree: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every process of a snapshot's tree, depth first."""
    for d in tree:
        yield d
        yield from walk(d.get("children", []))


def by_name(snap: dict[str, Any], name: str) -> dict[str, Any]:
    for d in walk(snap["tree"]):
        if d.get("name") == name:
            return d
    raise AssertionError(f"no process named {name!r} in the tree")
