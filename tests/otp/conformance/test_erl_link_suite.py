"""erl_link_SUITE, ported: links, exit signals through links, process monitors.

Source: erlang/otp ``erts/emulator/test/erl_link_SUITE.erl`` (commit 98cfd6016f8b). One test
per upstream case that applies to one node; each cites its case. Erlang milliseconds are our
seconds divided by 1000; waits use Trio's virtual clock, never real sleeps.

Skipped (no meaning here: they test the distribution, and a node here is one OS process with
no peers to connect to):

- ``dist_links``: links across nodes, ``noconnection`` when a node halts.
- ``monitor_nodes``: ``monitor_node/2`` (there are no other nodes).
- ``dist_process_monitors``: monitors across nodes.
- ``busy_dist_port_monitor``, ``busy_dist_port_link``: a busy distribution port.
- ``otp_5772_dist_link``, ``otp_5772_dist_monitor``: the local cases, across nodes.
- ``otp_7946``: a DOWN/EXIT ``noconnection`` for a halted remote node.
"""

from __future__ import annotations

import trio
import trio.testing

import otp

from .._helpers import wait_down
from ._tp import check_link, check_unlink, links_of, monitors_of, tp_call, tp_cast, tp_loop


async def _common_link_test() -> None:
    # common_link_test(NodeA, NodeB) with NodeA == NodeB == node()
    tp1 = otp.spawn(tp_loop)
    check_unlink(tp1, otp.self())
    tp2 = await tp_call(tp1, lambda: otp.spawn_link(tp_loop))
    check_link(tp1, tp2)
    await tp_call(tp2, lambda: otp.unlink(tp1))
    check_unlink(tp1, tp2)
    await tp_call(tp2, lambda: otp.link(tp1))
    check_link(tp1, tp2)
    assert await tp_call(tp2, lambda: otp.trap_exit(True)) is False

    async def raise_died() -> None:
        raise otp.ProcessExit("died")

    tp_cast(tp1, raise_died)

    async def got_exit() -> bool:
        return await otp.receive(lambda m: m == otp.Exit(tp1, "died")) is not None

    assert await tp_call(tp2, got_exit) is True
    check_unlink(tp1, tp2)
    tp3 = await tp_call(tp2, lambda: otp.spawn_link(tp_loop))
    check_link(tp3, tp2)
    ref3 = otp.monitor(tp3)
    tp_cast(tp2, raise_died)
    assert (await wait_down(ref3)).reason == "died"  # wait_until(is_proc_dead(TP3))
    check_unlink(tp3, tp2)


# erl_link_SUITE.erl, case links: "Tests node local links"
async def test_links(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        await _common_link_test()
        otp.link(me)  # true = link(self())
        assert me not in links_of(me)  # [] = find_erl_link(self(), process, self())
        otp.unlink(me)


async def _run_common_process_monitors(tp1: otp.Pid, tp2: otp.Pid | str) -> None:
    tp2_pid = tp2 if isinstance(tp2, otp.Pid) else otp.whereis(tp2)
    assert tp2_pid is not None
    # TP2O = get_down_object(TP2, TP1): the pid, or {Name, Node} for a name
    tp2o = tp2 if isinstance(tp2, otp.Pid) else otp.RegisteredName(tp2, otp.current_node().name)

    def check_process_monitor(ref: otp.Ref) -> None:
        assert tp2_pid in monitors_of(tp1)[0]
        assert tp1 in monitors_of(tp2_pid)[1]

    def check_process_demonitor() -> None:
        assert tp2_pid not in monitors_of(tp1)[0]
        if otp.is_alive(tp2_pid):
            assert tp1 not in monitors_of(tp2_pid)[1]

    r1 = await tp_call(tp1, lambda: otp.monitor(tp2))
    check_process_monitor(r1)
    # The monitored side cannot remove the monitor (catch erlang:demonitor(R1)).
    await tp_call(tp2_pid, lambda: otp.demonitor(r1))
    check_process_monitor(r1)
    assert await tp_call(tp1, lambda: otp.demonitor(r1)) is True
    check_process_demonitor()

    r2 = await tp_call(tp1, lambda: otp.monitor(tp2))
    check_process_monitor(r2)

    async def bye() -> None:
        raise otp.ProcessExit("bye")

    watch = otp.monitor(tp2_pid)
    tp_cast(tp2_pid, bye)
    await wait_down(watch)  # wait_until(is_proc_dead(TP2))

    async def down_r2() -> otp.Down:
        return await wait_down(r2)

    assert await tp_call(tp1, down_r2) == otp.Down(r2, tp2o, "bye")
    check_process_demonitor()

    r3 = await tp_call(tp1, lambda: otp.monitor(tp2))

    async def down_r3() -> otp.Down:
        return await wait_down(r3)

    assert await tp_call(tp1, down_r3) == otp.Down(r3, tp2o, otp.NOPROC)
    check_process_demonitor()

    async def normal() -> None:
        raise otp.ProcessExit(otp.NORMAL)

    watch1 = otp.monitor(tp1)
    tp_cast(tp1, normal)
    await wait_down(watch1)


# erl_link_SUITE.erl, case process_monitors: "Tests node local process monitors"
async def test_process_monitors(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox() as me:
        # common_process_monitors(node(), node())
        await _run_common_process_monitors(otp.spawn(tp_loop), otp.spawn(tp_loop))
        tp3 = otp.spawn(tp_loop)
        tp4 = otp.spawn(tp_loop)
        await tp_call(tp4, lambda: otp.register("common_process_monitors", otp.self()))
        await _run_common_process_monitors(tp3, "common_process_monitors")

        mon1 = otp.monitor(me)
        otp.register("process_monitors", me)
        mon2 = otp.monitor("process_monitors")
        # receive {'DOWN', Mon1 | Mon2, ...} -> fail after 500 -> demonitor both
        try:
            msg = await otp.receive(lambda m: type(m) is otp.Down and m.ref in (mon1, mon2), timeout=0.5)
            raise AssertionError(f"unexpected down: {msg!r}")
        except otp.ReceiveTimeout:
            pass
        assert otp.demonitor(mon1) is True
        assert otp.demonitor(mon2) is True
        otp.unregister("process_monitors")


# erl_link_SUITE.erl, case otp_5772_link: an exit signal sent and the link removed at once;
# no EXIT may arrive after the unlink.
async def test_otp_5772_link(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox():
        old = otp.trap_exit(True)
        tp1 = otp.spawn_link(tp_loop)
        otp.exit(tp1, "bang")
        otp.unlink(tp1)
        otp.flush(lambda m: type(m) is otp.Exit and m.pid is tp1)  # receive ... after 0
        try:
            late = await otp.receive(lambda m: type(m) is otp.Exit and m.pid is tp1, timeout=1.0)
            raise AssertionError(f"got late exit message: {late!r}")
        except otp.ReceiveTimeout:
            pass
        otp.trap_exit(old)


# erl_link_SUITE.erl, case otp_5772_monitor: a monitor removed right after an exit signal;
# no DOWN may arrive after the demonitor.
async def test_otp_5772_monitor(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox():
        tp1 = otp.spawn(tp_loop)
        m1 = otp.monitor(tp1)
        otp.exit(tp1, "bang")
        otp.demonitor(m1)
        otp.flush(lambda m: type(m) is otp.Down and m.ref is m1)  # receive ... after 0
        try:
            late = await otp.receive(lambda m: type(m) is otp.Down and m.ref is m1, timeout=1.0)
            raise AssertionError(f"got late down message: {late!r}")
        except otp.ReceiveTimeout:
            pass
        await trio.testing.wait_all_tasks_blocked()
        assert not otp.is_alive(tp1)
