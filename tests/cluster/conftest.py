from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer, start_redis_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProcess:
    def __init__(self, module: str, port: int, *args: str) -> None:
        self.port = port
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{module} exited early:\n{self.stop()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{module} did not listen on {port} within 20 s")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        out = ""
        if self.proc.stdout is not None:
            out = self.proc.stdout.read().decode(errors="replace")
            self.proc.stdout.close()
        return out

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


@pytest.fixture
def start_node() -> Iterator[object]:
    nodes: list[NodeProcess] = []

    def start(module: str, *args: str) -> NodeProcess:
        node = NodeProcess(module, free_port(), *args)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()
