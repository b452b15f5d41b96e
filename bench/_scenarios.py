"""The scenarios: fanout, capacity, roundtrip and otp, each run against every server in turn.

A round always starts a fresh server process pinned to CPU 0, waits until it listens, drives it
from load-generator processes pinned to CPU 1, then stops everything. Every wait has a deadline;
a round that fails is recorded with its reason and the run goes on with the next one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import _peers
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

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
LOADGEN = BENCH / "loadgen.py"
SERVERS_DIR = BENCH / "servers"
MAX_SOCKETS_PER_LOAD_PROC = 10_000  # below the 15,000 cap; leaves fds for the process itself
PAYLOAD_SIZE = 100


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to start one server under test and which client protocol it speaks."""

    name: str
    proto: str
    argv: Callable[[int], list[str]]
    cwd: str
    config: str
    peer: bool = True
    #: Several server processes (``serve --workers``): not pinned, RSS/CPU summed over them.
    multi_process: bool = False
    #: Seconds to wait after SIGTERM before SIGKILL (0: SIGKILL at once).
    graceful_stop_s: float = 0.0
    #: Environment of the server process (None: inherited).
    env: dict[str, str] | None = None
    #: Start a throw-away redis-server and pass ``--redis-url`` (clustered workers).
    needs_redis: bool = False
    #: The scenarios it takes part in (None: all).
    scenarios: frozenset[str] | None = None

    def runs(self, scenario: str) -> bool:
        return self.scenarios is None or scenario in self.scenarios


@dataclass(slots=True)
class Env:
    """Run-wide settings: interpreters, log directory, quick mode, rounds, server filter."""

    quick: bool
    rounds: int
    logs: Path
    load_python: str
    servers: list[ServerSpec]
    unavailable: dict[str, str] = field(default_factory=dict)
    quiet_wait_s: float = 2.0
    progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)


def server_specs(peer_python: str | None, profile_dir: Path | None = None) -> list[ServerSpec]:
    """otp-channels first, then the peers (only when ``.bench-venv`` is available).

    With ``profile_dir``, the otp-channels server profiles each fan-out burst with cProfile
    (from a ``go`` of several messages to the next ``go``) and writes the ``.prof`` files there;
    its figures are then slowed by the profiler and not comparable.
    """
    tmp = tempfile.gettempdir()
    otp_env = None
    if profile_dir is not None:
        otp_env = {**os.environ, "BENCH_PROFILE_DIR": str(profile_dir)}
    specs = [
        ServerSpec(
            OTP, "phoenix",
            lambda port: [sys.executable, "-m", "bench.servers.otp_channels_server",
                          "--port", str(port)],
            str(ROOT),
            "otp-channels Endpoint + Socket + Channel on bench:*, Phoenix V2 JSON, "
            "project venv (trio)" + (", bursts under cProfile" if profile_dir else ""),
            peer=False, graceful_stop_s=20.0 if profile_dir else 0.0, env=otp_env,
        ),
    ]
    # Reference floors for the round trip (not peers): bare Trio echo servers, without and
    # with one task hand-off per message. Trio only, so the project venv runs them.
    specs += [
        ServerSpec(
            "trio-echo", "ws",
            lambda port: [sys.executable, str(SERVERS_DIR / "trio_floor_server.py"), str(port)],
            tmp,
            "reference floor: bare Trio echo, one task per connection (wait_readable, "
            "os.read, unmask, os.write); no protocol beyond framing",
            peer=False, scenarios=frozenset({"roundtrip"}),
        ),
        ServerSpec(
            "trio-hop", "ws",
            lambda port: [sys.executable, str(SERVERS_DIR / "trio_floor_server.py"), str(port),
                          "--hop"],
            tmp,
            "reference floor: bare Trio echo whose reading task hands each message to a "
            "second task that writes the reply (one hand-off, as transport -> channel)",
            peer=False, scenarios=frozenset({"roundtrip"}),
        ),
    ]
    if peer_python is None:
        return specs
    specs += [
        ServerSpec(
            "websockets", "ws",
            lambda port: [peer_python, str(SERVERS_DIR / "websockets_server.py"), str(port)],
            tmp,
            "websockets asyncio server + uvloop, broadcast(), compression=None, "
            "ping_interval=None, max_queue=None",
        ),
        ServerSpec(
            "python-socketio", "socketio",
            lambda port: [peer_python, str(SERVERS_DIR / "socketio_server.py"), str(port)],
            tmp,
            "python-socketio AsyncServer(async_mode='asgi') + ASGIApp on uvicorn "
            "(uvloop, httptools, ws=websockets, per-message-deflate off), rooms + emit(room=)",
        ),
        ServerSpec(
            "django-channels", "django",
            lambda port: [peer_python, str(SERVERS_DIR / "django_channels_server.py"),
                          str(port)],
            tmp,
            "Django Channels AsyncWebsocketConsumer, group_send on InMemoryChannelLayer "
            "(capacity 100k), uvicorn (uvloop, httptools, ws=websockets, deflate off)",
        ),
    ]
    return specs


# -- helpers ---------------------------------------------------------------------------------

def shards(n: int) -> list[tuple[int, str]]:
    """Splits ``n`` clients over load processes, each with its own 127.0.0.x source address."""
    procs = max(1, math.ceil(n / MAX_SOCKETS_PER_LOAD_PROC))
    base, extra = divmod(n, procs)
    return [(base + (1 if i < extra else 0), f"127.0.0.{i + 2}") for i in range(procs)]


def topic_for(spec: ServerSpec) -> str:
    return "bench:fanout"


class Round:
    """One round's processes: a server and its load workers, torn down on exit."""

    def __init__(self, env: Env, spec: ServerSpec, label: str) -> None:
        self.env = env
        self.spec = spec
        self.label = label
        self.server: Server | None = None
        self.workers: list[Worker] = []
        self.redis: Server | None = None

    def __enter__(self) -> Round:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop(self.spec.graceful_stop_s)
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.send(cmd="close")
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.stop()

    def start_redis(self) -> str:
        """A throw-away redis-server on a free loopback port (for clustered workers)."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise BenchError("redis-server is not installed (apt-get install redis-server)")
        port = free_port()
        self.redis = Server("redis-server", [exe, "--port", str(port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no"], port,
                            self.env.logs / f"{self.label}-redis.log", cpu=None)
        self.redis.wait_listening(15.0)
        return f"redis://127.0.0.1:{port}"

    def start_server(self) -> Server:
        wait_quiet(self.env.quiet_wait_s)
        port = free_port()
        argv = self.spec.argv(port)
        if self.spec.needs_redis:
            argv += ["--redis-url", self.start_redis()]
        self.server = Server(
            self.spec.name, argv, port,
            self.env.logs / f"{self.label}-{self.spec.name}-server.log",
            cwd=self.spec.cwd, env=self.spec.env,
            cpu=None if self.spec.multi_process else server_cpu(),
            multi_process=self.spec.multi_process,
        )
        self.server.wait_listening(30.0)
        return self.server

    def worker(self, role: str, *, cpu: int | str | None = "load", **cfg: Any) -> Worker:
        """A load worker, pinned to the load CPU unless ``cpu`` names another (or None)."""
        assert self.server is not None
        pin = load_cpu() if cpu == "load" else cpu
        assert pin is None or isinstance(pin, int)
        full = {"role": role, "proto": self.spec.proto, "port": self.server.port,
                "topic": topic_for(self.spec), "cpu": pin, **cfg}
        w = Worker(self.env.load_python, LOADGEN, full,
                   self.env.logs / f"{self.label}-{self.spec.name}-{role}{len(self.workers)}.log",
                   cpu=pin, cwd=tempfile.gettempdir())
        self.workers.append(w)
        return w

    def load_cpu_s(self) -> float:
        return sum(proc_cpu_s(w.pid) for w in self.workers)

    def connect_subs(self, n: int, deadline_s: float) -> tuple[list[Worker], dict[str, Any]]:
        """Starts the subscriber shards and waits until all have connected and joined.

        Raises:
            OverBudget: connecting and joining all ``n`` took longer than ``deadline_s``.
        """
        subs = [self.worker("sub", n=count, src=src, concurrency=100, timeout=20.0,
                            deadline_s=deadline_s)
                for count, src in shards(n)]
        readies = [w.wait("ready", deadline_s + 30) for w in subs]
        ok = sum(r["ok"] for r in readies)
        errors: dict[str, int] = {}
        for r in readies:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        t0 = min(r["t_start"] for r in readies)
        t1 = max(r["t_end"] for r in readies)
        secs = (t1 - t0) / 1e9
        rate = ok / secs if secs > 0 else math.nan
        if any(r.get("over_deadline") for r in readies):
            raise OverBudget(
                f"connect+join of {n} not done within {deadline_s:.0f}s ({ok} joined, "
                f"{rate:.0f}/s)", [{"connect_join_per_s": rate, "joined": ok}])
        return subs, {"ok": ok, "failed": n - ok, "errors": errors, "connect_s": secs,
                      "connect_join_per_s": rate}


class OverBudget(BenchError):
    """A phase that did not finish within its time budget; carries the results so far."""

    def __init__(self, reason: str, results: list[dict[str, Any]]) -> None:
        super().__init__(reason)
        self.results = results


def _run_rounds(env: Env, scenario: str, case: str, spec: ServerSpec, processes: int,
                one: Callable[[Round], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Runs ``one`` in ``processes`` fresh server processes; returns all per-round results.

    A failure is recorded as ``{"error": reason}`` in the returned list and ends the series.
    """
    results: list[dict[str, Any]] = []
    for i in range(processes):
        label = f"{scenario}-{case}-p{i}"
        t0 = time.monotonic()
        status = "ok"
        failed = False
        try:
            with Round(env, spec, label) as rnd:
                results.extend(one(rnd))
        except OverBudget as exc:
            results.extend(exc.results)
            results.append({"error": str(exc)[:400]})
            status, failed = f"OVER BUDGET {exc}"[:300], True
        except BenchError as exc:
            results.append({"error": str(exc)[:400]})
            status, failed = f"FAILED {exc}"[:300], True
        except Exception as exc:
            results.append({"error": f"{type(exc).__name__}: {exc}"[:400]})
            status, failed = f"FAILED {type(exc).__name__}: {exc}"[:300], True
        env.progress(f"  {scenario} {case} {spec.name} process {i + 1}/{processes}: {status} "
                     f"({time.monotonic() - t0:.1f}s)")
        if failed:
            break
    return results


def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in results if "error" not in r]
    errors = [r["error"] for r in results if "error" in r]
    merged = merge_rounds(good) if good else {}
    if errors:
        merged["error"] = errors[0]
    return merged


# -- fanout ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FanoutCase:
    n: int
    m: int
    paced: int
    burst_budget_s: float
    paced_budget_s: float
    connect_budget_s: float

    @property
    def label(self) -> str:
        return f"N={self.n}"


def fanout_cases(quick: bool) -> list[FanoutCase]:
    if quick:
        return [FanoutCase(1000, 5, 5, 4.0, 3.0, 6.0), FanoutCase(5000, 2, 3, 4.0, 3.0, 15.0)]
    return [FanoutCase(1000, 50, 20, 30.0, 20.0, 60.0),
            FanoutCase(5000, 20, 20, 60.0, 30.0, 120.0),
            FanoutCase(15_000, 10, 10, 90.0, 40.0, 240.0)]


def fanout_measure(rnd: Round, case: FanoutCase, n: int, subs: list[Worker], ctl: Worker
                   ) -> dict[str, Any]:
    """One measurement on joined subscribers: a burst of M, then L paced broadcasts."""
    server = rnd.server
    assert server is not None
    for w in subs:
        w.send(cmd="expect", m=case.m, timeout=case.burst_budget_s)
    for w in subs:
        w.wait("armed", 10.0)
    s_cpu0, l_cpu0, busy0 = server.cpu_s(), rnd.load_cpu_s(), machine_busy_s()
    ctl.send(cmd="go", m=case.m, size=PAYLOAD_SIZE, timeout=case.burst_budget_s)
    gots = [w.wait("got", case.burst_budget_s + 15) for w in subs]
    went = ctl.wait("went", case.burst_budget_s + 15)
    s_cpu1, l_cpu1, busy1 = server.cpu_s(), rnd.load_cpu_s(), machine_busy_s()
    frames = sum(g["frames"] for g in gots)
    burst = fanout_burst(n, case.m, went["t_send"], [g["last"] for g in gots], frames)
    server.check_alive()
    server_cpu_s = s_cpu1 - s_cpu0
    load_cpu_s = l_cpu1 - l_cpu0
    out: dict[str, Any] = {
        "delivered_per_s": burst["delivered_per_s"],
        "burst_s": burst["burst_s"],
        "delivered_fraction": burst["delivered_fraction"],
        "server_cpu_s": server_cpu_s,
        "load_cpu_s": load_cpu_s,
        "server_cpu_us_per_msg": server_cpu_s * 1e6 / frames if frames else math.nan,
        "foreign_cpu_s": max(0.0, (busy1 - busy0) - server_cpu_s - load_cpu_s),
    }
    complete = sum(g["complete"] for g in gots)
    if complete < n:
        raise OverBudget(
            f"burst of {case.m} to {n} not delivered within {case.burst_budget_s:.0f}s "
            f"({100 * burst['delivered_fraction']:.0f}% delivered); latency not measured",
            [out])
    # Paced: one broadcast at a time, spaced by 1.5x this server's own broadcast time.
    one_s = n / (burst["delivered_per_s"] or 1.0)
    gap = min(2.0, max(0.01, 0.5 * one_s))
    count = max(1, min(case.paced, int(case.paced_budget_s / (gap + 1.5 * one_s))))
    for w in subs:
        w.send(cmd="expect", m=count, timeout=case.paced_budget_s + 5)
    for w in subs:
        w.wait("armed", 10.0)
    ctl.send(cmd="paced", l=count, gap_s=gap, size=PAYLOAD_SIZE, timeout=case.paced_budget_s + 5)
    pgots = [w.wait("got", case.paced_budget_s + 20) for w in subs]
    pwent = ctl.wait("went", case.paced_budget_s + 20)
    lat = fanout_latencies_us(pwent["ts"], [g["last"] for g in pgots])
    out.update({"p50_us": percentile(lat, 50), "p99_us": percentile(lat, 99),
                "latency_samples": len(lat)})
    return out


def fanout_round(rnd: Round, case: FanoutCase, reps: int) -> list[dict[str, Any]]:
    """A fresh server, N subscribers connected and joined, then ``reps`` measurements."""
    server = rnd.start_server()
    rss0 = server.rss_kib()
    ctl = rnd.worker("ctl", timeout=20.0)
    ctl.wait("ready", 30.0)
    subs, conn = rnd.connect_subs(case.n, case.connect_budget_s)
    server.check_alive()
    if conn["ok"] == 0:
        raise BenchError(f"no subscriber joined: {conn['errors']}")
    time.sleep(0.2)
    n = conn["ok"]
    common = {"rss_per_conn_kib": (server.rss_kib() - rss0) / n,
              "connect_join_per_s": conn["connect_join_per_s"], "joined": n}
    results: list[dict[str, Any]] = []
    for _ in range(reps):
        try:
            results.append({**fanout_measure(rnd, case, n, subs, ctl), **common})
        except OverBudget as exc:
            raise OverBudget(str(exc), results + [{**r, **common} for r in exc.results])
    return results


def run_fanout(env: Env, doc: dict[str, Any]) -> None:
    """Quick: rounds share one server process; full: a fresh server process per round."""
    processes, reps = (1, env.rounds) if env.quick else (env.rounds, 1)
    for case in fanout_cases(env.quick):
        for spec in env.servers:
            if not spec.runs("fanout"):
                continue
            env.progress(f"fanout {case.label} {spec.name}: N={case.n} M={case.m}")
            results = _run_rounds(env, "fanout", case.label, spec, processes,
                                  functools.partial(fanout_round, case=case, reps=reps))
            merged = _merge(results)
            merged["m"] = case.m
            put(doc, "fanout", case.label, spec.name, merged)


# -- capacity --------------------------------------------------------------------------------

def capacity_target(quick: bool, hard_limit: int) -> int:
    """How many connections to attempt: the file limit less headroom for the server's own fds."""
    return 2000 if quick else max(1000, hard_limit - 300)


def capacity_round(rnd: Round, n: int, deadline_s: float) -> list[dict[str, Any]]:
    server = rnd.start_server()
    time.sleep(0.2)
    rss0 = server.rss_kib()
    s_cpu0 = server.cpu_s()
    _subs, conn = rnd.connect_subs(n, deadline_s)
    time.sleep(0.5)
    server.check_alive()
    rss1 = server.rss_kib()
    held = conn["ok"]
    out: dict[str, Any] = {
        "held_conns": held,
        "failed_conns": conn["failed"],
        "rss_per_conn_kib": (rss1 - rss0) / held if held else math.nan,
        "connect_join_per_s": conn["connect_join_per_s"],
        "server_rss_mib": rss1 / 1024,
        "server_cpu_s": server.cpu_s() - s_cpu0,
        "load_cpu_s": rnd.load_cpu_s(),
    }
    if conn["errors"]:
        out["connect_errors"] = json.dumps(dict(list(conn["errors"].items())[:3]))
    return [out]


def serve_workers_supported() -> bool:
    """Whether ``python -m channels serve`` has a ``--workers`` option (clustering)."""
    try:
        res = subprocess.run([sys.executable, "-m", "channels", "serve", "--help"],
                             capture_output=True, text=True, cwd=str(ROOT), timeout=60)
    except (subprocess.SubprocessError, OSError):
        return False
    return "--workers" in res.stdout


def workers_spec(workers: int) -> ServerSpec:
    """otp-channels started by ``serve --workers`` (one listening port, several processes)."""
    return ServerSpec(
        OTP, "phoenix",
        lambda port: [sys.executable, "-m", "channels", "serve",
                      "bench.servers.otp_channels_server:Endpoint", "--port", str(port),
                      "--workers", str(workers), "--no-control"],
        str(ROOT),
        f"otp-channels serve --workers {workers} --redis-url (a local redis-server; not "
        "pinned; RSS and CPU summed over the workers)",
        peer=False, multi_process=True, needs_redis=True,
        # Several workers need one stable secret key base (serve refuses to start without it).
        env={**os.environ, "OTP_CHANNELS_SECRET_KEY_BASE": secrets.token_urlsafe(48)},
    )


def run_capacity(env: Env, doc: dict[str, Any], hard_limit: int) -> None:
    n = capacity_target(env.quick, hard_limit)
    deadline = 20.0 if env.quick else 240.0
    servers = [s for s in env.servers if s.runs("capacity")]
    cases: list[tuple[str, int, list[ServerSpec]]] = [(f"N={n}", n, servers)]
    if any(s.name == OTP for s in env.servers):
        if serve_workers_supported():
            cases.append((f"N={2 * n} workers=2", 2 * n, [workers_spec(2)]))
        else:
            env.progress("capacity: `channels serve --workers` not available yet; "
                         "the multi-process case is skipped")
    for label, count, specs in cases:
        for spec in specs:
            env.progress(f"capacity {label} {spec.name}")
            results = _run_rounds(env, "capacity", label, spec, env.rounds,
                                  functools.partial(capacity_round, n=count,
                                                    deadline_s=deadline * count / n))
            merged = _merge(results)
            errs = [r["connect_errors"] for r in results if "connect_errors" in r]
            if errs:
                merged["connect_errors"] = errs[0]
            put(doc, "capacity", label, spec.name, merged)


# -- roundtrip -------------------------------------------------------------------------------

ROUNDTRIP_CLIENTS = (1, 100)


def roundtrip_round(rnd: Round, duration_s: float, warmup_s: float) -> list[dict[str, Any]]:
    """A fresh server; each client count in turn (1, then 100 clients) pushing and awaiting."""
    server = rnd.start_server()
    out: dict[str, Any] = {}
    for clients in ROUNDTRIP_CLIENTS:
        # One client shares the server's CPU (no cross-CPU wake-ups in its latency);
        # 100 clients are load, on the load CPU like every other scenario's.
        cpu = server_cpu() if clients == 1 else "load"
        w = rnd.worker("rt", cpu=cpu, n=clients, src="127.0.0.2", concurrency=50,
                       timeout=20.0, size=PAYLOAD_SIZE)
        ready = w.wait("ready", 60.0)
        if ready["ok"] != clients:
            raise BenchError(f"only {ready['ok']}/{clients} clients joined: {ready['errors']}")
        s_cpu0, l_cpu0 = server.cpu_s(), w.cpu_s()
        w.send(cmd="run", duration_s=duration_s, warmup_s=warmup_s)
        res = w.wait("rt", duration_s + warmup_s + 30)
        server.check_alive()
        out[f"clients={clients}"] = {
            "requests_per_s": res["count"] / duration_s,
            "p50_us": res["p50_ns"] / 1e3,
            "p99_us": res["p99_ns"] / 1e3,
            "p999_us": res["p999_ns"] / 1e3,
            "errors": res["errors"],
            "server_cpu_s": server.cpu_s() - s_cpu0,
            "load_cpu_s": w.cpu_s() - l_cpu0,
        }
        w.stop()
    return [out]


def run_roundtrip(env: Env, doc: dict[str, Any]) -> None:
    duration, warmup = (1.0, 0.3) if env.quick else (5.0, 1.0)
    for spec in env.servers:
        if not spec.runs("roundtrip"):
            continue
        env.progress(f"roundtrip {spec.name}")
        results = _run_rounds(env, "roundtrip", "all", spec, env.rounds,
                              functools.partial(roundtrip_round, duration_s=duration,
                                                warmup_s=warmup))
        errors = [r["error"] for r in results if "error" in r]
        for clients in ROUNDTRIP_CLIENTS:
            label = f"clients={clients}"
            per = [r[label] for r in results if label in r]
            merged = merge_rounds(per) if per else {}
            if errors:
                merged["error"] = errors[0]
            put(doc, "roundtrip", label, spec.name, merged)


# -- otp micro-benchmarks --------------------------------------------------------------------

def run_otp(env: Env, doc: dict[str, Any]) -> None:
    """Runs ``bench.otp_micro`` for our runtime and for plain Trio, a fresh process per round."""
    for impl, server_name in (("otp", OTP), ("trio", "trio")):
        per_case: dict[str, list[dict[str, Any]]] = {}
        errors: list[str] = []
        for i in range(env.rounds):
            wait_quiet(env.quiet_wait_s)
            argv = [sys.executable, "-m", "bench.otp_micro", impl] + (["--quick"] if env.quick
                                                                       else [])
            cpu = server_cpu()
            pre = None
            if cpu is not None:
                def pre(c: int = cpu) -> None:
                    import os
                    os.sched_setaffinity(0, {c})
            try:
                res = subprocess.run(argv, capture_output=True, text=True, cwd=str(ROOT),
                                     timeout=120, preexec_fn=pre)
            except subprocess.TimeoutExpired:
                errors.append(f"{impl} micro-benchmarks timed out after 120s")
                continue
            if res.returncode != 0:
                errors.append(f"{impl} micro-benchmarks failed: {res.stderr.strip()[-400:]}")
                break
            data = json.loads(res.stdout)
            for case, metrics in data.items():
                per_case.setdefault(case, []).append(metrics)
            env.progress(f"  otp {impl} round {i + 1}/{env.rounds}: ok")
        if not per_case:
            put(doc, "otp", "all", server_name, {"error": errors[0] if errors else "no result"})
            continue
        for case, rounds in per_case.items():
            merged = merge_rounds(rounds)
            if errors:
                merged["error"] = errors[0]
            put(doc, "otp", case, server_name, merged)


def summarize_profiles(profile_dir: Path, top: int = 30) -> Path | None:
    """Merges the ``.prof`` files of a profiled run into a text summary; returns its path."""
    import io
    import pstats

    files = sorted(str(p) for p in profile_dir.glob("*.prof"))
    if not files:
        return None
    out = io.StringIO()
    stats = pstats.Stats(files[0], stream=out)
    for f in files[1:]:
        stats.add(f)
    stats.strip_dirs()
    out.write(f"# {len(files)} profiled fan-out burst(s) of otp-channels (cProfile)\n")
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    path = profile_dir / "profile-otp-channels.txt"
    path.write_text(out.getvalue())
    return path


def peer_python_or_reason(logs: Path) -> tuple[str | None, str | None]:
    """Ensures ``.bench-venv``; returns (python, None) or (None, why it is unavailable)."""
    try:
        return str(_peers.ensure(logs / "bench-venv-setup.log")), None
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return None, str(exc)


def select(specs: Sequence[ServerSpec], names: Sequence[str] | None) -> list[ServerSpec]:
    if not names:
        return list(specs)
    return [s for s in specs if s.name in names]
