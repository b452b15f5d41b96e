"""Rule 4: monitors deliver ``Down(ref, pid, reason)``; demonitor and flush."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Boom, crasher, sleeper, stop_and_wait, wait_down


async def _exit_on_go(reason: Any) -> None:
    await otp.receive(lambda m: m == "go")
    raise otp.ProcessExit(reason)


@pytest.mark.parametrize("reason", [otp.NORMAL, otp.SHUTDOWN, otp.Shutdown(1), "odd"], ids=repr)
async def test_monitor_delivers_down_with_ref_pid_and_reason(node: otp.Node, reason: Any) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(_exit_on_go, reason)
        ref = otp.monitor(pid)
        otp.send(pid, "go")
        assert await wait_down(ref) == otp.Down(ref, pid, reason)


async def test_monitor_is_one_way_the_watcher_survives_a_crash(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        _pid, ref = otp.spawn_monitor(crasher, Boom("x"))
        down = await wait_down(ref)
        assert isinstance(down.reason, Boom)
        assert otp.is_alive(me)


async def test_monitor_by_registered_name(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper, name="named")
        ref = otp.monitor("named")
        otp.exit(pid, otp.KILL)
        # Erlang reports {Name, Node} for a monitor taken on a name, not the pid.
        assert await wait_down(ref) == otp.Down(ref, otp.RegisteredName("named", node.name), otp.KILLED)


async def test_monitoring_a_dead_pid_delivers_down_noproc_at_once(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper)
        await stop_and_wait(pid)
        ref = otp.monitor(pid)
        assert otp.receive_nowait() == otp.Down(ref, pid, otp.NOPROC)


async def test_monitoring_an_unregistered_name_delivers_down_noproc_at_once(node: otp.Node) -> None:
    async with otp.open_mailbox():
        ref = otp.monitor("ghost")
        down = otp.receive_nowait()
        assert type(down) is otp.Down
        assert down.ref is ref
        assert down.reason is otp.NOPROC


async def test_two_monitors_give_two_downs(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper)
        r1 = otp.monitor(pid)
        r2 = otp.monitor(pid)
        assert r1 is not r2
        otp.exit(pid, otp.KILL)
        assert (await wait_down(r2)).pid is pid
        assert (await wait_down(r1)).pid is pid


async def test_demonitor_stops_the_down(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper)
        ref = otp.monitor(pid)
        keep = otp.monitor(pid)
        assert otp.demonitor(ref) is True
        assert otp.demonitor(ref) is False
        info = otp.process_info(pid)
        assert info is not None
        assert info.statistics.monitored_by == 1
        otp.exit(pid, otp.KILL)
        await wait_down(keep)
        with pytest.raises(trio.WouldBlock):
            otp.receive_nowait()


async def test_demonitor_with_flush_removes_a_queued_down(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        pid = otp.spawn(sleeper)
        ref = otp.monitor(pid)
        otp.exit(pid, otp.KILL)
        await trio.testing.wait_all_tasks_blocked()
        otp.send(me, "other")
        info = otp.process_info(me)
        assert info is not None
        assert info.statistics.message_queue_len == 2
        assert otp.demonitor(ref, flush=True) is False  # already fired
        assert otp.receive_nowait() == "other"
        with pytest.raises(trio.WouldBlock):
            otp.receive_nowait()


async def test_demonitor_without_flush_leaves_a_queued_down(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper)
        ref = otp.monitor(pid)
        otp.exit(pid, otp.KILL)
        await trio.testing.wait_all_tasks_blocked()
        otp.demonitor(ref)
        assert otp.receive_nowait() == otp.Down(ref, pid, otp.KILLED)


async def test_monitors_show_in_process_info(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        pid = otp.spawn(sleeper)
        otp.monitor(pid)
        mine = otp.process_info(me)
        theirs = otp.process_info(pid)
        assert mine is not None
        assert theirs is not None
        assert mine.monitors == (pid,)
        assert theirs.monitored_by == (me,)
        await stop_and_wait(pid)
        mine = otp.process_info(me)
        assert mine is not None
        assert mine.monitors == ()


async def test_a_watcher_that_exits_drops_its_monitors(node: otp.Node) -> None:
    target = node.spawn(sleeper)

    async def watch() -> None:
        otp.monitor(target)

    node.spawn(watch)
    await trio.testing.wait_all_tasks_blocked()
    info = otp.process_info(target)
    assert info is not None
    assert info.monitored_by == ()
    async with otp.open_mailbox():
        await stop_and_wait(target)
