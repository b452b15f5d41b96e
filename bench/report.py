"""Renders the Markdown tables of BENCHMARKS.md from a ``python -m bench --json FILE`` document.

Usage: ``python -m bench.report FILE [FILE ...]``: prints Markdown to stdout (several files are
merged, later ones overriding earlier ones per scenario), ready to paste into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench._results import SCENARIOS, add_ratios, markdown_table, table_rows

TITLES = {
    "fanout": "Fan-out: delivered messages/s, one topic, ~100-byte payload, server on one CPU",
    "capacity": "Capacity: joined connections held by one server process",
    "roundtrip": "Round trip: clients each pushing and awaiting the reply",
    "otp": "Runtime micro-benchmarks: otp beside plain Trio",
    "cluster": "Cluster: fan-out to subscribers on two nodes through Redis, beside one node",
    "soak": "Soak: joined connections under a steady broadcast and churn (RSS, fds, processes, losses)",
}


def merge_documents(docs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merges documents per scenario, case and server (later documents win); ratios are
    recomputed; the metas are kept as a list."""
    out: dict[str, Any] = {}
    metas: list[Any] = []
    for doc in docs:
        for key, value in doc.items():
            if key == "meta":
                metas.append(value)
                continue
            for case, servers in value.items():
                for server, metrics in servers.items():
                    clean = {k: v for k, v in metrics.items() if not k.endswith("_ratio")}
                    out.setdefault(key, {}).setdefault(case, {})[server] = clean
    add_ratios(out)
    out["meta"] = metas
    return out


def render(doc: Mapping[str, Any]) -> str:
    """Markdown for every scenario present, then the run metadata."""
    parts: list[str] = []
    for scenario in SCENARIOS:
        cases = doc.get(scenario)
        if not cases:
            continue
        parts.append(f"### {TITLES[scenario]}\n")
        parts.append(markdown_table(table_rows(scenario, cases)))
        parts.append("\nCells: median over rounds (min..max). `ratio M`: metric M of the peer "
                     "÷ the same metric of otp-channels.\n")
    metas = doc.get("meta", [])
    if isinstance(metas, Mapping):
        metas = [metas]
    for meta in metas:
        parts.append(render_meta(meta))
    return "\n".join(parts)


def render_meta(meta: Mapping[str, Any]) -> str:
    lines = [f"#### Run `{meta.get('command', '?')}` ({meta.get('date_utc', '?')}, "
             f"{meta.get('wall_s', '?')} s)\n"]
    m = meta.get("machine", {})
    lines.append(f"- Machine: {m.get('cpu_model', '?')}, {m.get('cpus', '?')} CPUs, "
                 f"{m.get('mem_gib', '?')} GiB, kernel {m.get('kernel', '?')}, Python "
                 f"{m.get('python', '?')}; open-file hard limit {meta.get('nofile_hard_limit')}")
    pin = meta.get("pinning", {})
    lines.append(f"- Server pinned to CPU {pin.get('server_cpu')}, load generators to CPU "
                 f"{pin.get('load_cpu')}; rounds: {meta.get('rounds')}"
                 + (" (quick: rounds share one server process)" if meta.get("quick") else ""))
    versions = meta.get("versions", {})
    for who, vs in versions.items():
        if vs:
            lines.append(f"- Versions ({who}): "
                         + ", ".join(f"{k} {v}" for k, v in sorted(vs.items())))
    for name, cfg in meta.get("servers", {}).items():
        lines.append(f"- `{name}`: {cfg}")
    lines.append(f"- Load: {meta.get('load_generator', '?')}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    docs = [json.loads(p.read_text()) for p in args.files]
    print(render(merge_documents(docs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
