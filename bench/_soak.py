"""The soak scenario: many joined connections under a steady broadcast and churn, for a while.

``python -m bench soak`` starts the otp-channels bench server (``serve --workers N`` with a
local Redis for N > 1), joins ``--connections`` subscribers (load processes of at most
``MAX_SOCKETS_PER_LOAD_PROC`` each), then for ``--duration`` seconds broadcasts ``--rate``
numbered messages a second from one more connection while ``--churn`` subscribers a second
leave (close frame) and as many new ones join. Every ``--sample-every`` seconds it samples the
server: RSS, open fds, OS processes and (one worker) the node's process count.

Delivery completeness: each subscriber records when its join was acknowledged and the
numbers of the broadcasts it got (frames of one socket arrive in order: first, last, skips).
The server stamps each broadcast with its send time; every message sent after a
subscriber's join (and, for one that left, more than ``GRACE_S`` before it left) must have
reached it. ``lost`` counts those that did not (0 is the only good answer).
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench._proc import BenchError, group_pids
from bench._results import OTP, put
from bench._scenarios import Env, Round, serve_workers_supported, shards, workers_spec

#: A subscriber that left need not have the messages sent in its last seconds.
GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class SoakConfig:
    connections: int = 19_000
    duration_s: float = 600.0
    workers: int = 1
    rate: float = 1.0
    churn_per_s: float = 5.0
    sample_every_s: float = 10.0
    size: int = 100


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _otp_processes(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/stats", timeout=5) as resp:
            value = json.loads(resp.read()).get("otp_processes")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int) else None


def sample(rnd: Round, t0: float, multi_process: bool) -> dict[str, Any]:
    """One sample of the server: RSS (MiB), fds, OS processes, the node's processes."""
    server = rnd.server
    assert server is not None
    pids = group_pids(server.pid) if multi_process else [server.pid]
    return {
        "t_s": round(time.monotonic() - t0, 1),
        "rss_mib": round(server.rss_kib() / 1024, 1),
        "fds": sum(_fds(p) for p in pids),
        "os_processes": len(pids),
        "otp_processes": None if multi_process else _otp_processes(server.port),
    }


def soak_round(rnd: Round, cfg: SoakConfig, multi_process: bool) -> dict[str, Any]:
    env = rnd.env
    server = rnd.start_server()
    t0 = time.monotonic()
    samples = [sample(rnd, t0, multi_process)]
    deadline = max(60.0, cfg.connections / 100)
    parts = shards(cfg.connections)
    subs = [rnd.worker("soak", n=count, src=src, concurrency=100, timeout=20.0,
                       deadline_s=deadline) for count, src in parts]
    readies = [w.wait("ready", deadline + 30) for w in subs]
    joined = sum(r["ok"] for r in readies)
    env.progress(f"  soak: {joined}/{cfg.connections} joined in {time.monotonic() - t0:.1f}s")
    ctl = rnd.worker("soak_ctl", n=1, src="127.0.0.1", timeout=20.0)
    if not ctl.wait("ready", 60)["ok"]:
        raise BenchError("the broadcasting connection could not join")
    samples.append(sample(rnd, t0, multi_process))
    t_start = time.monotonic()
    for w in subs:
        w.send(cmd="churn", per_s=cfg.churn_per_s / len(subs), duration_s=cfg.duration_s)
    ctl.send(cmd="broadcast", rate=cfg.rate, duration_s=cfg.duration_s, size=cfg.size)
    next_at = t_start + cfg.sample_every_s
    while next_at < t_start + cfg.duration_s:
        time.sleep(max(0.0, next_at - time.monotonic()))
        server.check_alive()
        samples.append(sample(rnd, t0, multi_process))
        s = samples[-1]
        env.progress(f"  soak t={s['t_s']}s rss={s['rss_mib']} MiB fds={s['fds']} "
                     f"processes={s['otp_processes']}")
        next_at += cfg.sample_every_s
    went = ctl.wait("broadcast", cfg.duration_s + 90)
    ts: list[int] = went["ts"]
    missing_stamps = sum(1 for t in ts if not t)
    for w in subs:
        w.send(cmd="finish", ts=ts, grace_s=GRACE_S, timeout=30.0)
    done = [w.wait("soaked", 120) for w in subs]
    samples.append(sample(rnd, t0, multi_process))
    server.check_alive()
    rss = [s["rss_mib"] for s in samples]
    # RSS after warm-up: from the first sample taken once the broadcast and churn ran a while.
    warm = [s["rss_mib"] for s in samples[2:]] or rss
    churn_errors: dict[str, int] = {}
    for d in done:
        for k, v in d["churn_errors"].items():
            churn_errors[k] = churn_errors.get(k, 0) + v
    out: dict[str, Any] = {
        "connections": cfg.connections,
        "held_conns": sum(d["held"] for d in done),
        "joined_at_start": joined,
        "duration_s": cfg.duration_s,
        "broadcasts": went["sent"],
        "churned": sum(d["left"] for d in done),
        "rejoined": sum(d["opened"] for d in done),
        "expected": sum(d["expected"] for d in done),
        "lost": sum(d["lost"] for d in done) + missing_stamps * sum(d["held"] for d in done),
        "lost_conns": sum(d["lost_conns"] for d in done),
        "closed_by_server": sum(d["closed_by_server"] for d in done),
        "frames": sum(d["frames"] for d in done),
        "rss_mib_first": warm[0],
        "rss_mib_last": warm[-1],
        "rss_mib_max": max(rss),
        "fds_max": max(s["fds"] for s in samples),
        "os_processes_max": max(s["os_processes"] for s in samples),
        "otp_processes_max": max((s["otp_processes"] or 0) for s in samples) or math.nan,
        "load_cpu_s": rnd.load_cpu_s(),
        "server_cpu_s": server.cpu_s(),
        "samples": samples,
    }
    if churn_errors:
        out["churn_errors"] = json.dumps(dict(list(churn_errors.items())[:3]))
    if missing_stamps:
        out["error"] = f"{missing_stamps} broadcasts never came back to the broadcaster"
    return out


def samples_table(samples: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["t_s", "rss_mib", "fds", "os_processes", "otp_processes"]]
    rows += [[str(s[k]) if s[k] is not None else "—" for k in rows[0]] for s in samples]
    return rows


def run_soak(env: Env, doc: dict[str, Any], cfg: SoakConfig) -> None:
    if cfg.workers > 1:
        if not serve_workers_supported():
            raise SystemExit("soak --workers N needs `channels serve --workers`")
        spec = workers_spec(cfg.workers)
    else:
        spec = next(s for s in env.servers if s.name == OTP)
    case = (f"N={cfg.connections} workers={cfg.workers} {cfg.duration_s:g}s "
            f"rate={cfg.rate:g}/s churn={cfg.churn_per_s:g}/s")
    env.progress(f"soak {case}")
    t0 = time.monotonic()
    try:
        with Round(env, spec, "soak") as rnd:
            result = soak_round(rnd, cfg, spec.multi_process)
    except BenchError as exc:
        result = {"error": str(exc)[:400]}
    env.progress(f"  soak done ({time.monotonic() - t0:.1f}s)")
    put(doc, "soak", case, OTP, result)

