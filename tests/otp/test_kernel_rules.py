"""Issue 11, rules 1-8: the OTP rules of exit signals, links, monitors, timers and GenServer
that the runtime broke, one test (or a few) per rule, named for it.

The upstream-derived cases are in ``tests/otp/conformance/``; these state each rule directly.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import sleeper, wait_down

# -- rule 1: exit(self(), reason) takes effect before exit returns ----------------------------


async def test_exit_self_raises_at_once(node: otp.Node) -> None:
    seen: list[Any] = []

    async def victim() -> None:
        try:
            otp.exit(otp.self(), "boom")
            seen.append("code after exit ran")
        except otp.ProcessExit as exc:
            # Already dead to the runtime when exit() raises: not alive, name freed.
            seen.append(("raised", exc.reason, otp.is_alive(me), otp.whereis("victim")))
            raise

    async with otp.open_mailbox():
        me = otp.spawn(victim, name="victim")
        ref = otp.monitor(me)
        assert (await wait_down(ref)).reason == "boom"
    assert seen == [("raised", "boom", False, None)]


async def test_exit_self_cannot_be_swallowed_by_a_later_otp_call(node: otp.Node) -> None:
    seen: list[str] = []

    async def swallower(server: otp.Pid) -> None:
        try:
            otp.exit(otp.self(), "boom")
        except BaseException:  # the point: user code that swallows the exit
            seen.append("swallowed")
        for attempt in (lambda: otp.send(otp.self(), "x"), lambda: otp.self(), lambda: otp.link(server)):
            try:
                attempt()
            except otp.ProcessExit as exc:
                seen.append(f"raised again: {exc.reason}")
        try:
            await otp.call(server, "ping")
        except otp.ProcessExit as exc:
            seen.append(f"call raised again: {exc.reason}")
        with pytest.raises(trio.Cancelled):  # and its next checkpoint ends it
            await trio.lowlevel.checkpoint()
        seen.append("unreachable")

    class Pong(otp.GenServer[None]):
        async def init(self, arg: Any) -> otp.Ok[None]:
            return otp.Ok(None)

        async def handle_call(self, request: Any, from_: otp.From, state: None) -> otp.Reply[None]:
            return otp.Reply("pong", state)

    async with otp.open_mailbox():
        server = await Pong.start()
        _pid, ref = otp.spawn_monitor(swallower, server)
        assert (await wait_down(ref)).reason == "boom"
        assert seen == ["swallowed"] + ["raised again: boom"] * 3 + ["call raised again: boom"]
        await otp.stop(server)


async def test_exit_self_normal_ends_the_process_normal(node: otp.Node) -> None:
    async def victim() -> None:
        otp.exit(otp.self(), otp.NORMAL)
        raise AssertionError("unreachable")

    async with otp.open_mailbox():
        _pid, ref = otp.spawn_monitor(victim)
        assert (await wait_down(ref)).reason is otp.NORMAL


async def test_exit_self_when_trapping_is_a_message_except_kill(node: otp.Node) -> None:
    async def trapping(parent: otp.Pid) -> None:
        otp.trap_exit()
        otp.exit(otp.self(), "soft")
        otp.exit(otp.self(), otp.NORMAL)
        otp.send(parent, [await otp.receive(), await otp.receive()])
        otp.exit(otp.self(), otp.KILL)  # untrappable: ends it with killed

    async with otp.open_mailbox() as me:
        pid, ref = otp.spawn_monitor(trapping, me)
        assert await otp.receive(list) == [otp.Exit(pid, "soft"), otp.Exit(pid, otp.NORMAL)]
        assert (await wait_down(ref)).reason is otp.KILLED


async def test_link_to_dead_pid_raises_noproc(node: otp.Node) -> None:
    async with otp.open_mailbox():
        dead, ref = otp.spawn_monitor(sleeper)
        otp.exit(dead, otp.KILL)
        await wait_down(ref)
        with pytest.raises(otp.NoProcessError) as info:
            otp.link(dead)
        assert info.value.reason == "noproc"
        assert isinstance(info.value, Exception)  # catchable, like Erlang's error(noproc)
        assert otp.process_info(otp.self()) is not None  # the caller lives on
        otp.trap_exit()
        otp.link(dead)  # trapping: the noproc exit signal becomes a message
        assert otp.receive_nowait() == otp.Exit(dead, otp.NOPROC)


# -- rule 2: a process that ends itself with kill propagates kill, not killed -----------------


async def test_self_exit_kill_propagates_kill_to_links(node: otp.Node) -> None:
    async def ends_with_kill() -> None:
        await otp.receive(lambda m: m == "go")
        raise otp.ProcessExit(otp.KILL)

    async def linked_to(pid: otp.Pid) -> None:
        otp.link(pid)
        await trio.sleep_forever()

    async with otp.open_mailbox() as me:
        otp.trap_exit()
        a = otp.spawn(ends_with_kill)
        b = otp.spawn(linked_to, a)  # not trapping: dies of the link signal, with kill
        await trio.testing.wait_all_tasks_blocked()
        otp.link(b)
        ref_a, ref_b = otp.monitor(a), otp.monitor(b)
        otp.send(a, "go")
        assert (await wait_down(ref_a)).reason is otp.KILL
        assert (await wait_down(ref_b)).reason is otp.KILL
        # The link signal kill is trappable: we trap, so we get it as a message and live.
        assert await otp.receive(otp.Exit) == otp.Exit(b, otp.KILL)
        assert otp.is_alive(me)


async def test_exit_signal_kill_still_becomes_killed(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit()
        pid = otp.spawn_link(sleeper)
        otp.exit(pid, otp.KILL)
        assert await otp.receive(otp.Exit) == otp.Exit(pid, otp.KILLED)


# -- rule 3: a monitor on a name reports the name -----------------------------------------------


async def test_monitor_of_name_reports_name_in_down(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper, name="jeeves")
        ref = otp.monitor("jeeves")
        otp.exit(pid, "frop")
        down = await wait_down(ref)
        assert down == otp.Down(ref, otp.RegisteredName("jeeves", node.name), "frop")
        # Monitoring the name once it is gone: noproc, again naming the name.
        ref2 = otp.monitor("jeeves")
        assert otp.receive_nowait() == otp.Down(ref2, otp.RegisteredName("jeeves", node.name), otp.NOPROC)
        # A monitor on the pid itself still reports the pid.
        pid2, ref3 = otp.spawn_monitor(sleeper)
        otp.exit(pid2, otp.KILL)
        assert (await wait_down(ref3)).pid is pid2
    assert not node._monitor_names  # no name entry outlives its monitor


async def test_demonitor_of_a_name_monitor_forgets_the_name(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(sleeper, name="jeeves")
        ref = otp.monitor("jeeves")
        assert otp.demonitor(ref) is True
        assert not node._monitor_names
        otp.exit(pid, otp.KILL)
        await trio.testing.wait_all_tasks_blocked()
        assert otp.flush() == 0


# -- rule 4: cancel_timer of a ref that is not a live timer answers "not found"; read_timer -----


async def test_cancel_timer_unknown_ref_returns_none(node: otp.Node) -> None:
    """Erlang answers ``false``; ours is None (a float would be the time left)."""
    async with otp.open_mailbox():
        assert otp.cancel_timer(otp.make_ref()) is None
        assert otp.read_timer(otp.make_ref()) is None
        for not_a_ref in (1, "a", otp.self()):
            with pytest.raises(TypeError):
                otp.cancel_timer(not_a_ref)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                otp.read_timer(not_a_ref)  # type: ignore[arg-type]


async def test_cancel_timer_of_another_nodes_timer_returns_none(node: otp.Node) -> None:
    async with otp.open_node(name="other") as other:
        foreign = other.send_after(10.0, "nobody", "hej")
        assert node.cancel_timer(foreign) is None
        assert node.read_timer(foreign) is None
        assert other.read_timer(foreign) is not None
        assert other.cancel_timer(foreign) is not None


async def test_read_timer(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox() as me:
        timer = otp.send_after(10.0, me, "hej")
        await trio.sleep(4.0)
        assert otp.read_timer(timer) == pytest.approx(6.0)
        assert otp.read_timer(timer) == pytest.approx(6.0)  # reading does not disturb it
        assert otp.cancel_timer(timer) == pytest.approx(6.0)
        assert otp.read_timer(timer) is None
        fired = otp.send_after(1.0, me, "fired")
        assert await otp.receive() == "fired"
        assert otp.read_timer(fired) is None


@pytest.mark.parametrize("delay", [-1, -0.001, float("nan"), float("inf")])
async def test_send_after_refuses_a_negative_or_infinite_delay(node: otp.Node, delay: float) -> None:
    async with otp.open_mailbox() as me:
        with pytest.raises(ValueError, match="delay"):
            otp.send_after(delay, me, "x")


# -- rule 5: a timer aimed at a pid dies with the process ------------------------------------


class _Payload:
    """A message object we can hold a weak reference to."""


async def test_timer_to_pid_cancelled_when_process_exits(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(sleeper)
        payload = _Payload()
        alive_msg = weakref.ref(payload)
        timer = otp.send_after(100.0, pid, payload)
        del payload
        assert otp.read_timer(timer) == pytest.approx(100.0)
        otp.exit(pid, otp.KILL)
        await wait_down(ref)
        assert otp.read_timer(timer) is None
        assert otp.cancel_timer(timer) is None
        gc.collect()
        assert alive_msg() is None  # the timer let go of its message at once


@pytest.mark.parametrize("count", [1, 2, 3])
async def test_every_timer_to_a_pid_is_cancelled_when_it_exits_after_others_fired_or_were_cancelled(
    node: otp.Node, autojump_clock: trio.testing.MockClock, count: int
) -> None:
    # A process keeps its one timer inline and several in a set: both forms, and the
    # way from one to the other and back, must end every timer with the process.
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(sleeper)
        fired = otp.send_after(1.0, pid, "fires")
        cancelled = otp.send_after(50.0, pid, "cancelled")
        assert otp.cancel_timer(cancelled) == pytest.approx(50.0)
        timers = [otp.send_after(100.0 + i, pid, i) for i in range(count)]
        await trio.sleep(2.0)
        assert otp.read_timer(fired) is None
        assert [otp.read_timer(t) for t in timers] == [pytest.approx(98.0 + i) for i in range(count)]
        otp.exit(pid, otp.KILL)
        await wait_down(ref)
        assert [otp.read_timer(t) for t in timers] == [None] * count
        assert [otp.cancel_timer(t) for t in timers] == [None] * count


async def test_timer_to_dead_pid_is_never_armed(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(sleeper)
        otp.exit(pid, otp.KILL)
        await wait_down(ref)
        heap = len(node._timers)
        timer = otp.send_after(100.0, pid, "hej")
        assert len(node._timers) == heap
        assert otp.read_timer(timer) is None
        assert otp.cancel_timer(timer) is None


async def test_timer_to_a_name_is_not_tied_to_the_process_registered_now(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox() as me:
        first = otp.spawn(sleeper, name="target")
        timer = otp.send_after(5.0, "target", "hej")
        await stop_and_wait_pid(first)
        assert otp.read_timer(timer) is not None  # a name is resolved when the timer fires
        otp.register("target", me)
        assert await otp.receive() == "hej"
        otp.unregister("target")


async def stop_and_wait_pid(pid: otp.Pid) -> None:
    ref = otp.monitor(pid)
    otp.exit(pid, otp.KILL)
    await wait_down(ref)


# -- rule 6: Stop with a reply runs terminate before the caller gets the reply ----------------


class _StopsWithReply(otp.GenServer[otp.Pid]):
    async def init(self, arg: otp.Pid) -> otp.Ok[otp.Pid]:
        return otp.Ok(arg)

    async def handle_call(self, request: Any, from_: otp.From, state: otp.Pid) -> otp.Stop[otp.Pid]:
        return otp.Stop(request, state, reply="bye")

    async def terminate(self, reason: Any, state: otp.Pid) -> None:
        # Let the caller run if it has been answered already: it must not have been.
        await trio.testing.wait_all_tasks_blocked()
        otp.send(state, ("terminated", reason))
        if reason == "fail":
            raise RuntimeError("terminate failed")


async def test_stop_with_reply_terminates_before_reply(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        server = await _StopsWithReply.start(me)
        ref = otp.monitor(server)
        assert await otp.call(server, otp.NORMAL) == "bye"
        # terminate's message was queued before the reply reached us.
        assert otp.receive_nowait() == ("terminated", otp.NORMAL)
        await wait_down(ref)


async def test_stop_with_reply_replies_even_if_terminate_fails(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        server = await _StopsWithReply.start(me)
        ref = otp.monitor(server)
        assert await otp.call(server, "fail") == "bye"
        assert otp.receive_nowait() == ("terminated", "fail")
        reason = (await wait_down(ref)).reason
        assert isinstance(reason, RuntimeError)


# -- rule 7: calling oneself fails with the term calling_self ---------------------------------


class _CallsItself(otp.GenServer[None]):
    async def init(self, arg: Any) -> otp.Ok[None]:
        return otp.Ok(None)

    async def handle_call(self, request: Any, from_: otp.From, state: None) -> otp.Reply[None]:
        try:
            if request == "call":
                await otp.call(otp.self(), "anything")
            else:
                await otp.stop(otp.self())
        except otp.CallError as exc:
            return otp.Reply(exc.reason, state)
        return otp.Reply("no error", state)


async def test_call_self_raises_calling_self(node: otp.Node) -> None:
    async with otp.open_mailbox():
        server = await _CallsItself.start()
        assert await otp.call(server, "call") == "calling_self"
        assert await otp.call(server, "call") is otp.CALLING_SELF
        assert await otp.call(server, "stop") == "calling_self"
        await otp.stop(server)


# -- rule 8: one waiter on a mailbox at a time ------------------------------------------------


async def test_second_receive_waiter_refused(node: otp.Node) -> None:
    errors: list[BaseException] = []

    async def two_waiters(parent: otp.Pid) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(otp.receive)  # the first waiter parks

            await trio.testing.wait_all_tasks_blocked()
            try:
                await otp.receive(timeout=1000)
            except otp.ConcurrentReceiveError as exc:
                errors.append(exc)
            try:  # a call would need the mailbox too: refused at once, not left to hang
                await otp.call(parent, "never served", timeout=1000)
            except otp.ConcurrentReceiveError as exc:
                errors.append(exc)
            otp.send(otp.self(), "wake the first waiter")
        otp.send(parent, "done")

    async with otp.open_mailbox() as me:
        _pid, ref = otp.spawn_monitor(two_waiters, me)
        assert await otp.receive(lambda m: m == "done") == "done"
        assert (await wait_down(ref)).reason is otp.NORMAL
        # the refused call left no request behind
        assert otp.flush() == 0
    assert len(errors) == 2
    assert "only one task of a process may wait for its mailbox" in str(errors[0])


async def test_a_second_waiter_beside_a_gen_servers_loop_is_refused(node: otp.Node) -> None:
    class Waits(otp.GenServer[None]):
        async def init(self, arg: Any) -> otp.Ok[None]:
            return otp.Ok(None)

        async def handle_cast(self, request: Any, state: None) -> otp.NoReply[None]:
            return otp.NoReply(state)

    async with otp.open_mailbox():
        pid = await Waits.start()
        proc = node.process(pid)
        assert proc is not None
        await trio.testing.wait_all_tasks_blocked()
        assert proc._waiting is not None  # the server's loop waits for its mailbox
        token = otp._node._current.set(proc)
        try:
            with pytest.raises(otp.ConcurrentReceiveError):
                await otp.receive(timeout=1000)
        finally:
            otp._node._current.reset(token)
        await otp.stop(pid)


async def test_a_call_answered_by_a_server_that_then_stops_leaves_no_down_behind(node: otp.Node) -> None:
    """gen_server:call demonitors with [flush]: the server's Down must not stay queued."""
    async with otp.open_mailbox() as me:
        server = await _StopsWithReply.start(me)
        assert await otp.call(server, otp.NORMAL) == "bye"
        await trio.testing.wait_all_tasks_blocked()
        assert otp.receive_nowait() == ("terminated", otp.NORMAL)
        assert otp.flush() == 0  # no Down of the call's monitor
