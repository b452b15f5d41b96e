"""Rule 1: the node owns every process; leaving it stops them all, newest first."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Recorder, recorder_spec, sleeper, terminated


async def _record_shutdown(tag: str, log: list[Any]) -> None:
    otp.trap_exit()
    msg = await otp.receive(otp.Exit)
    log.append((tag, msg.reason))


async def test_leaving_open_node_stops_top_level_processes_newest_first() -> None:
    log: list[Any] = []
    async with otp.open_node() as node:
        for tag in ("a", "b", "c"):
            node.spawn(_record_shutdown, tag, log)
        await trio.testing.wait_all_tasks_blocked()
    assert log == [("c", otp.SHUTDOWN), ("b", otp.SHUTDOWN), ("a", otp.SHUTDOWN)]
    assert node.processes() == []


async def test_leaving_open_node_stops_a_supervisors_children_newest_first() -> None:
    log: list[Any] = []
    async with otp.open_node():
        await otp.Supervisor.start_link([recorder_spec(t, log) for t in ("w1", "w2", "w3")])
        before = otp.spawn(sleeper)
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(before)
    assert terminated(log) == ["w3", "w2", "w1"]
    assert all(e[2] is otp.SHUTDOWN for e in log if e[0] == "terminate")


async def test_process_spawned_by_a_live_process_is_stopped_after_its_spawner() -> None:
    log: list[Any] = []

    async def parent() -> None:
        otp.spawn(_record_shutdown, "child", log)
        await _record_shutdown("parent", log)

    async with otp.open_node() as node:
        node.spawn(parent)
        await trio.testing.wait_all_tasks_blocked()
    assert log == [("parent", otp.SHUTDOWN), ("child", otp.SHUTDOWN)]


async def test_node_kills_a_process_that_ignores_shutdown_after_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def stubborn() -> None:
        otp.trap_exit()
        while True:
            await otp.receive()

    start = trio.current_time()
    async with otp.open_node() as node:
        node.spawn(stubborn)
        await trio.testing.wait_all_tasks_blocked()
    assert trio.current_time() - start == pytest.approx(10.0)
    assert node.processes() == []


async def test_nothing_runs_outside_the_node() -> None:
    async with otp.open_node() as node:
        pid = node.spawn(sleeper)
        assert otp.current_node() is node
    assert node.processes() == []
    with pytest.raises(RuntimeError, match="no otp node"):
        otp.current_node()
    with pytest.raises(RuntimeError, match="no otp node"):
        otp.spawn(sleeper)
    with pytest.raises(RuntimeError, match="no otp node"):
        otp.send(pid, "hello")


async def test_node_refuses_to_spawn_while_shutting_down() -> None:
    errors: list[BaseException] = []

    async def spawn_on_shutdown() -> None:
        otp.trap_exit()
        await otp.receive(otp.Exit)
        try:
            otp.spawn(sleeper)
        except RuntimeError as exc:
            errors.append(exc)

    async with otp.open_node() as node:
        node.spawn(spawn_on_shutdown)
        await trio.testing.wait_all_tasks_blocked()
    assert len(errors) == 1
    assert "shutting down" in str(errors[0])


def test_run_runs_main_in_a_node_and_returns_its_result() -> None:
    log: list[Any] = []

    async def main(x: int) -> int:
        await Recorder.start((("srv"), log), name="srv")
        reply = await otp.call("srv", "ping")
        assert reply == ("pong", "srv")
        return x * 2

    assert otp.run(main, 21) == 42
    # The server was stopped when main returned and the node closed.
    assert log == [("init", "srv"), ("terminate", "srv", otp.SHUTDOWN)]


def test_run_stops_processes_even_when_main_raises() -> None:
    log: list[Any] = []

    async def main() -> None:
        otp.spawn(_record_shutdown, "p", log)
        await trio.testing.wait_all_tasks_blocked()
        raise KeyError("main failed")

    # A single error of main comes out as itself, not wrapped in an ExceptionGroup.
    with pytest.raises(KeyError, match="main failed"):
        otp.run(main)
    assert log == [("p", otp.SHUTDOWN)]


async def test_leaving_the_node_stops_a_whole_tree_in_reverse_start_order() -> None:
    log: list[Any] = []
    async with otp.open_node() as node:
        node.spawn(_record_shutdown, "first", log)
        inner = otp.Supervisor.child_spec([recorder_spec("i1", log), recorder_spec("i2", log)], id="inner")
        await otp.Supervisor.start_link([recorder_spec("w1", log), inner, recorder_spec("w3", log)])
        node.spawn(_record_shutdown, "last", log)
        await trio.testing.wait_all_tasks_blocked()
        log.clear()
    order = [e[0] if len(e) == 2 else e[1] for e in log]
    assert order == ["last", "w3", "i2", "i1", "w1", "first"]
