"""Rule 2: processes, pids, spawning, sending, mailboxes and selective receive."""

from __future__ import annotations

import gc
import inspect
import re
import weakref
from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import sleeper, stop_and_wait, wait_down


async def test_pid_prints_the_erlang_way(node: otp.Node) -> None:
    pid = node.spawn(sleeper)
    assert re.fullmatch(r"<0\.\d+\.0>", repr(pid))
    assert str(pid) == repr(pid)
    assert node.pid_from_string(str(pid)) is pid
    async with otp.open_mailbox():
        await stop_and_wait(pid)
    assert node.pid_from_string(str(pid)) is None


async def test_pids_are_unique_and_ordered_by_spawn(node: otp.Node) -> None:
    pids = [node.spawn(sleeper) for _ in range(3)]
    assert len(set(pids)) == 3
    assert sorted(pids) == pids
    async with otp.open_mailbox():
        for pid in pids:
            await stop_and_wait(pid)


async def test_node_spawn_runs_the_function_as_a_process_and_self_is_its_pid(node: otp.Node) -> None:
    seen: list[Any] = []

    async def body(x: int, y: int) -> None:
        seen.append((otp.self(), x + y, otp.current_process()))

    pid = node.spawn(body, 1, 2)
    await trio.testing.wait_all_tasks_blocked()
    assert seen[0][0] is pid
    assert seen[0][1] == 3
    assert seen[0][2].pid is pid
    assert not otp.is_alive(pid)


async def test_self_outside_a_process_raises_not_in_process(node: otp.Node) -> None:
    with pytest.raises(otp.NotInProcessError):
        otp.self()
    with pytest.raises(otp.NotInProcessError):
        await otp.receive()


async def test_spawn_link_and_spawn_monitor_need_a_process(node: otp.Node) -> None:
    with pytest.raises(otp.NotInProcessError):
        otp.spawn_link(sleeper)
    with pytest.raises(otp.NotInProcessError):
        otp.spawn_monitor(sleeper)
    assert node.processes() == []


async def test_spawn_from_a_process_records_the_parent_without_linking(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        child = otp.spawn(sleeper)
        info = otp.process_info(child)
        assert info is not None
        assert info.parent is me
        assert info.links == ()
        await stop_and_wait(child)


async def test_spawn_link_links_both_ways(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        child = otp.spawn_link(sleeper)
        child_info = otp.process_info(child)
        my_info = otp.process_info(me)
        assert child_info is not None
        assert my_info is not None
        assert child_info.links == (me,)
        assert my_info.links == (child,)
        otp.unlink(child)
        await stop_and_wait(child)


async def test_spawn_monitor_returns_pid_and_ref_and_delivers_down(node: otp.Node) -> None:
    async def quick() -> None:
        return

    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(quick)
        down = await wait_down(ref)
        assert down == otp.Down(ref, pid, otp.NORMAL)


async def test_process_outlives_its_spawner_unless_linked(node: otp.Node) -> None:
    children: dict[str, otp.Pid] = {}

    async def spawner() -> None:
        children["plain"] = otp.spawn(sleeper)
        children["linked"] = otp.spawn_link(sleeper)
        raise otp.ProcessExit("spawner_done")

    async with otp.open_mailbox():
        _pid, ref = otp.spawn_monitor(spawner)
        assert (await wait_down(ref)).reason == "spawner_done"
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(children["plain"])
        assert not otp.is_alive(children["linked"])
        await stop_and_wait(children["plain"])


async def test_send_is_sync_and_never_blocks_the_mailbox_is_unbounded(node: otp.Node) -> None:
    assert not inspect.iscoroutinefunction(otp.send)
    pid = node.spawn(sleeper)
    with trio.testing.assert_no_checkpoints():
        for i in range(10_000):
            otp.send(pid, i)
    info = otp.process_info(pid)
    assert info is not None
    assert info.statistics.message_queue_len == 10_000
    assert info.statistics.messages_received == 10_000
    async with otp.open_mailbox():
        await stop_and_wait(pid)


async def test_statistics_keep_the_mailbox_high_water_mark(node: otp.Node) -> None:
    async def drain(n: int) -> None:
        for _ in range(n):
            await otp.receive()
        await otp.receive(lambda m: m == "done")

    pid = node.spawn(drain, 5)
    for i in range(5):
        otp.send(pid, i)
    await trio.testing.wait_all_tasks_blocked()
    info = otp.process_info(pid)
    assert info is not None
    assert info.statistics.message_queue_len == 0
    assert info.statistics.message_queue_high_water == 5
    assert info.statistics.messages_received == 5
    otp.send(pid, "done")
    await trio.testing.wait_all_tasks_blocked()
    assert not otp.is_alive(pid)


async def test_send_to_a_dead_pid_is_silent_to_an_unknown_name_raises(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper)
        await stop_and_wait(pid)
    otp.send(pid, "into the void")
    with pytest.raises(otp.NoProcessError, match="nobody"):
        otp.send("nobody", "hello")


async def test_receive_is_selective_non_matching_messages_stay_queued_in_order(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        for m in [1, "a", 2, "b", 3.0, "c"]:
            otp.send(me, m)
        assert await otp.receive(str) == "a"
        assert await otp.receive(lambda m: m == 3.0) == 3.0
        assert await otp.receive((float, int)) == 1
        assert await otp.receive(str) == "b"
        assert [otp.receive_nowait(), otp.receive_nowait()] == [2, "c"]


async def test_receive_waits_for_a_matching_message_sent_later(node: otp.Node) -> None:
    async def later(to: otp.Pid) -> None:
        otp.send(to, "skip me")
        await trio.testing.wait_all_tasks_blocked()
        otp.send(to, ("wanted", 1))

    async with otp.open_mailbox() as me:
        otp.spawn(later, me)
        msg = await otp.receive(lambda m: isinstance(m, tuple) and m[0] == "wanted")
        assert msg == ("wanted", 1)
        assert otp.receive_nowait() == "skip me"
        with pytest.raises(trio.WouldBlock):
            otp.receive_nowait()


async def test_receive_timeout_raises_receive_timeout_and_keeps_the_queue(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox() as me:
        otp.send(me, "other")
        start = trio.current_time()
        with pytest.raises(otp.ReceiveTimeout):
            await otp.receive(int, timeout=2.5)
        assert trio.current_time() - start == pytest.approx(2.5)
        assert otp.receive_nowait() == "other"


async def test_flush_drops_all_or_matching_messages(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        for m in [1, "a", 2]:
            otp.send(me, m)
        assert otp.flush(lambda m: isinstance(m, int)) == 2
        assert otp.receive_nowait() == "a"
        otp.send(me, 3)
        assert otp.flush() == 1


async def test_processes_lists_live_pids_oldest_first(node: otp.Node) -> None:
    a = node.spawn(sleeper)
    b = node.spawn(sleeper)
    assert otp.processes() == [a, b]
    async with otp.open_mailbox():
        await stop_and_wait(b)
        await stop_and_wait(a)
    assert otp.processes() == []
    assert otp.process_info(a) is None


async def test_receive_nowait_and_flush_accept_types_like_receive(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        for m in [0, "a", 1, b"b", "c"]:
            otp.send(me, m)
        assert otp.receive_nowait(str) == "a"
        assert otp.receive_nowait((bytes, str)) == b"b"
        assert otp.flush(int) == 2
        assert otp.receive_nowait() == "c"


async def test_a_removed_exit_hook_does_not_run_and_the_others_do(node: otp.Node) -> None:
    ran: list[str] = []

    def first(_p: otp.Process, _r: Any) -> None:
        ran.append("first")

    def second(_p: otp.Process, _r: Any) -> None:
        ran.append("second")

    pid = node.spawn(sleeper)
    proc = node.process(pid)
    assert proc is not None
    proc.add_exit_hook(first)
    proc.add_exit_hook(second)
    proc.remove_exit_hook(first)
    proc.remove_exit_hook(first)  # not there any more: nothing happens
    async with otp.open_mailbox():
        await stop_and_wait(pid)
    assert ran == ["second"]


class _Arg:
    pass


async def test_the_runtime_does_not_keep_a_process_arguments_alive(node: otp.Node) -> None:
    async def body(arg: _Arg) -> None:
        del arg  # done with it
        await trio.sleep_forever()

    arg = _Arg()
    alive = weakref.ref(arg)
    pid = node.spawn(body, arg)
    del arg
    await trio.testing.wait_all_tasks_blocked()
    gc.collect()
    assert alive() is None
    async with otp.open_mailbox():
        await stop_and_wait(pid)


class _HoldsItsProcess:
    def __init__(self, proc: otp.Process) -> None:
        self.proc = proc

    def summary(self) -> dict[str, Any]:
        return {"pid": str(self.proc.pid)}


async def _summarised_and_timed() -> None:
    me = otp.current_process()
    me.summary = _HoldsItsProcess(me).summary  # a cycle through the process, as connections make
    me.crash_context = lambda: repr(me)
    otp.send_after(1.0, me.pid, "tick")
    assert await otp.receive() == "tick"


async def test_an_exited_process_is_freed_by_reference_counting_alone(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    # With many live processes CPython's full collections are rare: what an exited process
    # leaves in reference cycles (or what the timer service still holds) stays for long.
    gc.collect()
    gc.disable()
    try:
        async with otp.open_mailbox():
            pid, ref = otp.spawn_monitor(_summarised_and_timed)
            proc = node.process(pid)
            assert proc is not None
            gone = weakref.ref(proc)
            del proc
            down = await wait_down(ref)
            assert down.reason is otp.NORMAL
            await trio.testing.wait_all_tasks_blocked()
            assert gone() is None
    finally:
        gc.enable()
