"""Interop over TLS: the official Phoenix JS client (Node) over ``wss://`` and long-poll over ``https://``.

The server is ``otp-channels serve examples.hello_sockets:Endpoint --certfile --keyfile``
(a subprocess, port 0) with a certificate for 127.0.0.1 issued by a throwaway CA made in
the test (``trustme``); Node trusts that CA through ``NODE_EXTRA_CA_CERTS``, which both the
``ws`` package and Node's ``fetch`` (LongPoll) honour. The scenario is ``client.mjs ping``:
connect, join ``ping``, two replies, leave.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from channels.ops._config import generate_secret

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE_MODULES = HERE / "node_modules"
NODE_TIMEOUT = 45.0
_LISTENING = re.compile(r"listening on https://[^\s:]+:(\d+)")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (`.ci/setup --with-services` or `apt-get install nodejs npm`)")
    for package in ("phoenix", "ws"):
        if not (NODE_MODULES / package / "package.json").is_file():
            pytest.fail(f"the npm package {package!r} is missing from {NODE_MODULES}: run "
                        "`.ci/setup --with-services` (or `cd tests/interop && npm ci`)")
    return node


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": where / "ca.pem", "cert": where / "cert.pem", "key": where / "key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    files["cert"].write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return files


@pytest.fixture(scope="module")
def tls_server(tls_files: dict[str, Path]) -> Iterator[tuple[int, list[str]]]:
    _node()
    runtime = Path(os.environ.get("TMPDIR", "/tmp")) / f"oc-tls-{os.getpid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OTP_CHANNELS_SECRET_KEY_BASE": generate_secret(),
           "OTP_CHANNELS_RUNTIME_DIR": str(runtime)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "channels", "serve", "examples.hello_sockets:Endpoint", "--port", "0",
         "--certfile", str(tls_files["cert"]), "--keyfile", str(tls_files["key"]), "--no-control"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    port = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        found = _LISTENING.search(line)
        if found:
            port = int(found.group(1))
            break
    if not port:
        proc.wait(timeout=10)
        pytest.fail("the TLS server exited before listening:\n" + "".join(lines))
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        yield port, lines
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        proc.stdout.close()
        shutil.rmtree(runtime, ignore_errors=True)


def _run_node(tls_files: dict[str, Path], lines: list[str], *args: str) -> list[dict[str, Any]]:
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(tls_files["ca"])}
    command = [_node(), str(HERE / "client.mjs"), *args]
    done = subprocess.run(command, cwd=HERE, env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT,
                          check=False)
    events = []
    for line in done.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            events.append({"event": "unparsed", "line": line})
    if done.returncode != 0 or not events or events[-1].get("event") != "done":
        pytest.fail(f"{' '.join(command)} failed (rc {done.returncode})\n--- stdout\n{done.stdout}\n"
                    f"--- stderr\n{done.stderr}\n--- server\n{''.join(lines[-100:])}")
    return events


@pytest.mark.parametrize("transport", ["websocket", "longpoll"])
def test_js_client_joins_and_gets_replies_over_tls(tls_files: dict[str, Path], tls_server: tuple[int, list[str]],
                                                   transport: str) -> None:
    port, lines = tls_server
    events = _run_node(tls_files, lines, "ping", f"wss://127.0.0.1:{port}/socket", "--transport", transport)
    opened = [e for e in events if e.get("event") == "open"]
    assert [(e["who"], e["transport"]) for e in opened] == [("u1", transport)]
    replies = {e["label"]: e for e in events if e.get("event") == "reply"}
    assert replies["ping"]["status"] == "ok"
    assert replies["ping"]["response"] == {"ping": "pong"}
    assert replies["ping_phrase"]["response"] == {"ping": "hi there"}
    assert replies["leave"]["status"] == "ok"
    assert not [e for e in events if e.get("event") in ("socket_error", "channel_error")]
