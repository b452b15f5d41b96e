"""``serve --workers N``: N OS processes sharing one port, clustered through Redis.

Python runs one thread of Python code at a time, so one process uses one core. To use
several, ``serve --workers N`` starts N worker processes, each a full node (its own
endpoint tree) listening on the *same* port with ``SO_REUSEPORT`` -- the kernel spreads
new connections over them -- and each with a unique node name on the same Redis PubSub
adapter, so that a broadcast from any worker reaches the clients of all workers (and
Presence replicates across them).

The parent is a small supervisor of OS processes, in the OTP spirit: it restarts a
worker that dies (at most ``max_restarts`` in ``max_seconds``, then it stops everything
and exits non-zero), forwards SIGINT/SIGTERM so that every worker drains (1012 to its
clients), and kills what is still running after ``shutdown_timeout``.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import sys
from collections.abc import Sequence

import trio

from ..endpoint._endpoint import SHARED_PORT_ENV

__all__ = ["serve_workers"]


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_workers(target: str, workers: int, *, host: str, port: int, redis_url: str, name: str,
                  extra_args: Sequence[str] = (), max_restarts: int = 3, max_seconds: float = 5.0,
                  shutdown_timeout: float = 40.0, scheme: str = "http") -> int:
    """Run ``workers`` worker processes of ``serve TARGET`` until SIGINT/SIGTERM; return an exit code."""
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if port == 0:
        port = _free_port(host)
    print(f"[{name}] starting {workers} workers on {scheme}://{host}:{port}, clustered through {redis_url}",
          flush=True)

    def command(i: int) -> list[str]:
        return [sys.executable, "-m", "channels", "serve", target, "--host", host, "--port", str(port),
                "--redis-url", redis_url, "--name", f"{name}.w{i}", *extra_args]

    async def main() -> int:
        procs: dict[int, trio.Process] = {}
        restarts: collections.deque[float] = collections.deque()
        flags = {"stopping": False, "failed": False}

        def stopping() -> bool:  # a function, so that type checkers do not narrow the flag
            return flags["stopping"]

        async def run_worker(i: int, nursery: trio.Nursery) -> None:
            while not stopping():
                proc = await trio.lowlevel.open_process(
                    command(i), env={**os.environ, SHARED_PORT_ENV: str(port)})
                procs[i] = proc
                print(f"[{name}] worker {i} started (os pid {proc.pid})", flush=True)
                code = await proc.wait()
                procs.pop(i, None)
                if stopping():
                    return
                print(f"[{name}] worker {i} exited with status {code}; restarting", flush=True)
                now = trio.current_time()
                restarts.append(now)
                while restarts and restarts[0] < now - max_seconds:
                    restarts.popleft()
                if len(restarts) > max_restarts:
                    print(f"[{name}] workers restarted more than {max_restarts} times in {max_seconds} s; "
                          "stopping", flush=True)
                    flags["failed"] = True
                    nursery.cancel_scope.cancel()
                    return

        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                for i in range(1, workers + 1):
                    nursery.start_soon(run_worker, i, nursery)

                async def watch_signals() -> None:
                    async for signum in signals:
                        print(f"[{name}] {signal.Signals(signum).name}: stopping the workers (they drain)",
                              flush=True)
                        flags["stopping"] = True
                        for proc in list(procs.values()):
                            proc.send_signal(signal.SIGTERM)
                        with trio.move_on_after(shutdown_timeout):
                            for proc in list(procs.values()):
                                await proc.wait()
                        for proc in list(procs.values()):
                            proc.kill()
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(watch_signals)
        with trio.CancelScope(shield=True):
            for proc in list(procs.values()):
                proc.terminate()
                with trio.move_on_after(shutdown_timeout):
                    await proc.wait()
                if proc.returncode is None:
                    proc.kill()
        return 1 if flags["failed"] else 0

    return trio.run(main)

