"""Elixir's ``dynamic_supervisor_test.exs``, test by test, on ``otp.DynamicSupervisor``.

Source: elixir-lang/elixir, ``lib/elixir/test/elixir/dynamic_supervisor_test.exs``
(commit 63a7a054ceb2383d795731db8e6ea28aa30e4a03). Test names are the upstream
``describe``/``test`` names in snake case.

The upstream helper start functions map as: ``start_link(:ok2)`` starts a sleeping
linked process; ``{:error, reason}`` is a start function that raises; ``:ignore``
returns None; ``:unknown`` returns a non-pid; ``start_link(:restart, value)`` starts once
and then behaves as ``value``; ``:try_again`` alternates. Elixir's shutdown values are
milliseconds, ours seconds.

Not ported, no meaning here:

* ``start_link/3`` "with spawn_opt" and "sets initial call to the same as a regular
  supervisor": no spawn options, no ``proc_lib`` initial call.
* ``code_change/3`` "with non-ok init" and "with ok init": hot code upgrade.
* ``start_child/2`` "supports old child spec": there is one spec type, ``otp.ChildSpec``.
* ``start_child/2`` "supports extra arguments" and "restarting a child with
  extra_arguments successfully restarts child": start functions are closures; there
  are no ``extra_arguments`` to prepend.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import otp

from .._helpers import sleeper, wait_down

Dyn = otp.DynamicSupervisor
PERMANENT = otp.Restart.PERMANENT
TRANSIENT = otp.Restart.TRANSIENT
TEMPORARY = otp.Restart.TEMPORARY


class Found(Exception):
    """``{:error, :found}`` from a start function."""


def ok2() -> otp.Pid:
    return otp.spawn_link(sleeper)


def worker(start: Any, **kw: Any) -> otp.ChildSpec:
    """``current_module_worker(args, opts)``."""
    return otp.ChildSpec(id="DynamicSupervisorTest", start=start, behaviour="DynamicSupervisorTest", **kw)


def sleepy_worker(**kw: Any) -> otp.ChildSpec:
    return otp.ChildSpec(id="Task", start=ok2, **kw)


def behaves(value: str) -> Any:
    """The start functions ``start_link(value)`` of the upstream module."""

    def start() -> otp.Pid | None:
        match value:
            case "ok2" | "ok3":
                return ok2()
            case "ignore":
                return None
            case "error":
                raise Found("found")
            case "unknown":
                return "unknown"  # type: ignore[return-value]
        raise AssertionError(value)

    return start


def restart_then(value: str) -> Any:
    """``start_link(:restart, value)``: start once, then behave as ``value``."""
    started = [False]

    def start() -> otp.Pid | None:
        if started[0]:
            return behaves(value)()  # type: ignore[no-any-return]
        started[0] = True
        return ok2()

    return start


async def assert_kill(pid: otp.ChildPid, reason: Any) -> None:
    """``Process.exit(pid, reason)`` and wait for its DOWN (from the test's process, if any)."""
    assert isinstance(pid, otp.Pid)
    if otp.current_process() is None:
        async with otp.open_mailbox():
            return await assert_kill(pid, reason)
    ref = otp.monitor(pid)
    otp.exit(pid, reason)
    await wait_down(ref)
    return None


async def count(sup: Any) -> dict[str, int]:
    return await Dyn.count_children(sup)


def some(c: dict[str, int], **expected: int) -> bool:
    """``assert %{workers: 1, active: 1} = count_children(pid)``: a partial match."""
    return all(c[k] == v for k, v in expected.items())


# -- top level ------------------------------------------------------------------------------------------------


async def test_can_be_supervised_directly(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "can be supervised directly"
    sup = await otp.Supervisor.start_link([Dyn.child_spec(id="dyn", name="dyn_sup_spec_test")])
    assert await Dyn.which_children("dyn_sup_spec_test") == []
    await otp.Supervisor.stop(sup)


async def test_multiple_supervisors_can_be_supervised_and_identified_with_simple_child_spec(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "multiple supervisors can be supervised and
    # identified with simple child spec" ({:global, _} and {:via, Registry, _} names have
    # no equivalent: names are local strs)
    children = [Dyn.child_spec(id="simple_name", name="simple_name")]
    supsup = await otp.Supervisor.start_link(children)
    no_name_dynsup = await otp.Supervisor.start_child(supsup, Dyn.child_spec(id="DynamicSupervisor"))
    assert await Dyn.which_children("simple_name") == []
    assert no_name_dynsup is not None
    assert await Dyn.which_children(no_name_dynsup) == []
    with pytest.raises(otp.AlreadyStartedError) as info:
        await otp.Supervisor.start_child(supsup, Dyn.child_spec(id="DynamicSupervisor"))
    assert info.value.pid is no_name_dynsup
    await otp.Supervisor.stop(supsup)


async def test_use_generates_child_spec(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "use/2", test "generates child_spec/1"
    spec = Dyn.child_spec(id="Simple")
    assert (spec.id, spec.type, spec.restart, spec.shutdown) == (
        "Simple", otp.ChildType.SUPERVISOR, PERMANENT, otp.INFINITY)
    assert spec.behaviour == "DynamicSupervisor"


async def test_init_set_default_options(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "init/1", test "set default options"
    # (intensity 3, period 5, max_children infinity: checked by behaviour)
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        proc = otp.process_info(sup)
        assert proc is not None
        assert proc.summary["max_children"] is None  # infinity
        pid = await Dyn.start_child(sup, otp.ChildSpec(id=None, start=ok2))
        for _ in range(3):  # three restarts are within the default intensity
            await assert_kill(pid, "kill_it")
            [(_, pid, _, _)] = await Dyn.which_children(sup)
        ref = otp.monitor(sup)
        await assert_kill(pid, "kill_it")  # the fourth within 5 s is one too many
        assert (await wait_down(ref)).reason == otp.SHUTDOWN


async def test_start_link_with_non_ok_init(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_link/3", test "with non-ok init"
    # (strategy: a DynamicSupervisor is one_for_one, there is no such option here;
    # extra_arguments, auto_shutdown, a bad init return and :ignore have no equivalent)
    with pytest.raises(otp.InvalidSpecError, match="invalid max_restarts: -1") as info:
        await Dyn.start_link(max_restarts=-1)  # {:invalid_intensity, -1}
    assert info.value.field == "max_restarts"
    with pytest.raises(otp.InvalidSpecError, match="invalid max_seconds: 0"):  # {:invalid_period, 0}
        await Dyn.start_link(max_seconds=0)
    with pytest.raises(otp.InvalidSpecError, match="invalid max_children: -1"):
        await Dyn.start_link(max_children=-1)
    strategy: Any = {"strategy": "unknown"}
    with pytest.raises(TypeError, match="strategy"):
        await Dyn.start_link(**strategy)
    assert otp.processes() == []


async def test_start_link_with_registered_process(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_link/3", test "with registered process"
    async with otp.open_mailbox() as me:
        pid = await Dyn.start_link(name="DynamicSupervisorTest")
        info = otp.process_info(me)
        assert info is not None
        assert pid in info.links  # sets up a link
        assert otp.whereis("DynamicSupervisorTest") is pid  # a name
        await Dyn.stop("DynamicSupervisorTest")  # and shuts down
        assert not otp.is_alive(pid)


# -- start_child/2 ------------------------------------------------------------------------------------------------


async def test_start_child_supports_new_child_spec_as_tuple(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "supports new child spec as tuple"
    async def returns() -> None:
        return None

    sup = await Dyn.start_link()
    pid = await Dyn.start_child(sup, otp.ChildSpec(id="Task", start=lambda: otp.spawn_link(returns),
                                                   restart=TEMPORARY))
    assert isinstance(pid, otp.Pid)
    await Dyn.stop(sup)


async def test_start_child_supports_new_child_spec(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "supports new child spec"
    sup = await Dyn.start_link()
    pid = await Dyn.start_child(sup, otp.ChildSpec(id="Task", start=ok2, restart=TEMPORARY))
    assert isinstance(pid, otp.Pid)
    await Dyn.stop(sup)


async def test_start_child_with_invalid_child_spec(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "with invalid child spec"
    # (checked before any call: the supervisor :not_used does not exist)
    with pytest.raises(otp.InvalidSpecError, match=r"invalid child spec: \{\}"):
        await Dyn.start_child("not_used", {})  # type: ignore[arg-type]
    make: Any = otp.ChildSpec
    with pytest.raises(otp.InvalidSpecError, match="invalid start"):  # {:invalid_mfa, _}
        make(id=1, start=("Task", "foo", "bar"))
    with pytest.raises(otp.InvalidSpecError, match="invalid shutdown: -1"):
        make(id=1, start=ok2, shutdown=-1)
    with pytest.raises(TypeError, match="significant"):  # {:invalid_significant, true}
        make(id=1, start=ok2, significant=True)


async def test_start_child_with_different_returns(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "with different returns"
    # ({:ok, pid, :extra}: a start function returns a pid only)
    sup = await Dyn.start_link()
    assert isinstance(await Dyn.start_child(sup, worker(behaves("ok2"))), otp.Pid)
    assert await Dyn.start_child(sup, worker(behaves("ignore"))) is None
    with pytest.raises(Found, match="found"):
        await Dyn.start_child(sup, worker(behaves("error")))
    with pytest.raises(TypeError, match="'unknown'"):
        await Dyn.start_child(sup, worker(behaves("unknown")))
    await Dyn.stop(sup)


async def test_start_child_with_throw_error_exit(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "with throw/error/exit"
    # (Python has no throw: raising is the error case)
    def error() -> otp.Pid:
        raise RuntimeError("oops")

    def exit_() -> otp.Pid:
        raise otp.ProcessExit("oops")

    sup = await Dyn.start_link()
    with pytest.raises(RuntimeError, match="oops"):
        await Dyn.start_child(sup, worker(error))
    with pytest.raises(otp.ChildStartError) as info:
        await Dyn.start_child(sup, worker(exit_))
    assert info.value.reason == "oops"
    assert otp.is_alive(sup)
    await Dyn.stop(sup)


async def test_start_child_with_max_children(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "with max_children"
    sup = await Dyn.start_link(max_children=0)
    with pytest.raises(otp.MaxChildrenError):
        await Dyn.start_child(sup, worker(ok2))
    await Dyn.stop(sup)


async def test_temporary_child_is_not_restarted_regardless_of_reason(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "temporary child is not restarted regardless of reason"
    child = worker(ok2, restart=TEMPORARY)
    sup = await Dyn.start_link()
    await assert_kill(await Dyn.start_child(sup, child), otp.SHUTDOWN)
    assert some(await count(sup), workers=0, active=0)
    await assert_kill(await Dyn.start_child(sup, child), "whatever")
    assert some(await count(sup), workers=0, active=0)
    await Dyn.stop(sup)


async def test_transient_child_is_restarted_unless_normal_shutdown_shutdown(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "transient child is restarted unless normal/shutdown/{shutdown, _}"
    child = worker(ok2, restart=TRANSIENT)
    sup = await Dyn.start_link()
    await assert_kill(await Dyn.start_child(sup, child), otp.SHUTDOWN)
    assert some(await count(sup), workers=0, active=0)
    await assert_kill(await Dyn.start_child(sup, child), otp.Shutdown("signal"))
    assert some(await count(sup), workers=0, active=0)
    await assert_kill(await Dyn.start_child(sup, child), "whatever")
    assert some(await count(sup), workers=1, active=1)
    await Dyn.stop(sup)


async def test_permanent_child_is_restarted_regardless_of_reason(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "permanent child is restarted regardless of reason"
    child = worker(ok2, restart=PERMANENT)
    sup = await Dyn.start_link(max_restarts=100_000)
    await assert_kill(await Dyn.start_child(sup, child), otp.SHUTDOWN)
    assert some(await count(sup), workers=1, active=1)
    await assert_kill(await Dyn.start_child(sup, child), otp.Shutdown("signal"))
    assert some(await count(sup), workers=2, active=2)
    await assert_kill(await Dyn.start_child(sup, child), "whatever")
    assert some(await count(sup), workers=3, active=3)
    await Dyn.stop(sup)


def kinds(rows: list[tuple[None, otp.ChildPid, str, str]]) -> list[str]:
    return sorted("restarting" if pid is otp.RESTARTING else "pid" for _, pid, _, _ in rows)


async def test_child_is_restarted_with_different_values(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "child is restarted with different values"
    # (rows compared as a multiset: the order of which_children is the supervisor's own)
    sup = await Dyn.start_link(max_restarts=100_000)
    child1 = await Dyn.start_child(sup, worker(restart_then("ok2")))
    assert await Dyn.which_children(sup) == [(None, child1, "worker", "DynamicSupervisorTest")]
    await assert_kill(child1, otp.SHUTDOWN)
    assert some(await count(sup), workers=1, active=1)
    child2 = await Dyn.start_child(sup, worker(restart_then("ok3")))
    rows = await Dyn.which_children(sup)
    assert kinds(rows) == ["pid", "pid"]
    assert child2 in [pid for _, pid, _, _ in rows]
    await assert_kill(child2, otp.SHUTDOWN)
    assert some(await count(sup), workers=2, active=2)
    child3 = await Dyn.start_child(sup, worker(restart_then("ignore")))
    assert kinds(await Dyn.which_children(sup)) == ["pid", "pid", "pid"]
    await assert_kill(child3, otp.SHUTDOWN)
    assert some(await count(sup), workers=2, active=2)
    child4 = await Dyn.start_child(sup, worker(restart_then("error")))
    assert kinds(await Dyn.which_children(sup)) == ["pid", "pid", "pid"]
    await assert_kill(child4, otp.SHUTDOWN)
    assert some(await count(sup), workers=3, active=2)
    child5 = await Dyn.start_child(sup, worker(restart_then("unknown")))
    assert kinds(await Dyn.which_children(sup)) == ["pid", "pid", "pid", "restarting"]
    await assert_kill(child5, otp.SHUTDOWN)
    assert some(await count(sup), workers=4, active=2)
    await Dyn.stop(sup)


async def test_restarting_on_init_children_counted_in_max_children(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "restarting on init children counted in max_children"
    sup = await Dyn.start_link(max_children=1, max_restarts=100_000)
    await assert_kill(await Dyn.start_child(sup, worker(restart_then("error"))), otp.SHUTDOWN)
    assert some(await count(sup), workers=1, active=0)
    with pytest.raises(otp.MaxChildrenError):
        await Dyn.start_child(sup, worker(restart_then("ok2")))
    await Dyn.stop(sup)


async def test_restarting_on_exit_children_counted_in_max_children(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "restarting on exit children counted in max_children"
    sup = await Dyn.start_link(max_children=1, max_restarts=100_000)
    await assert_kill(await Dyn.start_child(sup, worker(ok2)), otp.SHUTDOWN)
    assert some(await count(sup), workers=1, active=1)
    with pytest.raises(otp.MaxChildrenError):
        await Dyn.start_child(sup, worker(ok2))
    await Dyn.stop(sup)


async def test_child_is_restarted_when_trying_again(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "child is restarted when trying again"
    notes: list[tuple[str, bool]] = []
    flag = [False]

    def try_again() -> otp.Pid:
        if flag[0]:
            flag[0] = False
            notes.append(("try_again", False))
            raise Found("try_again")
        flag[0] = True
        notes.append(("try_again", True))
        return ok2()

    sup = await Dyn.start_link(max_restarts=2)
    child_pid = await Dyn.start_child(sup, worker(try_again))
    assert notes == [("try_again", True)]
    await assert_kill(child_pid, otp.SHUTDOWN)
    await trio.testing.wait_all_tasks_blocked()
    assert notes == [("try_again", True), ("try_again", False), ("try_again", True)]
    assert some(await count(sup), workers=1, active=1)
    await Dyn.stop(sup)


async def test_child_triggers_maximum_restarts(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "child triggers maximum restarts"
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link(max_restarts=1)
        await assert_kill(await Dyn.start_child(sup, worker(restart_then("error"))), otp.SHUTDOWN)
        msg = await otp.receive(lambda m: isinstance(m, otp.Exit) and m.pid is sup)
        assert msg.reason == otp.SHUTDOWN


async def test_child_triggers_maximum_intensity_when_trying_again(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: test "child triggers maximum intensity when trying again"
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link(max_restarts=10)
        await assert_kill(await Dyn.start_child(sup, worker(restart_then("error"))), otp.SHUTDOWN)
        msg = await otp.receive(lambda m: isinstance(m, otp.Exit) and m.pid is sup)
        assert msg.reason == otp.SHUTDOWN


async def test_start_child_with_valid_shutdown(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "with valid shutdown"
    sup = await Dyn.start_link()
    for n in (0, 0.001):
        child_pid = await Dyn.start_child(sup, otp.ChildSpec(id=n, start=ok2, shutdown=n))
        await assert_kill(child_pid, otp.SHUTDOWN)
    await Dyn.stop(sup)


async def test_start_child_with_invalid_valid_shutdown(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "start_child/2", test "with invalid valid shutdown"
    with pytest.raises(otp.InvalidSpecError, match="invalid shutdown: -1"):
        await Dyn.start_child("not_used", otp.ChildSpec(id=1, start=ok2, shutdown=-1))


# -- terminate/2 ------------------------------------------------------------------------------------------------------


async def start_three(sup: otp.Pid, spec: otp.ChildSpec) -> list[otp.Pid]:
    pids = [await Dyn.start_child(sup, spec) for _ in range(3)]
    assert all(isinstance(p, otp.Pid) for p in pids)
    return pids  # type: ignore[return-value]


async def downs_after_killing_sup(sup: otp.Pid, pids: list[otp.Pid]) -> list[Any]:
    """Monitor the children, ``assert_kill(sup, :shutdown)``, return their DOWN reasons."""
    refs = [otp.monitor(p) for p in pids]
    await assert_kill(sup, otp.SHUTDOWN)
    return [(await wait_down(r)).reason for r in refs]


async def trapping_task(ready: list[str], then: Any) -> None:
    """``Process.flag(:trap_exit, true); send(parent, :ready); receive(do: (_ -> exit(then)))``."""
    otp.trap_exit(True)
    ready.append("ready")
    await otp.receive()
    raise otp.ProcessExit(then)


async def test_terminate_terminates_children_with_brutal_kill(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2", test "terminates children with brutal kill"
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        pids = await start_three(sup, sleepy_worker(shutdown=otp.BRUTAL_KILL))
        assert await downs_after_killing_sup(sup, pids) == [otp.KILLED] * 3


async def test_terminate_terminates_children_with_infinity_shutdown(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2", test "terminates children with infinity shutdown"
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        pids = await start_three(sup, sleepy_worker(shutdown=otp.INFINITY))
        assert await downs_after_killing_sup(sup, pids) == [otp.SHUTDOWN] * 3


async def test_terminate_terminates_children_with_infinity_shutdown_and_abnormal_reason(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2",
    # test "terminates children with infinity shutdown and abnormal reason"
    ready: list[str] = []
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        spec = otp.ChildSpec(id="Task", start=lambda: otp.spawn_link(trapping_task, ready, otp.Shutdown("oops")),
                             shutdown=otp.INFINITY, restart=TEMPORARY)
        pids = await start_three(sup, spec)
        await trio.testing.wait_all_tasks_blocked()
        assert ready == ["ready"] * 3
        assert await downs_after_killing_sup(sup, pids) == [otp.Shutdown("oops")] * 3


async def test_terminate_terminates_children_with_integer_shutdown(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2", test "terminates children with integer shutdown"
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        pids = await start_three(sup, sleepy_worker(shutdown=1.0))
        assert await downs_after_killing_sup(sup, pids) == [otp.SHUTDOWN] * 3


async def test_terminate_terminates_children_with_integer_shutdown_and_abnormal_reason(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2",
    # test "terminates children with integer shutdown and abnormal reason"
    ready: list[str] = []
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        spec = otp.ChildSpec(id="Task", start=lambda: otp.spawn_link(trapping_task, ready, otp.Shutdown("oops")),
                             shutdown=1.0, restart=TEMPORARY)
        pids = await start_three(sup, spec)
        await trio.testing.wait_all_tasks_blocked()
        assert ready == ["ready"] * 3
        assert await downs_after_killing_sup(sup, pids) == [otp.Shutdown("oops")] * 3


async def test_terminate_terminates_children_with_expired_integer_shutdown(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2", test "terminates children with expired integer shutdown"
    ready: list[str] = []

    async def tmt() -> None:
        otp.trap_exit(True)
        ready.append("ready")
        await trio.sleep_forever()

    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        child_fun = otp.ChildSpec(id="Task", start=ok2, shutdown=0.001, restart=TEMPORARY)
        child_tmt = otp.ChildSpec(id="Task", start=lambda: otp.spawn_link(tmt), shutdown=0.001, restart=TEMPORARY)
        child1 = await Dyn.start_child(sup, child_fun)
        child2 = await Dyn.start_child(sup, child_tmt)
        child3 = await Dyn.start_child(sup, child_fun)
        await trio.testing.wait_all_tasks_blocked()
        assert ready == ["ready"]
        assert await downs_after_killing_sup(sup, [child1, child2, child3]) == [  # type: ignore[list-item]
            otp.SHUTDOWN, otp.KILLED, otp.SHUTDOWN]


async def test_terminate_terminates_children_with_permanent_restart_and_normal_reason(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2",
    # test "terminates children with permanent restart and normal reason"
    ready: list[str] = []
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        spec = otp.ChildSpec(id="Task", start=lambda: otp.spawn_link(trapping_task, ready, otp.NORMAL),
                             shutdown=otp.INFINITY, restart=PERMANENT)
        pids = await start_three(sup, spec)
        await trio.testing.wait_all_tasks_blocked()
        assert ready == ["ready"] * 3
        assert await downs_after_killing_sup(sup, pids) == [otp.NORMAL] * 3


async def test_terminate_terminates_with_mixed_children(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate/2", test "terminates with mixed children"
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await Dyn.start_link()
        child1 = await Dyn.start_child(sup, sleepy_worker(shutdown=otp.INFINITY))
        child2 = await Dyn.start_child(sup, sleepy_worker(shutdown=otp.BRUTAL_KILL))
        assert await downs_after_killing_sup(sup, [child1, child2]) == [  # type: ignore[list-item]
            otp.SHUTDOWN, otp.KILLED]


# -- terminate_child/2 ---------------------------------------------------------------------------------------------


async def test_terminate_child_terminates_child_with_brutal_kill(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate_child/2", test "terminates child with brutal kill"
    sup = await Dyn.start_link()
    child_pid = await Dyn.start_child(sup, sleepy_worker(shutdown=otp.BRUTAL_KILL))
    assert child_pid is not None
    async with otp.open_mailbox():
        ref = otp.monitor(child_pid)
        await Dyn.terminate_child(sup, child_pid)
        assert (await wait_down(ref)).reason == otp.KILLED
    with pytest.raises(otp.SupervisorError, match="not_found"):
        await Dyn.terminate_child(sup, child_pid)
    assert some(await count(sup), workers=0, active=0)
    await Dyn.stop(sup)


async def test_terminate_child_terminates_child_with_integer_shutdown(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate_child/2", test "terminates child with integer shutdown"
    sup = await Dyn.start_link()
    child_pid = await Dyn.start_child(sup, sleepy_worker(shutdown=1.0))
    assert child_pid is not None
    async with otp.open_mailbox():
        ref = otp.monitor(child_pid)
        await Dyn.terminate_child(sup, child_pid)
        assert (await wait_down(ref)).reason == otp.SHUTDOWN
    with pytest.raises(otp.SupervisorError, match="not_found"):
        await Dyn.terminate_child(sup, child_pid)
    assert some(await count(sup), workers=0, active=0)
    await Dyn.stop(sup)


async def test_terminate_child_terminates_restarting_child(node: otp.Node) -> None:
    # dynamic_supervisor_test.exs: describe "terminate_child/2", test "terminates restarting child"
    sup = await Dyn.start_link(max_restarts=100_000)
    child_pid = await Dyn.start_child(sup, worker(restart_then("error"), restart=PERMANENT))
    assert child_pid is not None
    await assert_kill(child_pid, otp.SHUTDOWN)
    await Dyn.terminate_child(sup, child_pid)
    with pytest.raises(otp.SupervisorError, match="not_found"):
        await Dyn.terminate_child(sup, child_pid)
    assert some(await count(sup), workers=0, active=0)
    await Dyn.stop(sup)

