"""The Autobahn WebSocket conformance cases (run by kosoku) against an echo transport.

Every group except permessage-deflate (12.*, 13.*: not negotiated by trio-websocket) must
end OK, NON-STRICT or INFORMATIONAL; FAILED or UNIMPLEMENTED fails the test.
"""

from __future__ import annotations

import collections
import json
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


async def test_autobahn_cases_pass_against_the_echo_transport(node: otp.Node, tmp_path: Path) -> None:
    options = channels.WebSocketOptions(max_frame_size=64 * 1024 * 1024, max_outbox_bytes=128 * 1024 * 1024)
    endpoint = channels.Endpoint(
        name="Autobahn", port=0, check_origin=False, drainer=None,
        sockets=[channels.SocketMount("/echo", EchoTransport, websocket=options)],
    )
    await endpoint.start_link()
    try:
        with trio.fail_after(240):
            result = await trio.run_process(
                [_kosoku(), "-m", "fuzzingclient", f"127.0.0.1:{endpoint.port}/echo/websocket",
                 "-x", "12.*", "-x", "13.*", "-p", "4", "-o", str(tmp_path)],
                capture_stdout=True, capture_stderr=True, check=False,
            )
    finally:
        await endpoint.stop()
    outcomes: collections.Counter[str] = collections.Counter()
    failed = []
    for report in tmp_path.glob("*_case_*.json"):
        data = json.loads(report.read_text())
        behavior = data.get("behavior", "MISSING")
        outcomes[behavior] += 1
        if behavior not in ("OK", "NON-STRICT", "INFORMATIONAL"):
            failed.append((data.get("id"), behavior, data.get("result")))
    summary = result.stdout.decode(errors="replace")[-500:]
    assert sum(outcomes.values()) >= 300, f"too few cases ran: {dict(outcomes)}\n{summary}"
    assert not failed, f"Autobahn cases failed: {sorted(failed)[:20]}"
    assert result.returncode == 0, summary
