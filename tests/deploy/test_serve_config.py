"""``otp-channels serve`` configured from the environment: precedence, refusals, ``gen secret``."""

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
TARGET = "examples.hello_sockets:Endpoint"


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    runtime = Path(tempfile.mkdtemp(prefix="oc-"))
    runtime.chmod(0o700)
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTP_CHANNELS_")}
    yield {**base, "OTP_CHANNELS_RUNTIME_DIR": str(runtime), "PYTHONUNBUFFERED": "1"}
    shutil.rmtree(runtime, ignore_errors=True)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "channels", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def _listening_line(env: dict[str, str], *args: str) -> str:
    """Start ``serve TARGET args``, return its "listening on" line, stop it (SIGTERM, exit 0)."""
    proc = subprocess.Popen([sys.executable, "-m", "channels", "serve", TARGET, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "listening on" in line:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=60)
                assert proc.returncode == 0
                return line
        raise AssertionError("serve exited before listening:\n" + "".join(seen))
    finally:
        reap(proc)


def test_gen_secret_prints_a_64_character_key() -> None:
    done = subprocess.run([sys.executable, "-m", "channels", "gen", "secret"], capture_output=True, text=True,
                          timeout=60, check=True)
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}\n", done.stdout)


def test_the_environment_wins_over_code_and_a_flag_wins_over_the_environment(env: dict[str, str]) -> None:
    # hello_sockets' Endpoint says port=4000 in code; 127.0.0.2 is a loopback address too.
    line = _listening_line({**env, "OTP_CHANNELS_HOST": "127.0.0.2", "OTP_CHANNELS_PORT": "0"})
    assert re.search(r"listening on http://127\.0\.0\.2:(?!4000\b)\d+", line), line
    line = _listening_line({**env, "OTP_CHANNELS_HOST": "127.0.0.2", "OTP_CHANNELS_PORT": "0"},
                           "--host", "127.0.0.1")
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", line), line


def test_tls_without_a_stable_secret_is_refused_with_how_to_make_one(env: dict[str, str]) -> None:
    done = _cli(env, "serve", TARGET, "--port", "0", "--certfile", "cert.pem", "--keyfile", "key.pem")
    assert done.returncode == 2
    assert "TLS need(s) a stable secret key base" in done.stderr
    assert "otp-channels gen secret" in done.stderr
    assert "OTP_CHANNELS_SECRET_KEY_BASE" in done.stderr
    assert "Traceback" not in done.stderr


def test_several_workers_without_a_stable_secret_are_refused(env: dict[str, str]) -> None:
    done = _cli({**env, "OTP_CHANNELS_WORKERS": "2"}, "serve", TARGET, "--port", "0",
                "--redis-url", "redis://127.0.0.1:1")
    assert done.returncode == 2
    assert "2 workers need(s) a stable secret key base" in done.stderr


def test_bad_variables_and_half_a_tls_pair_stop_the_start_and_unknown_ones_are_warned_about(
        env: dict[str, str]) -> None:
    done = _cli({**env, "OTP_CHANNELS_PORT": "http"}, "serve", TARGET)
    assert done.returncode == 2
    assert "OTP_CHANNELS_PORT='http': invalid literal" in done.stderr
    done = _cli({**env, "OTP_CHANNELS_PROT": "4000", "OTP_CHANNELS_PORT": "x"}, "serve", TARGET)
    assert done.returncode == 2
    assert "warning: unknown setting OTP_CHANNELS_PROT in the environment, ignored" in done.stderr
    done = _cli({**env, "OTP_CHANNELS_CERTFILE": "c.pem"}, "serve", TARGET)
    assert done.returncode == 2
    assert "TLS needs both a certificate and its key" in done.stderr


def test_serve_help_lists_the_variables() -> None:
    done = subprocess.run([sys.executable, "-m", "channels", "serve", "--help"], capture_output=True, text=True,
                          timeout=60, check=True)
    for name in ("OTP_CHANNELS_PORT", "OTP_CHANNELS_SECRET_KEY_BASE", "OTP_CHANNELS_REDIS_URL",
                 "OTP_CHANNELS_CERTFILE", "OTP_CHANNELS_METRICS"):
        assert name in done.stdout
