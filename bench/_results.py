"""Pure result arithmetic for the bench: per-round metrics, medians over rounds, ratios, JSON shape.

No I/O here, so the smoke tests can check it without starting anything. The JSON document is
shaped ``{scenario: {case_label: {server: {metric: value}}}}`` plus a ``"meta"`` entry (versions,
machine, command, configuration). Every numeric per-round metric ``x`` becomes ``x`` (median over
rounds), ``x_min`` and ``x_max``; a peer's entry also gets ``x_ratio`` = peer ÷ otp-channels for
the scenario's headline metrics.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

OTP = "otp-channels"
SERVERS = ("otp-channels", "websockets", "python-socketio", "django-channels")
#: Reference floors (roundtrip only): bare Trio echo servers, not peers.
REFERENCES = ("trio-echo", "trio-hop")
SCENARIOS = ("fanout", "capacity", "roundtrip", "otp", "cluster", "soak")
#: Scenarios that ``all`` leaves out (long by design: run them by name).
NOT_IN_ALL = frozenset({"soak"})

#: Headline metrics per scenario: those that get a ``_ratio`` and a column in the tables.
HEADLINE: dict[str, tuple[str, ...]] = {
    "fanout": ("delivered_per_s", "p50_us", "p99_us", "rss_per_conn_kib",
               "connect_join_per_s", "server_cpu_s", "load_cpu_s"),
    "capacity": ("held_conns", "rss_per_conn_kib", "connect_join_per_s", "server_rss_mib",
                 "server_cpu_s", "load_cpu_s"),
    "roundtrip": ("requests_per_s", "p50_us", "p99_us", "server_cpu_s", "load_cpu_s"),
    "otp": ("per_s", "us_per_op", "bytes_per_process"),
    "cluster": ("delivered_per_s", "a_delivered_per_s", "b_delivered_per_s", "a_p50_us",
                "a_p99_us", "b_p50_us", "b_p99_us", "a_cpu_s", "b_cpu_s", "redis_cpu_s",
                "load_cpu_s"),
    "soak": ("held_conns", "broadcasts", "churned", "expected", "lost", "closed_by_server",
             "rss_mib_first", "rss_mib_last", "rss_mib_max", "fds_max", "os_processes_max",
             "otp_processes_max", "server_cpu_s"),
}

#: The metric whose ratio to otp-channels the tables show, per scenario (first one present).
RATIO_COLUMN: dict[str, tuple[str, ...]] = {
    "fanout": ("delivered_per_s",),
    "capacity": ("rss_per_conn_kib",),
    "roundtrip": ("requests_per_s",),
    "otp": ("per_s", "bytes_per_process"),
    "cluster": ("delivered_per_s",),
    "soak": ("lost",),
}

#: Metrics for which a higher value is better (the rest: lower is better).
HIGHER_IS_BETTER = frozenset(
    {"delivered_per_s", "connect_join_per_s", "held_conns", "requests_per_s", "per_s",
     "a_delivered_per_s", "b_delivered_per_s"}
)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of unsorted ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def fanout_burst(n_subs: int, m: int, t_send_ns: int, lasts: Iterable[Sequence[int]],
                 frames: int) -> dict[str, float]:
    """Throughput of one burst: ``m`` broadcasts to ``n_subs`` subscribers.

    Args:
        n_subs: subscribers that were joined when the burst started.
        m: broadcasts in the burst.
        t_send_ns: monotonic time at which the trigger was sent.
        lasts: per load process, for each broadcast k the monotonic time at which its last
            subscriber in that process received it (0 if some never did).
        frames: broadcast frames received in all, by all subscribers.

    Returns:
        ``delivered_per_s`` (frames ÷ seconds from the trigger to the last receipt),
        ``burst_s`` and ``delivered_fraction``.
    """
    last_any = 0
    for per_proc in lasts:
        for t in per_proc:
            last_any = max(last_any, t)
    elapsed = (last_any - t_send_ns) / 1e9 if last_any > t_send_ns else math.nan
    expected = n_subs * m
    return {
        "delivered_per_s": frames / elapsed if elapsed and elapsed > 0 else 0.0,
        "burst_s": elapsed,
        "delivered_fraction": frames / expected if expected else math.nan,
    }


def fanout_latencies_us(ts_ns: Sequence[int], lasts: Iterable[Sequence[int]]) -> list[float]:
    """Per broadcast k: receipt by the last subscriber (all processes) minus its send stamp.

    A broadcast that some process never completed (a 0 entry) yields no sample.
    """
    per_k: list[int] = [0] * len(ts_ns)
    missing = [False] * len(ts_ns)
    for per_proc in lasts:
        for k, t in enumerate(per_proc[: len(ts_ns)]):
            if t == 0:
                missing[k] = True
            per_k[k] = max(per_k[k], t)
    return [(per_k[k] - ts_ns[k]) / 1e3 for k in range(len(ts_ns))
            if not missing[k] and ts_ns[k] and per_k[k]]


def merge_rounds(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Median, min and max over rounds of every numeric metric (NaN samples are skipped)."""
    out: dict[str, Any] = {"rounds": len(rounds)}
    keys: list[str] = []
    for r in rounds:
        for k in r:
            if k not in keys:
                keys.append(k)
    for key in keys:
        vals = [float(r[key]) for r in rounds
                if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)
                and not math.isnan(float(r[key]))]
        if not vals:
            continue
        out[key] = _tidy(statistics.median(vals))
        if len(vals) > 1:
            out[key + "_min"] = _tidy(min(vals))
            out[key + "_max"] = _tidy(max(vals))
    return out


def _tidy(v: float) -> float:
    if math.isnan(v) or math.isinf(v):
        return v
    if abs(v) >= 100:
        return round(v, 1)
    return round(v, 4)


def add_ratios(doc: dict[str, Any]) -> dict[str, Any]:
    """Adds ``<metric>_ratio`` (peer ÷ otp-channels) to every peer entry, in place; returns doc."""
    for scenario, cases in doc.items():
        if scenario == "meta" or not isinstance(cases, dict):
            continue
        for servers in cases.values():
            base = servers.get(OTP) if isinstance(servers, dict) else None
            if not isinstance(base, dict):
                continue
            for name, metrics in servers.items():
                if name == OTP or not isinstance(metrics, dict):
                    continue
                for key in HEADLINE.get(scenario, ()):
                    a, b = metrics.get(key), base.get(key)
                    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
                        metrics[key + "_ratio"] = round(a / b, 3)
    return doc


def put(doc: dict[str, Any], scenario: str, case: str, server: str,
        metrics: Mapping[str, Any]) -> None:
    """Stores one server's merged metrics at ``doc[scenario][case][server]``."""
    doc.setdefault(scenario, {}).setdefault(case, {})[server] = dict(metrics)


def fmt(v: Any) -> str:
    """Compact human formatting for a table cell."""
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}"
    return str(v)


def table_rows(scenario: str, cases: Mapping[str, Mapping[str, Mapping[str, Any]]]
               ) -> list[list[str]]:
    """Rows (header first) for one scenario: case, server, headline metrics with their ranges,
    the first metric's ratio to otp-channels, and a note (the failure reason, if any)."""
    metrics = HEADLINE.get(scenario, ())
    ratio_keys = RATIO_COLUMN.get(scenario, metrics[:1])
    rows = [["case", "server", *metrics, "ratio " + "/".join(ratio_keys), "note"]]
    for case, servers in cases.items():
        for server, m in servers.items():
            cells = []
            for key in metrics:
                cell = fmt(m.get(key))
                lo, hi = m.get(key + "_min"), m.get(key + "_max")
                if lo is not None and hi is not None and lo != hi:
                    cell += f" ({fmt(lo)}..{fmt(hi)})"
                cells.append(cell)
            ratio = next((m[k + "_ratio"] for k in ratio_keys if k + "_ratio" in m), None)
            note = str(m.get("error", ""))[:120].replace("|", "/").replace("\n", " ")
            rows.append([case, server, *cells, fmt(ratio) if ratio is not None else "",
                         ("FAILED: " if not any(k in m for k in metrics) and note else "")
                         + note])
    return rows


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table from rows (the first row is the header)."""
    if not rows:
        return ""
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table for the terminal."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
