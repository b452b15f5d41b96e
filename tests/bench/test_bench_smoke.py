"""Smoke tests of the bench: result arithmetic, JSON shape, ratios, frames, server specs,
and the reference floor server over a real socket.

They need no ``.bench-venv``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio_websocket

import bench
from bench import loadgen
from bench._results import (
    REFERENCES,
    add_ratios,
    fanout_burst,
    fanout_latencies_us,
    markdown_table,
    merge_rounds,
    percentile,
    put,
    table_rows,
)
from bench._scenarios import server_specs, shards
from bench.report import merge_documents, render


def test_burst_rate_is_frames_over_time_from_trigger_to_last_receipt() -> None:
    t0 = 1_000_000_000
    lasts = [[t0 + 10_000_000, t0 + 50_000_000], [t0 + 20_000_000, t0 + 100_000_000]]
    burst = fanout_burst(n_subs=1000, m=2, t_send_ns=t0, lasts=lasts, frames=2000)
    assert burst["burst_s"] == 0.1
    assert burst["delivered_per_s"] == 20_000
    assert burst["delivered_fraction"] == 1.0


def test_burst_with_no_receipt_delivers_nothing() -> None:
    burst = fanout_burst(n_subs=10, m=1, t_send_ns=5, lasts=[[0]], frames=0)
    assert burst["delivered_per_s"] == 0.0
    assert math.isnan(burst["burst_s"])


def test_latency_is_last_receipt_over_all_processes_minus_send_stamp() -> None:
    ts = [1_000, 2_000_000]
    lasts = [[6_000, 2_004_000], [11_000, 2_001_000]]
    assert fanout_latencies_us(ts, lasts) == [10.0, 4.0]


def test_latency_skips_broadcasts_some_process_never_completed() -> None:
    assert fanout_latencies_us([1_000, 2_000], [[3_000, 0], [4_000, 5_000]]) == [3.0]


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_merge_rounds_gives_median_min_max_and_skips_nan() -> None:
    merged = merge_rounds([{"x": 1.0, "y": math.nan}, {"x": 3.0, "y": 2.0}, {"x": 2.0}])
    assert merged["rounds"] == 3
    assert (merged["x"], merged["x_min"], merged["x_max"]) == (2.0, 1.0, 3.0)
    assert merged["y"] == 2.0
    assert "y_min" not in merged


def test_document_shape_is_scenario_case_server_metric_with_peer_ratios() -> None:
    doc: dict[str, object] = {}
    put(doc, "fanout", "N=1000", "otp-channels", {"delivered_per_s": 100_000.0, "p50_us": 50.0})
    put(doc, "fanout", "N=1000", "websockets", {"delivered_per_s": 60_000.0, "p50_us": 100.0})
    put(doc, "fanout", "N=1000", "django-channels", {"error": "over budget"})
    doc["meta"] = {"command": "python -m bench fanout"}
    add_ratios(doc)
    fanout = doc["fanout"]
    assert isinstance(fanout, dict)
    assert fanout["N=1000"]["websockets"]["delivered_per_s_ratio"] == 0.6
    assert fanout["N=1000"]["websockets"]["p50_us_ratio"] == 2.0
    assert "delivered_per_s_ratio" not in fanout["N=1000"]["otp-channels"]
    assert json.loads(json.dumps(doc)) == doc


def test_tables_show_failures_with_their_reason() -> None:
    cases: dict[str, dict[str, dict[str, object]]] = {
        "N=1": {"otp-channels": {"delivered_per_s": 5.0},
                "django-channels": {"error": "burst not delivered"}}}
    rows = table_rows("fanout", cases)
    assert rows[0][:3] == ["case", "server", "delivered_per_s"]
    assert rows[2][-1] == "FAILED: burst not delivered"
    assert markdown_table(rows).count("\n") == len(rows)


def test_report_merges_documents_per_server_and_recomputes_ratios() -> None:
    a = {"fanout": {"N=1": {"otp-channels": {"delivered_per_s": 10.0}}}, "meta": {"command": "a"}}
    b = {"fanout": {"N=1": {"websockets": {"delivered_per_s": 5.0}}}, "meta": {"command": "b"}}
    merged = merge_documents([a, b])
    assert merged["fanout"]["N=1"]["websockets"]["delivered_per_s_ratio"] == 0.5
    text = render(merged)
    assert "| N=1 | websockets | 5 |" in text
    assert "Run `a`" in text
    assert "Run `b`" in text


def test_shards_cap_sockets_per_process_and_use_distinct_source_addresses() -> None:
    parts = shards(25_000)
    assert sum(n for n, _ in parts) == 25_000
    assert all(n <= 15_000 for n, _ in parts)
    assert len({src for _, src in parts}) == len(parts)


def test_client_frames_are_masked_with_a_zero_key() -> None:
    frame = loadgen.client_frame(b"hi")
    assert frame == b"\x81\x82\x00\x00\x00\x00hi"
    long = loadgen.client_frame(b"x" * 300)
    assert long[:4] == b"\x81\xfe\x01\x2c"
    assert long[4:8] == b"\x00" * 4


def test_reference_floors_run_in_the_roundtrip_scenario_only() -> None:
    specs = {s.name: s for s in server_specs(None)}
    assert set(REFERENCES) <= set(specs)
    for name in REFERENCES:
        assert specs[name].runs("roundtrip")
        assert not specs[name].runs("fanout")
        assert not specs[name].runs("capacity")
        assert not specs[name].peer
    assert all(specs["otp-channels"].runs(s) for s in ("fanout", "capacity", "roundtrip"))


@pytest.mark.parametrize("hop", [False, True])
async def test_trio_floor_server_echoes_text_messages(hop: bool) -> None:
    argv = [sys.executable, str(Path(bench.__file__).parent / "servers" / "trio_floor_server.py"), "0"]
    if hop:
        argv.append("--hop")
    proc = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = b""
        with trio.fail_after(20):
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(100)
                assert chunk, "the floor server exited before listening"
                line += chunk
        port = int(line.decode().rsplit(":", 1)[1])
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            for text in ("hello", "x" * 300, "last"):
                await ws.send_message(text)
                assert await ws.get_message() == text
    finally:
        proc.kill()
        await proc.wait()


@pytest.mark.parametrize("impl", ["otp", "trio"])
def test_runtime_micro_benchmarks_run_in_a_fresh_interpreter(impl: str) -> None:
    # A fresh interpreter, as `python -m bench otp` runs them (pytest has imported more).
    code = ("import json, otp, trio; from bench import otp_micro as m; "
            "sizes = dict(spawn=20, pingpong=20, call=20, idle=20); "
            f"r = (otp.run if {impl!r} == 'otp' else trio.run)(m.{impl}_main, sizes); "
            "print(json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(bench.__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"spawn_exit", "send_receive", "call", "idle_memory"}
    assert all(result[k]["per_s"] > 0 for k in ("spawn_exit", "send_receive", "call"))
    assert result["idle_memory"]["count"] == 20


def _soak_conn(joined_at: int, first: int, last: int, gaps: int = 0) -> loadgen.Conn:
    conn = loadgen.Conn.__new__(loadgen.Conn)
    conn.joined_at, conn.first_i, conn.last_i, conn.gaps = joined_at, first, last, gaps
    return conn


def test_soak_counts_as_lost_every_message_sent_after_the_join_that_did_not_arrive() -> None:
    ts = [100, 200, 300, 400, 500]  # the server's send stamp of message i
    # Joined at 150: 1..4 expected; got 1..4, or more (0 was in flight: not required).
    assert loadgen.soak_lost(_soak_conn(150, 1, 4), ts, None, 0) == (4, 0)
    assert loadgen.soak_lost(_soak_conn(150, 0, 4), ts, None, 0) == (4, 0)
    # Missing the first expected one, the last ones, or one in the middle.
    assert loadgen.soak_lost(_soak_conn(150, 2, 4), ts, None, 0) == (4, 1)
    assert loadgen.soak_lost(_soak_conn(150, 1, 2), ts, None, 0) == (4, 2)
    assert loadgen.soak_lost(_soak_conn(150, 1, 4, gaps=1), ts, None, 0) == (4, 1)
    assert loadgen.soak_lost(_soak_conn(150, -1, -1), ts, None, 0) == (4, 4)
    # Left at 460 with a grace of 100: only what was sent before 360 (1, 2) is owed.
    assert loadgen.soak_lost(_soak_conn(150, 1, 2), ts, 460, 100) == (2, 0)
    # Joined after the last message: nothing owed.
    assert loadgen.soak_lost(_soak_conn(600, -1, -1), ts, None, 0) == (0, 0)


def test_soak_holds_joined_connections_under_broadcast_and_churn_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    res = subprocess.run(
        [sys.executable, "-m", "bench", "soak", "--connections", "50", "--duration", "3",
         "--rate", "4", "--churn", "5", "--sample-every", "1", "--no-peers", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=Path(bench.__file__).parent.parent)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "server over time:" in res.stdout
    doc = json.loads(out.read_text())
    assert doc["meta"]["command"].startswith("python -m bench soak")
    [(case, servers)] = doc["soak"].items()
    assert case.startswith("N=50 workers=1 3s")
    result = servers["otp-channels"]
    assert "error" not in result, result["error"]
    assert result["held_conns"] == 50
    assert result["broadcasts"] == 12
    assert result["churned"] > 0
    assert result["rejoined"] == result["churned"]
    assert result["expected"] > 0
    assert result["lost"] == 0
    assert result["closed_by_server"] == 0
    samples = result["samples"]
    assert len(samples) >= 4
    for s in samples:
        assert set(s) == {"t_s", "rss_mib", "fds", "os_processes", "otp_processes"}
        assert s["rss_mib"] > 0
        assert s["fds"] > 0
        assert s["os_processes"] == 1
    # Connections are sockets of the server: while they are held, it has at least that many fds.
    assert max(s["fds"] for s in samples) >= 50
    assert max(s["otp_processes"] for s in samples) >= 50
