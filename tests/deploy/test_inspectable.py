"""Every node is inspectable: the examples (and so .ci/demo) and channels.serve open the control socket.

Each test runs a real node in a subprocess with a private runtime directory, then asks it for its
process tree with ``otp-channels tree`` (found without flags: the only node in that directory).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import reap

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runtime() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="oc-"))
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(runtime: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTP_CHANNELS_")}
    return {**env, "OTP_CHANNELS_RUNTIME_DIR": str(runtime), "PYTHONUNBUFFERED": "1", **extra}


def _start(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "listening on" in line:
            break
    else:
        raise AssertionError("the node exited before listening:\n" + "".join(lines))
    return proc, lines


def _read_until(proc: subprocess.Popen[str], lines: list[str], needle: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if needle in line:
            return line
    raise AssertionError(f"the node never printed {needle!r}:\n" + "".join(lines))


def _stop(proc: subprocess.Popen[str], lines: list[str] | None = None) -> int:
    """SIGTERM (the node drains and exits); the rest of its output goes to ``lines``."""
    proc.send_signal(signal.SIGTERM)
    try:
        rest, _ = proc.communicate(timeout=60)
        if lines is not None:
            lines.append(rest)
        return proc.returncode
    finally:
        reap(proc)


def _cli(runtime: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "channels", *args], cwd=ROOT, env=_env(runtime),
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("example", ["examples.hello_sockets", "examples.chat"])
def test_an_example_opens_its_control_socket_by_default_and_tree_finds_it(runtime: Path, example: str) -> None:
    proc, lines = _start([sys.executable, "-m", example, "--port", "0"], _env(runtime))
    try:
        _read_until(proc, lines, "control socket:")
        done = _cli(runtime, "tree")
        assert done.returncode == 0, done.stderr
        assert re.search(r"^node \S+: \d+ processes", done.stdout, re.M)
        assert ".Endpoint.Listener" in done.stdout
    finally:
        assert _stop(proc) == 0


def test_no_control_flag_and_variable_opt_out(runtime: Path) -> None:
    for argv, extra in ((["--no-control"], {}), ([], {"OTP_CHANNELS_CONTROL": "0"})):
        proc, lines = _start([sys.executable, "-m", "examples.hello_sockets", "--port", "0", *argv],
                             _env(runtime, **extra))
        try:
            done = _cli(runtime, "nodes")
            assert done.stdout.startswith("no running node"), done.stdout
        finally:
            assert _stop(proc, lines) == 0
        output = "".join(lines)
        assert "stopped." in output
        assert "control socket:" not in output
