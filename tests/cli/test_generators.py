"""``otp-channels new channel NAME`` / ``new socket NAME`` write a module and a test that passes as generated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from channels.cli import generate

from ._support import run_cli


def _pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    # Outside the project: no pyproject, so the generated tests must carry their own trio marker.
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
                           str(directory)], cwd=directory, capture_output=True, text=True, timeout=180, check=False)


def test_new_channel_writes_a_channel_and_a_test_that_passes(runtime_dir: Path, tmp_path: Path) -> None:
    result = run_cli(runtime_dir, "new", "channel", "Room", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["room_channel.py", "test_room_channel.py"]
    assert "* creating" in result.stdout
    assert '("room:*", RoomChannel)' in result.stdout
    source = (tmp_path / "room_channel.py").read_text()
    assert "class RoomChannel(channels.Channel):" in source
    ran = _pytest(tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "3 passed" in ran.stdout


def test_new_socket_writes_a_socket_and_a_test_that_passes(runtime_dir: Path, tmp_path: Path) -> None:
    result = run_cli(runtime_dir, "new", "socket", "User", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_user_socket.py", "user_socket.py"]
    ran = _pytest(tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "2 passed" in ran.stdout


@pytest.mark.parametrize(("given", "module", "cls"), [
    ("Room", "room_channel", "RoomChannel"),
    ("RoomChannel", "room_channel", "RoomChannel"),
    ("chat_room", "chat_room_channel", "ChatRoomChannel"),
    ("GameLobby", "game_lobby_channel", "GameLobbyChannel"),
])
def test_names_are_normalised_like_phx_gen(tmp_path: Path, given: str, module: str, cls: str) -> None:
    paths = generate("channel", given, tmp_path, out=lambda _line: None)
    assert [p.name for p in paths] == [f"{module}.py", f"test_{module}.py"]
    assert f"class {cls}(channels.Channel):" in paths[0].read_text()
    assert f"from {module} import {cls}" in paths[1].read_text()


def test_generated_code_is_mypy_strict_clean(tmp_path: Path) -> None:
    generate("channel", "Room", tmp_path, out=lambda _line: None)
    generate("socket", "User", tmp_path, out=lambda _line: None)
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
                             *sorted(str(p) for p in tmp_path.glob("*.py"))],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
