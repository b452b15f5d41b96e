"""Packaging: the wheel a PyPI user installs, into a clean venv, and the demo's runtime-only venv.

The wheel is built from this tree (hatchling, no build isolation), installed with its runtime
dependencies (pinned by .ci/requirements.lock) into a fresh venv that has neither this
checkout on its path nor the optional ``redis`` extra, and run from an empty directory:
``import channels`` works without hiredis, ``otp-channels demo`` runs the packaged demos,
``otp-channels serve`` serves a user's module that a real WebSocket client joins, and a
Redis URL without the extra is refused with the command to fix it.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import channels
import otp
from tests.support.processes import reap

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / ".ci" / "requirements.lock"

pytestmark = pytest.mark.slow

_APP = '''
import channels


class PingChannel(channels.Channel):
    async def join(self, topic, payload, socket):
        return channels.Accept(socket)

    async def handle_in(self, event, payload, socket):
        return channels.Reply(("ok", {"pong": payload}), socket)


class UserSocket(channels.Socket):
    routes = [("ping", PingChannel)]


endpoint = channels.Endpoint(name="Packaged.Endpoint", sockets=[channels.SocketMount("/socket", UserSocket)])
'''

_CLIENT = '''
import json, sys
import trio, trio_websocket

async def main(port):
    async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0") as ws:
        await ws.send_message(json.dumps(["1", "1", "ping", "phx_join", {}]))
        print(await ws.get_message())
        await ws.send_message(json.dumps(["1", "2", "ping", "hello", {"n": 1}]))
        print(await ws.get_message())

trio.run(main, int(sys.argv[1]))
'''


def _run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def wheel() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="oc-wheel-") as tmp:
        done = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", tmp, ROOT, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        (built,) = Path(tmp).glob("otp_channels-*.whl")
        yield built


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Iterator[tuple[Path, dict[str, str], Path]]:
    """A clean venv with the wheel (no extras) and an empty working directory outside the checkout."""
    with tempfile.TemporaryDirectory(prefix="oc-venv-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        done = _run(env_dir / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-c", LOCK, wheel, cwd=Path(tmp))
        assert done.returncode == 0, done.stderr
        work = Path(tmp) / "work"
        work.mkdir()
        runtime = Path(tempfile.mkdtemp(prefix="oc-"))
        runtime.chmod(0o700)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "XDG_RUNTIME_DIR")}
        env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["OTP_CHANNELS_RUNTIME_DIR"] = str(runtime)
        env["PYTHONUNBUFFERED"] = "1"
        try:
            yield env_dir / "bin", env, work
        finally:
            for leftover in runtime.iterdir():
                leftover.unlink()
            runtime.rmdir()


def test_wheel_carries_the_license_metadata_and_the_demos_but_not_the_source_tree(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(zf.read(metadata_name).decode())
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert {"otp/demos.py", "otp/py.typed", "channels/py.typed", "channels/cli.py"} <= set(names)
    assert not [n for n in names if n.startswith(("examples/", "tests/", "bench/"))]
    assert metadata["Version"] == channels.__version__ == otp.__version__
    assert metadata["License-Expression"] == "MIT"
    classifiers = metadata.get_all("Classifier") or []
    assert "Framework :: Trio" in classifiers
    assert "Typing :: Typed" in classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues"} <= set(urls)
    requires = metadata.get_all("Requires-Dist") or []
    assert [r.replace('"', "'") for r in requires if r.startswith("hiredis")] == ["hiredis>=3.0; extra == 'redis'"]
    assert "redis" in (metadata.get_all("Provides-Extra") or [])


def test_installed_wheel_imports_without_hiredis_and_runs_the_demo(
        installed: tuple[Path, dict[str, str], Path]) -> None:
    bin_dir, env, work = installed
    probe = ("import importlib.util, channels, otp; "
             "print(channels.__file__); print(importlib.util.find_spec('hiredis') is None)")
    done = _run(bin_dir / "python", "-c", probe, cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    where, no_hiredis = done.stdout.split()
    assert "site-packages" in where
    assert no_hiredis == "True"

    done = _run(bin_dir / "otp-channels", "demo", "one_for_one", cwd=work, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("== one_for_one: done")
    assert re.search(r"worker_b: <[\d.]+> -> <[\d.]+> restarted", done.stdout)


def test_installed_wheel_serves_a_users_endpoint(installed: tuple[Path, dict[str, str], Path]) -> None:
    bin_dir, env, work = installed
    (work / "app.py").write_text(_APP)
    (work / "client.py").write_text(_CLIENT)
    proc = subprocess.Popen([str(bin_dir / "otp-channels"), "serve", "app:endpoint", "--port", "0"],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = found.group(1)
                break
        else:
            raise AssertionError("serve exited before listening:\n" + "".join(lines))
        done = _run(bin_dir / "python", "client.py", port, cwd=work, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert [json.loads(line) for line in done.stdout.splitlines()] == [
            ["1", "1", "ping", "phx_reply", {"status": "ok", "response": {}}],
            ["1", "2", "ping", "phx_reply", {"status": "ok", "response": {"pong": {"n": 1}}}],
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        reap(proc)


def test_a_redis_url_without_the_redis_extra_says_what_to_install(
        installed: tuple[Path, dict[str, str], Path]) -> None:
    bin_dir, env, work = installed
    (work / "app.py").write_text(_APP)
    done = _run(bin_dir / "otp-channels", "serve", "app:endpoint", "--port", "0",
                "--redis-url", "redis://127.0.0.1:6379", cwd=work, env=env, timeout=60)
    assert done.returncode == 2
    assert "pip install 'otp-channels[redis]'" in done.stderr
    assert "Traceback" not in done.stderr
    code = "import channels; channels.Endpoint(redis_url='redis://127.0.0.1:6379')"
    done = _run(bin_dir / "python", "-c", code, cwd=work, env=env, timeout=60)
    assert done.returncode == 1
    assert "RedisSupportMissing: Redis support is not installed" in done.stderr
    assert "pip install 'otp-channels[redis]'" in done.stderr


def test_the_demo_script_installs_only_the_runtime_dependencies() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    runtime = Path(tempfile.mkdtemp(prefix="oc-"))
    runtime.chmod(0o700)
    env["OTP_CHANNELS_RUNTIME_DIR"] = str(runtime)
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([str(ROOT / ".ci" / "demo"), "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "listening on http://" in line:
                break
        else:
            raise AssertionError(".ci/demo exited before listening:\n" + "".join(lines))
        for line in proc.stdout:  # every node is inspectable: the demo opens its control socket
            lines.append(line)
            if "control socket:" in line:
                break
        else:
            raise AssertionError(".ci/demo opened no control socket:\n" + "".join(lines))
        done = _run(ROOT / ".venv-demo" / "bin" / "python", "-m", "pip", "list", "--format=freeze",
                    "--disable-pip-version-check", cwd=ROOT)
        installed = {line.split("==")[0].lower() for line in done.stdout.splitlines()}
        assert {"trio", "trio-websocket", "h11", "wsproto", "orjson", "attrs", "cattrs"} <= installed
        assert not installed & {"pytest", "mypy", "ruff", "hypothesis", "pytest-trio", "hatchling"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        reap(proc)
        for leftover in runtime.iterdir():
            leftover.unlink()
        runtime.rmdir()
