"""Issue 11, rules 9-15: supervisors, dynamic supervisors, partition pools and pg as OTP has them.

9. A failed restart keeps the child ``restarting``, is retried, and every attempt counts
   against the intensity (static and dynamic supervisors); ``terminate_child`` ends it.
10. Invalid child specs and supervisor flags are refused at start, naming the field.
11. A child that fails while its supervisor starts: the error names the id, logged once;
    ``already_started`` carries the running pid.
12. ``BRUTAL_KILL`` and shutdown timeouts take a shielded child out at once.
13. A DynamicSupervisor survives a start function that raises ``ProcessExit``.
14. PartitionSupervisor: stop removes the pool, unknown pools are no-process errors, the
    pool's children are its partitions, routing is stable across OS processes.
15. ``PG.leave`` of a group not joined says so.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Boom, recorder_spec, sleeper, wait_down

ROOT = Path(__file__).resolve().parents[2]


class Starts:
    """A start function that follows a script: ``ok``, ``fail``, or ``wait-`` either.

    ``wait-...`` blocks the supervisor in the start function until ``release()``, so a
    test can queue calls behind the failing attempt, as OTP's ``supervisor_deadlock``
    helper does with its sleep.
    """

    def __init__(self, *plan: str, then: str = "ok") -> None:
        self.plan = list(plan)
        self.then = then
        self.calls = 0
        self.gate = trio.Event()
        self.pids: list[otp.Pid] = []

    def release(self) -> None:
        gate, self.gate = self.gate, trio.Event()
        gate.set()

    async def __call__(self) -> otp.Pid:
        self.calls += 1
        action = self.plan.pop(0) if self.plan else self.then
        if action.startswith("wait-"):
            await self.gate.wait()
            action = action[5:]
        if action == "fail":
            raise Boom(f"start #{self.calls} failed")
        pid = otp.spawn_link(sleeper)
        self.pids.append(pid)
        return pid


async def kill_child(pid: otp.ChildPid) -> None:
    assert isinstance(pid, otp.Pid)
    ref = otp.monitor(pid)
    otp.exit(pid, "crash")
    await wait_down(ref)


async def rows(sup: otp.Pid) -> dict[Any, otp.ChildPid]:
    return {cid: pid for cid, pid, _, _ in await otp.Supervisor.which_children(sup)}


async def outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", await fn(*args))
    except otp.SupervisorError as exc:
        return ("error", str(exc))


# -- rule 9: failed restarts ---------------------------------------------------------------------


async def test_failed_restart_keeps_child_restarting_and_retries(node: otp.Node) -> None:
    starts = Starts("ok", "wait-fail", "wait-ok")
    spec = otp.ChildSpec(id="c", start=starts)
    sup = await otp.Supervisor.start_link([spec], max_restarts=10)
    seen: dict[str, Any] = {}

    async def ask(key: str, fn: Any, *args: Any) -> None:
        seen[key] = await outcome(fn, *args)

    async with otp.open_mailbox():
        await kill_child((await rows(sup))["c"])
    # The calls come from plain tasks: each gets a mailbox of its own.
    async with trio.open_nursery() as nursery:
        await trio.testing.wait_all_tasks_blocked()  # the supervisor waits in attempt 1
        # Queued now, served after attempt 1 fails and before its retry (a message to itself).
        nursery.start_soon(ask, "which", otp.Supervisor.which_children, sup)
        nursery.start_soon(ask, "count", otp.Supervisor.count_children, sup)
        nursery.start_soon(ask, "restart", otp.Supervisor.restart_child, sup, "c")
        nursery.start_soon(ask, "delete", otp.Supervisor.delete_child, sup, "c")
        nursery.start_soon(ask, "start", otp.Supervisor.start_child, sup, spec)
        await trio.testing.wait_all_tasks_blocked()
        starts.release()  # attempt 1 fails; the calls are answered; attempt 2 waits
        await trio.testing.wait_all_tasks_blocked()
    assert seen["which"] == ("ok", [("c", otp.RESTARTING, "worker", "Starts")])
    assert seen["count"] == ("ok", {"specs": 1, "active": 0, "supervisors": 0, "workers": 1})
    assert seen["restart"] == ("error", "child 'c' is restarting")
    assert seen["delete"] == ("error", "child 'c' is restarting; terminate it first")
    assert seen["start"] == ("error", "child 'c' is already_present")
    assert starts.calls == 3
    starts.release()  # attempt 2 succeeds
    await trio.testing.wait_all_tasks_blocked()
    assert await rows(sup) == {"c": starts.pids[-1]}
    await otp.Supervisor.stop(sup)


async def test_terminate_child_stops_restart_retries(node: otp.Node) -> None:
    starts = Starts("ok", "wait-fail", then="fail")
    sup = await otp.Supervisor.start_link([otp.ChildSpec(id="c", start=starts)], max_restarts=100)
    async with otp.open_mailbox():
        await kill_child((await rows(sup))["c"])
    async with trio.open_nursery() as nursery:
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(otp.Supervisor.terminate_child, sup, "c")
        await trio.testing.wait_all_tasks_blocked()
        starts.release()
        await trio.testing.wait_all_tasks_blocked()
    # The retry queued by the failed attempt found the child terminated: no more attempts.
    assert starts.calls == 2
    assert await rows(sup) == {"c": None}
    starts.then = "ok"
    pid = await otp.Supervisor.restart_child(sup, "c")
    assert await rows(sup) == {"c": pid}
    await otp.Supervisor.stop(sup)


async def test_failed_restarts_count_against_intensity_and_escalate(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    starts = Starts("ok", then="fail")
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await otp.Supervisor.start_link([otp.ChildSpec(id="c", start=starts)], max_restarts=3)
        ref = otp.monitor(sup)
        await kill_child((await rows(sup))["c"])
        assert (await wait_down(ref)).reason == otp.SHUTDOWN
        await otp.receive(lambda m: isinstance(m, otp.Exit) and m.pid is sup)
    # The crash, then attempts 1..3 fail; the 4th restart in the window is one too many.
    assert starts.calls == 1 + 3
    assert any("reached max restart intensity" in r.getMessage() for r in caplog.records)


async def test_dynamic_supervisor_failed_restart_counts_against_intensity(node: otp.Node) -> None:
    starts = Starts("ok", then="fail")
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await otp.DynamicSupervisor.start_link(max_restarts=3)
        ref = otp.monitor(sup)
        pid = await otp.DynamicSupervisor.start_child(sup, otp.ChildSpec(id=None, start=starts))
        await kill_child(pid)
        assert (await wait_down(ref)).reason == otp.SHUTDOWN
        await otp.receive(lambda m: isinstance(m, otp.Exit) and m.pid is sup)
    assert starts.calls == 1 + 3


async def test_dynamic_supervisor_failed_restart_keeps_child_restarting_until_terminated(node: otp.Node) -> None:
    starts = Starts("ok", "wait-fail", "wait-fail")
    sup = await otp.DynamicSupervisor.start_link(max_restarts=100, max_children=1)
    seen: dict[str, Any] = {}

    async def ask(key: str, fn: Any, *args: Any) -> None:
        try:
            seen[key] = await fn(*args)
        except otp.SupervisorError as exc:
            seen[key] = exc

    pid = await otp.DynamicSupervisor.start_child(sup, otp.ChildSpec(id=None, start=starts))
    assert pid is not None
    async with otp.open_mailbox():
        await kill_child(pid)
    async with trio.open_nursery() as nursery:
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(ask, "which", otp.DynamicSupervisor.which_children, sup)
        nursery.start_soon(ask, "count", otp.DynamicSupervisor.count_children, sup)
        nursery.start_soon(ask, "start", otp.DynamicSupervisor.start_child, sup,
                           otp.ChildSpec(id=None, start=Starts()))
        await trio.testing.wait_all_tasks_blocked()
        starts.release()  # attempt 1 fails: the child stays, restarting; attempt 2 waits
        await trio.testing.wait_all_tasks_blocked()
        assert seen["which"] == [(None, otp.RESTARTING, "worker", "")]
        assert seen["count"] == {"specs": 1, "active": 0, "supervisors": 0, "workers": 1}
        assert isinstance(seen["start"], otp.MaxChildrenError)  # it still counts
        # A restarting child is known by its last pid; terminating it ends the retries.
        nursery.start_soon(otp.DynamicSupervisor.terminate_child, sup, pid)
        await trio.testing.wait_all_tasks_blocked()
        starts.release()  # attempt 2 fails; its retry finds the child gone
        await trio.testing.wait_all_tasks_blocked()
    assert starts.calls == 3
    assert await otp.DynamicSupervisor.which_children(sup) == []
    assert await otp.DynamicSupervisor.count_children(sup) == {
        "specs": 0, "active": 0, "supervisors": 0, "workers": 0,
    }
    await otp.DynamicSupervisor.stop(sup)


# -- rule 10: invalid specs and flags ---------------------------------------------------------------


def test_negative_shutdown_refused_at_start() -> None:
    with pytest.raises(otp.InvalidSpecError, match=r"invalid shutdown: -1 ") as info:
        otp.ChildSpec(id="c", start=sleeper, shutdown=-1)
    assert info.value.field == "shutdown"
    assert info.value.value == -1


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("restart", {"restart": "permanent"}),
        ("type", {"type": "worker"}),
        ("shutdown", {"shutdown": math.nan}),
        ("shutdown", {"shutdown": math.inf}),
        ("shutdown", {"shutdown": "5"}),
        ("shutdown", {"shutdown": True}),
        ("start", {"start": "not callable"}),
        ("id", {"id": ["unhashable"]}),
    ],
)
def test_invalid_child_spec_field_is_refused_naming_it(field: str, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"id": "c", "start": sleeper, **kwargs}
    with pytest.raises(otp.InvalidSpecError, match=f"invalid {field}: ") as info:
        otp.ChildSpec(**args)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("field", "flags"),
    [
        ("strategy", {"strategy": "one_for_one"}),
        ("max_restarts", {"max_restarts": -1}),
        ("max_restarts", {"max_restarts": 1.5}),
        ("max_restarts", {"max_restarts": math.inf}),
        ("max_seconds", {"max_seconds": 0}),
        ("max_seconds", {"max_seconds": math.inf}),
        ("max_seconds", {"max_seconds": "5"}),
    ],
)
async def test_invalid_supervisor_flags_refused_at_start_naming_them(
    node: otp.Node, field: str, flags: dict[str, Any]
) -> None:
    log: list[Any] = []
    with pytest.raises(otp.InvalidSpecError, match=f"invalid {field}: ") as info:
        await otp.Supervisor.start_link([recorder_spec("a", log)], **flags)
    assert info.value.field == field
    with pytest.raises(otp.InvalidSpecError, match=f"invalid {field}: "):
        otp.Supervisor.child_spec([], id="nested", **flags)
    assert log == []
    assert otp.processes() == []


@pytest.mark.parametrize(
    ("field", "flags"),
    [
        ("max_children", {"max_children": -1}),
        ("max_children", {"max_children": 2.5}),
        ("max_restarts", {"max_restarts": -1}),
        ("max_seconds", {"max_seconds": 0}),
    ],
)
async def test_invalid_dynamic_supervisor_flags_refused_at_start_naming_them(
    node: otp.Node, field: str, flags: dict[str, Any]
) -> None:
    with pytest.raises(otp.InvalidSpecError, match=f"invalid {field}: "):
        await otp.DynamicSupervisor.start_link(**flags)
    with pytest.raises(otp.InvalidSpecError, match=f"invalid {field}: "):
        otp.DynamicSupervisor.child_spec(id="d", **flags)
    with pytest.raises(otp.InvalidSpecError, match=f"invalid {field}: "):
        await otp.PartitionSupervisor.start_link(name="pool", partitions=2, **flags)
    with pytest.raises(otp.InvalidSpecError, match="invalid partitions: 0 "):
        await otp.PartitionSupervisor.start_link(name="pool", partitions=0)
    assert otp.processes() == []


async def test_bad_spec_in_initial_list_refused_before_any_child_starts(node: otp.Node) -> None:
    log: list[Any] = []
    bad: Any = {"id": "b", "start": sleeper}
    with pytest.raises(otp.InvalidSpecError, match=r"invalid children\[1\]: ") as info:
        await otp.Supervisor.start_link([recorder_spec("a", log), bad])
    assert info.value.field == "children[1]"
    with pytest.raises(otp.InvalidSpecError, match="invalid children: "):
        await otp.Supervisor.start_link(recorder_spec("a", log))  # type: ignore[arg-type]
    assert log == []
    sup = await otp.DynamicSupervisor.start_link()
    with pytest.raises(otp.InvalidSpecError, match="invalid child spec: "):
        await otp.DynamicSupervisor.start_child(sup, bad)
    await otp.DynamicSupervisor.stop(sup)


# -- rule 11: a child that fails while its supervisor starts --------------------------------------------


async def test_child_start_failure_names_id_logged_once(node: otp.Node, caplog: pytest.LogCaptureFixture) -> None:
    class Failing(otp.GenServer[None]):
        async def init(self, arg: Any) -> otp.Ok[None]:
            raise Boom("cannot start")

    def plain_failure() -> otp.Pid:
        raise Boom("plain start function failed")

    log: list[Any] = []
    for bad, error in [
        (otp.ChildSpec(id="server", start=Failing.start_link), "cannot start"),
        (otp.ChildSpec(id="plain", start=plain_failure), "plain start function failed"),
    ]:
        caplog.clear()
        with pytest.raises(otp.ChildStartError, match=f"child '{bad.id}' failed to start: Boom") as info:
            await otp.Supervisor.start_link([recorder_spec("a", log), bad])
        assert info.value.id == bad.id
        assert str(info.value.reason) == error
        await trio.testing.wait_all_tasks_blocked()
        errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert f"child {bad.id!r} failed to start" in errors[0].getMessage()
        assert error in errors[0].getMessage()
        assert otp.processes() == []


async def test_nested_child_start_failure_logged_once_and_names_each_id(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing(otp.GenServer[None]):
        async def init(self, arg: Any) -> otp.Ok[None]:
            raise OSError(98, "cannot listen")

    inner = otp.Supervisor.child_spec([otp.ChildSpec(id="sockets", start=Failing.start_link)], id="listener")
    with pytest.raises(otp.ChildStartError, match="child 'listener' failed to start") as info:
        await otp.Supervisor.start_link([otp.Supervisor.child_spec([inner], id="endpoint")])
    # {shutdown, {failed_to_start_child, endpoint, {... listener, {... sockets, Reason}}}}
    chain = [info.value]
    while isinstance(chain[-1].__cause__, BaseException):
        chain.append(chain[-1].__cause__)
    assert [getattr(e, "id", None) for e in chain] == ["endpoint", "listener", "sockets", None]
    assert isinstance(chain[-1], OSError)
    await trio.testing.wait_all_tasks_blocked()
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "child 'sockets' failed to start: OSError(98, 'cannot listen')" in errors[0].getMessage()
    assert otp.processes() == []


async def test_already_started_error_carries_the_running_pid(node: otp.Node) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log)])
    running = (await rows(sup))["a"]
    with pytest.raises(otp.AlreadyStartedError, match="'a' is already_started") as info:
        await otp.Supervisor.start_child(sup, recorder_spec("a", log))
    assert info.value.pid is running
    assert info.value.id == "a"
    await otp.Supervisor.stop(sup)


# -- rule 12: kills take a shielded child out at once ----------------------------------------------------


async def shielded(done: list[str], trap: bool = False) -> None:
    if trap:
        otp.trap_exit(True)
    with trio.CancelScope(shield=True):
        await trio.sleep(100)
    done.append("shield over")


async def test_brutal_kill_removes_shielded_child_at_once(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    done: list[str] = []
    spec = otp.ChildSpec(id="s", start=lambda: otp.spawn_link(shielded, done, name="shy"),
                         shutdown=otp.BRUTAL_KILL)
    sup = await otp.Supervisor.start_link([spec])
    pid = (await rows(sup))["s"]
    assert isinstance(pid, otp.Pid)
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        t0 = trio.current_time()
        await otp.Supervisor.terminate_child(sup, "s")
        assert trio.current_time() == t0  # no time passed: the shield did not hold it
        assert not otp.is_alive(pid)
        assert otp.whereis("shy") is None
        assert (await wait_down(ref)).reason == otp.KILLED
    assert done == []  # its task is still in the shield, in the background
    await otp.Supervisor.stop(sup)
    await trio.sleep(101)  # virtual time: past the end of the child's shielded sleep
    assert done == ["shield over"]


async def test_shutdown_timeout_removes_shielded_child_on_time(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    done: list[str] = []
    spec = otp.ChildSpec(id="s", start=lambda: otp.spawn_link(shielded, done, True), shutdown=2.0)
    sup = await otp.Supervisor.start_link([spec])
    pid = (await rows(sup))["s"]
    assert isinstance(pid, otp.Pid)
    t0 = trio.current_time()
    await otp.Supervisor.terminate_child(sup, "s")
    assert trio.current_time() - t0 == pytest.approx(2.0)
    assert not otp.is_alive(pid)
    await otp.Supervisor.stop(sup)
    await trio.sleep(100)
    assert done == ["shield over"]


async def test_dynamic_supervisor_kills_remove_shielded_children_on_time(
    node: otp.Node, autojump_clock: trio.testing.MockClock
) -> None:
    done: list[str] = []
    sup = await otp.DynamicSupervisor.start_link()
    brutal = await otp.DynamicSupervisor.start_child(
        sup, otp.ChildSpec(id=None, start=lambda: otp.spawn_link(shielded, done), shutdown=otp.BRUTAL_KILL))
    timed = await otp.DynamicSupervisor.start_child(
        sup, otp.ChildSpec(id=None, start=lambda: otp.spawn_link(shielded, done, True), shutdown=1.0))
    assert brutal is not None
    assert timed is not None
    t0 = trio.current_time()
    await otp.DynamicSupervisor.terminate_child(sup, brutal)
    assert trio.current_time() == t0
    assert not otp.is_alive(brutal)
    await otp.DynamicSupervisor.stop(sup)
    assert trio.current_time() - t0 == pytest.approx(1.0)
    assert not otp.is_alive(timed)
    await trio.sleep(100)
    assert done == ["shield over", "shield over"]


# -- rule 13: a start function that exits ------------------------------------------------------------------


def exits_in_start() -> otp.Pid:
    raise otp.ProcessExit("oops")


async def test_dynamic_supervisor_survives_start_function_raising_process_exit(node: otp.Node) -> None:
    sup = await otp.DynamicSupervisor.start_link()
    with pytest.raises(otp.ChildStartError, match="failed to start: 'oops'") as info:
        await otp.DynamicSupervisor.start_child(sup, otp.ChildSpec(id=None, start=exits_in_start))
    assert info.value.reason == "oops"
    assert otp.is_alive(sup)
    pid = await otp.DynamicSupervisor.start_child(sup, otp.ChildSpec(id=None, start=lambda: otp.spawn_link(sleeper)))
    assert await otp.DynamicSupervisor.which_children(sup) == [(None, pid, "worker", "")]
    await otp.DynamicSupervisor.stop(sup)


async def test_supervisor_survives_start_function_raising_process_exit(node: otp.Node) -> None:
    sup = await otp.Supervisor.start_link([])
    with pytest.raises(otp.ChildStartError, match="child 'x' failed to start: 'oops'"):
        await otp.Supervisor.start_child(sup, otp.ChildSpec(id="x", start=exits_in_start))
    assert otp.is_alive(sup)
    assert await rows(sup) == {}
    await otp.Supervisor.stop(sup)


# -- rule 14: partition pools ----------------------------------------------------------------------------------


async def test_partition_supervisor_stop_removes_the_pool(node: otp.Node) -> None:
    await otp.PartitionSupervisor.start_link(name="pool", partitions=2)
    assert otp.PartitionSupervisor.partitions("pool") == 2
    await otp.PartitionSupervisor.stop("pool")
    assert otp.whereis("pool") is None
    with pytest.raises(otp.NoProcessError, match="no partition supervisor named 'pool'"):
        otp.PartitionSupervisor.partitions("pool")


async def test_unknown_partition_supervisor_is_a_no_process_error(node: otp.Node) -> None:
    spec = otp.ChildSpec(id=None, start=lambda: otp.spawn_link(sleeper))
    with pytest.raises(otp.NoProcessError, match="'nope'"):
        otp.PartitionSupervisor.partitions("nope")
    with pytest.raises(otp.NoProcessError):
        await otp.PartitionSupervisor.start_child("nope", spec, key=1)
    with pytest.raises(otp.NoProcessError):
        await otp.PartitionSupervisor.which_children("nope")
    with pytest.raises(otp.NoProcessError):
        await otp.PartitionSupervisor.count_children("nope")
    with pytest.raises(otp.NoProcessError):
        await otp.PartitionSupervisor.stop("nope")


async def test_partition_which_and_count_children_describe_the_partitions(node: otp.Node) -> None:
    sup = await otp.PartitionSupervisor.start_link(name="pool", partitions=3)
    await otp.PartitionSupervisor.start_child("pool", otp.ChildSpec(id=None, start=lambda: otp.spawn_link(sleeper)),
                                              key="k")
    assert await otp.PartitionSupervisor.which_children("pool") == [
        (i, otp.whereis(f"pool.{i}"), "supervisor", "DynamicSupervisor") for i in range(3)
    ]
    assert await otp.PartitionSupervisor.count_children("pool") == {
        "specs": 3, "active": 3, "supervisors": 3, "workers": 0,
    }
    await otp.Supervisor.stop(sup)


_ROUTE = """
import json, sys, otp

async def main():
    await otp.PartitionSupervisor.start_link(name="pool", partitions=7)
    keys = json.loads(sys.argv[1])
    routes = [otp.PartitionSupervisor.partition_for("pool", k if not isinstance(k, list) else tuple(k)) for k in keys]
    print(json.dumps({"routes": routes, "builtin": [hash(k) % 7 for k in keys if isinstance(k, str)]}))
    await otp.PartitionSupervisor.stop("pool")

otp.run(main)
"""


def _route_in_subprocess(keys: list[Any], seed: str) -> dict[str, list[Any]]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _ROUTE, json.dumps(keys)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_partition_routing_hash_stable_across_processes() -> None:
    keys: list[Any] = [f"room:{i}" for i in range(20)] + [0, 5, -12, 2**70, "", "é", ["topic", 3]]
    one = _route_in_subprocess(keys, "1")
    two = _route_in_subprocess(keys, "2")
    # Python's own str hash differs between these two processes: routing must not use it.
    assert one["builtin"] != two["builtin"]
    assert one["routes"] == two["routes"]

    async def here() -> list[str]:
        await otp.PartitionSupervisor.start_link(name="pool", partitions=7)
        routes = [otp.PartitionSupervisor.partition_for("pool", tuple(k) if isinstance(k, list) else k) for k in keys]
        await otp.PartitionSupervisor.stop("pool")
        return routes

    assert otp.run(here) == one["routes"]
    assert one["routes"][20:24] == ["pool.0", "pool.5", "pool.5", f"pool.{2**70 % 7}"]
    assert len(set(one["routes"][:20])) > 3  # the str keys spread over the partitions


# -- rule 15: pg ----------------------------------------------------------------------------------------------------


async def test_pg_leave_not_joined(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        other = otp.spawn(sleeper)
        assert otp.PG.leave("g") is False  # no such group
        otp.PG.join("g")
        assert otp.PG.leave("g", other) is False  # the group exists, the pid is not in it
        assert otp.PG.members("g") == [me]
        assert otp.PG.leave("g") is True
        assert otp.PG.leave("g") is False
        otp.exit(other, otp.KILL)
