"""The control interface is local-only and authenticated: a stranger on the machine cannot read or drive it."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from channels.ops._control import ControlError, runtime_dir as control_runtime_dir

from ._support import serve_node

_STRANGER_CLIENT = r"""
import json, socket, sys
path = sys.argv[1]
try:
    open(path.replace(".sock", ".cookie")).read()
    print("cookie:readable")
except OSError as exc:
    print(f"cookie:{type(exc).__name__}")
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(path)
except OSError as exc:
    print(f"connect:{type(exc).__name__}")
    sys.exit(0)
try:
    s.sendall(json.dumps({"cookie": "guess", "cmd": "kill", "target": "HelloSockets.Endpoint"}).encode() + b"\n")
    s.settimeout(10)
    data = s.recv(65536)
except ConnectionError:
    data = b""
print("answer:" + (data.decode().strip() or "<closed>"))
"""


def _stranger() -> str:
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another user")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user on this machine")
    return "nobody"


def _as_stranger(path: Path) -> list[str]:
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    result = subprocess.run([python, "-I", "-c", _STRANGER_CLIENT, str(path)], user=_stranger(), cwd="/",
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_stranger_cannot_reach_the_socket_or_read_the_cookie(runtime_dir: Path) -> None:
    _stranger()
    with serve_node(runtime_dir) as node:
        assert node.control is not None
        # The directory is 0700: nothing in it can be reached.
        assert _as_stranger(node.control) == ["cookie:PermissionError", "connect:PermissionError"]
        # Even through a traversable directory, the socket (0600) and the cookie (0600) are closed.
        runtime_dir.chmod(0o711)
        assert _as_stranger(node.control) == ["cookie:PermissionError", "connect:PermissionError"]


def test_a_stranger_who_gets_a_connection_is_refused_by_peer_uid(runtime_dir: Path) -> None:
    _stranger()
    with serve_node(runtime_dir) as node:
        assert node.control is not None
        runtime_dir.chmod(0o711)
        node.control.chmod(0o666)  # simulate a mistake in the file modes: the uid check still holds
        assert _as_stranger(node.control) == ["cookie:PermissionError", "answer:<closed>"]
        node.wait_for_line(re.compile(r"control: refused a client running as uid \d+"))
        assert node.proc.poll() is None


def test_a_request_with_a_wrong_cookie_is_refused_and_the_connection_closed(runtime_dir: Path) -> None:
    with serve_node(runtime_dir) as node:
        assert node.control is not None
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(node.control))
            s.sendall(b'{"cookie": "guess", "cmd": "snapshot"}\n')
            answer = json.loads(s.makefile().readline())
            assert answer["ok"] is False
            assert "wrong cookie" in answer["error"]
            assert s.recv(100) == b""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(node.control))
            cookie = node.control.with_suffix(".cookie").read_text().strip()
            s.sendall(json.dumps({"cookie": cookie, "cmd": "hello"}).encode() + b"\n")
            answer = json.loads(s.makefile().readline())
            assert answer["ok"] is True
            assert answer["result"]["os_pid"] == node.proc.pid


def test_the_runtime_directory_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "rt"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv("OTP_CHANNELS_RUNTIME_DIR", str(shared))
    with pytest.raises(ControlError, match="readable by others"):
        control_runtime_dir()
    assert control_runtime_dir(create=True) == shared  # the owner's own directory is repaired
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700
    if os.getuid() == 0:
        os.chown(shared, pwd.getpwnam(_stranger()).pw_uid, -1)
        with pytest.raises(ControlError, match="belongs to uid"):
            control_runtime_dir(create=True)


def test_without_xdg_runtime_dir_the_socket_goes_under_home_not_a_shared_tmp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 14 item 12: /tmp/otp-channels-<uid> could be created first by another local user.
    monkeypatch.delenv("OTP_CHANNELS_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = control_runtime_dir(create=True)
    assert path == tmp_path / ".local" / "state" / "otp-channels"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_without_a_private_place_the_node_fails_closed_saying_how_to_set_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTP_CHANNELS_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    if os.getuid() == 0:
        foreign = tmp_path / "someone-else"
        foreign.mkdir()
        os.chown(foreign, 4242, 4242)
    else:
        foreign = Path("/")  # root's
    monkeypatch.setenv("HOME", str(foreign))
    with pytest.raises(ControlError, match="set OTP_CHANNELS_RUNTIME_DIR"):
        control_runtime_dir(create=True)
