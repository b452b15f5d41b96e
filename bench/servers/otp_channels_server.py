"""The otp-channels server under test: an Endpoint whose ``bench:*`` channel broadcasts on demand.

Run with the project venv: ``python -m bench.servers.otp_channels_server --port PORT`` (or
``otp-channels serve bench.servers.otp_channels_server:Endpoint``). The socket is mounted at
``/socket`` (WebSocket at ``/socket/websocket``, Phoenix V2 JSON). ``BenchChannel`` joins any
``bench:*`` topic; ``handle_in("go", {"m": M, "size": S})`` broadcasts M events ``m`` of about S
payload bytes (``{"i": k, "t": <monotonic ns>, "p": "..."}``) to the topic through the channels
broadcast API (fastlane), with a scheduler checkpoint between messages like the peers, then
replies ok (with ``"i0": I`` the events are numbered from I: the soak scenario's global
sequence); ``handle_in("echo", payload)`` replies ``{"status": "ok", "response": payload}``.

Configuration: defaults of ``channels.Endpoint`` (no compression; heartbeats are the client's),
origin check off, ``max_connections`` raised to 100,000 so that the file limit is the bound.

Clustering (``python -m bench cluster``): ``--redis-url URL`` sets ``Endpoint(redis_url=URL)``
(the Redis PubSub adapter) and ``--node-name NAME`` its node name. ``GET /bench/stats``
answers ``Endpoint.statistics()`` as JSON (PubSub and adapter counters: published, dropped,
received...), with ``otp_processes``: the node's process count.

Profiling: with ``BENCH_PROFILE_DIR`` set, each burst (a ``go`` of more than one message) is
profiled with cProfile until the next ``go`` or the end of the process, and written there as
``burst-<pid>-<n>.prof`` (``python -m bench fanout --profile`` does this).
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import trio

import channels
import otp
from channels.http import Request, Response

TOPIC_PATTERN = "bench:*"


class _BurstProfiler:
    """cProfile windows from a burst's ``go`` to the next ``go`` (off unless configured)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) if directory else None
        self.current: cProfile.Profile | None = None
        self.count = 0
        if self.directory is not None:
            atexit.register(self.stop)

    def on_go(self, m: int) -> None:
        if self.directory is None:
            return
        self.stop()
        if m > 1:
            self.current = cProfile.Profile()
            self.current.enable()

    def stop(self) -> None:
        if self.current is None or self.directory is None:
            return
        self.current.disable()
        self.count += 1
        self.current.dump_stats(self.directory / f"burst-{os.getpid()}-{self.count}.prof")
        self.current = None


_PROFILER = _BurstProfiler(os.environ.get("BENCH_PROFILE_DIR"))


def make_payload(k: int, size: int) -> dict[str, Any]:
    """A broadcast payload of about ``size`` JSON bytes carrying its index and send time."""
    t = time.monotonic_ns()
    head = len(f'{{"i":{k},"t":{t},"p":""}}')
    return {"i": k, "t": t, "p": "x" * max(0, size - head)}


class BenchChannel(channels.Channel):
    """``go`` broadcasts M messages to the topic; ``echo`` replies with its payload."""

    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> channels.Accept[Any]:
        return channels.Accept(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket
                        ) -> otp.Reply[Any] | otp.NoReply[Any]:
        if event == "echo":
            return channels.Reply(("ok", payload), socket)
        if event == "go" and isinstance(payload, dict):
            m = int(payload.get("m", 1))
            size = int(payload.get("size", 100))
            i0 = int(payload.get("i0", 0))
            _PROFILER.on_go(m)
            for k in range(i0, i0 + m):
                socket.broadcast("m", make_payload(k, size))
                await trio.lowlevel.checkpoint()
            return channels.Reply(("ok", {"sent": m}), socket)
        return channels.NoReply(socket)


class BenchSocket(channels.Socket):
    routes = [(TOPIC_PATTERN, BenchChannel)]


def make_endpoint(*, host: str = "127.0.0.1", port: int = 4000, redis_url: str | None = None,
                  node_name: str | None = None) -> channels.Endpoint:
    """The bench endpoint: ``BenchSocket`` at ``/socket``; clustered through Redis with
    ``redis_url``; ``GET /bench/stats`` answers its statistics as JSON."""
    endpoint = channels.Endpoint(
        name="Bench.Endpoint",
        host=host,
        port=port,
        sockets=[channels.SocketMount("/socket", BenchSocket)],
        check_origin=False,
        max_connections=100_000,
        redis_url=redis_url,
        node_name=node_name,
    )

    async def stats(request: Request, body: Any) -> Response:
        data = json.dumps({**endpoint.statistics(), "otp_processes": len(otp.processes())}, default=str).encode()
        return Response(200, [("content-type", "application/json")], data)

    endpoint.add_route("/bench/stats", stats)
    return endpoint


#: For ``otp-channels serve bench.servers.otp_channels_server:Endpoint``.
Endpoint = make_endpoint()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers.otp_channels_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--redis-url", default=None,
                        help="cluster through this Redis (Endpoint(redis_url=...))")
    parser.add_argument("--node-name", default=None, help="this node's name in the cluster")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    endpoint = make_endpoint(host=args.host, port=args.port, redis_url=args.redis_url, node_name=args.node_name)
    raise SystemExit(channels.serve(endpoint, control=False))


if __name__ == "__main__":
    main()
