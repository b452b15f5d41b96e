"""Fixtures of the CLI tests: a private, short runtime directory for control sockets."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh runtime directory (short: Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="oc-"))
    path.chmod(0o700)
    monkeypatch.setenv("OTP_CHANNELS_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)
