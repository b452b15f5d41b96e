"""Rule 7: supervisors start, restart and stop their children as OTP's do."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Boom, Recorder, recorder_spec, started, terminated, wait_down

ONE_FOR_ONE = otp.Strategy.ONE_FOR_ONE
ONE_FOR_ALL = otp.Strategy.ONE_FOR_ALL
REST_FOR_ONE = otp.Strategy.REST_FOR_ONE


async def children(sup: otp.Pid | str) -> dict[Any, otp.Pid | None]:
    return {cid: pid for cid, pid, _type, _beh in await otp.Supervisor.which_children(sup)}


async def crash(pid: otp.Pid | None) -> Any:
    """Make a ``Recorder`` crash and wait for it to be gone (its supervisor saw the Exit)."""
    assert pid is not None
    ref = otp.monitor(pid)
    otp.cast(pid, "crash")
    return (await wait_down(ref)).reason


async def exit_with(pid: otp.Pid | None, reason: Any) -> None:
    """Make a ``Recorder`` stop with ``reason`` and wait for it to be gone."""
    assert pid is not None
    ref = otp.monitor(pid)
    otp.cast(pid, ("stop", reason))
    assert (await wait_down(ref)).reason == reason


async def stubborn() -> None:
    """A child that traps exits and ignores the shutdown request."""
    while True:
        await otp.receive()


def stubborn_spec(id: Any, shutdown: Any) -> otp.ChildSpec:
    return otp.ChildSpec(id=id, start=lambda: otp.spawn_link(stubborn, trap_exit=True), shutdown=shutdown)


# -- starting ------------------------------------------------------------------------------


async def test_children_start_in_order_and_are_linked_to_the_supervisor(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec(t, log) for t in "abc"], name="sup")
    assert started(log) == ["a", "b", "c"]
    kids = await children("sup")
    assert list(kids) == ["a", "b", "c"]
    for pid in kids.values():
        assert pid is not None
        info = otp.process_info(pid)
        assert info is not None
        assert info.links == (sup,)
        assert info.parent is sup
    await otp.Supervisor.stop(sup)


async def test_a_child_whose_init_fails_fails_start_link_and_earlier_children_are_stopped(
    node: otp.Node,
) -> None:
    log: list[Any] = []

    class Failing(otp.GenServer[None]):
        async def init(self, arg: Any) -> otp.Ok[None]:
            raise Boom("child b cannot start")

    specs = [
        recorder_spec("a1", log),
        recorder_spec("a2", log),
        otp.ChildSpec(id="b", start=lambda: Failing.start_link()),
        recorder_spec("c", log),
    ]
    async with otp.open_mailbox() as me:
        with pytest.raises(otp.ChildStartError, match="child 'b' failed to start") as info:
            await otp.Supervisor.start_link(specs)
        assert info.value.id == "b"
        assert isinstance(info.value.reason, Boom)
        assert info.value.__cause__ is info.value.reason
        await trio.testing.wait_all_tasks_blocked()
        assert otp.is_alive(me)
    assert started(log) == ["a1", "a2"]
    assert terminated(log) == ["a2", "a1"]
    assert otp.processes() == []


async def test_duplicate_child_ids_fail_start_link_before_any_child_starts(node: otp.Node) -> None:
    log: list[Any] = []
    with pytest.raises(otp.InvalidSpecError, match=r"children\[1\]\.id: 'a' .*duplicate child id") as info:
        await otp.Supervisor.start_link([recorder_spec("a", log), recorder_spec("a", log)])
    assert info.value.field == "children[1].id"
    assert log == []


async def test_a_start_function_may_be_sync_and_may_ignore(node: otp.Node) -> None:
    async def sleeper() -> None:
        await trio.sleep_forever()

    specs = [
        otp.ChildSpec(id="sync", start=lambda: otp.spawn_link(sleeper)),
        otp.ChildSpec(id="none", start=lambda: None),
        otp.ChildSpec(id="temp_none", start=lambda: None, restart=otp.Restart.TEMPORARY),
    ]
    sup = await otp.Supervisor.start_link(specs)
    kids = await children(sup)
    assert list(kids) == ["sync", "none"]
    assert kids["none"] is None
    assert await otp.Supervisor.count_children(sup) == {
        "specs": 2,
        "active": 1,
        "supervisors": 0,
        "workers": 2,
    }
    await otp.Supervisor.stop(sup)


def test_child_spec_defaults() -> None:
    spec = otp.ChildSpec(id="w", start=lambda: None)
    assert spec.restart is otp.Restart.PERMANENT
    assert spec.type is otp.ChildType.WORKER
    assert spec.shutdown == 5.0
    sup = otp.ChildSpec(id="s", start=lambda: None, type=otp.ChildType.SUPERVISOR)
    assert sup.shutdown is otp.INFINITY
    nested = otp.Supervisor.child_spec([], id="n")
    assert nested.type is otp.ChildType.SUPERVISOR
    assert nested.shutdown is otp.INFINITY


async def test_gen_server_child_spec_starts_the_server_under_its_name(node: otp.Node) -> None:
    log: list[Any] = []
    spec = Recorder.child_spec(("r", log), name="rec")
    assert spec.id == "rec"
    sup = await otp.Supervisor.start_link([spec])
    assert await otp.call("rec", "ping") == ("pong", "r")
    assert (await otp.Supervisor.which_children(sup))[0][3] == "Recorder"
    await otp.Supervisor.stop(sup)


# -- stopping --------------------------------------------------------------------------------


async def test_children_stop_one_at_a_time_newest_first(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec(t, log) for t in "abc"])
    await otp.Supervisor.stop(sup)
    assert terminated(log) == ["c", "b", "a"]
    assert [e[2] for e in log if e[0] == "terminate"] == [otp.SHUTDOWN] * 3
    assert otp.processes() == []


async def test_a_child_that_ignores_shutdown_is_killed_after_its_timeout(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log), stubborn_spec("s1", 2.0), stubborn_spec("s2", 3.5)])
    kids = await children(sup)
    async with otp.open_mailbox():
        refs = {k: otp.monitor(p) for k, p in kids.items() if p is not None}
        start = trio.current_time()
        await otp.Supervisor.stop(sup)
        # One at a time: s2's 3.5 s, then s1's 2 s, then a (which stops at once).
        assert trio.current_time() - start == pytest.approx(5.5)
        assert (await wait_down(refs["s2"])).reason is otp.KILLED
        assert (await wait_down(refs["s1"])).reason is otp.KILLED
        assert (await wait_down(refs["a"])).reason is otp.SHUTDOWN
    assert terminated(log) == ["a"]


async def test_brutal_kill_does_not_run_terminate(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log), recorder_spec("b", log, shutdown=otp.BRUTAL_KILL)])
    await otp.Supervisor.stop(sup)
    assert terminated(log) == ["a"]


class SlowStop(otp.GenServer[float]):
    trap_exit = True

    async def init(self, arg: float) -> otp.Ok[float]:
        return otp.Ok(arg)

    async def terminate(self, reason: Any, state: float) -> None:
        await trio.sleep(state)


async def test_shutdown_infinity_waits_for_the_child(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    sup = await otp.Supervisor.start_link(
        [otp.ChildSpec(id="slow", start=lambda: SlowStop.start_link(1000.0), shutdown=otp.INFINITY)]
    )
    start = trio.current_time()
    await otp.Supervisor.stop(sup)
    assert trio.current_time() - start == pytest.approx(1000.0)


async def test_a_child_that_stops_within_its_timeout_is_not_killed(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await otp.Supervisor.start_link(
        [otp.ChildSpec(id="slow", start=lambda: SlowStop.start_link(1.5), shutdown=2.0)]
    )
    (pid,) = (await children(sup)).values()
    assert pid is not None
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        start = trio.current_time()
        await otp.Supervisor.stop(sup)
        assert trio.current_time() - start == pytest.approx(1.5)
        assert (await wait_down(ref)).reason is otp.SHUTDOWN


class CallsSibling(otp.GenServer[list[Any]]):
    trap_exit = True

    async def init(self, arg: list[Any]) -> otp.Ok[list[Any]]:
        return otp.Ok(arg)

    async def terminate(self, reason: Any, state: list[Any]) -> None:
        state.append(("sibling said", await otp.call("first", "ping")))


async def test_a_childs_terminate_may_call_siblings_started_before_it(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link(
        [
            otp.ChildSpec(id="first", start=lambda: Recorder.start_link(("first", log), name="first")),
            otp.ChildSpec(id="second", start=lambda: CallsSibling.start_link(log)),
        ]
    )
    await otp.Supervisor.stop(sup)
    assert log == [
        ("init", "first"),
        ("sibling said", ("pong", "first")),
        ("terminate", "first", otp.SHUTDOWN),
    ]


# -- restarting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (ONE_FOR_ONE, {"b"}),
        (ONE_FOR_ALL, {"a", "b", "c", "d"}),
        (REST_FOR_ONE, {"b", "c", "d"}),
    ],
    ids=lambda v: v.value if isinstance(v, otp.Strategy) else None,
)
async def test_strategy_decides_which_children_restart(
    node: otp.Node, strategy: otp.Strategy, expected: set[str]
) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec(t, log) for t in "abcd"], strategy=strategy)
    before = await children(sup)
    log.clear()
    async with otp.open_mailbox():
        await crash(before["b"])
    after = await children(sup)
    assert list(after) == list("abcd")
    assert {k for k in before if before[k] is not after[k]} == expected
    assert all(otp.is_alive(p) for p in after.values() if p is not None)
    # The others of the group stop newest first, then the group starts again in order.
    others = sorted(expected - {"b"}, reverse=True)
    assert terminated(log) == ["b", *others]
    assert started(log) == sorted(expected)
    await otp.Supervisor.stop(sup)


async def test_permanent_child_is_restarted_even_after_a_normal_exit(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("p", log)])
    async with otp.open_mailbox():
        await exit_with((await children(sup))["p"], otp.NORMAL)
    assert (await children(sup))["p"] is not None
    assert started(log) == ["p", "p"]
    await otp.Supervisor.stop(sup)


@pytest.mark.parametrize("reason", [otp.NORMAL, otp.SHUTDOWN, otp.Shutdown("done")], ids=repr)
async def test_transient_child_is_not_restarted_after_a_normal_or_shutdown_exit(node: otp.Node, reason: Any) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("t", log, restart=otp.Restart.TRANSIENT)])
    async with otp.open_mailbox():
        await exit_with((await children(sup))["t"], reason)
    assert await children(sup) == {"t": None}
    assert started(log) == ["t"]
    await otp.Supervisor.stop(sup)


async def test_transient_child_is_restarted_after_a_crash(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("t", log, restart=otp.Restart.TRANSIENT)])
    async with otp.open_mailbox():
        old = (await children(sup))["t"]
        await crash(old)
        await exit_with((await children(sup))["t"], "abnormal")
    new = (await children(sup))["t"]
    assert new is not None
    assert new is not old
    assert started(log) == ["t", "t", "t"]
    await otp.Supervisor.stop(sup)


async def test_temporary_child_is_never_restarted_and_is_forgotten(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link(
        [recorder_spec("tmp", log, restart=otp.Restart.TEMPORARY), recorder_spec("keep", log)]
    )
    async with otp.open_mailbox():
        await crash((await children(sup))["tmp"])
    assert list(await children(sup)) == ["keep"]
    assert started(log) == ["tmp", "keep"]
    await otp.Supervisor.stop(sup)


async def test_temporary_children_are_dropped_not_restarted_in_a_group_restart(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link(
        [recorder_spec("a", log), recorder_spec("tmp", log, restart=otp.Restart.TEMPORARY), recorder_spec("c", log)],
        strategy=ONE_FOR_ALL,
    )
    async with otp.open_mailbox():
        await crash((await children(sup))["a"])
    assert list(await children(sup)) == ["a", "c"]
    assert started(log) == ["a", "tmp", "c", "a", "c"]
    await otp.Supervisor.stop(sup)


async def test_default_intensity_allows_three_restarts_in_five_seconds_then_escalates(
    node: otp.Node,
) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log), recorder_spec("b", log)])
    async with otp.open_mailbox():
        ref = otp.monitor(sup)
        for _ in range(3):
            await crash((await children(sup))["a"])
        assert otp.is_alive(sup)
        b = (await children(sup))["b"]
        await crash((await children(sup))["a"])
        # The fourth restart within 5 s: the supervisor stops its children and exits shutdown.
        assert (await wait_down(ref)).reason is otp.SHUTDOWN
    assert not otp.is_alive(b)  # type: ignore[arg-type]
    assert terminated(log)[-1] == "b"
    assert started(log) == ["a", "b", "a", "a", "a"]


async def test_restart_intensity_is_a_sliding_window(node: otp.Node, autojump_clock: trio.testing.MockClock) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log)], max_restarts=3, max_seconds=5)
    start = trio.current_time()
    async with otp.open_mailbox():
        ref = otp.monitor(sup)
        # Restarts at 0, 1, 2, 5.5 and 6.5: never more than 3 within any 5 s.
        for t in (0, 1, 2, 5.5, 6.5):
            await trio.sleep_until(start + t)
            await crash((await children(sup))["a"])
            assert otp.is_alive(sup), t
        # At 7.0 the window [2, 7] holds 2, 5.5, 6.5 and 7: one too many.
        await trio.sleep_until(start + 7)
        await crash((await children(sup))["a"])
        assert (await wait_down(ref)).reason is otp.SHUTDOWN


async def test_a_restart_exactly_max_seconds_ago_still_counts(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log)], max_restarts=1, max_seconds=2)
    start = trio.current_time()
    async with otp.open_mailbox():
        ref = otp.monitor(sup)
        await crash((await children(sup))["a"])
        await trio.sleep_until(start + 2)
        await crash((await children(sup))["a"])
        assert (await wait_down(ref)).reason is otp.SHUTDOWN


async def test_max_restarts_zero_escalates_on_the_first_crash(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log)], max_restarts=0)
    async with otp.open_mailbox():
        ref = otp.monitor(sup)
        await crash((await children(sup))["a"])
        assert (await wait_down(ref)).reason is otp.SHUTDOWN


@pytest.mark.parametrize("strategy", [ONE_FOR_ALL, REST_FOR_ONE], ids=lambda s: s.value)
async def test_a_group_restart_counts_as_one_restart(node: otp.Node, strategy: otp.Strategy) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec(t, log) for t in "abc"], strategy=strategy, max_restarts=1)
    async with otp.open_mailbox():
        ref = otp.monitor(sup)
        await crash((await children(sup))["a"])
        assert all(p is not None for p in (await children(sup)).values())
        info = otp.process_info(sup)
        assert info is not None
        assert info.summary["restarts"] == 1
        await crash((await children(sup))["a"])
        assert (await wait_down(ref)).reason is otp.SHUTDOWN


async def test_escalation_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent(
    node: otp.Node,
) -> None:
    log: list[Any] = []
    inner = otp.Supervisor.child_spec([recorder_spec("w", log)], id="inner", name="inner", max_restarts=0)
    outer = await otp.Supervisor.start_link([inner, recorder_spec("sibling", log)], name="outer")
    old_inner = otp.whereis("inner")
    assert old_inner is not None
    sibling = (await children(outer))["sibling"]
    async with otp.open_mailbox():
        ref = otp.monitor(old_inner)
        await crash((await children("inner"))["w"])
        assert (await wait_down(ref)).reason is otp.SHUTDOWN
    kids = await children("outer")
    assert kids["inner"] is not None
    assert kids["inner"] is not old_inner
    assert otp.whereis("inner") is kids["inner"]
    assert kids["sibling"] is sibling  # one_for_one: the sibling was left alone
    assert started(log) == ["w", "sibling", "w"]
    await otp.Supervisor.stop(outer)
    assert terminated(log)[-2:] == ["sibling", "w"]


async def test_escalation_goes_up_until_a_supervisor_can_absorb_it(node: otp.Node) -> None:
    log: list[Any] = []
    inner = otp.Supervisor.child_spec([recorder_spec("w", log)], id="inner", name="inner", max_restarts=0)
    middle = otp.Supervisor.child_spec([inner], id="middle", name="middle", max_restarts=0)
    top = await otp.Supervisor.start_link([middle], name="top")
    old_middle = otp.whereis("middle")
    assert old_middle is not None
    async with otp.open_mailbox():
        ref = otp.monitor(old_middle)
        await crash((await children("inner"))["w"])
        assert (await wait_down(ref)).reason is otp.SHUTDOWN
    assert (await children("top"))["middle"] is otp.whereis("middle")
    assert otp.whereis("middle") is not old_middle
    assert otp.whereis("inner") is not None
    assert started(log) == ["w", "w"]
    await otp.Supervisor.stop(top)


class FlakyStart(otp.GenServer[None]):
    async def init(self, arg: list[int]) -> otp.Ok[None]:
        arg[0] += 1
        if arg[0] == 2:
            raise Boom("second start fails")
        return otp.Ok(None)

    async def handle_cast(self, request: Any, state: None) -> Any:
        raise Boom("crash")


async def test_a_failed_restart_is_retried(node: otp.Node) -> None:
    starts = [0]
    sup = await otp.Supervisor.start_link(
        [otp.ChildSpec(id="f", start=lambda: FlakyStart.start_link(starts))], max_restarts=5
    )
    async with otp.open_mailbox():
        await crash((await children(sup))["f"])
    await trio.testing.wait_all_tasks_blocked()
    assert starts == [3]
    assert (await children(sup))["f"] is not None
    await otp.Supervisor.stop(sup)


# -- managing children -------------------------------------------------------------------------


async def test_start_child_adds_a_child_after_the_others(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log)])
    pid = await otp.Supervisor.start_child(sup, recorder_spec("b", log))
    assert pid is not None
    assert otp.is_alive(pid)
    assert await children(sup) == {"a": (await children(sup))["a"], "b": pid}
    with pytest.raises(otp.SupervisorError, match="'b' is already_started"):
        await otp.Supervisor.start_child(sup, recorder_spec("b", log))
    await otp.Supervisor.stop(sup)
    assert terminated(log) == ["b", "a"]


async def test_start_child_raises_the_childs_start_error(node: otp.Node) -> None:
    class Failing(otp.GenServer[None]):
        async def init(self, arg: Any) -> otp.Ok[None]:
            raise Boom("no")

    sup = await otp.Supervisor.start_link([])
    with pytest.raises(Boom, match="no"):
        await otp.Supervisor.start_child(sup, otp.ChildSpec(id="f", start=Failing.start_link))
    assert await children(sup) == {}
    await otp.Supervisor.stop(sup)


async def test_terminate_restart_and_delete_child(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log), recorder_spec("b", log)])
    old = (await children(sup))["a"]
    await otp.Supervisor.terminate_child(sup, "a")
    assert terminated(log) == ["a"]
    assert old is not None
    assert not otp.is_alive(old)
    assert (await children(sup))["a"] is None
    assert await otp.Supervisor.count_children(sup) == {
        "specs": 2,
        "active": 1,
        "supervisors": 0,
        "workers": 2,
    }
    with pytest.raises(otp.SupervisorError, match="already_present"):
        await otp.Supervisor.start_child(sup, recorder_spec("a", log))
    new = await otp.Supervisor.restart_child(sup, "a")
    assert new is not None
    assert new is not old
    assert (await children(sup))["a"] is new
    with pytest.raises(otp.SupervisorError, match="'a' is running"):
        await otp.Supervisor.restart_child(sup, "a")
    with pytest.raises(otp.SupervisorError, match="terminate it first"):
        await otp.Supervisor.delete_child(sup, "a")
    await otp.Supervisor.terminate_child(sup, "a")
    await otp.Supervisor.delete_child(sup, "a")
    assert list(await children(sup)) == ["b"]
    for op in (otp.Supervisor.terminate_child, otp.Supervisor.restart_child, otp.Supervisor.delete_child):
        with pytest.raises(otp.SupervisorError, match="no child with id 'zzz'"):
            await op(sup, "zzz")
    await otp.Supervisor.stop(sup)


async def test_terminate_child_forgets_a_temporary_child(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("t", log, restart=otp.Restart.TEMPORARY)])
    await otp.Supervisor.terminate_child(sup, "t")
    assert await children(sup) == {}
    await otp.Supervisor.stop(sup)


async def test_a_terminated_child_is_not_restarted(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log)])
    await otp.Supervisor.terminate_child(sup, "a")
    await trio.testing.wait_all_tasks_blocked()
    assert (await children(sup))["a"] is None
    assert started(log) == ["a"]
    await otp.Supervisor.stop(sup)


async def test_which_and_count_children_report_types(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link(
        [recorder_spec("w", log), otp.Supervisor.child_spec([recorder_spec("x", log)], id="nested")]
    )
    rows = await otp.Supervisor.which_children(sup)
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("w", "worker", "recorder_spec.<locals>.<lambda>"),
        ("nested", "supervisor", "Supervisor"),
    ]
    assert await otp.Supervisor.count_children(sup) == {
        "specs": 2,
        "active": 2,
        "supervisors": 1,
        "workers": 1,
    }
    await otp.Supervisor.stop(sup)
    assert terminated(log) == ["x", "w"]
