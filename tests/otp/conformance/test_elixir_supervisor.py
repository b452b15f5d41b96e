"""Elixir's ``supervisor_test.exs``, test by test, on ``otp.Supervisor``.

Source: elixir-lang/elixir, ``lib/elixir/test/elixir/supervisor_test.exs`` (commit
63a7a054ceb2383d795731db8e6ea28aa30e4a03). ``SupervisorTest.Stack`` is ``Stack`` below.

Not ported, no meaning here:

* "init/2 with old and new child specs", "start_link/2 with old and new specs",
  "start_child/2 supports old child spec": there is one spec type, ``otp.ChildSpec``.
* "start_link/2 with via", "start_link/3 with global": names are local strs; there is
  no ``:global`` or ``{:via, ...}``.
* "start_link/3" (a module-based supervisor, ``use Supervisor``): supervisors are
  configured with data here, there is no callback module.

Translation: ``:strategy`` is a keyword that defaults to ``ONE_FOR_ONE`` here, where
Elixir requires it (README, differences table); "init/2" checks the other defaults.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing

import otp

from .._helpers import sleeper, wait_down


class Stack(otp.GenServer[list[Any]]):
    """``SupervisorTest.Stack``."""

    async def init(self, stack: list[Any]) -> otp.Ok[list[Any]]:
        return otp.Ok(stack)

    async def handle_call(self, request: Any, from_: otp.From, stack: list[Any]) -> Any:
        match request:
            case "pop":
                return otp.Reply(stack[0], stack[1:])
            case "stop":
                return otp.Stop(otp.NORMAL, stack, reply="ok")
        raise AssertionError(request)

    async def handle_cast(self, request: Any, stack: list[Any]) -> Any:
        _, h = request
        return otp.NoReply([h, *stack])


async def assert_kill(pid: otp.Pid | None, reason: Any) -> None:
    assert pid is not None
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        otp.exit(pid, reason)
        await wait_down(ref)


def test_generates_child_spec() -> None:
    # supervisor_test.exs: test "generates child_spec/1"
    spec = otp.Supervisor.child_spec([Stack.child_spec(["hello"])], id="Stack.Sup")
    assert (spec.id, spec.type, spec.restart) == ("Stack.Sup", otp.ChildType.SUPERVISOR, otp.Restart.PERMANENT)
    custom = otp.Supervisor.child_spec([], id="id", restart=otp.Restart.TEMPORARY)
    assert (custom.id, custom.type, custom.restart) == ("id", otp.ChildType.SUPERVISOR, otp.Restart.TEMPORARY)


async def test_child_spec_2(node: otp.Node) -> None:
    # supervisor_test.exs: test "child_spec/2" (overrides: GenServer.child_spec's keywords,
    # or attrs.evolve on any spec; both re-check the result)
    task = Stack.child_spec([], restart=otp.Restart.TEMPORARY)
    assert (task.id, task.restart) == ("Stack", otp.Restart.TEMPORARY)
    assert attrs.evolve(task, id="foo", restart=otp.Restart.PERMANENT, shutdown=otp.INFINITY).shutdown is otp.INFINITY
    with pytest.raises(otp.InvalidSpecError, match="invalid shutdown"):
        attrs.evolve(task, shutdown=-1)
    # "supervisors expect each child to be one of ..."
    with pytest.raises(otp.InvalidSpecError, match=r"invalid children\[0\]: 'other'"):
        await otp.Supervisor.start_link(["other"])  # type: ignore[list-item]


async def test_init_2(node: otp.Node) -> None:
    # supervisor_test.exs: test "init/2" (defaults: intensity 3, period 5)
    sup = await otp.Supervisor.start_link([])
    info = otp.process_info(sup)
    assert info is not None
    assert (info.summary["strategy"], info.summary["max_restarts"], info.summary["max_seconds"]) == (
        "one_for_one", 3, 5.0)
    await otp.Supervisor.stop(sup)
    sup = await otp.Supervisor.start_link([], strategy=otp.Strategy.ONE_FOR_ALL, max_restarts=1, max_seconds=2)
    info = otp.process_info(sup)
    assert info is not None
    assert (info.summary["strategy"], info.summary["max_restarts"], info.summary["max_seconds"]) == (
        "one_for_all", 1, 2)
    await otp.Supervisor.stop(sup)


async def test_start_link_3_with_local(node: otp.Node) -> None:
    # supervisor_test.exs: test "start_link/3 with local"
    sup = await otp.Supervisor.start_link([], name="my_sup")
    assert await otp.Supervisor.which_children("my_sup") == []
    await otp.Supervisor.stop(sup)


async def test_start_link_2(node: otp.Node) -> None:
    # supervisor_test.exs: test "start_link/2"
    children = [Stack.child_spec(["hello"], name="dyn_stack")]
    pid = await otp.Supervisor.start_link(children)
    assert await otp.call("dyn_stack", "pop") == "hello"
    assert await otp.call("dyn_stack", "stop") == "ok"
    await trio.testing.wait_all_tasks_blocked()  # wait_until_registered
    assert await otp.call("dyn_stack", "pop") == "hello"
    await otp.Supervisor.stop(pid)
    # "expected :name option to be one of the following": a name is a non-empty str here.
    for bad in (("invalid_tuple", "my_gen_server_name"), ("via", "Via", "my_gen_server_name")):
        with pytest.raises(TypeError, match="registered name must be a non-empty str"):
            await otp.Supervisor.start_link(children, name=bad)  # type: ignore[arg-type]
    assert otp.processes() == []


async def test_start_child_supports_new_child_spec_as_tuple(node: otp.Node) -> None:
    # supervisor_test.exs: describe "start_child/2", test "supports new child spec as tuple"
    async def returns() -> None:
        return None

    sup = await otp.Supervisor.start_link([])
    child = otp.ChildSpec(id="Task", start=lambda: otp.spawn_link(returns), restart=otp.Restart.TEMPORARY)
    assert isinstance(await otp.Supervisor.start_child(sup, child), otp.Pid)
    await otp.Supervisor.stop(sup)


async def test_start_child_supports_new_child_spec(node: otp.Node) -> None:
    # supervisor_test.exs: describe "start_child/2", test "supports new child spec"
    sup = await otp.Supervisor.start_link([])
    child = otp.ChildSpec(id="Task", start=lambda: otp.spawn_link(sleeper), restart=otp.Restart.TEMPORARY)
    assert isinstance(await otp.Supervisor.start_child(sup, child), otp.Pid)
    await otp.Supervisor.stop(sup)


async def test_start_child_with_invalid_child_spec(node: otp.Node) -> None:
    # supervisor_test.exs: describe "start_child/2", test "with invalid child spec"
    sup = await otp.Supervisor.start_link([])
    with pytest.raises(otp.InvalidSpecError, match="invalid child spec"):  # {:error, :missing_id}
        await otp.Supervisor.start_child(sup, {})  # type: ignore[arg-type]
    make: Any = otp.ChildSpec
    with pytest.raises(otp.InvalidSpecError, match="invalid start: 2"):  # {:invalid_mfa, 2}
        make(id=1, start=2)
    with pytest.raises(otp.InvalidSpecError, match="invalid start"):  # {:invalid_mfa, {Task, :foo, :bar}}
        make(id=1, start=("Task", "foo", "bar"))
    with pytest.raises(otp.InvalidSpecError, match="invalid shutdown: -1"):
        make(id=1, start=sleeper, shutdown=-1)
    assert await otp.Supervisor.which_children(sup) == []
    await otp.Supervisor.stop(sup)


async def test_start_child_with_valid_child_spec(node: otp.Node) -> None:
    # supervisor_test.exs: describe "start_child/2", test "with valid child spec"
    sup = await otp.Supervisor.start_link([])
    for n in (0, 1):
        child = otp.ChildSpec(id=n, start=lambda: otp.spawn_link(sleeper), shutdown=n / 1000)
        await assert_kill(await otp.Supervisor.start_child(sup, child), otp.SHUTDOWN)
    await otp.Supervisor.stop(sup)


async def test_child_life_cycle(node: otp.Node) -> None:
    # supervisor_test.exs: test "child life cycle"
    pid = await otp.Supervisor.start_link([])
    assert await otp.Supervisor.which_children(pid) == []
    assert await otp.Supervisor.count_children(pid) == {"specs": 0, "active": 0, "supervisors": 0, "workers": 0}
    stack = await otp.Supervisor.start_child(pid, Stack.child_spec(["hello"]))
    assert stack is not None
    assert await otp.call(stack, "pop") == "hello"
    assert await otp.Supervisor.which_children(pid) == [("Stack", stack, "worker", "Stack")]
    assert await otp.Supervisor.count_children(pid) == {"specs": 1, "active": 1, "supervisors": 0, "workers": 1}
    with pytest.raises(otp.SupervisorError, match="running"):
        await otp.Supervisor.delete_child(pid, "Stack")
    await otp.Supervisor.terminate_child(pid, "Stack")
    stack = await otp.Supervisor.restart_child(pid, "Stack")
    assert stack is not None
    assert await otp.call(stack, "pop") == "hello"
    await otp.Supervisor.terminate_child(pid, "Stack")
    await otp.Supervisor.delete_child(pid, "Stack")
    await otp.Supervisor.stop(pid)
