"""Rule 3: exit signals, links and trapping exits."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Boom, sleeper, stop_and_wait, trapper, wait_down


async def _exit_with(reason: Any) -> None:
    await otp.receive(lambda m: m == "go")
    raise otp.ProcessExit(reason)


async def _crash_on_go() -> None:
    await otp.receive(lambda m: m == "go")
    raise Boom("crash on go")


async def _linked_pair(first: Any) -> tuple[otp.Pid, otp.Pid, otp.Ref, otp.Ref]:
    """Spawn ``first`` and a sleeper linked to it; monitor both from the current process."""
    a = otp.spawn(first) if not isinstance(first, tuple) else otp.spawn(*first)

    async def linked_sleeper(to: otp.Pid) -> None:
        otp.link(to)
        await trio.sleep_forever()

    b = otp.spawn(linked_sleeper, a)
    await trio.testing.wait_all_tasks_blocked()
    return a, b, otp.monitor(a), otp.monitor(b)


@pytest.mark.parametrize(
    "reason",
    [otp.NORMAL, otp.SHUTDOWN, otp.Shutdown("left"), "some_atom", ("tuple", 1)],
    ids=repr,
)
async def test_a_process_exits_with_the_reason_it_raises(node: otp.Node, reason: Any) -> None:
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(_exit_with, reason)
        otp.send(pid, "go")
        assert (await wait_down(ref)).reason == reason


async def test_a_crash_exits_with_the_exception_and_keeps_its_traceback(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(_crash_on_go)
        otp.send(pid, "go")
        reason = (await wait_down(ref)).reason
    assert isinstance(reason, Boom)
    assert reason.__traceback__ is not None
    frames = []
    tb = reason.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "_crash_on_go" in frames


async def test_links_are_bidirectional(node: otp.Node) -> None:
    async with otp.open_mailbox():
        # b linked itself to a: a's crash kills b ...
        a, b, ra, rb = await _linked_pair(_crash_on_go)
        otp.send(a, "go")
        assert isinstance((await wait_down(rb)).reason, Boom)
        await wait_down(ra)
        # ... and b's crash kills a, although a did not call link.
        a, b, ra, rb = await _linked_pair(sleeper)
        otp.exit(b, "b_died")
        assert (await wait_down(ra)).reason == "b_died"
        assert (await wait_down(rb)).reason == "b_died"


async def test_abnormal_exit_kills_linked_non_trapping_processes(node: otp.Node) -> None:
    async with otp.open_mailbox():
        a, _b, ra, rb = await _linked_pair((_exit_with, "bad"))
        otp.send(a, "go")
        assert (await wait_down(rb)).reason == "bad"
        assert (await wait_down(ra)).reason == "bad"


@pytest.mark.parametrize("reason", [otp.SHUTDOWN, otp.Shutdown("bye")], ids=repr)
async def test_shutdown_exit_kills_linked_non_trapping_processes(node: otp.Node, reason: Any) -> None:
    async with otp.open_mailbox():
        a, _b, ra, rb = await _linked_pair((_exit_with, reason))
        otp.send(a, "go")
        assert (await wait_down(rb)).reason == reason
        await wait_down(ra)


async def test_normal_exit_does_not_kill_linked_processes(node: otp.Node) -> None:
    async with otp.open_mailbox():
        a, b, ra, _rb = await _linked_pair((_exit_with, otp.NORMAL))
        otp.send(a, "go")
        assert (await wait_down(ra)).reason is otp.NORMAL
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(b)
        info = otp.process_info(b)
        assert info is not None
        assert info.links == ()
        await stop_and_wait(b)


async def test_a_trapping_process_gets_exit_messages_instead_of_dying(node: otp.Node) -> None:
    log: list[Any] = []
    async with otp.open_mailbox():
        t = otp.spawn(trapper, log, trap_exit=True)
        await trio.testing.wait_all_tasks_blocked()

        async def linked_crasher(to: otp.Pid) -> None:
            otp.link(to)
            await _crash_on_go()

        c = otp.spawn(linked_crasher, t)
        await trio.testing.wait_all_tasks_blocked()
        otp.send(c, "go")
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(t)
        assert len(log) == 1
        assert type(log[0]) is otp.Exit
        assert log[0].pid is c
        assert isinstance(log[0].reason, Boom)
        ref = otp.monitor(t)
        otp.send(t, "stop")
        assert (await wait_down(ref)).reason is otp.NORMAL


async def test_a_trapping_process_sees_normal_exits_of_links(node: otp.Node) -> None:
    log: list[Any] = []
    async with otp.open_mailbox():
        t = otp.spawn(trapper, log, trap_exit=True)

        async def linked_quick(to: otp.Pid) -> None:
            otp.link(to)

        q = otp.spawn(linked_quick, t)
        await trio.testing.wait_all_tasks_blocked()
        assert log == [otp.Exit(q, otp.NORMAL)]
        ref = otp.monitor(t)
        otp.send(t, "stop")
        await wait_down(ref)


async def test_kill_cannot_be_trapped_and_reaches_links_as_killed(node: otp.Node) -> None:
    log: list[Any] = []
    async with otp.open_mailbox():
        watcher = otp.spawn(trapper, log, trap_exit=True)

        async def linked_trapper(to: otp.Pid) -> None:
            otp.link(to)
            otp.trap_exit()
            await trio.sleep_forever()

        victim = otp.spawn(linked_trapper, watcher)
        await trio.testing.wait_all_tasks_blocked()
        assert await stop_and_wait(victim, otp.KILL) is otp.KILLED
        await trio.testing.wait_all_tasks_blocked()
        assert log == [otp.Exit(victim, otp.KILLED)]
        ref = otp.monitor(watcher)
        otp.send(watcher, "stop")
        await wait_down(ref)


async def test_killed_reaching_a_non_trapping_link_is_an_ordinary_exit_signal(node: otp.Node) -> None:
    async with otp.open_mailbox():
        a, _b, ra, rb = await _linked_pair(sleeper)
        otp.exit(a, otp.KILL)
        assert (await wait_down(ra)).reason is otp.KILLED
        assert (await wait_down(rb)).reason is otp.KILLED


async def test_exit_from_another_process_kills_a_non_trapping_target(node: otp.Node) -> None:
    async def killer(target: otp.Pid) -> None:
        otp.exit(target, "you_die")

    async with otp.open_mailbox():
        victim, ref = otp.spawn_monitor(sleeper)
        otp.spawn(killer, victim)
        assert (await wait_down(ref)).reason == "you_die"


async def test_exit_to_a_trapping_process_arrives_as_exit_from_the_sender(node: otp.Node) -> None:
    log: list[Any] = []
    async with otp.open_mailbox() as me:
        t = otp.spawn(trapper, log, trap_exit=True)
        otp.exit(t, "please")
        otp.exit(t, otp.NORMAL)
        await trio.testing.wait_all_tasks_blocked()
        assert log == [otp.Exit(me, "please"), otp.Exit(me, otp.NORMAL)]
        ref = otp.monitor(t)
        otp.send(t, "stop")
        await wait_down(ref)


async def test_exit_normal_from_another_process_is_ignored_by_a_non_trapping_target(
    node: otp.Node,
) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper)
        otp.exit(pid, otp.NORMAL)
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(pid)
        await stop_and_wait(pid)


async def test_exit_normal_to_oneself_exits(node: otp.Node) -> None:
    async def suicide() -> None:
        otp.exit(otp.self(), otp.NORMAL)
        await trio.sleep_forever()

    async with otp.open_mailbox():
        _, ref = otp.spawn_monitor(suicide)
        assert (await wait_down(ref)).reason is otp.NORMAL


async def test_exit_works_from_outside_a_process(node: otp.Node) -> None:
    pid = node.spawn(sleeper)
    # Not inside a process here: the signal has no sender.
    otp.exit(pid, "from_outside")
    await trio.testing.wait_all_tasks_blocked()
    assert not otp.is_alive(pid)


async def test_link_and_unlink_by_a_third_process_leave_other_links_alone(node: otp.Node) -> None:
    async with otp.open_mailbox():
        a, b, ra, rb = await _linked_pair(_crash_on_go)
        info = otp.process_info(b)
        assert info is not None
        assert info.links == (a,)

        async def unlink_from_a(target: otp.Pid) -> None:
            otp.link(target)
            otp.unlink(target)

        otp.spawn(unlink_from_a, a)
        await trio.testing.wait_all_tasks_blocked()
        # The third process's link/unlink left the a-b link alone.
        info = otp.process_info(b)
        assert info is not None
        assert info.links == (a,)
        otp.send(a, "go")
        assert isinstance((await wait_down(rb)).reason, Boom)
        await wait_down(ra)


async def test_unlink_from_one_side_removes_the_link_both_ways_and_stops_propagation(node: otp.Node) -> None:
    async def unlink_then_wait(to: otp.Pid) -> None:
        otp.link(to)
        otp.unlink(to)
        await trio.sleep_forever()

    async with otp.open_mailbox():
        a = otp.spawn(_crash_on_go)
        b = otp.spawn(unlink_then_wait, a)
        await trio.testing.wait_all_tasks_blocked()
        ra = otp.monitor(a)
        otp.send(a, "go")
        await wait_down(ra)
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(b)
        await stop_and_wait(b)


async def test_linking_to_a_dead_process_signals_noproc(node: otp.Node) -> None:
    log: list[Any] = []

    async def link_to_dead(dead: otp.Pid) -> None:
        otp.trap_exit()
        otp.link(dead)
        log.append(await otp.receive())

    async with otp.open_mailbox():
        dead = otp.spawn(sleeper)
        await stop_and_wait(dead)
        _, ref = otp.spawn_monitor(link_to_dead, dead)
        await wait_down(ref)
        assert log == [otp.Exit(dead, otp.NOPROC)]


async def test_trap_exit_returns_the_previous_flag(node: otp.Node) -> None:
    async with otp.open_mailbox():
        assert otp.trap_exit(True) is False
        assert otp.trap_exit(False) is True


def test_is_normal_and_is_shutdown_exit_classify_reasons() -> None:
    assert otp.is_normal_exit(otp.NORMAL)
    assert otp.is_normal_exit(otp.SHUTDOWN)
    assert otp.is_normal_exit(otp.Shutdown("x"))
    assert not otp.is_normal_exit(otp.KILLED)
    assert not otp.is_normal_exit(Boom())
    assert otp.is_shutdown_exit(otp.Shutdown(1))
    assert otp.is_shutdown_exit(otp.SHUTDOWN)
    assert not otp.is_shutdown_exit(otp.NORMAL)
    assert repr(otp.Shutdown("left")) == "{:shutdown, 'left'}"
    assert otp.NORMAL == "normal"
    assert repr(otp.KILLED) == ":killed"
