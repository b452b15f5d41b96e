"""``otp-channels demo NAME`` (and ``python -m examples.supervision NAME``) run each demo to completion."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import ROOT, run_cli

_RESTARTED = re.compile(r"^\s+(\w+): <[\d.]+> -> <[\d.]+> restarted", re.M)
_KEPT = re.compile(r"^\s+(\w+): <[\d.]+> kept", re.M)


def _sections(out: str) -> dict[str, str]:
    parts = re.split(r"^== (\w+): ", out, flags=re.M)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        found[name] = found.get(name, "") + body
    return found


def test_demo_all_runs_every_strategy_and_escalation_to_completion(runtime_dir: Path) -> None:
    result = run_cli(runtime_dir, "demo", "all", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    sections = _sections(result.stdout)
    assert set(sections) == {"one_for_one", "one_for_all", "rest_for_one", "escalation"}
    for name, body in sections.items():
        assert body.rstrip().endswith("done"), f"{name} did not finish:\n{body}"
        assert body.count("node demo:") >= 2, f"{name} printed fewer than two trees"

    assert _RESTARTED.findall(sections["one_for_one"]) == ["worker_b"]
    assert _KEPT.findall(sections["one_for_one"]) == ["worker_a", "worker_c"]
    assert _RESTARTED.findall(sections["one_for_all"]) == ["worker_a", "worker_b", "worker_c"]
    assert _RESTARTED.findall(sections["rest_for_one"]) == ["worker_b", "worker_c"]
    assert _KEPT.findall(sections["rest_for_one"]) == ["worker_a"]
    # Escalation: first crash handled by Team; the second one makes Team give up and App restart it.
    assert _RESTARTED.findall(sections["escalation"]) == ["worker_x", "Team", "worker_x", "worker_y"]
    assert "Team exceeded its intensity" in sections["escalation"]
    # The restarted worker has fresh state; its siblings kept theirs.
    after = sections["one_for_one"].split("-- after the crash")[1]
    assert re.search(r"worker_b  Worker  \w+  mailbox=0  restarts=1  state=count=0", after)
    assert re.search(r"worker_a  Worker  \w+  mailbox=0  restarts=0  state=count=1", after)


@pytest.mark.parametrize("name", ["one_for_one", "escalation"])
def test_demo_module_runs_the_same_code(name: str) -> None:
    result = subprocess.run([sys.executable, "-m", "examples.supervision", name], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith(f"== {name}: done")


def test_demo_without_a_name_lists_the_demos(runtime_dir: Path) -> None:
    result = run_cli(runtime_dir, "demo")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == [
        "one_for_one", "one_for_all", "rest_for_one", "escalation", "all"]
