"""monitor_SUITE, ported: monitor/demonitor, DOWN messages, named monitors.

Source: erlang/otp ``erts/emulator/test/monitor_SUITE.erl`` (commit 55ac76deff38). One test
per upstream case that applies to one node; each cites its case.

Our ``otp.demonitor(ref)`` answers what Erlang's ``demonitor(Ref, [info])`` answers (True if
the monitor was active and is removed, False otherwise), where ``demonitor/1`` answers
``true`` always; the cases below assert the ``[info]`` answer where the upstream case reads
the plain ``true``. ``otp.monitor`` takes a pid or a registered name; ``{Name, Node}`` for the
local node is spelled with the name alone, and DOWN reports ``RegisteredName(name, node)``.

Skipped (no meaning here):

- ``demon_3``, ``mon_2``, ``remote_remove_monitor``, ``mixer``: monitors across nodes and
  ``noconnection`` (one node, no distribution).
- ``monitor_time_offset``: ``monitor(time_offset, clock_service)``; the runtime has no time
  warp to monitor (it runs on Trio's clock).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import otp

from .._helpers import sleeper, wait_down
from ._tp import monitors_of


async def _expect_down(ref: otp.Ref, pid: Any, reason: Any = None) -> Any:
    down = await wait_down(ref)
    assert down.pid == pid
    if reason is not None:
        assert down.reason == reason
    return down.reason


def _expect_no_msg() -> None:
    mailbox = otp.current_process()
    assert mailbox is not None
    assert not mailbox.mailbox, f"unexpected messages {list(mailbox.mailbox)!r}"


async def _g(parent: otp.Pid) -> None:
    await otp.receive(lambda m: m == "ok")
    otp.exit(parent, "foo")


async def _g0() -> None:
    b = otp.spawn(_g, otp.self())
    otp.monitor(b)
    otp.send(b, "ok")
    await otp.receive(lambda m: m == "ok")


async def _g1() -> None:
    b, _ = otp.spawn_monitor(_g, otp.self())
    otp.send(b, "ok")
    await otp.receive(lambda m: m == "ok")


# monitor_SUITE.erl, case case_1: "A monitors B, B kills A and then exits"
async def test_case_1(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)
        a = otp.spawn_link(_g0)
        assert await otp.receive() == otp.Exit(a, "foo")


# monitor_SUITE.erl, case case_1a: the same with spawn_monitor
async def test_case_1a(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)
        a = otp.spawn_link(_g1)
        assert await otp.receive() == otp.Exit(a, "foo")


async def _y2(parent: otp.Pid) -> None:
    ref = await otp.receive()
    otp.send(parent, otp.demonitor(ref))


# monitor_SUITE.erl, case case_2: "A monitors B, B demonitors A": B cannot remove A's
# monitor (with [info] the answer is false), and A still gets B's DOWN.
async def test_case_2(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        b = otp.spawn(_y2, me)
        r = otp.monitor(b)
        otp.send(b, r)
        assert await otp.receive(bool) is False
        await _expect_down(r, b, otp.NORMAL)


# monitor_SUITE.erl, case case_2a: the same with spawn_monitor
async def test_case_2a(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        b, r = otp.spawn_monitor(_y2, me)
        otp.send(b, r)
        assert await otp.receive(bool) is False
        await _expect_down(r, b, otp.NORMAL)


# monitor_SUITE.erl, case mon_e_1: "Error cases for monitor/2" (the monitor type and the
# remote-name forms have no equivalent; the bad items do)
async def test_mon_e_1(node: otp.Node) -> None:
    async with otp.open_mailbox():
        for item in (["bingo"], 1, ("rex", "node", "junk")):
            with pytest.raises(TypeError):
                otp.monitor(item)  # type: ignore[arg-type]
        _expect_no_msg()


# monitor_SUITE.erl, case demon_e_1: "Error cases for demonitor/1"
async def test_demon_e_1(node: otp.Node) -> None:
    async with otp.open_mailbox() as p0:
        for bad in ("plutt", 1):
            with pytest.raises(TypeError):
                otp.demonitor(bad)  # type: ignore[arg-type]

        # Demonitor with a ref created at the wrong monitor link end: no error (and, with
        # [info], false: it is not ours), the other side's monitor stays.
        async def p2_body() -> None:
            otp.send(p0, ("ref", otp.self(), otp.monitor(p0)))
            await otp.receive(lambda m: m == "stop")

        p2 = otp.spawn(p2_body)
        _, sender, r2 = await otp.receive(tuple)
        assert sender is p2
        assert otp.demonitor(r2) is False
        assert p2 in monitors_of(p0)[1]
        otp.send(p2, "stop")


# monitor_SUITE.erl, case demon_1: demonitor of a fresh ref is a no-op
async def test_demon_1(node: otp.Node) -> None:
    async with otp.open_mailbox():
        assert otp.demonitor(otp.make_ref()) is False  # [info]: not a monitor; no error
        _expect_no_msg()


# monitor_SUITE.erl, case demon_2: "Cases for demonitor/1"
async def test_demon_2(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox() as me:
        r1 = otp.monitor(me)
        assert otp.demonitor(r1) is True
        assert otp.demonitor(r1) is False  # extra demonitor: no error
        _expect_no_msg()

        # Normal 'DOWN'
        p2 = otp.spawn(trio.sleep, 0.001)  # spawn(timer, sleep, [1])
        r2 = otp.monitor(p2)
        assert await _expect_down(r2, p2) in (otp.NORMAL, otp.NOPROC)

        # Demonitor before 'DOWN'
        p4 = otp.spawn(trio.sleep, 100)
        r4 = otp.monitor(p4)
        otp.demonitor(r4)
        otp.exit(p4, "frop")
        await trio.testing.wait_all_tasks_blocked()
        _expect_no_msg()


# monitor_SUITE.erl, case demonitor_flush
async def test_demonitor_flush(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox():
        with pytest.raises(TypeError):
            otp.demonitor("x", flush=True)  # type: ignore[arg-type]
        # demonitor_flush_test(node())
        p = otp.spawn(trio.sleep, 100)
        m1, m2, m3, m4 = (otp.monitor(p) for _ in range(4))
        assert otp.demonitor(m1, flush=True) is True
        otp.exit(p, "bang")
        assert await wait_down(m2) == otp.Down(m2, p, "bang")
        await trio.sleep(0.1)
        assert otp.demonitor(m3, flush=True) is False  # fired; [info] says so, DOWN flushed
        assert otp.demonitor(m4) is False  # fired; its DOWN stays queued
        assert await wait_down(m4) == otp.Down(m4, p, "bang")
        try:
            dm = await otp.receive(lambda m: type(m) is otp.Down and m.ref in (m1, m3), timeout=0.1)
            raise AssertionError(f"unexpected down message {dm!r}")
        except otp.ReceiveTimeout:
            pass


# monitor_SUITE.erl, case local_remove_monitor: demonitor(M, [info]) answers true exactly
# when no DOWN of M is (or will be) in the queue, false exactly when it is.
async def test_local_remove_monitor(node: otp.Node) -> None:
    groups, per_group = 100, 100

    async def group(master: otp.Pid) -> None:
        async def quick() -> None:
            return None

        ms = []
        for i in range(per_group):
            p = otp.spawn(quick)
            ms.append(otp.monitor(p))
            if i % 3 == 0:
                await trio.sleep(0)  # let some of them run and exit (Erlang runs in parallel)
        t = f = 0
        for m in ms:
            if otp.demonitor(m):
                with pytest.raises(trio.WouldBlock):
                    otp.receive_nowait(lambda x, m=m: type(x) is otp.Down and x.ref is m)
                t += 1
            else:
                otp.receive_nowait(lambda x, m=m: type(x) is otp.Down and x.ref is m)
                f += 1
        otp.send(master, ("rm_mon_res", otp.self(), (t, f)))

    async with otp.open_mailbox() as me:
        gs = [otp.spawn_link(group, me) for _ in range(groups)]
        true = false = 0
        for g in gs:
            _, _, (gt, gf) = await otp.receive(lambda m, g=g: type(m) is tuple and m[:2] == ("rm_mon_res", g))
            true, false = true + gt, false + gf
        assert true + false == groups * per_group
        assert true > 0  # both branches were taken
        assert false > 0
        await trio.testing.wait_all_tasks_blocked()


async def _jeeves(parent: otp.Pid, name: str | None, ref: otp.Ref) -> None:
    if name is not None:
        otp.register(name, otp.self())
    otp.send(parent, (otp.self(), ref))
    while True:
        _, what = await otp.receive(lambda m: type(m) is tuple and len(m) == 2 and m[0] is parent)
        match what:
            case "monitors":
                otp.send(parent, (otp.self(), ("monitors", monitors_of(otp.self()))))
            case ("monitor_process", p):
                otp.send(parent, (otp.self(), ("monitor_process", otp.monitor(p))))
            case ("demonitor", r):
                otp.send(parent, (otp.self(), ("demonitor", otp.demonitor(r))))
            case "stop":
                return
            case ("exit", reason):
                raise otp.ProcessExit(reason)


async def _start_jeeves(name: str | None) -> otp.Pid:
    ref = otp.make_ref()
    pid = otp.spawn(_jeeves, otp.self(), name, ref)
    await otp.receive(lambda m: m == (pid, ref))
    return pid


def _tell_jeeves(pid: otp.Pid, what: Any) -> None:
    otp.send(pid, (otp.self(), what))


async def _ask_jeeves(pid: otp.Pid, request: Any) -> Any:
    _tell_jeeves(pid, request)
    _, response = await otp.receive(lambda m: type(m) is tuple and len(m) == 2 and m[0] is pid)
    return response


# monitor_SUITE.erl, case mon_1: "Cases for monitor/2"
async def test_mon_1(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    jeeves = otp.RegisteredName("jeeves", node.name)
    async with otp.open_mailbox():
        # Normal case
        p2 = otp.spawn(trio.sleep, 0.001)
        r2 = otp.monitor(p2)
        assert await _expect_down(r2, p2) in (otp.NORMAL, otp.NOPROC)
        p2a, r2a = otp.spawn_monitor(trio.sleep, 0.001)
        await _expect_down(r2a, p2a, otp.NORMAL)

        # 'DOWN' with other reason
        p3 = otp.spawn(trio.sleep, 100)
        r3 = otp.monitor(p3)
        otp.exit(p3, "frop")
        await _expect_down(r3, p3, "frop")
        p3a, r3a = otp.spawn_monitor(trio.sleep, 100)
        otp.exit(p3a, "frop")
        await _expect_down(r3a, p3a, "frop")

        # Monitor fails because process is dead
        r4 = otp.monitor(p3)
        await _expect_down(r4, p3, otp.NOPROC)

        # Normal case (named process)
        p5 = await _start_jeeves("jeeves")
        r5 = otp.monitor("jeeves")
        _tell_jeeves(p5, "stop")
        await _expect_down(r5, jeeves, otp.NORMAL)

        # 'DOWN' with other reason (named process; {jeeves, node()} is the name here)
        p6 = await _start_jeeves("jeeves")
        r6 = otp.monitor("jeeves")
        _tell_jeeves(p6, ("exit", "frop"))
        await _expect_down(r6, jeeves, "frop")

        # Monitor (named process) fails because process is dead
        r7 = otp.monitor("jeeves")
        await _expect_down(r7, jeeves, otp.NOPROC)


class _Big:
    """A large exit reason (a nested structure and its pickled bytes)."""


async def _large_exit_sub(s: Any) -> None:
    await otp.receive()
    raise otp.ProcessExit(s)


# monitor_SUITE.erl, case large_exit: "Large exit reason", a hundred times
async def test_large_exit(node: otp.Node) -> None:
    import pickle

    async with otp.open_mailbox():
        for _ in range(100):
            s0 = ("big", "tuple", "with", ["list", 4563784278])
            s = (s0, pickle.dumps(s0))
            p = otp.spawn(_large_exit_sub, s)
            r = otp.monitor(p)
            otp.send(p, "hej")
            down = await otp.receive()
            assert down == otp.Down(r, p, s)


# monitor_SUITE.erl, case list_cleanup: "Testing of monitor link list cleanup by using
# erlang:process_info/2" (the local half; the remote half needs a second node)
async def test_list_cleanup(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox(name="master_bertie") as p0:
        # Normal local case, monitor and demonitor
        p1 = await _start_jeeves("jeeves")
        assert monitors_of(p0) == ((), ())
        assert await _ask_jeeves(p1, "monitors") == ("monitors", ((), ()))
        r1a = otp.monitor(p1)
        assert monitors_of(p0) == ((p1,), ())
        assert await _ask_jeeves(p1, "monitors") == ("monitors", ((), (p0,)))
        assert otp.demonitor(r1a) is True
        _expect_no_msg()
        assert monitors_of(p0) == ((), ())
        assert await _ask_jeeves(p1, "monitors") == ("monitors", ((), ()))
        # Remonitor named and try again, now exiting the monitored process
        r1b = otp.monitor("jeeves")
        assert monitors_of(p0) == ((p1,), ())
        assert await _ask_jeeves(p1, "monitors") == ("monitors", ((), (p0,)))
        _tell_jeeves(p1, "stop")
        await _expect_down(r1b, otp.RegisteredName("jeeves", node.name), otp.NORMAL)
        assert monitors_of(p0) == ((), ())

        # Slightly weird local case - the monitoring process crashes
        p2 = await _start_jeeves("jeeves")
        assert monitors_of(p0) == ((), ())
        assert await _ask_jeeves(p2, "monitors") == ("monitors", ((), ()))
        answer = await _ask_jeeves(p2, ("monitor_process", "master_bertie"))
        assert answer[0] == "monitor_process"
        assert monitors_of(p0) == ((), (p2,))
        assert await _ask_jeeves(p2, "monitors") == ("monitors", ((p0,), ()))
        _tell_jeeves(p2, ("exit", "frop"))
        await trio.sleep(2)
        assert monitors_of(p0) == ((), ())


# monitor_SUITE.erl, case named_down: "Test that DOWN message for a named monitor isn't
# delivered until name has been unregistered"
async def test_named_down(node: otp.Node) -> None:
    name = "monitor_SUITE-named_down"
    async with otp.open_mailbox() as me:
        named = otp.spawn_link(sleeper)
        otp.register(name, named)
        otp.unlink(named)
        otp.exit(named, "bang")
        mon = otp.monitor(name)
        await wait_down(mon)
        otp.register(name, me)  # the name is free by the time the DOWN arrives
        otp.unregister(name)


# monitor_SUITE.erl, case otp_5827: a pid of another "creation" (same number, not the same
# process) gets DOWN noproc at once instead of hanging
async def test_otp_5827(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        other_creation = otp.Pid(me.node_id, me.id, me.serial + 1)

        async def watcher(parent: otp.Pid, ok: otp.Ref) -> None:
            mon = otp.monitor(other_creation)
            down = await otp.receive(timeout=0)  # "should get the DOWN message right away"
            assert down == otp.Down(mon, other_creation, otp.NOPROC)
            otp.send(parent, ok)

        ok = otp.make_ref()
        pid, ref = otp.spawn_monitor(watcher, me, ok)
        assert await otp.receive(lambda m: m is ok) is ok
        await wait_down(ref)
        assert pid is not None
