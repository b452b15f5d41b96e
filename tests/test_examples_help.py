"""The examples' ``--help`` reads as plain text (not the modules' reStructuredText docstrings)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_RST = re.compile(r"``|:(class|func|mod|meth|data):`|^\.\. ", re.M)


@pytest.mark.parametrize("module", ["examples.hello_sockets", "examples.chat", "examples.supervision"])
def test_example_help_is_plain_text_that_describes_every_option(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"usage: python -m {module}" in done.stdout
    assert not _RST.search(done.stdout), done.stdout
    entries: list[list[str]] = []
    for line in done.stdout.split("options:", 1)[1].splitlines():
        if re.match(r"^  -", line):
            entries.append([line])
        elif line.startswith("    ") and entries:
            entries[-1].append(line)
    undocumented = [e[0].strip() for e in entries if len(e) == 1 and not re.search(r"\S\s{2,}\S", e[0].strip())]
    assert not undocumented, done.stdout
