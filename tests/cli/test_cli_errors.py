"""User mistakes get one clear line that says what to do next, never a stack trace."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import run_cli, serve_node


def _assert_clean_error(result: object, status: int, *needles: str) -> None:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)  # type: ignore[attr-defined]
    err: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("otp-channels: error: "), err
    for needle in needles:
        assert needle in err, err


def test_tree_without_a_running_node_says_how_to_start_one(runtime_dir: Path) -> None:
    _assert_clean_error(run_cli(runtime_dir, "tree"), 1, "no running node", "otp-channels serve MODULE:ENDPOINT")


def test_ps_of_an_unknown_node_name_lists_nothing_and_explains(runtime_dir: Path) -> None:
    _assert_clean_error(run_cli(runtime_dir, "ps", "x", "--node", "Nope"), 1, "no running node matches 'Nope'")


def test_serve_with_a_missing_module_names_it(runtime_dir: Path) -> None:
    _assert_clean_error(run_cli(runtime_dir, "serve", "no_such_app:Endpoint"), 2,
                        "no module named 'no_such_app'", "PYTHONPATH")


def test_serve_with_a_missing_attribute_lists_the_endpoints_of_the_module(runtime_dir: Path) -> None:
    _assert_clean_error(run_cli(runtime_dir, "serve", "examples.hello_sockets:Endpointt"), 2,
                        "has no attribute 'Endpointt'", "endpoints defined there: Endpoint")


def test_serve_without_a_colon_shows_the_expected_form(runtime_dir: Path) -> None:
    _assert_clean_error(run_cli(runtime_dir, "serve", "examples.hello_sockets"), 2,
                        "expected MODULE:ENDPOINT", "examples.hello_sockets:Endpoint")


def test_serve_of_something_that_is_not_an_endpoint_says_so(runtime_dir: Path) -> None:
    _assert_clean_error(run_cli(runtime_dir, "serve", "examples.hello_sockets:UserSocket"), 2,
                        "not a channels.Endpoint")


def test_serve_on_a_port_in_use_suggests_another_port(runtime_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(runtime_dir, "serve", "examples.hello_sockets:Endpoint", "--port", str(port))
    _assert_clean_error(result, 2, f"127.0.0.1:{port}", "choose another --port")
    assert list(runtime_dir.iterdir()) == []


def test_ps_of_a_process_that_does_not_exist_points_to_tree(runtime_dir: Path) -> None:
    with serve_node(runtime_dir):
        _assert_clean_error(run_cli(runtime_dir, "ps", "<0.9999.0>"), 1, "no process <0.9999.0>",
                            "otp-channels tree")
        _assert_clean_error(run_cli(runtime_dir, "kill", "NoSuchName"), 1, "no process NoSuchName")


def test_demo_with_an_unknown_name_lists_the_demos(runtime_dir: Path) -> None:
    result = run_cli(runtime_dir, "demo", "one_for_none")
    assert result.returncode == 2
    assert "no demo named 'one_for_none'" in result.stderr
    for name in ("one_for_one", "one_for_all", "rest_for_one", "escalation"):
        assert name in result.stdout


def test_new_refuses_to_overwrite_files(runtime_dir: Path, tmp_path: Path) -> None:
    assert run_cli(runtime_dir, "new", "channel", "Room", "--dir", str(tmp_path)).returncode == 0
    _assert_clean_error(run_cli(runtime_dir, "new", "channel", "Room", "--dir", str(tmp_path)), 2,
                        "already exist", "--force")
    _assert_clean_error(run_cli(runtime_dir, "new", "channel", "9lives", "--dir", str(tmp_path)), 2,
                        "not a valid name")


def test_a_stale_control_socket_of_a_dead_node_is_ignored_and_removed(runtime_dir: Path) -> None:
    stale = runtime_dir / "Gone.Endpoint-999999999.sock"
    stale.touch()
    stale.with_suffix(".cookie").touch()
    _assert_clean_error(run_cli(runtime_dir, "tree"), 1, "no running node")
    assert not stale.exists()
    assert not stale.with_suffix(".cookie").exists()


def test_the_console_script_and_python_m_are_the_same_program(runtime_dir: Path) -> None:
    script = Path(sys.executable).with_name("otp-channels")
    if not script.exists():
        found = shutil.which("otp-channels")
        assert found is not None, "the otp-channels console script is not installed (pip install -e .)"
        script = Path(found)
    via_script = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    via_module = run_cli(runtime_dir, "--help")
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout
    for command in ("serve", "tree", "ps", "kill", "nodes", "demo", "new"):
        assert f"    {command} " in via_script.stdout


def test_serve_with_a_runtime_directory_of_another_user_refuses_before_starting(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to make a directory owned by another user")
    other = tmp_path / "rt"
    other.mkdir(mode=0o700)
    os.chown(other, pwd.getpwnam("nobody").pw_uid, -1)
    result = run_cli(other, "serve", "examples.hello_sockets:Endpoint", "--port", "0")
    _assert_clean_error(result, 2, f"the runtime directory {other} belongs to uid", "OTP_CHANNELS_RUNTIME_DIR")
    assert "listening" not in result.stdout
