"""The Autobahn WebSocket conformance cases (run by kosoku) against an echo transport.

Raw transports and channel sockets run the same loop (``channels.transports._websocket``),
so these cases cover both. Every case run, permessage-deflate (12.*, 13.*) included with
``compress=True`` on the mount, must end OK, NON-STRICT or INFORMATIONAL; FAILED or
UNIMPLEMENTED fails the test.

Groups 1-10 run whole. Of 12.* and 13.* (216 cases of 1000 messages each, ~10 minutes
here) the suite runs, in every one of their 12 groups (each a deflate parameter set), the
message sizes 16 B-8 KiB unfragmented and 8 KiB fragmented in 256-byte frames (84 cases);
``AUTOBAHN_FULL=1`` runs all of them.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

import channels
import otp


class EchoTransport(channels.Transport):
    async def handle_in(self, data: str | bytes, state: Any) -> otp.Reply[Any]:
        return otp.Reply(data, state)


def _kosoku() -> str:
    exe = Path(sys.executable).with_name("kosoku")
    if exe.exists():
        return str(exe)
    found = shutil.which("kosoku")
    if found is None:
        pytest.fail("kosoku is not installed; run .ci/setup (it is pinned in .ci/requirements.lock)")
    return found


def _selection() -> list[str]:
    """kosoku ``-i`` arguments: groups 1-10, and the deflate cases (see the module doc)."""
    if os.environ.get("AUTOBAHN_FULL"):
        return []
    cases = [f"{n}.*" for n in (1, 2, 3, 4, 5, 6, 7, 9, 10)]  # there is no group 8
    for group in [*(f"12.{i}" for i in range(1, 6)), *(f"13.{i}" for i in range(1, 8))]:
        cases += [f"{group}.{size}" for size in (1, 2, 3, 4, 5, 6, 11)]
    return [arg for case in cases for arg in ("-i", case)]


async def test_autobahn_cases_pass_against_the_one_loop_with_deflate_on(node: otp.Node, tmp_path: Path) -> None:
    options = channels.WebSocketOptions(max_frame_size=64 * 1024 * 1024, max_outbox_bytes=128 * 1024 * 1024,
                                        compress=True)
    endpoint = channels.Endpoint(
        name="Autobahn", port=0, check_origin=False, drainer=None,
        sockets=[channels.SocketMount("/echo", EchoTransport, websocket=options)],
    )
    await endpoint.start_link()
    try:
        with trio.fail_after(2400 if os.environ.get("AUTOBAHN_FULL") else 300):
            result = await trio.run_process(
                [_kosoku(), "-m", "fuzzingclient", f"127.0.0.1:{endpoint.port}/echo/websocket",
                 *_selection(), "-p", "4", "-o", str(tmp_path)],
                capture_stdout=True, capture_stderr=True, check=False,
            )
    finally:
        await endpoint.stop()
    outcomes: collections.Counter[str] = collections.Counter()
    failed = []
    ids = []
    for report in tmp_path.glob("*_case_*.json"):
        data = json.loads(report.read_text())
        ids.append(data.get("id"))
        behavior = data.get("behavior", "MISSING")
        outcomes[behavior] += 1
        if behavior not in ("OK", "NON-STRICT", "INFORMATIONAL"):
            failed.append((data.get("id"), behavior, data.get("result")))
    summary = result.stdout.decode(errors="replace")[-500:]
    deflate_cases = 216 if os.environ.get("AUTOBAHN_FULL") else 84
    assert sum(outcomes.values()) >= 301 + deflate_cases, f"too few cases ran: {dict(outcomes)}\n{summary}"
    groups = collections.Counter(str(case).split(".")[0] for case in ids)
    assert groups["12"] + groups["13"] == deflate_cases, f"the deflate cases did not all run: {dict(groups)}"
    assert not failed, f"Autobahn cases failed: {sorted(failed)[:20]}"
    assert result.returncode == 0, summary
