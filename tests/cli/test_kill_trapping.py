"""``otp-channels kill`` of a process that traps exits says the signal was delivered as a message."""

from __future__ import annotations

from pathlib import Path

from ._support import cli, serve_node

EP = "HelloSockets.Endpoint"


async def test_kill_of_a_trapping_supervisor_says_the_signal_became_a_message(runtime_dir: Path) -> None:
    with serve_node(runtime_dir):
        sent = await cli(runtime_dir, "kill", f"{EP}.Listener", "--reason", "normal")
        assert sent.returncode == 0, sent.stderr
        assert "sent exit signal 'normal' to " in sent.stdout
        assert "traps exits: the signal was delivered as a message" in sent.stdout
        after = await cli(runtime_dir, "tree")
        assert f"  {EP}.Listener  " in after.stdout  # a supervisor ignores a normal exit of a non-child

        forced = await cli(runtime_dir, "kill", f"{EP}.Drainer", "--reason", "kill")
        assert forced.returncode == 0, forced.stderr
        assert "traps exits" not in forced.stdout  # kill cannot be trapped
