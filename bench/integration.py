"""Issue 16's figures: the external emitter and the Python client beside python-socketio's.

Usage::

    python -m bench.integration [--quick] [--rounds 3] [--json FILE]

Two cases, each measured for otp-channels and for python-socketio in the same invocation
(peers in ``.bench-venv``, created on first use as for ``python -m bench``), median of the
rounds, the peer's figure ÷ ours as the ratio:

* ``emit``: the sync publish rate from a process that is not a server: our
  ``channels.emitter.Emitter.broadcast`` (redis-py, the versioned JSON envelope) against
  python-socketio's ``RedisManager(url, write_only=True).emit(..., room=...)`` (redis-py,
  pickle), N publishes in a row to one throwaway ``redis-server`` (no subscribers: the
  publisher's cost plus Redis' round trip);
* ``client``: push→reply round trips from one client, in a row: ``channels.client``
  (``channel.push("echo", ...)``, V2 JSON over trio-websocket) against our bench server
  (``bench.servers.otp_channels_server``), and ``socketio.AsyncClient.call("echo", ...)``
  (aiohttp websocket transport, asyncio) against the python-socketio bench server
  (``bench/servers/socketio_server.py``: uvicorn + uvloop). Servers on one CPU, the client
  on the other.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from bench import _peers
from bench._proc import Server, child_setup, free_port, load_cpu, server_cpu
from bench.redis_pubsub import _own_server

ROOT = Path(__file__).resolve().parent.parent
SERVERS_DIR = ROOT / "bench" / "servers"
PEER = SERVERS_DIR / "socketio_integration_peer.py"
LOGS = ROOT / "bench" / "reports"


def _stats(latencies_ns: list[int], wall_s: float) -> dict[str, float]:
    ordered = sorted(latencies_ns)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(p / 100 * len(ordered) + 0.5) - 1))] / 1000

    return {"per_s": len(ordered) / wall_s, "p50_us": pct(50), "p99_us": pct(99),
            "us_per_op": wall_s * 1e6 / len(ordered)}


# -- our side (run as subprocesses of this module, pinned to the load CPU) ------------------


def ours_emit(url: str, n: int, warmup: int) -> dict[str, float]:
    import time

    from channels.emitter import Emitter

    with Emitter(url, endpoint="Bench.Endpoint") as emitter:
        for k in range(warmup):
            emitter.broadcast("room:lobby", "new_msg", {"body": "hello", "n": k})
        lat = []
        t0 = time.perf_counter()
        for k in range(n):
            t = time.perf_counter_ns()
            emitter.broadcast("room:lobby", "new_msg", {"body": "hello", "n": k})
            lat.append(time.perf_counter_ns() - t)
        return _stats(lat, time.perf_counter() - t0)


async def ours_call(port: int, n: int, warmup: int) -> dict[str, float]:
    import time

    from channels.client import open_socket

    async with open_socket(f"ws://127.0.0.1:{port}/socket", heartbeat_interval=None) as socket:
        channel = socket.channel("bench:rt")
        await channel.join()
        for k in range(warmup):
            await channel.push("echo", {"body": "hello", "n": k})
        lat = []
        t0 = time.perf_counter()
        for k in range(n):
            t = time.perf_counter_ns()
            reply = await channel.push("echo", {"body": "hello", "n": k})
            lat.append(time.perf_counter_ns() - t)
            assert reply.payload["n"] == k
        return _stats(lat, time.perf_counter() - t0)


# -- orchestration -------------------------------------------------------------------------


def _run(argv: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT),
                          preexec_fn=child_setup(load_cpu()), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        out[key] = statistics.median(values)
        out[f"{key}_min"] = min(values)
        out[f"{key}_max"] = max(values)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.integration", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", metavar="FILE")
    p.add_argument("_side", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._side:  # a measuring subprocess: ours emit URL N W | ours call PORT N W
        kind, target, n, warmup = args._side[0], args._side[1], int(args._side[2]), int(args._side[3])
        result = ours_emit(target, n, warmup) if kind == "emit" else trio.run(ours_call, int(target), n, warmup)
        print(json.dumps(result), flush=True)
        return 0

    n_emit, n_call = (5_000, 2_000) if args.quick else (50_000, 20_000)
    warmup = 500
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = LOGS / f"integration-{stamp}"
    logs.mkdir(parents=True, exist_ok=True)
    peer_python = str(_peers.ensure(logs / "bench-venv-setup.log"))
    ours_py = [sys.executable, "-m", "bench.integration"]
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        "emit": {"otp-channels": [], "python-socketio": []},
        "client": {"otp-channels": [], "python-socketio": []},
    }
    with _own_server() as redis_url:
        for _ in range(args.rounds):
            results["emit"]["otp-channels"].append(_run([*ours_py, "emit", redis_url, str(n_emit), str(warmup)], 600))
            results["emit"]["python-socketio"].append(
                _run([peer_python, str(PEER), "emit", redis_url, str(n_emit), str(warmup)], 600))
    servers: dict[str, Callable[[int], list[str]]] = {
        "otp-channels": lambda port: [sys.executable, "-m", "bench.servers.otp_channels_server", "--port", str(port)],
        "python-socketio": lambda port: [peer_python, str(SERVERS_DIR / "socketio_server.py"), str(port)],
    }
    for _ in range(args.rounds):
        for name, server_argv in servers.items():
            port = free_port()
            server = Server(name, server_argv(port), port, logs / f"{name}-server.log", cwd=str(ROOT),
                            cpu=server_cpu())
            try:
                server.wait_listening(60)
                if name == "otp-channels":
                    argv_ = [*ours_py, "call", str(port), str(n_call), str(warmup)]
                else:
                    argv_ = [peer_python, str(PEER), "call", str(port), str(n_call), str(warmup)]
                results["client"][name].append(_run(argv_, 600))
            finally:
                server.stop()
    doc: dict[str, Any] = {}
    for case, by_server in results.items():
        doc[case] = {name: _median(rounds) for name, rounds in by_server.items()}
        ours, peer = doc[case]["otp-channels"], doc[case]["python-socketio"]
        peer["per_s_ratio"] = peer["per_s"] / ours["per_s"]
        peer["p50_us_ratio"] = peer["p50_us"] / ours["p50_us"]
    doc["meta"] = {
        "command": "python -m bench.integration " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date_utc": stamp, "rounds": args.rounds, "n_emit": n_emit, "n_call": n_call, "warmup": warmup,
        "peers": _peers.versions(), "pinning": {"server_cpu": server_cpu(), "load_cpu": load_cpu()},
    }
    print(f"{'case':<8} {'server':<16} {'per_s':>10} {'p50 µs':>9} {'p99 µs':>9} {'peer/ours':>10}")
    for case in ("emit", "client"):
        for name in ("otp-channels", "python-socketio"):
            r = doc[case][name]
            ratio = f"{r['per_s_ratio']:.2f}x" if "per_s_ratio" in r else ""
            print(f"{case:<8} {name:<16} {r['per_s']:>10.0f} {r['p50_us']:>9.1f} {r['p99_us']:>9.1f} {ratio:>10}")
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
