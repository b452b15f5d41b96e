"""Command line of the bench: runs scenarios, prints tables, writes the JSON document."""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench import _cluster, _peers, _scenarios, _soak
from bench._proc import cpu_count, load_cpu, raise_nofile_limit, server_cpu
from bench._results import NOT_IN_ALL, REFERENCES, SCENARIOS, SERVERS, add_ratios, table_rows, text_table

LOG_ROOT = _scenarios.ROOT / "bench" / "reports"


def machine() -> dict[str, Any]:
    """A short description of the machine the run happened on."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "usable_cpus": cpu_count(),
                            "kernel": platform.release(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
        info["ip_local_port_range"] = Path(
            "/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except OSError:
        pass
    return info


def our_versions() -> dict[str, str]:
    out: dict[str, str] = {"python": platform.python_version()}
    for name in ("otp-channels", "trio", "wsproto", "h11", "orjson", "trio-websocket"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("scenario", choices=[*SCENARIOS, "all"])
    p.add_argument("--quick", action="store_true",
                   help="small sizes and short phases (each scenario under 90 s)")
    p.add_argument("--json", metavar="FILE", help="write the results document to FILE")
    p.add_argument("--rounds", type=int, default=3, help="rounds per case (default 3)")
    p.add_argument("--servers", default="",
                   help=f"comma-separated subset of {', '.join(SERVERS + REFERENCES)} (default: all; "
                        "the trio-* reference floors run in roundtrip only)")
    p.add_argument("--profile", action="store_true",
                   help="run otp-channels under cProfile and write a summary of where the time "
                        "goes (its figures are then not comparable)")
    p.add_argument("--no-peers", action="store_true",
                   help="do not create or use .bench-venv (otp-channels only)")
    soak = p.add_argument_group("soak (otp-channels only; not part of `all`)")
    soak.add_argument("--connections", type=int, default=19_000,
                      help="joined connections to hold (default 19,000)")
    soak.add_argument("--duration", type=float, default=600.0,
                      help="seconds of broadcast and churn (default 600)")
    soak.add_argument("--workers", type=int, default=1,
                      help="server processes (`serve --workers N` with a local Redis when N > 1; default 1)")
    soak.add_argument("--rate", type=float, default=1.0, help="broadcasts a second (default 1)")
    soak.add_argument("--churn", type=float, default=5.0,
                      help="connections a second that leave, each replaced by a new one (default 5)")
    soak.add_argument("--sample-every", type=float, default=10.0,
                      help="seconds between samples of the server (default 10)")
    return p.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    t_start = time.monotonic()
    hard = raise_nofile_limit()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = LOG_ROOT / stamp
    logs.mkdir(parents=True, exist_ok=True)
    names = [s.strip() for s in args.servers.split(",") if s.strip()]

    peer_python: str | None = None
    unavailable: dict[str, str] = {}
    wants_peers = args.scenario not in ("otp", "cluster", "soak") and not args.no_peers and (
        not names or any(n != "otp-channels" for n in names))
    if wants_peers:
        peer_python, why = _scenarios.peer_python_or_reason(logs)
        if why:
            for n in SERVERS[1:]:
                unavailable[n] = f".bench-venv unavailable: {why}"
    profile_dir = logs / "profiles" if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    specs = _scenarios.select(_scenarios.server_specs(peer_python, profile_dir), names)
    load_python = peer_python or (
        str(_peers.python()) if _peers.python().exists() and not args.no_peers
        else sys.executable)
    env = _scenarios.Env(quick=args.quick, rounds=max(1, args.rounds), logs=logs,
                         load_python=load_python, servers=specs, unavailable=unavailable,
                         quiet_wait_s=0.3 if args.quick else 3.0)

    doc: dict[str, Any] = {}
    scenarios = [s for s in SCENARIOS if s not in NOT_IN_ALL] if args.scenario == "all" else [args.scenario]
    for scenario in scenarios:
        if scenario == "fanout":
            _scenarios.run_fanout(env, doc)
        elif scenario == "capacity":
            _scenarios.run_capacity(env, doc, hard)
        elif scenario == "roundtrip":
            _scenarios.run_roundtrip(env, doc)
        elif scenario == "otp":
            _scenarios.run_otp(env, doc)
        elif scenario == "cluster":
            if not names or "otp-channels" in names:
                _cluster.run_cluster(env, doc)
            continue  # otp-channels only: no peer rows
        elif scenario == "soak":
            _soak.run_soak(env, doc, _soak.SoakConfig(
                connections=args.connections, duration_s=args.duration, workers=args.workers,
                rate=args.rate, churn_per_s=args.churn, sample_every_s=args.sample_every))
            continue
        for case in doc.get(scenario, {}).values():
            for name, why in unavailable.items():
                if not names or name in names:
                    case.setdefault(name, {"error": why})
    add_ratios(doc)
    profile_summary = _scenarios.summarize_profiles(profile_dir) if profile_dir else None
    doc["meta"] = {
        "command": "python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "date_utc": stamp,
        "wall_s": round(time.monotonic() - t_start, 1),
        "quick": args.quick,
        "rounds": env.rounds,
        "machine": machine(),
        "pinning": {"server_cpu": server_cpu(), "load_cpu": load_cpu()},
        "nofile_hard_limit": hard,
        "versions": {"otp-channels": our_versions(), "peers": _peers.versions()},
        "servers": {s.name: s.config for s in specs},
        "load_generator": f"bench/loadgen.py on {load_python} (uvloop when importable)",
        "logs": str(logs),
        "profiled": bool(profile_dir),
    }
    if "cluster" in doc:
        doc["meta"]["servers"][_cluster.CLUSTER] = _cluster.CLUSTER_CONFIG
    if profile_summary is not None:
        doc["meta"]["profile_summary"] = str(profile_summary)
    for scenario in scenarios:
        if scenario in doc:
            print(f"\n== {scenario}" + (" (quick)" if args.quick else ""))
            print(text_table(table_rows(scenario, doc[scenario])))
            if scenario == "soak":
                for case in doc[scenario].values():
                    if "samples" in case.get("otp-channels", {}):
                        print("\nserver over time:")
                        print(text_table(_soak.samples_table(case["otp-channels"]["samples"])))
    print(f"\nwall time {doc['meta']['wall_s']} s; logs in {logs}")
    if profile_summary is not None:
        print(f"profile of otp-channels: {profile_summary}")
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        print(f"wrote {args.json}")
    return 0
