"""The peers' environment: ``.bench-venv/``, created on first use from ``requirements-peers.txt``.

The peer servers and the load generators run with this venv's interpreter. A stamp file holds a
copy of the requirements, so the venv is rebuilt only when the pins change.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench-venv"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements-peers.txt"
STAMP = VENV / ".requirements-stamp"
PEER_PACKAGES = ("websockets", "uvloop", "python-socketio", "python-engineio", "uvicorn",
                 "httptools", "Django", "channels", "redis", "aiohttp")


def python() -> Path:
    """The interpreter of ``.bench-venv``."""
    return VENV / "bin" / "python"


def ensure(log: Path) -> Path:
    """Creates or refreshes ``.bench-venv``; returns its python. Raises ``RuntimeError`` on failure.

    Output of venv/pip goes to ``log``.
    """
    want = REQUIREMENTS.read_text()
    if python().exists() and STAMP.exists() and STAMP.read_text() == want:
        return python()
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"bench: creating {VENV.name}/ with the pinned peers (log: {log})", file=sys.stderr)
    if VENV.exists():
        shutil.rmtree(VENV)
    with log.open("ab") as out:
        steps = [
            [sys.executable, "-m", "venv", str(VENV)],
            [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "-r", str(REQUIREMENTS)],
        ]
        for argv in steps:
            rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=900).returncode
            if rc != 0:
                raise RuntimeError(f"{' '.join(argv[:4])}... failed with {rc}; see {log}")
    STAMP.write_text(want)
    return python()


def versions() -> dict[str, str]:
    """Installed versions of the peer packages in ``.bench-venv`` (empty if it is missing)."""
    if not python().exists():
        return {}
    code = (
        "import importlib.metadata as m, json, sys, platform\n"
        f"names = {list(PEER_PACKAGES)!r}\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "out['python'] = platform.python_version()\n"
        "print(json.dumps(out))\n"
    )
    try:
        res = subprocess.run([str(python()), "-c", code], capture_output=True, text=True,
                             timeout=60, cwd="/")
        parsed: dict[str, str] = json.loads(res.stdout)
        return parsed
    except (subprocess.SubprocessError, ValueError, OSError):
        return {}
