"""The README's code examples run as written, as a newcomer runs them.

Each Python snippet is written to a file in a fresh temporary directory and run there by a
new interpreter (or by pytest in that directory), so that nothing of this repository's test
set-up (``tests/conftest.py``, its fixtures, its pytest configuration) helps it.
Where a snippet builds on an earlier one (the README says so: "with the first channel's
UserSocket"), the two are put in one file in the README's order.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import otp
from channels import testing
from tests.support.processes import reap

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()

_TIMEOUT = 120


def example(heading: str, index: int = 0) -> str:
    """The ``index``-th Python snippet of the README section titled ``heading``."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(snippets) > index, heading
    return str(snippets[index])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _python(directory: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=directory, env=_env(), capture_output=True, text=True,
                          timeout=_TIMEOUT, check=False)


def _pytest(directory: Path, test_file: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on one file in ``directory``: its rootdir, no config file, no cache left behind."""
    return _python(directory, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", test_file)


def test_the_testing_example_passes_against_the_first_channel_in_a_fresh_directory(tmp_path: Path) -> None:
    (tmp_path / "room.py").write_text(example("A first channel in 20 lines"))
    (tmp_path / "test_room.py").write_text(example("Testing channels"))
    done = _pytest(tmp_path, "test_room.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b2 passed\b", done.stdout), done.stdout
    assert not (tmp_path / "conftest.py").exists()


def test_the_runtime_example_prints_the_tree_after_the_restart(tmp_path: Path) -> None:
    (tmp_path / "runtime_example.py").write_text(example("The actor runtime in 20 lines"))
    done = _python(tmp_path, "runtime_example.py")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1"
    (counter,) = [line for line in lines if "counter" in line and "Counter" in line]
    assert "restarts=1" in counter
    assert lines[-1] == "1"


async def test_the_compression_example_negotiates_permessage_deflate(node: otp.Node) -> None:
    import trio

    module = types.ModuleType("readme_compression")
    exec(compile(example("WebSocket compression"), "README.md", "exec"), module.__dict__)
    endpoint = module.endpoint
    endpoint.requested_port = 0
    async with testing.open_endpoint(endpoint) as ep:
        stream = await trio.open_tcp_stream("127.0.0.1", ep.port)
        async with stream:
            await stream.send_all(
                b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\n"
                b"connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"sec-websocket-version: 13\r\nsec-websocket-extensions: permessage-deflate\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive_some(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"sec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n" in head


async def test_the_extending_example_serves_raw_transports_error_handler_paths_and_routes(node: otp.Node) -> None:
    from tests.conformance._wire import Control, M, Rejected, Text, WebsocketClient, http_request

    module = types.ModuleType("readme_extending")
    exec(compile(example("Raw transports, control frames and custom HTTP routes"), "README.md", "exec"),
         module.__dict__)
    endpoint = module.endpoint
    endpoint.requested_port = 0
    async with testing.open_endpoint(endpoint) as ep:
        # the raw transport: echo, a ping from the server, the client's control frames
        echo = await WebsocketClient.connect(ep.nursery, ep.port, "/echo/websocket", None)
        await echo.send("hello")
        await echo.assert_receive(Text("hello"))
        await echo.send("ping me")
        await echo.assert_receive(Control("ping", b"still there?"))
        await echo.assert_receive(Text("pong:still there?"))
        await echo.send(Control("ping", b"1"))
        await echo.assert_receive(Control("pong", b"1"))
        await echo.assert_receive(Text("ping:1"))
        # ... and over long-poll
        opened = (await http_request(ep.port, "GET", "/echo/longpoll")).json()
        assert opened["status"] == 410
        token = {"x-phoenix-longpoll-token": opened["token"], "content-type": "application/json"}
        assert (await http_request(ep.port, "POST", "/echo/longpoll", token, b"hello")).json()["status"] == 200
        assert (await http_request(ep.port, "GET", "/echo/longpoll", token)).json()["messages"] == ["hello"]
        # the path with :vars, and the error_handler
        room = await WebsocketClient.connect(ep.nursery, ep.port, "/t/acme/lobby/ws?vsn=2.0.0", "2.0.0")
        await room.send_heartbeat()
        await room.assert_receive(M(topic="phoenix", event="phx_reply", payload={"status": "ok", "response": {}}))
        with pytest.raises(Rejected) as refused:
            await WebsocketClient.connect(ep.nursery, ep.port, "/t/flooding/lobby/ws?vsn=2.0.0", "2.0.0")
        assert (refused.value.status_code, refused.value.body) == (429, b"Too many requests")
        # the routes
        health = await http_request(ep.port, "GET", "/healthz")
        assert (health.status, health.json()) == (200, {"status": "ok"})
        assert (await http_request(ep.port, "POST", "/healthz")).status == 405
        async with otp.open_mailbox():
            ep.endpoint.subscribe("room:lobby")
            hook = await http_request(ep.port, "POST", "/hooks/messages", {"content-type": "application/json"},
                                      b'{"room": "lobby", "body": "hi"}')
            assert hook.status == 204
            got = await otp.receive(lambda m: getattr(m, "event", None) == "new_msg", timeout=5)
            assert got.payload == {"body": "hi"}
        await echo.close()
        await room.close()


_PRESENCE_CHECK = '''
import pytest
from channels import testing
from channels.testing import ANY

from chat import endpoint

pytestmark = pytest.mark.trio


async def test_presence_snippet_sends_state_and_diffs():
    async with testing.open_endpoint(endpoint) as ep:
        ann = await testing.connect(ep, "/socket")
        assert await ann.join("room:lobby", {"user": "ann"}) == ("ok", {})
        await ann.assert_push("room:lobby", "presence_state", {})
        diff = await ann.assert_push("room:lobby", "presence_diff", ANY)
        assert list(diff.payload["joins"]) == ["ann"] and diff.payload["leaves"] == {}
        bob = await testing.connect(ep, "/socket")
        assert await bob.join("room:lobby", {"user": "bob"}) == ("ok", {})
        state = await bob.assert_push("room:lobby", "presence_state", ANY)
        assert list(state.payload) == ["ann"]
        diff = await ann.assert_push("room:lobby", "presence_diff", ANY)
        assert list(diff.payload["joins"]) == ["bob"]
'''

_LONGPOLL_CHECK = '''
import json
import pytest
import trio
from channels import testing

import longpoll_app

pytestmark = pytest.mark.trio


async def test_longpoll_snippet_serves_the_longpoll_transport():
    async with testing.open_endpoint(longpoll_app.endpoint) as ep:
        stream = await trio.open_tcp_stream("127.0.0.1", ep.port)
        async with stream:
            await stream.send_all(b"GET /socket/longpoll?vsn=2.0.0 HTTP/1.1\\r\\nhost: 127.0.0.1\\r\\n"
                                  b"connection: close\\r\\n\\r\\n")
            data = b""
            while chunk := await stream.receive_some():
                data += chunk
        head, _, body = data.partition(b"\\r\\n\\r\\n")
        assert head.startswith(b"HTTP/1.1 200")
        reply = json.loads(body)
        assert reply["status"] == 410
        assert reply["token"]
'''


def test_the_presence_example_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "chat.py").write_text(example("Presence"))
    (tmp_path / "test_presence.py").write_text(_PRESENCE_CHECK)
    done = _pytest(tmp_path, "test_presence.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_longpoll_example_mounts_longpoll_on_the_first_channels_socket(tmp_path: Path) -> None:
    (tmp_path / "longpoll_app.py").write_text(example("A first channel in 20 lines") + "\n"
                                              + example("Long-poll"))
    (tmp_path / "test_longpoll.py").write_text(_LONGPOLL_CHECK)
    done = _pytest(tmp_path, "test_longpoll.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_configuration_table_lists_every_setting() -> None:
    from channels.ops._config import settings_table

    assert settings_table() in README


def test_the_telemetry_example_attaches_a_handler_that_runs(tmp_path: Path) -> None:
    (tmp_path / "slow_log.py").write_text(example("Metrics and events"))
    check = ("import slow_log\n"
             "from channels import telemetry\n"
             "assert telemetry.list_handlers() == [('log-slow-handle-in', telemetry.CHANNEL_HANDLED_IN)]\n"
             "telemetry.execute(telemetry.CHANNEL_HANDLED_IN, {'duration': 0.2}, {'channel': 'RoomChannel', "
             "'event': 'new_msg'})\n"
             "telemetry.execute(telemetry.CHANNEL_HANDLED_IN, {'duration': 0.001}, {'channel': 'RoomChannel', "
             "'event': 'fast'})\n")
    (tmp_path / "check.py").write_text(check)
    done = _python(tmp_path, "check.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "slow handle_in: RoomChannel new_msg 0.2\n"


def test_the_first_channel_runs_as_a_script_configured_by_the_environment_and_is_inspectable(
        tmp_path: Path) -> None:
    import shutil
    import signal
    import tempfile

    (tmp_path / "room.py").write_text(example("A first channel in 20 lines"))
    runtime = Path(tempfile.mkdtemp(prefix="oc-"))
    runtime.chmod(0o700)
    env = {**_env(), "OTP_CHANNELS_PORT": "0", "OTP_CHANNELS_RUNTIME_DIR": str(runtime)}
    proc = subprocess.Popen([sys.executable, "room.py"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "control socket:" in line:
                break
        output = "".join(seen)
        port = re.search(r"listening on http://127\.0\.0\.1:(\d+)", output)
        assert port is not None, output
        assert port.group(1) != "4000"  # OTP_CHANNELS_PORT=0 won over Endpoint(port=4000)
        tree = subprocess.run([sys.executable, "-m", "channels", "tree"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=_TIMEOUT, check=False)
        assert tree.returncode == 0, tree.stderr
        assert "Endpoint.Listener" in tree.stdout
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=_TIMEOUT)
        assert proc.returncode == 0, output + rest
    finally:
        reap(proc)
        shutil.rmtree(runtime, ignore_errors=True)
