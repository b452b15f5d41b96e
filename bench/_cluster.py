"""The cluster scenario: fan-out to subscribers on two otp-channels nodes through Redis.

Two topologies get the same workload, one after the other:

``otp-channels`` (the baseline)
    One node with the local PubSub adapter, pinned to CPU 0; all N subscribers on it; the load
    generators pinned to CPU 1 (exactly as in the ``fanout`` scenario).
``otp-channels-2-nodes-redis``
    A throw-away ``redis-server`` and two bench servers started with ``--redis-url`` (so
    ``Endpoint(redis_url=...)``, node names ``bench-a`` and ``bench-b``), node A pinned to CPU 0
    and node B to CPU 1; N/2 subscribers on each node; the control connection, which triggers
    the broadcasts, on node A. The machine has two CPUs, so the load generators and
    ``redis-server`` are not pinned: they share the CPUs with the two nodes.

A measurement is a burst of M broadcasts (delivered messages/s to all subscribers on both
nodes, per node too) and then paced single broadcasts (latency to the last subscriber, overall
and per node; the send stamp is node A's ``CLOCK_MONOTONIC``, one clock for all processes).
The paced broadcasts are driven one by one from here: each is received by every subscriber on
both nodes before the next is triggered (a ``fanout``-style gap after the control
connection's own receipt would let node B's deliveries overlap, B receiving asynchronously).
The CPU seconds of every process (each node, redis-server, the load generators) and, for the
clustered nodes, the Redis adapter's counters (``GET /bench/stats``) are recorded per
measurement.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench._proc import (
    BenchError,
    Server,
    Worker,
    free_port,
    load_cpu,
    machine_busy_s,
    proc_cpu_s,
    server_cpu,
    wait_quiet,
)
from bench._results import (
    OTP,
    fanout_burst,
    fanout_latencies_us,
    merge_rounds,
    percentile,
    put,
)
from bench._scenarios import LOADGEN, MAX_SOCKETS_PER_LOAD_PROC, PAYLOAD_SIZE, ROOT, Env

#: Server name of the clustered topology in the JSON document.
CLUSTER = "otp-channels-2-nodes-redis"
TOPIC = "bench:fanout"
#: How the clustered topology is run (the ``meta.servers`` entry of the JSON document).
CLUSTER_CONFIG = (
    "two bench.servers.otp_channels_server processes with --redis-url (Endpoint(redis_url=...), "
    "RedisAdapter, nodes bench-a and bench-b), node A pinned to CPU 0, node B to CPU 1, a "
    "throw-away redis-server (no persistence), half the subscribers on each node, broadcasts "
    "triggered on A; redis-server and the load generators NOT pinned: they share the 2 CPUs "
    "with the nodes (the baseline otp-channels row: one node on CPU 0, load on CPU 1)"
)
#: Adapter counters copied (as deltas over a measurement) from ``GET /bench/stats``.
ADAPTER_COUNTERS = ("published", "dropped", "failed", "received", "undeliverable", "reconnects")


@dataclass(frozen=True, slots=True)
class ClusterCase:
    """Subscribers per node of the clustered topology (the baseline holds all of them)."""

    per_node: int
    m: int
    paced: int
    burst_budget_s: float
    paced_budget_s: float
    connect_budget_s: float

    @property
    def n(self) -> int:
        return 2 * self.per_node

    @property
    def label(self) -> str:
        return f"N={self.n}"


def cluster_cases(quick: bool) -> list[ClusterCase]:
    if quick:
        return [ClusterCase(1000, 10, 10, 8.0, 5.0, 20.0)]
    return [ClusterCase(2500, 20, 20, 60.0, 30.0, 120.0)]


@dataclass(slots=True)
class Node:
    """One bench server of a topology and the subscriber workers connected to it."""

    label: str
    server: Server
    subs: list[Worker]
    joined: int = 0

    def stats(self) -> dict[str, Any]:
        """``Endpoint.statistics()`` of the node (``{}`` if it does not answer in 5 s)."""
        url = f"http://127.0.0.1:{self.server.port}/bench/stats"
        try:
            with urllib.request.urlopen(url, timeout=5.0) as resp:
                data: dict[str, Any] = json.loads(resp.read())
                return data
        except (OSError, ValueError):
            return {}


class OverBudget(BenchError):
    """A phase missed its time budget; ``results`` holds what was measured before."""

    def __init__(self, msg: str, results: list[dict[str, Any]]) -> None:
        super().__init__(msg)
        self.results = results


class ClusterRound:
    """The processes of one round of one topology, torn down (by PID) on exit."""

    def __init__(self, env: Env, name: str, label: str) -> None:
        self.env = env
        self.name = name
        self.label = label
        self.redis: Server | None = None
        self.nodes: list[Node] = []
        self.workers: list[Worker] = []
        self.ctl: Worker | None = None
        self._src = 2

    def __enter__(self) -> ClusterRound:
        return self

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.server.stop()
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.send(cmd="close")
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.stop()

    @property
    def clustered(self) -> bool:
        return self.redis is not None

    def start_redis(self) -> str:
        """A throw-away, unpinned redis-server on a free loopback port (no persistence)."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise BenchError("redis-server is not installed (apt-get install redis-server)")
        port = free_port()
        self.redis = Server("redis-server", [exe, "--port", str(port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no",
                                             "--protected-mode", "no", "--loglevel", "warning"],
                            port, self.env.logs / f"{self.label}-redis.log", cpu=None)
        self.redis.wait_listening(15.0)
        return f"redis://127.0.0.1:{port}"

    def start_node(self, label: str, cpu: int | None, redis_url: str | None) -> Node:
        port = free_port()
        argv = [sys.executable, "-m", "bench.servers.otp_channels_server", "--port", str(port)]
        if redis_url is not None:
            argv += ["--redis-url", redis_url, "--node-name", f"bench-{label}"]
        server = Server(f"{OTP}-{label}", argv, port,
                        self.env.logs / f"{self.label}-{self.name}-{label}-server.log",
                        cwd=str(ROOT), cpu=cpu)
        node = Node(label, server, [])
        self.nodes.append(node)
        server.wait_listening(30.0)
        return node

    def worker(self, node: Node, role: str, cpu: int | None, **cfg: Any) -> Worker:
        full = {"role": role, "proto": "phoenix", "port": node.server.port, "topic": TOPIC,
                "cpu": cpu, **cfg}
        w = Worker(self.env.load_python, LOADGEN, full,
                   self.env.logs / f"{self.label}-{self.name}-{node.label}-{role}"
                                   f"{len(self.workers)}.log",
                   cpu=cpu, cwd=tempfile.gettempdir())
        self.workers.append(w)
        return w

    def connect(self, node: Node, n: int, cpu: int | None, deadline_s: float) -> None:
        """Starts ``n`` subscribers on ``node`` (shards of at most 10,000, each from its own
        source address); waits for their ``ready`` (the caller waits for all nodes)."""
        procs = max(1, math.ceil(n / MAX_SOCKETS_PER_LOAD_PROC))
        base, extra = divmod(n, procs)
        for i in range(procs):
            count = base + (1 if i < extra else 0)
            node.subs.append(self.worker(node, "sub", cpu, n=count, src=f"127.0.0.{self._src}",
                                         concurrency=100, timeout=20.0, deadline_s=deadline_s))
            self._src += 1

    def all_subs(self) -> list[Worker]:
        return [w for node in self.nodes for w in node.subs]

    def load_cpu_s(self) -> float:
        return sum(proc_cpu_s(w.pid) for w in self.workers)

    def check_alive(self) -> None:
        for node in self.nodes:
            node.server.check_alive()
        if self.redis is not None:
            self.redis.check_alive()


def _cpu_snapshot(rnd: ClusterRound) -> dict[str, float]:
    snap = {f"{node.label}_cpu_s": node.server.cpu_s() for node in rnd.nodes}
    snap["load_cpu_s"] = rnd.load_cpu_s()
    if rnd.redis is not None:
        snap["redis_cpu_s"] = rnd.redis.cpu_s()
    snap["busy"] = machine_busy_s()
    return snap


def _adapter_counters(rnd: ClusterRound) -> dict[str, dict[str, Any]]:
    if not rnd.clustered:
        return {}
    return {node.label: node.stats().get("pubsub", {}) for node in rnd.nodes}


def _counter_deltas(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
                    ) -> dict[str, float]:
    out: dict[str, float] = {}
    for label, now in after.items():
        then = before.get(label, {})
        for key in ADAPTER_COUNTERS:
            a, b = now.get(key), then.get(key, 0)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)):
                out[f"{label}_redis_{key}"] = a - b
    return out


def cluster_measure(rnd: ClusterRound, case: ClusterCase) -> dict[str, Any]:
    """One measurement: a burst of M broadcasts triggered on node A, then paced ones."""
    ctl = rnd.ctl
    assert ctl is not None
    subs = rnd.all_subs()
    n = sum(node.joined for node in rnd.nodes)
    counters0 = _adapter_counters(rnd)
    for w in subs:
        w.send(cmd="expect", m=case.m, timeout=case.burst_budget_s)
    for w in subs:
        w.wait("armed", 10.0)
    c0 = _cpu_snapshot(rnd)
    ctl.send(cmd="go", m=case.m, size=PAYLOAD_SIZE, timeout=case.burst_budget_s)
    gots = {id(w): w.wait("got", case.burst_budget_s + 15) for w in subs}
    went = ctl.wait("went", case.burst_budget_s + 15)
    c1 = _cpu_snapshot(rnd)
    rnd.check_alive()
    frames = sum(g["frames"] for g in gots.values())
    burst = fanout_burst(n, case.m, went["t_send"], [g["last"] for g in gots.values()], frames)
    out: dict[str, Any] = {
        "delivered_per_s": burst["delivered_per_s"],
        "burst_s": burst["burst_s"],
        "delivered_fraction": burst["delivered_fraction"],
    }
    for node in rnd.nodes:
        node_gots = [gots[id(w)] for w in node.subs]
        nb = fanout_burst(node.joined, case.m, went["t_send"], [g["last"] for g in node_gots],
                          sum(g["frames"] for g in node_gots))
        out[f"{node.label}_delivered_per_s"] = nb["delivered_per_s"]
        out[f"{node.label}_burst_s"] = nb["burst_s"]
    cpu = {k: c1[k] - c0[k] for k in c0 if k != "busy"}
    server_cpu_s = sum(v for k, v in cpu.items() if k not in ("load_cpu_s", "redis_cpu_s"))
    out.update(cpu)
    out["server_cpu_s"] = server_cpu_s
    out["server_cpu_us_per_msg"] = server_cpu_s * 1e6 / frames if frames else math.nan
    out["foreign_cpu_s"] = max(0.0, (c1["busy"] - c0["busy"]) - sum(cpu.values()))
    complete = sum(g["complete"] for g in gots.values())
    if complete < n:
        out.update(_counter_deltas(counters0, _adapter_counters(rnd)))
        raise OverBudget(
            f"burst of {case.m} to {n} not delivered within {case.burst_budget_s:.0f}s "
            f"({100 * burst['delivered_fraction']:.0f}% delivered); latency not measured",
            [out])
    # Paced: one broadcast at a time, each one received by every subscriber on both nodes
    # before the next is triggered (node B receives asynchronously, so spacing by the
    # control connection's own receipt, as ``fanout`` does, would let B's deliveries overlap).
    one_s = n / (burst["delivered_per_s"] or 1.0)
    count = max(1, min(case.paced, int(case.paced_budget_s / (0.05 + 3 * one_s))))
    deadline = time.monotonic() + case.paced_budget_s
    ts: list[int] = []
    lasts: dict[int, list[int]] = {id(w): [] for w in subs}
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        for w in subs:
            w.send(cmd="expect", m=1, timeout=case.paced_budget_s)
        for w in subs:
            w.wait("armed", 10.0)
        ctl.send(cmd="paced", l=1, gap_s=0.0, size=PAYLOAD_SIZE, timeout=case.paced_budget_s)
        for w in subs:
            lasts[id(w)].extend(w.wait("got", case.paced_budget_s + 10)["last"][:1])
        ts.extend(ctl.wait("went", case.paced_budget_s + 10)["ts"][:1] or [0])
        time.sleep(0.02)
    rnd.check_alive()
    lat = fanout_latencies_us(ts, list(lasts.values()))
    out.update({"p50_us": percentile(lat, 50), "p99_us": percentile(lat, 99),
                "latency_samples": len(lat)})
    for node in rnd.nodes:
        nlat = fanout_latencies_us(ts, [lasts[id(w)] for w in node.subs])
        out[f"{node.label}_p50_us"] = percentile(nlat, 50)
        out[f"{node.label}_p99_us"] = percentile(nlat, 99)
    out.update(_counter_deltas(counters0, _adapter_counters(rnd)))
    return out


def cluster_round(rnd: ClusterRound, case: ClusterCase, two_nodes: bool, reps: int
                  ) -> list[dict[str, Any]]:
    """Starts the topology, connects and joins every subscriber, then ``reps`` measurements."""
    wait_quiet(rnd.env.quiet_wait_s)
    plan: list[tuple[Node, int, int | None]]
    ctl_cpu: int | None
    if two_nodes:
        url = rnd.start_redis()
        a = rnd.start_node("a", server_cpu(), url)
        b = rnd.start_node("b", load_cpu(), url)
        plan = [(a, case.per_node, None), (b, case.per_node, None)]
        ctl_cpu = None
    else:
        a = rnd.start_node("a", server_cpu(), None)
        plan = [(a, case.n, load_cpu())]
        ctl_cpu = load_cpu()
    rnd.ctl = rnd.worker(a, "ctl", ctl_cpu, timeout=20.0)
    rnd.ctl.wait("ready", 30.0)
    t0 = time.monotonic()
    for node, count, cpu in plan:
        rnd.connect(node, count, cpu, case.connect_budget_s)
    errors: dict[str, int] = {}
    t_start, t_end = [], []
    for node in rnd.nodes:
        for w in node.subs:
            ready = w.wait("ready", case.connect_budget_s + 30)
            node.joined += ready["ok"]
            t_start.append(ready["t_start"])
            t_end.append(ready["t_end"])
            for k, v in ready["errors"].items():
                errors[k] = errors.get(k, 0) + v
    rnd.check_alive()
    joined = sum(node.joined for node in rnd.nodes)
    wanted = sum(count for _, count, _ in plan)
    if joined < wanted:
        raise BenchError(f"only {joined}/{wanted} subscribers joined in "
                         f"{time.monotonic() - t0:.0f}s: {dict(list(errors.items())[:3])}")
    time.sleep(0.2)
    common: dict[str, Any] = {
        "joined": joined,
        "connect_join_per_s": joined / ((max(t_end) - min(t_start)) / 1e9),
        **{f"{node.label}_joined": node.joined for node in rnd.nodes},
    }
    results: list[dict[str, Any]] = []
    for _ in range(reps):
        try:
            results.append({**cluster_measure(rnd, case), **common})
        except OverBudget as exc:
            raise OverBudget(str(exc), results + [{**r, **common} for r in exc.results])
    return results


def _run_topology(env: Env, case: ClusterCase, name: str, two_nodes: bool
                  ) -> list[dict[str, Any]]:
    """Quick: one set of processes, ``rounds`` measurements; full: fresh processes per round."""
    processes, reps = (1, env.rounds) if env.quick else (env.rounds, 1)
    results: list[dict[str, Any]] = []
    for i in range(processes):
        label = f"cluster-{case.label}-p{i}"
        t0 = time.monotonic()
        status = "ok"
        try:
            with ClusterRound(env, name, label) as rnd:
                results.extend(cluster_round(rnd, case, two_nodes, reps))
        except OverBudget as exc:
            results.extend(exc.results)
            results.append({"error": str(exc)[:400]})
            status = f"OVER BUDGET {exc}"[:300]
        except BenchError as exc:
            results.append({"error": str(exc)[:400]})
            status = f"FAILED {exc}"[:300]
        except Exception as exc:
            results.append({"error": f"{type(exc).__name__}: {exc}"[:400]})
            status = f"FAILED {type(exc).__name__}: {exc}"[:300]
        env.progress(f"  cluster {case.label} {name} process {i + 1}/{processes}: {status} "
                     f"({time.monotonic() - t0:.1f}s)")
        if status != "ok":
            break
    return results


def run_cluster(env: Env, doc: dict[str, Any]) -> None:
    """The baseline on one node, then the same fan-out over two nodes through Redis."""
    for case in cluster_cases(env.quick):
        for name, two_nodes in ((OTP, False), (CLUSTER, True)):
            env.progress(f"cluster {case.label} {name}: N={case.n} M={case.m}")
            results = _run_topology(env, case, name, two_nodes)
            good = [r for r in results if "error" not in r]
            errors = [r["error"] for r in results if "error" in r]
            merged = merge_rounds(good) if good else {}
            if errors:
                merged["error"] = errors[0]
            merged["m"] = case.m
            merged["topology"] = (
                f"2 nodes (A on CPU 0, B on CPU 1) + redis-server, {case.per_node} subscribers "
                "per node, broadcasts triggered on A; load generators and redis-server unpinned "
                "(they share the 2 CPUs with the nodes)" if two_nodes else
                f"1 node on CPU 0, local adapter, {case.n} subscribers; load generators on CPU 1")
            put(doc, "cluster", case.label, name, merged)
