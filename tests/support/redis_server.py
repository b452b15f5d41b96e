"""Start throwaway ``redis-server`` processes on free loopback ports for tests.

Usage::

    server = start_redis_server()
    try:
        ...  # connect to server.url
        server.kill()      # simulate a crash
        server.restart()   # same port, empty data
    finally:
        server.stop()

``redis-server`` must be on PATH (``.ci/test`` installs it with apt).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

__all__ = ["RedisServer", "RedisServerError", "start_redis_server"]

_START_TIMEOUT = 10.0


class RedisServerError(RuntimeError):
    """redis-server is missing or did not come up."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int, timeout: float) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A running ``redis-server`` child process on 127.0.0.1.

    Attributes:
        port: the TCP port (kept across :meth:`restart`).
        url: ``redis://127.0.0.1:<port>/0``.
    """

    def __init__(self, port: int, executable: str) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._executable = executable
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [
                self._executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "no",
                "--loglevel", "warning",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._proc = None
                raise RedisServerError(
                    f"redis-server exited while starting on port {self.port}: {err}"
                )
            if _ping(self.port, timeout=1.0):
                return
            time.sleep(0.01)  # bounded readiness poll of an external process
        self.kill()
        raise RedisServerError(f"redis-server did not answer PING within {_START_TIMEOUT} s")

    def kill(self) -> None:
        """SIGKILL the server (a crash: clients see their connections reset)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._close_pipes()
            self._proc = None

    def stop(self) -> None:
        """Terminate the server gracefully (SIGTERM, then SIGKILL after 5 s)."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._close_pipes()
            self._proc = None

    def restart(self) -> None:
        """Start a fresh (empty) server on the same port, killing the old one if alive."""
        self.kill()
        self._spawn()

    def _close_pipes(self) -> None:
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_redis_server(*, attempts: int = 3) -> RedisServer:
    """Start ``redis-server`` on a free loopback port and wait until it answers PING.

    Raises:
        RedisServerError: if redis-server is not installed or does not start.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisServerError(
            "redis-server not found on PATH; install it with `apt-get install redis-server` "
            "(.ci/test does this)"
        )
    last: RedisServerError | None = None
    for _ in range(attempts):
        server = RedisServer(_free_port(), executable)
        try:
            server._spawn()
        except RedisServerError as exc:  # most likely the port was taken meanwhile
            last = exc
            continue
        return server
    assert last is not None
    raise last
