"""Throughput of the Trio Redis client (channels.pubsub._redis) for the pub/sub adapter's paths.

Usage::

    python -m bench.redis_pubsub [--url redis://127.0.0.1:6379/0] [--n 20000]

Without ``--url`` a throwaway ``redis-server`` is started on a free loopback port.
Scenarios, each on one publishing connection plus one subscriber connection:

* ``sequential``: PUBLISH, then wait until the subscriber got it (a full round trip);
* ``awaited``: PUBLISH awaiting each reply while the subscriber reads concurrently;
* ``pipelined``: ``RedisPublisher.publish_nowait`` N times, the background loop pipelines;
* ``ping``: sequential PING round trips (the client's floor).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import trio

from channels.pubsub._redis import (
    RedisConnection,
    RedisPublisher,
    RedisSubscriber,
    open_redis_connection,
    open_redis_subscriber,
)

CHANNEL = "bench:redis_pubsub"


@contextmanager
def _own_server() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found; pass --url or apt-get install redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait()


async def _sequential(pub: RedisConnection, sub: RedisSubscriber, n: int) -> None:
    for i in range(n):
        await pub.publish(CHANNEL, b"%d" % i)
        await sub.get_message()


async def _awaited(pub: RedisConnection, sub: RedisSubscriber, n: int) -> None:
    async with trio.open_nursery() as nursery:

        async def publish_all() -> None:
            for i in range(n):
                await pub.publish(CHANNEL, b"%d" % i)

        nursery.start_soon(publish_all)
        for _ in range(n):
            await sub.get_message()


async def _pipelined(pub: RedisConnection, sub: RedisSubscriber, n: int) -> None:
    publisher = RedisPublisher(max_buffer=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run, pub)
        for i in range(n):
            publisher.publish_nowait(CHANNEL, b"%d" % i)
        for _ in range(n):
            await sub.get_message()
        nursery.cancel_scope.cancel()
    stats = publisher.statistics()
    print(f"    ({stats.batches} writes, {n / stats.batches:.0f} PUBLISH per write)")


async def _ping(pub: RedisConnection, sub: RedisSubscriber, n: int) -> None:
    for _ in range(n):
        await pub.execute("PING")


SCENARIOS: dict[str, Callable[[RedisConnection, RedisSubscriber, int], Awaitable[None]]] = {
    "sequential": _sequential,
    "awaited": _awaited,
    "pipelined": _pipelined,
    "ping": _ping,
}


async def _run(url: str, n: int, names: list[str], repeat: int) -> None:
    async with (
        await open_redis_connection(url) as pub,
        await open_redis_subscriber(url, channels=[CHANNEL]) as sub,
    ):
        for name in names:
            count = n * 5 if name == "pipelined" else n
            best = 0.0
            for _ in range(repeat):
                start = time.perf_counter()
                await SCENARIOS[name](pub, sub, count)
                rate = count / (time.perf_counter() - start)
                best = max(best, rate)
            print(f"{name:>10}: {best:>10,.0f} msg/s  (n={count}, best of {repeat})")


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios and print messages per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="Redis URL (default: start a throwaway redis-server)")
    parser.add_argument("--n", type=int, default=20_000, help="messages per scenario")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (best kept)")
    parser.add_argument(
        "scenarios", nargs="*", choices=[*SCENARIOS, []], help="default: all"
    )
    args = parser.parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    if args.url:
        trio.run(_run, args.url, args.n, names, args.repeat)
    else:
        with _own_server() as url:
            trio.run(_run, url, args.n, names, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
