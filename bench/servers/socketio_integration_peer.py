"""python-socketio's side of ``bench.integration`` (runs in ``.bench-venv``).

    python socketio_integration_peer.py emit REDIS_URL N WARMUP
        ``socketio.RedisManager(url, write_only=True).emit("new_msg", payload, room=...)`` N
        times in a row (after WARMUP), the external-emitter pattern of python-socketio's docs.
    python socketio_integration_peer.py call PORT N WARMUP
        ``socketio.AsyncClient`` (websocket transport) connected to socketio_server.py:
        ``await sio.call("echo", payload)`` N times in a row (after WARMUP).

Prints one JSON line with the figures.
"""

# mypy: ignore-errors
# (runs in .bench-venv; its third-party imports are not installed in the project venv)

from __future__ import annotations

import asyncio
import json
import sys
import time


def _stats(latencies_ns, wall_s):
    ordered = sorted(latencies_ns)

    def pct(p):
        return ordered[min(len(ordered) - 1, max(0, int(p / 100 * len(ordered) + 0.5) - 1))] / 1000

    return {"per_s": len(ordered) / wall_s, "p50_us": pct(50), "p99_us": pct(99),
            "us_per_op": wall_s * 1e6 / len(ordered)}


def emit(url, n, warmup):
    import socketio

    mgr = socketio.RedisManager(url, write_only=True)
    for k in range(warmup):
        mgr.emit("new_msg", {"body": "hello", "n": k}, room="room:lobby", namespace="/")
    lat = []
    t0 = time.perf_counter()
    for k in range(n):
        t = time.perf_counter_ns()
        mgr.emit("new_msg", {"body": "hello", "n": k}, room="room:lobby", namespace="/")
        lat.append(time.perf_counter_ns() - t)
    return _stats(lat, time.perf_counter() - t0)


async def call(port, n, warmup):
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
    try:
        for k in range(warmup):
            await sio.call("echo", {"body": "hello", "n": k}, timeout=10)
        lat = []
        t0 = time.perf_counter()
        for k in range(n):
            t = time.perf_counter_ns()
            reply = await sio.call("echo", {"body": "hello", "n": k}, timeout=10)
            lat.append(time.perf_counter_ns() - t)
            assert reply["n"] == k
        return _stats(lat, time.perf_counter() - t0)
    finally:
        await sio.disconnect()


if __name__ == "__main__":
    command, target, n, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    result = emit(target, n, warmup) if command == "emit" else asyncio.run(call(int(target), n, warmup))
    print(json.dumps(result), flush=True)
