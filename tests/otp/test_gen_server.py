"""Rule 6: GenServer callbacks, calls, casts, replies, termination and errors."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Boom, Recorder, sleeper, stop_and_wait, wait_down


class Counter(otp.GenServer[int]):
    async def init(self, arg: Any) -> otp.Ok[int]:
        return otp.Ok(arg)

    async def handle_call(self, request: Any, from_: otp.From, state: int) -> Any:
        match request:
            case "get":
                return otp.Reply(state, state)
            case ("add", n):
                return otp.Reply(state + n, state + n)
        raise ValueError(f"unknown request {request!r}")

    async def handle_cast(self, request: Any, state: int) -> Any:
        match request:
            case ("add", n):
                return otp.NoReply(state + n)
        raise ValueError(request)

    async def handle_info(self, msg: Any, state: int) -> Any:
        if msg == "double":
            return otp.NoReply(state * 2)
        return otp.NoReply(state)


async def test_init_handle_call_cast_and_info_thread_the_state(node: otp.Node) -> None:
    pid = await Counter.start(10, name="counter")
    assert otp.whereis("counter") is pid
    assert await otp.call("counter", ("add", 5)) == 15
    otp.cast("counter", ("add", 1))
    otp.send(pid, "double")
    assert await otp.call(pid, "get") == 32
    await otp.stop(pid)


async def test_cast_to_a_missing_server_is_silent(node: otp.Node) -> None:
    otp.cast("nobody", "hi")


async def test_start_link_from_a_process_links_and_records_the_parent(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        pid = await Counter.start_link(0)
        info = otp.process_info(pid)
        assert info is not None
        assert info.links == (me,)
        assert info.parent is me
        assert info.behaviour == "Counter"
        otp.unlink(pid)
        await otp.stop(pid)


async def test_start_link_from_a_plain_task_does_not_link(node: otp.Node) -> None:
    pid = await Counter.start_link(0)
    info = otp.process_info(pid)
    assert info is not None
    assert info.links == ()
    await otp.stop(pid)


class Continued(otp.GenServer[list[Any]]):
    async def init(self, arg: Any) -> otp.Ok[list[Any]]:
        # A message that is already queued before the continue runs.
        otp.send(otp.self(), "early info")
        return otp.Ok(["init"], continue_="setup")

    async def handle_continue(self, arg: Any, state: list[Any]) -> otp.NoReply[list[Any]]:
        return otp.NoReply([*state, ("continue", arg)])

    async def handle_call(self, request: Any, from_: otp.From, state: list[Any]) -> Any:
        return otp.Reply(state, state)

    async def handle_info(self, msg: Any, state: list[Any]) -> otp.NoReply[list[Any]]:
        return otp.NoReply([*state, ("info", msg)])


async def test_init_continue_runs_handle_continue_before_any_message(node: otp.Node) -> None:
    pid = await Continued.start()
    assert await otp.call(pid, "state") == ["init", ("continue", "setup"), ("info", "early info")]
    await otp.stop(pid)


class Deferred(otp.GenServer[list[otp.From]]):
    async def init(self, arg: Any) -> otp.Ok[list[otp.From]]:
        return otp.Ok([])

    async def handle_call(self, request: Any, from_: otp.From, state: list[otp.From]) -> Any:
        if request == "wait":
            otp.spawn(_reply_later, from_, "later")
            return otp.NoReply(state)
        if request == "park":
            return otp.NoReply([*state, from_])
        if request == "parked":
            return otp.Reply(state, [])
        if request == "release":
            for f in state:
                otp.reply(f, "released")
            return otp.Reply(len(state), [])
        raise AssertionError(request)


async def _reply_later(from_: otp.From, value: Any) -> None:
    await trio.testing.wait_all_tasks_blocked()
    otp.reply(from_, value)


async def test_handle_call_can_reply_later_from_another_process(node: otp.Node) -> None:
    pid = await Deferred.start()
    assert await otp.call(pid, "wait") == "later"
    await otp.stop(pid)


async def test_handle_call_can_keep_from_and_reply_on_a_later_message(node: otp.Node) -> None:
    pid = await Deferred.start()
    results: list[Any] = []

    async def caller() -> None:
        results.append(await otp.call(pid, "park"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(caller)
        nursery.start_soon(caller)
        await trio.testing.wait_all_tasks_blocked()
        assert await otp.call(pid, "release") == 2
    assert results == ["released", "released"]
    await otp.stop(pid)


async def test_a_late_reply_after_a_call_timeout_leaves_no_stray_message(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    pid = await Deferred.start()
    async with otp.open_mailbox():
        with pytest.raises(otp.CallTimeout):
            await otp.call(pid, "park", timeout=1)
        assert await otp.call(pid, "release") == 1
        with pytest.raises(trio.WouldBlock):
            otp.receive_nowait()
    await otp.stop(pid)


async def test_call_default_timeout_is_five_seconds(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    pid = await Deferred.start(name="deferred")
    start = trio.current_time()
    with pytest.raises(otp.CallTimeout) as info:
        await otp.call("deferred", "park")
    assert trio.current_time() - start == pytest.approx(5.0)
    err = info.value
    assert isinstance(err, otp.CallError)
    assert isinstance(err, TimeoutError)
    assert (err.server, err.request, err.timeout) == ("deferred", "park", 5.0)
    assert str(err) == "exited in: otp.call('deferred', 'park', 5): timeout"
    await otp.call("deferred", "release")
    await otp.stop(pid)


async def test_a_reply_and_a_timeout_due_in_the_same_tick_give_the_reply_and_leave_nothing_behind(
    node: otp.Node, mock_clock: trio.testing.MockClock
) -> None:
    # The reply is queued first; the call's timer may fire before the caller runs (then its
    # message sits behind the reply and must be dropped) or after (then it is cancelled).
    # Trio picks the order; the outcome must not depend on it.
    pid = await Deferred.start()

    async def caller(results: list[Any]) -> None:
        async with otp.open_mailbox():
            results.append(await otp.call(pid, "park", timeout=1))
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.WouldBlock):
                otp.receive_nowait()

    for _ in range(20):
        results: list[Any] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller, results)
            await trio.testing.wait_all_tasks_blocked()
            (from_,) = await otp.call(pid, "parked", timeout=None)
            mock_clock.jump(1)
            otp.reply(from_, "late")  # no checkpoint between the jump and the reply
        assert results == ["late"]
    await otp.stop(pid)


async def test_finished_calls_leave_no_timers_in_the_node(node: otp.Node) -> None:
    # A call's timeout is a timer of the node's heap; a call that ends cancels it, and
    # cancelled entries are swept, so a busy caller does not grow the heap.
    pid = await Counter.start(0)
    for _ in range(1_000):
        await otp.call(pid, ("add", 1))
    assert sum(not t.cancelled for t in node._timers) == 0
    assert len(node._timers) <= 130
    await otp.stop(pid)


@pytest.mark.parametrize("timeout", [-1.0, -1, math.nan, "5", True])
async def test_a_bad_call_timeout_is_refused_before_the_request_is_sent(node: otp.Node, timeout: Any) -> None:
    pid = await Counter.start(0)
    with pytest.raises((TypeError, ValueError), match="timeout must be"):
        await otp.call(pid, ("add", 1), timeout=timeout)
    assert await otp.call(pid, "get") == 0
    await otp.stop(pid)


async def test_call_to_a_dead_or_unknown_server_raises_call_error_naming_it(node: otp.Node) -> None:
    with pytest.raises(otp.CallError, match=r"otp\.call\('nobody', 'get', 5\): :noproc"):
        await otp.call("nobody", "get")
    pid = node.spawn(sleeper)
    async with otp.open_mailbox():
        await stop_and_wait(pid)
    with pytest.raises(otp.CallError) as info:
        await otp.call(pid, ("add", 1), timeout=None)
    assert info.value.reason is otp.NOPROC
    assert f"otp.call({pid!r}, ('add', 1), infinity)" in str(info.value)


async def test_a_crash_during_the_call_raises_call_error_with_the_crash_chained(node: otp.Node) -> None:
    log: list[Any] = []
    pid = await Recorder.start(("r", log), name="rec")
    with pytest.raises(otp.CallError) as info:
        await otp.call("rec", "crash")
    err = info.value
    assert not isinstance(err, otp.CallTimeout)
    assert isinstance(err.reason, Boom)
    assert err.__cause__ is err.reason
    assert "otp.call('rec', 'crash', 5)" in str(err)
    assert "r crashed in a call" in str(err)
    assert not otp.is_alive(pid)


async def test_a_server_killed_during_the_call_raises_call_error(node: otp.Node) -> None:
    pid = await Deferred.start()

    async def kill_soon() -> None:
        await trio.testing.wait_all_tasks_blocked()
        otp.exit(pid, otp.KILL)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(kill_soon)
        with pytest.raises(otp.CallError) as info:
            await otp.call(pid, "park")
    assert info.value.reason is otp.KILLED


class SelfCaller(otp.GenServer[None]):
    async def init(self, arg: Any) -> otp.Ok[None]:
        return otp.Ok(None)

    async def handle_call(self, request: Any, from_: otp.From, state: None) -> Any:
        if request == "self":
            try:
                await otp.call(otp.self(), "inner")
            except otp.CallError as exc:
                return otp.Reply(exc, state)
        raise AssertionError(request)


async def test_a_call_to_oneself_raises_at_once(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    pid = await SelfCaller.start()
    start = trio.current_time()
    err = await otp.call(pid, "self")
    assert trio.current_time() == start
    assert isinstance(err, otp.CallError)
    assert "calling_self" in str(err)
    await otp.stop(pid)


class BadReturns(otp.GenServer[None]):
    async def init(self, arg: Any) -> Any:
        if arg == "bad init":
            return ("ok", None)
        return otp.Ok(None)

    async def handle_call(self, request: Any, from_: otp.From, state: None) -> Any:
        return ("reply", 1, state)

    async def handle_cast(self, request: Any, state: None) -> Any:
        return otp.Reply(1, state)


async def test_a_bad_call_return_raises_bad_return_error_and_the_server_crashes_with_it(
    node: otp.Node,
) -> None:
    pid = await BadReturns.start()
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        with pytest.raises(otp.CallError) as info:
            await otp.call(pid, "x")
        reason = (await wait_down(ref)).reason
    assert isinstance(reason, otp.BadReturnError)
    assert info.value.reason is reason
    text = str(reason)
    assert "BadReturns.handle_call" in text
    assert "Reply(...) | NoReply(...) | Stop(...)" in text
    assert "got: ('reply', 1, None)" in text


async def test_a_bad_cast_return_names_the_allowed_shapes(node: otp.Node) -> None:
    pid = await BadReturns.start()
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        otp.cast(pid, "x")
        reason = (await wait_down(ref)).reason
    assert isinstance(reason, otp.BadReturnError)
    assert "expected BadReturns.handle_cast to return one of NoReply(...) | Stop(...)" in str(reason)
    assert "got: Reply(reply=1" in str(reason)


async def test_a_bad_init_return_fails_start_with_bad_return_error(node: otp.Node) -> None:
    with pytest.raises(otp.BadReturnError, match=r"Ok\(...\) \| Ignore\(...\) \| Stop\(...\), got: \('ok', None\)"):
        await BadReturns.start("bad init")
    await trio.testing.wait_all_tasks_blocked()


class InitOutcomes(otp.GenServer[None]):
    async def init(self, arg: Any) -> Any:
        match arg:
            case "raise":
                raise Boom("init failed")
            case "ignore":
                return otp.Ignore()
            case "stop":
                return otp.Stop("no_config", None)
            case "hang":
                await trio.sleep_forever()
        return otp.Ok(None)


async def test_init_raising_fails_start_link_with_that_error_and_spares_the_caller(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        with pytest.raises(Boom, match="init failed"):
            await InitOutcomes.start_link("raise")
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(me)


async def test_init_ignore_raises_ignored_and_stop_raises_start_error(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        with pytest.raises(otp.Ignored):
            await InitOutcomes.start_link("ignore")
        with pytest.raises(otp.StartError, match="no_config") as info:
            await InitOutcomes.start_link("stop")
        assert info.value.reason == "no_config"
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(me)


async def test_start_timeout_kills_a_hanging_init(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox() as me:
        with pytest.raises(otp.StartError, match="timeout"):
            await InitOutcomes.start_link("hang", timeout=2)
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(me)


async def test_start_with_a_taken_name_raises_already_registered(node: otp.Node) -> None:
    pid = await Counter.start(0, name="taken")
    with pytest.raises(otp.AlreadyRegisteredError):
        await Counter.start(0, name="taken")
    await otp.stop(pid)


class Lifecycle(otp.GenServer[list[Any]]):
    trap_exit = False

    async def init(self, arg: Any) -> otp.Ok[list[Any]]:
        return otp.Ok(arg)

    async def handle_call(self, request: Any, from_: otp.From, state: list[Any]) -> Any:
        match request:
            case ("stop", reason):
                return otp.Stop(reason, state, reply="stopping")
            case "raise":
                raise Boom("in call")
        raise AssertionError(request)

    async def handle_cast(self, request: Any, state: list[Any]) -> Any:
        match request:
            case ("stop", reason):
                return otp.Stop(reason, state)
        raise Boom("in cast")

    async def handle_info(self, msg: Any, state: list[Any]) -> Any:
        raise Boom("in info")

    async def terminate(self, reason: Any, state: list[Any]) -> None:
        state.append(("terminate", reason))


class TrappingLifecycle(Lifecycle):
    trap_exit = True


async def test_terminate_runs_on_stop_and_stop_can_reply_first(node: otp.Node) -> None:
    log: list[Any] = []
    pid = await Lifecycle.start(log)
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        assert await otp.call(pid, ("stop", otp.Shutdown("done"))) == "stopping"
        assert (await wait_down(ref)).reason == otp.Shutdown("done")
    assert log == [("terminate", otp.Shutdown("done"))]


@pytest.mark.parametrize("how", ["call", "cast", "info"])
async def test_terminate_runs_on_an_exception_in_a_callback(node: otp.Node, how: str) -> None:
    log: list[Any] = []
    pid = await Lifecycle.start(log)
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        if how == "call":
            with pytest.raises(otp.CallError):
                await otp.call(pid, "raise")
        elif how == "cast":
            otp.cast(pid, "raise")
        else:
            otp.send(pid, "raise")
        reason = (await wait_down(ref)).reason
    assert isinstance(reason, Boom)
    assert str(reason) == f"in {how}"
    assert log == [("terminate", reason)]


async def test_terminate_runs_on_the_parents_shutdown_when_trapping_exits(node: otp.Node) -> None:
    log: list[Any] = []

    async def parent() -> None:
        await TrappingLifecycle.start_link(log)
        await trio.sleep_forever()

    async with otp.open_mailbox():
        p, ref = otp.spawn_monitor(parent)
        await trio.testing.wait_all_tasks_blocked()
        (child,) = [q for q in otp.processes() if (i := otp.process_info(q)) and i.parent is p]
        cref = otp.monitor(child)
        otp.exit(p, otp.SHUTDOWN)
        await wait_down(ref)
        assert (await wait_down(cref)).reason is otp.SHUTDOWN
    assert log == [("terminate", otp.SHUTDOWN)]


async def test_terminate_does_not_run_on_the_parents_shutdown_without_trapping(node: otp.Node) -> None:
    log: list[Any] = []

    async def parent() -> None:
        await Lifecycle.start_link(log)
        await trio.sleep_forever()

    async with otp.open_mailbox():
        p, ref = otp.spawn_monitor(parent)
        await trio.testing.wait_all_tasks_blocked()
        otp.exit(p, otp.SHUTDOWN)
        await wait_down(ref)
        await trio.testing.wait_all_tasks_blocked()
    assert log == []


async def test_terminate_does_not_run_when_killed(node: otp.Node) -> None:
    log: list[Any] = []
    pid = await TrappingLifecycle.start(log)
    async with otp.open_mailbox():
        assert await stop_and_wait(pid, otp.KILL) is otp.KILLED
    assert log == []


async def test_a_trapping_server_gets_other_exits_in_handle_info(node: otp.Node) -> None:
    log: list[Any] = []
    pid = await Recorder.start(("r", log))
    async with otp.open_mailbox() as me:
        otp.exit(pid, "not_from_parent")
        assert await otp.call(pid, "ping") == ("pong", "r")
        assert log[-1] == ("info", "r", otp.Exit(me, "not_from_parent"))
    await otp.stop(pid)


async def test_stop_runs_terminate_and_returns_once_the_server_is_gone(node: otp.Node) -> None:
    log: list[Any] = []
    pid = await Lifecycle.start(log)
    await otp.stop(pid, otp.Shutdown("bye"))
    assert log == [("terminate", otp.Shutdown("bye"))]
    assert not otp.is_alive(pid)


async def test_stop_of_a_missing_server_raises_call_error(node: otp.Node) -> None:
    with pytest.raises(otp.CallError, match="noproc"):
        await otp.stop("nobody")


class Idle(otp.GenServer[int]):
    async def init(self, arg: Any) -> otp.Ok[int]:
        return otp.Ok(0, timeout=1.0)

    async def handle_call(self, request: Any, from_: otp.From, state: int) -> Any:
        return otp.Reply(state, state, timeout=1.0)

    async def handle_info(self, msg: Any, state: int) -> Any:
        assert msg is otp.TIMEOUT
        return otp.NoReply(state + 1)


async def test_an_idle_timeout_sends_timeout_to_handle_info(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    pid = await Idle.start()
    await trio.sleep(0.5)
    assert await otp.call(pid, "get") == 0
    await trio.sleep(1.5)
    # One TIMEOUT after the call's idle second; then no timeout is armed.
    assert await otp.call(pid, "get") == 1
    await otp.stop(pid)


async def test_process_info_summary_shows_format_status(node: otp.Node) -> None:
    pid = await Counter.start(7)
    info = otp.process_info(pid)
    assert info is not None
    assert info.summary == "7"
    await otp.stop(pid)


class SlowTerminate(otp.GenServer[list[Any]]):
    async def init(self, arg: Any) -> otp.Ok[list[Any]]:
        return otp.Ok(arg)

    async def terminate(self, reason: Any, state: list[Any]) -> None:
        await trio.sleep(3)
        state.append(("terminated", reason))


async def test_stop_waits_for_a_slow_terminate(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    log: list[Any] = []
    pid = await SlowTerminate.start(log)
    start = trio.current_time()
    await otp.stop(pid)
    assert trio.current_time() - start == pytest.approx(3)
    assert log == [("terminated", otp.NORMAL)]
    assert not otp.is_alive(pid)


async def test_stop_with_a_timeout_raises_call_timeout_when_terminate_is_too_slow(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    log: list[Any] = []
    pid = await SlowTerminate.start(log)
    with pytest.raises(otp.CallTimeout):
        await otp.stop(pid, timeout=1)
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        await wait_down(ref)
    assert log == [("terminated", otp.NORMAL)]


async def test_start_timeout_kills_the_server_with_killed(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    reasons: list[Any] = []

    async def watch() -> None:
        await trio.testing.wait_all_tasks_blocked()
        async with otp.open_mailbox():
            ref = otp.monitor("hanging")
            reasons.append((await wait_down(ref)).reason)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        with pytest.raises(otp.StartError, match="hanging failed to start: 'timeout'"):
            await InitOutcomes.start("hang", name="hanging", timeout=2)
    assert reasons == [otp.KILLED]


async def test_messages_that_arrive_during_a_call_stay_queued_in_order(node: otp.Node) -> None:
    pid = await Deferred.start()

    async def chatter_then_release(to: otp.Pid) -> None:
        await trio.testing.wait_all_tasks_blocked()
        otp.send(to, "during 1")
        otp.send(to, "during 2")
        await otp.call(pid, "release")

    async with otp.open_mailbox() as me:
        otp.send(me, "before")
        otp.spawn(chatter_then_release, me)
        assert await otp.call(pid, "park") == "released"
        assert [otp.receive_nowait() for _ in range(3)] == ["before", "during 1", "during 2"]
        with pytest.raises(trio.WouldBlock):
            otp.receive_nowait()
        await trio.testing.wait_all_tasks_blocked()
    await otp.stop(pid)


async def test_a_started_server_keeps_no_exit_hook_of_its_start(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = await Counter.start_link(0)
        proc = node.process(pid)
        assert proc is not None
        assert proc._exit_hooks is None
        await otp.stop(pid)
