"""Rule 5: timers, receive timeouts and call timeouts run on virtual time."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import sleeper, stop_and_wait


async def test_send_after_delivers_the_message_after_the_delay(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox() as me:
        start = trio.current_time()
        otp.send_after(3.0, me, "tick")
        assert await otp.receive() == "tick"
        assert trio.current_time() - start == pytest.approx(3.0)


async def test_timers_fire_in_deadline_order_and_equal_deadlines_in_start_order(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox() as me:
        start = trio.current_time()
        otp.send_after(2.0, me, "b")
        otp.send_after(1.0, me, "a")
        otp.send_after(2.0, me, "c")
        otp.send_after(0.0, me, "now")
        got: list[tuple[str, float]] = []
        for _ in range(4):
            msg = await otp.receive()
            got.append((msg, trio.current_time() - start))
        assert got == [("now", 0.0), ("a", 1.0), ("b", 2.0), ("c", 2.0)]


async def test_a_later_shorter_timer_wakes_the_timer_service_earlier(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox() as me:
        start = trio.current_time()
        otp.send_after(100.0, me, "late")
        await trio.testing.wait_all_tasks_blocked()
        otp.send_after(1.0, me, "early")
        assert await otp.receive() == "early"
        assert trio.current_time() - start == pytest.approx(1.0)
        assert await otp.receive() == "late"
        assert trio.current_time() - start == pytest.approx(100.0)


async def test_send_after_to_a_registered_name(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox(name="timer_target"):
        otp.send_after(0.5, "timer_target", "hello")
        assert await otp.receive() == "hello"


async def test_send_after_to_a_dead_process_is_dropped(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    pid = node.spawn(sleeper)
    async with otp.open_mailbox():
        otp.send_after(1.0, pid, "lost")
        await stop_and_wait(pid)
    await trio.sleep(2.0)


async def test_cancel_timer_returns_remaining_seconds_and_stops_delivery(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox():
        me = otp.self()
        timer = otp.send_after(5.0, me, "never")
        await trio.sleep(2.0)
        assert otp.cancel_timer(timer) == pytest.approx(3.0)
        assert otp.cancel_timer(timer) is None
        with pytest.raises(otp.ReceiveTimeout):
            await otp.receive(timeout=10.0)


async def test_cancel_timer_after_it_fired_returns_none(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox() as me:
        timer = otp.send_after(1.0, me, "fired")
        assert await otp.receive() == "fired"
        assert otp.cancel_timer(timer) is None


async def test_receive_timeout_uses_virtual_time(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox():
        start = trio.current_time()
        with pytest.raises(otp.ReceiveTimeout, match="3600"):
            await otp.receive(timeout=3600)
        assert trio.current_time() - start == pytest.approx(3600)


async def test_receive_timeout_zero_polls(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    async with otp.open_mailbox() as me:
        with pytest.raises(otp.ReceiveTimeout):
            await otp.receive(timeout=0)
        otp.send(me, 1)
        assert await otp.receive(timeout=0) == 1


async def test_receive_with_timeout_returns_a_message_that_arrives_in_time(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    async with otp.open_mailbox() as me:
        otp.send_after(4.0, me, "in time")
        start = trio.current_time()
        assert await otp.receive(timeout=5.0) == "in time"
        assert trio.current_time() - start == pytest.approx(4.0)


class _Silent(otp.GenServer[None]):
    async def init(self, arg: Any) -> otp.Ok[None]:
        return otp.Ok(None)

    async def handle_call(self, request: Any, from_: otp.From, state: None) -> otp.NoReply[None]:
        return otp.NoReply(state)


async def test_call_times_out_after_its_timeout_in_virtual_time(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    pid = await _Silent.start(name="silent")
    start = trio.current_time()
    with pytest.raises(otp.CallTimeout):
        await otp.call("silent", "hello", timeout=42)
    assert trio.current_time() - start == pytest.approx(42)
    await otp.stop(pid)


async def test_cancelled_timers_do_not_accumulate_in_the_timer_heap(node: otp.Node) -> None:
    timers = [otp.send_after(60.0, "nobody", i) for i in range(1000)]
    for t in timers:
        otp.cancel_timer(t)
    assert len(node._timers) < 200


async def test_exit_from_plain_code_comes_from_the_node_pseudo_pid(node: otp.Node) -> None:
    async def trapper() -> None:
        otp.trap_exit(True)
        await otp.receive(lambda m: False)

    pid = otp.spawn(trapper)
    await trio.testing.wait_all_tasks_blocked()
    otp.exit(pid, "bye")
    await trio.testing.wait_all_tasks_blocked()
    info = otp.process_info(pid)
    assert info is not None
    assert info.statistics.message_queue_len == 1
    proc = node.process(pid)
    assert proc is not None
    assert proc.mailbox[0] == otp.Exit(node.pid, "bye")
    otp.exit(pid, otp.KILL)
