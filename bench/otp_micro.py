"""Runtime micro-benchmarks: otp processes beside the plain-Trio equivalents.

``python -m bench.otp_micro {otp|trio} [--quick]`` prints one JSON object
``{case: {metric: value}}``; ``python -m bench otp`` runs both, pinned to one CPU, several
rounds in fresh processes. Cases:

- ``spawn_exit``: start a process (task) that notifies its parent and exits; ``per_s``.
- ``send_receive``: ping-pong between two processes (``otp.send``/``otp.receive``; for Trio two
  unbuffered memory channels); ``us_per_op`` per round trip.
- ``call``: ``otp.call`` to a GenServer that replies with the request (for Trio a server task
  answering over a fresh one-slot memory channel per call); ``us_per_op``.
- ``idle_memory``: RSS growth per idle process parked in ``receive`` (Trio: a task parked in
  ``trio.sleep_forever``); ``bytes_per_process``.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

import trio
import trio.testing

import otp


def rss_bytes() -> int:
    """This process's resident set size in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _rate(count: int, seconds: float) -> dict[str, float]:
    return {"per_s": count / seconds, "us_per_op": seconds * 1e6 / count, "count": count}


# -- plain Trio --------------------------------------------------------------------------------

async def trio_spawn_exit(n: int) -> dict[str, float]:
    send, recv = trio.open_memory_channel[None](n)

    async def child() -> None:
        send.send_nowait(None)

    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(child)
        for _ in range(n):
            await recv.receive()
    return _rate(n, time.perf_counter() - t0)


async def trio_send_receive(n: int) -> dict[str, float]:
    a_send, a_recv = trio.open_memory_channel[int](0)
    b_send, b_recv = trio.open_memory_channel[int](0)

    async def echo() -> None:
        async for msg in a_recv:
            await b_send.send(msg)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(echo)
        t0 = time.perf_counter()
        for i in range(n):
            await a_send.send(i)
            await b_recv.receive()
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return _rate(n, elapsed)


async def trio_call(n: int) -> dict[str, float]:
    req_send, req_recv = trio.open_memory_channel[tuple[int, trio.MemorySendChannel[int]]](0)

    async def server() -> None:
        async for msg, reply in req_recv:
            reply.send_nowait(msg)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        t0 = time.perf_counter()
        for i in range(n):
            r_send, r_recv = trio.open_memory_channel[int](1)
            await req_send.send((i, r_send))
            await r_recv.receive()
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return _rate(n, elapsed)


async def trio_idle_memory(n: int) -> dict[str, float]:
    gc.collect()
    before = rss_bytes()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(trio.sleep_forever)
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        after = rss_bytes()
        nursery.cancel_scope.cancel()
    return {"bytes_per_process": (after - before) / n, "count": n}


async def trio_main(sizes: dict[str, int]) -> dict[str, dict[str, float]]:
    return {
        "spawn_exit": await trio_spawn_exit(sizes["spawn"]),
        "send_receive": await trio_send_receive(sizes["pingpong"]),
        "call": await trio_call(sizes["call"]),
        "idle_memory": await trio_idle_memory(sizes["idle"]),
    }


# -- otp ---------------------------------------------------------------------------------------

async def _notify(parent: otp.Pid) -> None:
    otp.send(parent, None)


async def otp_spawn_exit(n: int) -> dict[str, float]:
    async with otp.open_mailbox() as me:
        t0 = time.perf_counter()
        for _ in range(n):
            otp.spawn(_notify, me)
        for _ in range(n):
            await otp.receive()
        elapsed = time.perf_counter() - t0
    return _rate(n, elapsed)


async def _echo_loop() -> None:
    while True:
        sender, msg = await otp.receive()
        otp.send(sender, msg)


async def otp_send_receive(n: int) -> dict[str, float]:
    async with otp.open_mailbox() as me:
        peer = otp.spawn(_echo_loop)
        t0 = time.perf_counter()
        for i in range(n):
            otp.send(peer, (me, i))
            await otp.receive()
        elapsed = time.perf_counter() - t0
        otp.exit(peer, otp.KILL)
    return _rate(n, elapsed)


class _Echo(otp.GenServer[None]):
    async def init(self, arg: Any) -> otp.Ok[None]:
        return otp.Ok(None)

    async def handle_call(self, request: Any, from_: otp.From, state: None
                          ) -> otp.Reply[None]:
        return otp.Reply(request, state)


async def otp_call(n: int) -> dict[str, float]:
    pid = await _Echo.start()
    async with otp.open_mailbox():
        t0 = time.perf_counter()
        for i in range(n):
            await otp.call(pid, i)
        elapsed = time.perf_counter() - t0
    otp.exit(pid, otp.KILL)
    return _rate(n, elapsed)


async def _idle() -> None:
    await otp.receive()


async def otp_idle_memory(n: int) -> dict[str, float]:
    gc.collect()
    before = rss_bytes()
    pids = [otp.spawn(_idle) for _ in range(n)]
    await trio.testing.wait_all_tasks_blocked()
    gc.collect()
    after = rss_bytes()
    for pid in pids:
        otp.exit(pid, otp.KILL)
    return {"bytes_per_process": (after - before) / n, "count": n}


async def otp_main(sizes: dict[str, int]) -> dict[str, dict[str, float]]:
    return {
        "spawn_exit": await otp_spawn_exit(sizes["spawn"]),
        "send_receive": await otp_send_receive(sizes["pingpong"]),
        "call": await otp_call(sizes["call"]),
        "idle_memory": await otp_idle_memory(sizes["idle"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.otp_micro")
    parser.add_argument("impl", choices=["otp", "trio"])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = ({"spawn": 20_000, "pingpong": 20_000, "call": 10_000, "idle": 20_000} if args.quick
             else {"spawn": 100_000, "pingpong": 100_000, "call": 50_000, "idle": 100_000})
    result = otp.run(otp_main, sizes) if args.impl == "otp" else trio.run(trio_main, sizes)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
